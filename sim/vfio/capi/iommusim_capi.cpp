// include/iommusim/vfio.h: extern "C" entry points over capi_session (see there why they are apart).
#include "iommusim/vfio.h"
#include "sim/vfio/capi/capi_session.h"

#include <cstdarg>

struct iommusim {
    iommusim_session* session;
};

extern "C" {

struct iommusim* iommusim_create(const char* path) {
    iommusim_session* s = iommusim_session_create(path);
    return s ? new iommusim{s} : nullptr;
}

void iommusim_destroy(struct iommusim* s) {
    if (!s) return;
    iommusim_session_destroy(s->session);
    delete s;
}

int iommusim_open(struct iommusim* s, const char* path, int flags) {
    return iommusim_session_open(s ? s->session : nullptr, path, flags);
}

int iommusim_ioctl(struct iommusim* s, int fd, unsigned long request, ...) {
    va_list ap;
    va_start(ap, request);
    const unsigned long arg = va_arg(ap, unsigned long);  // absent for some requests: then unused
    va_end(ap);
    return int(iommusim_session_ioctl(s ? s->session : nullptr, fd, request, arg));
}

ssize_t iommusim_pread(struct iommusim* s, int fd, void* buf, size_t count, off_t offset) {
    return iommusim_session_rw(s ? s->session : nullptr, fd, buf, count, offset, 0);
}

ssize_t iommusim_pwrite(struct iommusim* s, int fd, const void* buf, size_t count, off_t offset) {
    return iommusim_session_rw(s ? s->session : nullptr, fd, const_cast<void*>(buf), count, offset, 1);
}

int iommusim_close(struct iommusim* s, int fd) { return iommusim_session_close(s ? s->session : nullptr, fd); }

int iommusim_dma(struct iommusim* s, const char* bdf, uint64_t iova, void* buf, size_t len, int write) {
    return iommusim_session_dma(s ? s->session : nullptr, bdf, iova, buf, len, write);
}

int iommusim_irq(struct iommusim* s, const char* bdf, int kind, unsigned vector) {
    return iommusim_session_irq(s ? s->session : nullptr, bdf, kind, vector);
}

void* iommusim_vaddr(struct iommusim* s, size_t len) { return iommusim_session_vaddr(s ? s->session : nullptr, len); }

int iommusim_iommu_group(struct iommusim* s, const char* bdf) {
    return iommusim_session_iommu_group(s ? s->session : nullptr, bdf);
}

int iommusim_bind(struct iommusim* s, const char* bdf, const char* driver) {
    return iommusim_session_bind(s ? s->session : nullptr, bdf, driver);
}

} // extern "C"

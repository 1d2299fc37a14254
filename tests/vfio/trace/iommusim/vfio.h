/* Tracing front for iommusim's C API: a client compiled with -Itests/vfio/trace prints every call in the
 * vfio-oracle's trace format ("CALL <what> -> <ret> errno=<e> <strerror>", then "  OUT ..." with what the
 * call wrote back), so its output can be compared line by line with the real kernel's recorded trace.
 * The real API comes from the next <iommusim/vfio.h> on the include path; each function is wrapped by a
 * macro of the same name that calls the traced version. */
#ifndef IOMMUSIM_VFIO_TRACE_H
#define IOMMUSIM_VFIO_TRACE_H
#include_next <iommusim/vfio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/vfio.h>

enum { TR_NONE, TR_CONTAINER, TR_GROUP, TR_DEVICE };
static unsigned char tr_kind[1024];

static inline void tr_line(long ret, const char *what)
{
    int e = errno;
    printf("CALL %s -> %ld errno=%d%s%s\n", what, ret, e, e ? " " : "", e ? strerror(e) : "");
    fflush(stdout);
    errno = e;
}

static inline struct iommusim *tr_create(const char *path)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    return (iommusim_create)(path);
}

static inline int tr_open(struct iommusim *s, const char *path, int flags)
{
    errno = 0;
    int fd = (iommusim_open)(s, path, flags);
    if (fd >= 0 && fd < 1024) tr_kind[fd] = strcmp(path, "/dev/vfio/vfio") == 0 ? TR_CONTAINER : TR_GROUP;
    char what[160];
    snprintf(what, sizeof what, "open(%s)", path);
    tr_line(fd, what);
    return fd;
}

static inline int tr_close(struct iommusim *s, int fd)
{
    errno = 0;
    int r = (iommusim_close)(s, fd);
    if (r == 0 && fd >= 0 && fd < 1024) tr_kind[fd] = TR_NONE;
    char what[32];
    snprintf(what, sizeof what, "close(%d)", fd);
    tr_line(r, what);
    return r;
}

static inline const char *tr_name(int kind, unsigned long req)
{
    switch (req) {
    case VFIO_GET_API_VERSION: return "VFIO_GET_API_VERSION";
    case VFIO_CHECK_EXTENSION: return "VFIO_CHECK_EXTENSION";
    case VFIO_SET_IOMMU: return "VFIO_SET_IOMMU";
    case VFIO_GROUP_GET_STATUS: return "VFIO_GROUP_GET_STATUS";
    case VFIO_GROUP_SET_CONTAINER: return "VFIO_GROUP_SET_CONTAINER";
    case VFIO_GROUP_UNSET_CONTAINER: return "VFIO_GROUP_UNSET_CONTAINER";
    case VFIO_GROUP_GET_DEVICE_FD: return "VFIO_GROUP_GET_DEVICE_FD";
    case VFIO_DEVICE_GET_INFO: return "VFIO_DEVICE_GET_INFO";
    case VFIO_DEVICE_GET_REGION_INFO: return "VFIO_DEVICE_GET_REGION_INFO";
    case VFIO_DEVICE_GET_IRQ_INFO: return "VFIO_DEVICE_GET_IRQ_INFO";
    case VFIO_DEVICE_SET_IRQS: return "VFIO_DEVICE_SET_IRQS";
    case VFIO_DEVICE_RESET: return "VFIO_DEVICE_RESET";
    }
    if (kind == TR_DEVICE) {
        if (req == VFIO_DEVICE_GET_PCI_HOT_RESET_INFO) return "VFIO_DEVICE_GET_PCI_HOT_RESET_INFO";
        if (req == VFIO_DEVICE_PCI_HOT_RESET) return "VFIO_DEVICE_PCI_HOT_RESET";
        if (req == VFIO_DEVICE_FEATURE) return "VFIO_DEVICE_FEATURE";
    }
    if (req == VFIO_IOMMU_GET_INFO) return "VFIO_IOMMU_GET_INFO";
    if (req == VFIO_IOMMU_MAP_DMA) return "VFIO_IOMMU_MAP_DMA";
    if (req == VFIO_IOMMU_UNMAP_DMA) return "VFIO_IOMMU_UNMAP_DMA";
    if (req == VFIO_IOMMU_DIRTY_PAGES) return "VFIO_IOMMU_DIRTY_PAGES";
    return NULL;
}

static inline int tr_ioctl(struct iommusim *s, int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    unsigned long arg = va_arg(ap, unsigned long);
    va_end(ap);
    int kind = fd >= 0 && fd < 1024 ? tr_kind[fd] : TR_NONE;
    struct vfio_iommu_type1_dma_map m0 = {0};
    struct vfio_iommu_type1_dma_unmap u0 = {0};
    uint32_t argsz_in = 0;
    if (kind == TR_CONTAINER && req == VFIO_IOMMU_MAP_DMA) m0 = *(struct vfio_iommu_type1_dma_map *)arg;
    if (kind == TR_CONTAINER && req == VFIO_IOMMU_UNMAP_DMA) u0 = *(struct vfio_iommu_type1_dma_unmap *)arg;
    if (kind == TR_CONTAINER && req == VFIO_IOMMU_GET_INFO) argsz_in = *(uint32_t *)arg;
    errno = 0;
    int r = (iommusim_ioctl)(s, fd, req, arg);
    int e = errno;
    char what[200];
    const char *name = tr_name(kind, req);
    if (name) snprintf(what, sizeof what, "%s", name);
    else snprintf(what, sizeof what, "ioctl(0x%lx)", req);
    size_t n = strlen(what);
    if (req == VFIO_CHECK_EXTENSION || req == VFIO_SET_IOMMU)
        snprintf(what + n, sizeof what - n, "(%lu)", arg);
    else if (kind == TR_GROUP && req == VFIO_GROUP_GET_DEVICE_FD)
        snprintf(what + n, sizeof what - n, "(%s)", (const char *)arg);
    else if (kind == TR_CONTAINER && req == VFIO_IOMMU_MAP_DMA)
        snprintf(what + n, sizeof what - n, "(iova=0x%llx size=0x%llx flags=0x%x)", (unsigned long long)m0.iova,
                 (unsigned long long)m0.size, m0.flags);
    else if (kind == TR_CONTAINER && req == VFIO_IOMMU_UNMAP_DMA)
        snprintf(what + n, sizeof what - n, "(iova=0x%llx size=0x%llx)", (unsigned long long)u0.iova,
                 (unsigned long long)u0.size);
    else if (kind == TR_DEVICE && (req == VFIO_DEVICE_GET_REGION_INFO || req == VFIO_DEVICE_GET_IRQ_INFO))
        snprintf(what + n, sizeof what - n, "(index=%u)", ((uint32_t *)arg)[2]);
    else if (kind == TR_CONTAINER && req == VFIO_IOMMU_GET_INFO)
        snprintf(what + n, sizeof what - n, "(argsz_in=%u)", argsz_in);
    errno = e;
    tr_line(r, what);
    if (r == 0 && kind == TR_GROUP && req == VFIO_GROUP_GET_STATUS) {
        struct vfio_group_status *p = (void *)arg;
        printf("  OUT argsz=%u flags=0x%x\n", p->argsz, p->flags);
    } else if (r == 0 && kind == TR_CONTAINER && req == VFIO_IOMMU_GET_INFO) {
        struct vfio_iommu_type1_info *p = (void *)arg;
        printf("  OUT argsz=%u flags=0x%x iova_pgsizes=0x%llx cap_offset=%u\n", p->argsz, p->flags,
               (unsigned long long)p->iova_pgsizes, p->cap_offset);
    } else if (r == 0 && kind == TR_CONTAINER && req == VFIO_IOMMU_UNMAP_DMA) {
        printf("  OUT size=0x%llx\n", (unsigned long long)((struct vfio_iommu_type1_dma_unmap *)arg)->size);
    } else if (r == 0 && kind == TR_DEVICE && req == VFIO_DEVICE_GET_INFO) {
        struct vfio_device_info *p = (void *)arg;
        printf("  OUT argsz=%u flags=0x%x num_regions=%u num_irqs=%u cap_offset=%u\n", p->argsz, p->flags,
               p->num_regions, p->num_irqs, p->cap_offset);
    } else if (r == 0 && kind == TR_DEVICE && req == VFIO_DEVICE_GET_REGION_INFO) {
        struct vfio_region_info *p = (void *)arg;
        printf("  OUT argsz=%u flags=0x%x index=%u cap_offset=%u size=0x%llx offset=0x%llx\n", p->argsz, p->flags,
               p->index, p->cap_offset, (unsigned long long)p->size, (unsigned long long)p->offset);
    } else if (r == 0 && kind == TR_DEVICE && req == VFIO_DEVICE_GET_IRQ_INFO) {
        struct vfio_irq_info *p = (void *)arg;
        printf("  OUT argsz=%u flags=0x%x index=%u count=%u\n", p->argsz, p->flags, p->index, p->count);
    }
    if (r >= 0 && kind == TR_GROUP && req == VFIO_GROUP_GET_DEVICE_FD && r < 1024) tr_kind[r] = TR_DEVICE;
    errno = e;
    return r;
}

static inline void *tr_vaddr(struct iommusim *s, size_t len)
{
    errno = 0;
    void *p = (iommusim_vaddr)(s, len);
    char what[96];
    snprintf(what, sizeof what, "mmap(%zu) = %p", len, p);
    tr_line(p ? 0 : -1, what);
    return p;
}

static inline int tr_iommu_group(struct iommusim *s, const char *bdf)
{
    errno = 0;
    int g = (iommusim_iommu_group)(s, bdf);
    char what[96];
    snprintf(what, sizeof what, "iommu_group(%s)", bdf);
    tr_line(g, what);
    return g;
}

static inline int tr_bind(struct iommusim *s, const char *bdf, const char *driver)
{
    errno = 0;
    int r = (iommusim_bind)(s, bdf, driver);
    char what[160];
    snprintf(what, sizeof what, "bind(%s, %s)", bdf, driver);
    tr_line(r, what);
    return r;
}

static inline int tr_dma(struct iommusim *s, const char *bdf, uint64_t iova, void *buf, size_t len, int write)
{
    errno = 0;
    int r = (iommusim_dma)(s, bdf, iova, buf, len, write);
    char what[160];
    snprintf(what, sizeof what, "dma(%s, iova=0x%llx, len=%zu, %s)", bdf, (unsigned long long)iova, len,
             write ? "write" : "read");
    tr_line(r, what);
    return r;
}

#define iommusim_create(...) tr_create(__VA_ARGS__)
#define iommusim_open(...) tr_open(__VA_ARGS__)
#define iommusim_close(...) tr_close(__VA_ARGS__)
#define iommusim_ioctl(...) tr_ioctl(__VA_ARGS__)
#define iommusim_vaddr(...) tr_vaddr(__VA_ARGS__)
#define iommusim_iommu_group(...) tr_iommu_group(__VA_ARGS__)
#define iommusim_bind(...) tr_bind(__VA_ARGS__)
#define iommusim_dma(...) tr_dma(__VA_ARGS__)
#endif

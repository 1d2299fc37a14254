// The machine behind the C API (a platform, the simulated kernel, the VFIO core and one simulated
// process), with global names only: the C API's `struct iommusim` and the C++ namespace `iommusim` cannot
// meet in one translation unit, so iommusim_capi.cpp sees this header and never the project's headers.
// Errors: -1 (or nullptr) with errno set, as the C API returns them.
#pragma once
#include <cstddef>
#include <cstdint>

struct iommusim_session;

iommusim_session* iommusim_session_create(const char* platform_or_scenario);
void iommusim_session_destroy(iommusim_session* s);
int iommusim_session_open(iommusim_session* s, const char* path, int flags);
long iommusim_session_ioctl(iommusim_session* s, int fd, unsigned long request, unsigned long arg);
int iommusim_session_close(iommusim_session* s, int fd);
void* iommusim_session_vaddr(iommusim_session* s, size_t len);
int iommusim_session_iommu_group(iommusim_session* s, const char* bdf);
int iommusim_session_bind(iommusim_session* s, const char* bdf, const char* driver);
int iommusim_session_dma(iommusim_session* s, const char* bdf, uint64_t iova, void* buf, size_t len, int write);
long iommusim_session_rw(iommusim_session* s, int fd, void* buf, size_t count, long long offset, int write);
int iommusim_session_irq(iommusim_session* s, const char* bdf, int kind, unsigned vector);

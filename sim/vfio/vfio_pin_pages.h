// Pinning by emulated-IOMMU ("vendor", mdev-like) drivers: vfio_pin_pages / vfio_unpin_pages of Linux
// 6.1 (drivers/vfio/vfio_main.c and container.c, the checks before the backend) over type1's pin_pages
// (vfio_iommu_type1_pin_pages, implemented here too). Such a driver translates its device's IOVAs
// itself and pins the pages it will touch; its group then enters the pinned-page dirty scope, so dirty
// tracking reports only what it pinned once every IOMMU-backed group of the container is in that scope.
// C++ API only (no uapi: the kernel exports these to drivers, not to user space).
//
//   vfio::vendor_pinning vendor(core, host, dev);    // dev: a PCI function bound to a VFIO driver
//   vendor.open();                                   // register_device with its dma_unmap callback
//   std::vector<u64> pfns;
//   long n = vendor.pin(0x100000, 4, IOMMU_READ | IOMMU_WRITE, &pfns);   // 4, or -errno
//   vendor.unpin(0x100000, 4);
#pragma once
#include "sim/vfio/vfio_host.h"

#include <map>
#include <string>
#include <vector>

namespace iommusim::host {
struct pci_dev;
}

namespace iommusim::vfio {

class vfio_core;
class vfio_iommu_type1;

// VFIO_PIN_PAGES_MAX_ENTRIES: PAGE_SIZE / sizeof(unsigned long) on a 64-bit kernel with 4 KiB pages.
constexpr int vfio_pin_pages_max_entries = 512;

// vfio_pin_pages (6.1): npage or -errno. -EINVAL: no `pages` array, npage 0, the device not open, or
// its VFIO group holding more than one VFIO device (group->dev_counter > 1: a pinning device must not
// vouch for a sibling's DMA); -E2BIG: more than 512 pages; -ENOTTY: the container has no backend that
// pins; then the backend's errors (vfio_iommu_type1::pin_pages).
long vfio_pin_pages(vfio_core& core, vfio_host& host, const host::pci_dev& dev, u64 iova, int npage, int prot,
                    std::vector<u64>* pages);
// vfio_unpin_pages: nothing for a device that is not open or a zero count (the kernel WARNs).
void vfio_unpin_pages(vfio_core& core, const host::pci_dev& dev, u64 iova, int npage);

// A vendor driver of one device: registers with the container's backend when its device is opened
// (what vfio_device_container_register does for drivers with a dma_unmap op), tracks what it pinned,
// and unpins everything its dma_unmap callback is told about, as a well-behaved driver must.
class vendor_pinning {
public:
    vendor_pinning(vfio_core& core, vfio_host& host, const host::pci_dev& dev);
    ~vendor_pinning();
    vendor_pinning(const vendor_pinning&) = delete;
    vendor_pinning& operator=(const vendor_pinning&) = delete;

    // Registers with the backend of the device's container: 0, or -EINVAL (device not open, no backend).
    int open();
    void close();
    long pin(u64 iova, int npage, int prot, std::vector<u64>* pages = nullptr);
    void unpin(u64 iova, int npage);
    // Pages this driver holds pinned (per page, with its own reference count).
    const std::map<u64, unsigned>& pinned() const { return m_pinned; }
    unsigned dma_unmap_calls() const { return m_unmap_calls; }

private:
    vfio_iommu_type1* backend() const;
    void dma_unmap(u64 iova, u64 size);

    vfio_core& m_core;
    vfio_host& m_host;
    const host::pci_dev& m_dev;
    vfio_iommu_type1* m_registered = nullptr;
    std::map<u64, unsigned> m_pinned;
    unsigned m_unmap_calls = 0;
};

} // namespace iommusim::vfio

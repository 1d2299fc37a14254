// vfio-pci regions (Linux 6.1 vfio_pci_core.c vfio_pci_ioctl_get_region_info, vfio_pci_rdwr.c): the
// fixed index map BAR0-5, ROM, CONFIG, VGA at file offset index << 40 (VFIO_PCI_OFFSET_SHIFT), sizes
// from the kernel's pci_dev resources, MMAP for memory BARs that fill a page or start on one
// (vfio_pci_probe_mmaps), the MSIX_MAPPABLE capability on the MSI-X table's BAR, and pread/pwrite on
// the device fd: CONFIG through the virtual config space, BARs through the machine's MMIO path with the
// MSI-X table skipped, ROM read-only.
#pragma once
#include "sim/core/types.h"

namespace iommusim::host {
class kernel;
struct pci_dev;
struct pci_resource;
} // namespace iommusim::host

namespace iommusim::vfio {

class vfio_pci_config;

class vfio_pci_regions {
public:
    vfio_pci_regions(host::kernel* kernel, const host::pci_dev& dev, vfio_pci_config& config);

    // vfio_pci_core_enable: where the MSI-X table lives (its BAR, offset and size), VGA support.
    void enable();
    long get_region_info(unsigned long arg);
    // vfio_pci_rw: bytes transferred or -errno (-EINVAL bad index/offset, -EFAULT config out of range,
    // -EIO memory decode disabled in the virtual COMMAND register).
    long rw(u8* buf, u64 count, u64 pos, bool iswrite);

    int msix_bar() const { return m_msix_bar; }
    u64 msix_offset() const { return m_msix_offset; }
    u64 msix_size() const { return m_msix_size; }

private:
    const host::pci_resource* resource(unsigned index) const;
    long rom_rw(u8* buf, u64 count, u64 pos);
    bool mmap_supported(unsigned bar) const;
    long bar_rw(unsigned index, u8* buf, u64 count, u64 pos, bool iswrite);

    host::kernel* m_kernel;
    const host::pci_dev& m_dev;
    vfio_pci_config& m_config;
    int m_msix_bar = -1;
    u64 m_msix_offset = 0, m_msix_size = 0;
    bool m_has_vga = false;
};

} // namespace iommusim::vfio

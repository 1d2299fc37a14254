// One IOMMU domain (Linux's struct iommu_domain): a translation context that groups attach to. The
// public map/unmap/iova_to_phys are the IOMMU core's iommu_map / iommu_unmap / iommu_iova_to_phys
// (drivers/iommu/iommu.c, v6.1): argument checks, splitting into the page sizes the window supports
// (iommu_pgsize), unwinding a failed map, one IOTLB sync per call. Drivers implement the *_pages hooks
// (struct iommu_domain_ops) and describe their geometry as DMA windows.
//
//   auto d = core.domain_alloc(iommu_domain_type::unmanaged, dev);
//   d->map(0x100000, pa, 0x200000, IOMMU_READ | IOMMU_WRITE);   // 0 or -errno
//   d->unmap(0x100000, 0x200000);                                 // bytes unmapped
#pragma once
#include "sim/host/iommu/iommu_types.h"

#include <cerrno>
#include <vector>

namespace iommusim::host {

struct pci_dev;
class kernel_log;

class iommu_domain {
public:
    virtual ~iommu_domain() = default;

    iommu_domain_type type() const { return m_type; }
    // The windows DMA may use; a page-table IOMMU reports one [0, 2^aw).
    const std::vector<dma_window>& geometry() const { return m_windows; }
    // The window holding [iova, iova + len), if any.
    const dma_window* window_for(u64 iova, u64 len) const;
    // Union of the windows' page sizes (Linux's domain->pgsize_bitmap).
    u64 pgsize_bitmap() const;

    // iommu_map(): 0 or -errno. -EINVAL for a non-paging domain, misalignment to the smallest page size,
    // size 0, or a range outside every window; driver errors (-ENOMEM, -EFAULT) pass through. A partial
    // failure unmaps what this call mapped.
    int map(u64 iova, u64 paddr, u64 size, int prot);
    // iommu_unmap(): bytes unmapped (0 on a misaligned request). May exceed `size` when the range
    // starts inside a larger page, as Linux's drivers unmap whole pages.
    u64 unmap(u64 iova, u64 size);
    // iommu_iova_to_phys(): 0 when nothing is mapped; identity domains return iova.
    u64 iova_to_phys(u64 iova);
    // iommu_flush_iotlb_all()
    void flush_iotlb_all() { do_flush_iotlb_all(); }

    // Windows created and removed at run time (TCE dynamic DMA windows). Page-table IOMMUs have a
    // fixed geometry: -EPERM, as the sPAPR backend reports a platform without window ops.
    virtual bool dynamic_windows() const { return false; }
    virtual int create_window(const window_request&, u64& start_out) { (void)start_out; return -EPERM; }
    virtual int remove_window(u64 start) { (void)start; return -EPERM; }

    // enforce_cache_coherency op (v5.19+): make the domain block No-Snoop; false if it cannot.
    virtual bool enforce_cache_coherency() { return false; }

    // Driver side of attaching one device (iommu_domain_ops::attach_dev / detach_dev). The core calls
    // these for each device of a group.
    virtual int attach_dev(pci_dev& dev) = 0;
    virtual void detach_dev(pci_dev& dev) = 0;

    // iommu_pgsize(): the page size for the next chunk and how many of them.
    static u64 pgsize(u64 bitmap, u64 iova, u64 paddr, u64 size, u64& count);

protected:
    iommu_domain(iommu_domain_type type, kernel_log* log) : m_type(type), m_log(log) {}

    // struct iommu_domain_ops hooks.
    virtual int map_pages(u64 iova, u64 paddr, u64 pgsize, u64 pgcount, int prot, u64& mapped) = 0;
    virtual u64 unmap_pages(u64 iova, u64 pgsize, u64 pgcount, iommu_iotlb_gather& gather) = 0;
    virtual void iotlb_sync_map(u64 iova, u64 size) { (void)iova; (void)size; }
    virtual void iotlb_sync(iommu_iotlb_gather& gather) { (void)gather; }
    virtual void do_flush_iotlb_all() {}
    virtual u64 do_iova_to_phys(u64 iova) = 0;

    void set_geometry(std::vector<dma_window> windows) { m_windows = std::move(windows); }
    kernel_log* log() const { return m_log; }

private:
    iommu_domain_type m_type;
    kernel_log* m_log;
    std::vector<dma_window> m_windows;
};

} // namespace iommusim::host

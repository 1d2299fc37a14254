// An IOMMU domain over POWER PEs: the host IOMMU API (iommu_domain) with TCE windows as its geometry, so that
// the IOMMU core's users (attach/map/unmap, the scenarios' machine steps) work on powernv as on VT-d and
// AMD-Vi. Linux 6.1 has no iommu_ops on powernv (its PEs reach users only through iommu_table_group and
// the sPAPR VFIO backend); this domain is the simulator's bridge, built from the same PE operations
// (take_ownership, set_window, TCE exchange and kill) the sPAPR backend uses - see the TCE README.
//
//   dma:        the kernel's own configuration of the PE it is attached to: the PE's default window (64 KiB
//               TCEs over memory) as geometry, maps into that table. Attaching restores that configuration
//               if a user had taken the PE.
//   unmanaged:  a user's: the PE taken from the kernel, the domain's own tables programmed into its TVEs -
//               window 0 at bus address 0 (the PE's 32-bit window size, 4 KiB TCEs) and, at run time,
//               a dynamic window at 1 << 59 (create_window). Several PEs may share one domain (one table).
#pragma once
#include "sim/host/drivers/tce/pnv_tce_table.h"
#include "sim/host/iommu/iommu_domain.h"

#include <array>
#include <functional>
#include <map>
#include <memory>

namespace iommusim::memory {
class page_allocator;
}

namespace iommusim::host {

class pci_host_ops;
class pnv_ioda_pe;

class pnv_tce_domain : public iommu_domain {
public:
    using pe_of_fn = std::function<pnv_ioda_pe*(const pci_dev&)>;

    // dma32_size: window 0's size for an unmanaged domain. Throws nothing; an unmanaged domain whose table
    // cannot be allocated has no geometry (every map fails with -EINVAL).
    pnv_tce_domain(iommu_domain_type type, pci_host_ops& ops, memory::page_allocator& pages, pe_of_fn pe_of,
                   u64 dma32_size, kernel_log* log);
    ~pnv_tce_domain() override;

    int attach_dev(pci_dev& dev) override;
    void detach_dev(pci_dev& dev) override;

    bool dynamic_windows() const override { return type() == iommu_domain_type::unmanaged; }
    int create_window(const window_request& req, u64& start_out) override;
    int remove_window(u64 start) override;
    bool enforce_cache_coherency() override { return true; } // POWER DMA is always coherent

    // The PE leaves this (unmanaged) domain at once, whatever devices of it were attached: its TVEs are
    // cleared and the kernel's configuration returns. What attaching another domain does to the old one.
    void release_pe(pnv_ioda_pe* pe);

protected:
    int map_pages(u64 iova, u64 paddr, u64 pgsize, u64 pgcount, int prot, u64& mapped) override;
    u64 unmap_pages(u64 iova, u64 pgsize, u64 pgcount, iommu_iotlb_gather& gather) override;
    u64 do_iova_to_phys(u64 iova) override;

private:
    // The table translating iova: the domain's own (unmanaged) or the attached PE's default (dma).
    iommu_table* table_for(u64 iova) const;
    void update_geometry();

    pci_host_ops& m_ops;
    memory::page_allocator& m_pages;
    pe_of_fn m_pe_of;
    std::array<std::shared_ptr<iommu_table>, IOMMU_TABLE_GROUP_MAX_TABLES> m_tables; // unmanaged: by TVE
    std::map<pnv_ioda_pe*, unsigned> m_pes;                                           // attached PEs, devices
};

} // namespace iommusim::host

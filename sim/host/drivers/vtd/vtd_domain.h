// A VT-d DMA remapping domain (Linux's struct dmar_domain, drivers/iommu/intel/iommu.c v6.1): a
// second-level page table in system memory (AGAW-level radix of 4 KiB tables from the host page
// allocator), mapped with 2 MiB / 1 GiB pages where alignment and CAP.SLLPS allow, unmapped whole
// pages at a time with table pages freed only after the IOTLB flush, and the invalidations strict mode
// issues (PSI after unmap; with caching mode also after map). One window [0, 2^gaw).
#pragma once
#include "sim/host/iommu/iommu_domain.h"

#include <vector>

namespace iommusim::host {

class vtd_driver;
class vtd_iommu;

class dmar_domain : public iommu_domain {
public:
    static constexpr int default_address_width = 57;  // DEFAULT_DOMAIN_ADDRESS_WIDTH (v6.1)

    dmar_domain(vtd_driver& driver, iommu_domain_type type, kernel_log* log);
    ~dmar_domain() override;  // domain_exit: every table page back to the allocator

    // md_domain_init: gaw/agaw from the guest width and the top-level table. -ENOMEM without memory.
    int init(int guest_width = default_address_width);

    int attach_dev(pci_dev& dev) override;
    void detach_dev(pci_dev& dev) override;
    bool enforce_cache_coherency() override;

    // State the driver and the tests read.
    u64 pgd() const { return m_pgd; }
    int agaw() const { return m_agaw; }
    int gaw() const { return m_gaw; }
    int levels() const { return m_agaw + 2; }
    u64 max_addr() const { return m_max_addr; }
    int superpage() const { return m_superpage; }
    // The DID this domain has on a unit, 0 if not attached there.
    u16 did_on(const vtd_iommu& iommu) const;
    const std::vector<pci_dev*>& devices() const { return m_devices; }

    // Driver internals (domain_attach_iommu / domain_detach_iommu / prepare_domain_attach_device).
    int prepare_attach(vtd_iommu& iommu);
    int attach_iommu(vtd_iommu& iommu);
    void detach_iommu(vtd_iommu& iommu);
    void add_device(pci_dev& dev) { m_devices.push_back(&dev); }
    void remove_device(pci_dev& dev);

    // intel_iommu_map: -EFAULT beyond the domain width (Linux's own check), -EINVAL without R/W.
    int intel_map(u64 iova, u64 hpa, u64 size, int iommu_prot);
    // intel_iommu_unmap: whole pages, rounded up to the page size found at iova.
    u64 intel_unmap(u64 iova, u64 size, iommu_iotlb_gather& gather);

protected:
    int map_pages(u64 iova, u64 paddr, u64 pgsize, u64 pgcount, int prot, u64& mapped) override;
    u64 unmap_pages(u64 iova, u64 pgsize, u64 pgcount, iommu_iotlb_gather& gather) override;
    void iotlb_sync_map(u64 iova, u64 size) override;
    void iotlb_sync(iommu_iotlb_gather& gather) override;
    void do_flush_iotlb_all() override;
    u64 do_iova_to_phys(u64 iova) override;

private:
    struct unit_info {
        vtd_iommu* iommu;
        u16 did;
        unsigned refcnt;
    };

    void update_cap();  // domain_update_iommu_cap: coherency, superpage, geometry
    bool pfn_supported(u64 pfn) const;
    u64 pfn_to_dma_pte(u64 pfn, int& target_level);
    u64 dma_pfn_level_pte(u64 pfn, int level, int& large_page);
    void dma_pte_clear_range(u64 start_pfn, u64 last_pfn);
    void dma_pte_free_level(int level, int retain_level, u64 table, u64 pfn, u64 start_pfn, u64 last_pfn);
    void dma_pte_free_pagetable(u64 start_pfn, u64 last_pfn, int retain_level);
    void dma_pte_list_pagetables(int level, u64 pte, std::vector<u64>& freelist);
    void dma_pte_clear_level(int level, u64 table, u64 pfn, u64 start_pfn, u64 last_pfn,
                             std::vector<u64>& freelist);
    void domain_unmap(u64 start_pfn, u64 last_pfn, std::vector<u64>& freelist);
    int hardware_largepage_caps(u64 iov_pfn, u64 phy_pfn, u64 pages) const;
    void switch_to_super_page(u64 start_pfn, u64 end_pfn, int level);
    int domain_mapping(u64 iov_pfn, u64 phys_pfn, u64 nr_pages, u64 prot);

    u64 rd(u64 pa) const;
    void wr(u64 pa, u64 v);

    vtd_driver& m_driver;
    u64 m_pgd = 0;
    int m_gaw = 0, m_agaw = 0;
    u64 m_max_addr = 0;
    int m_superpage = 0;
    bool m_coherency = false;
    bool m_force_snooping = false, m_set_pte_snp = false;
    std::vector<unit_info> m_units;   // iommu_array
    std::vector<pci_dev*> m_devices;  // devices attached (device_domain_info list)
    unsigned m_crit_dumps = 5;        // Linux prints the "already set" error at most this often with dumps
};

} // namespace iommusim::host

// An AMD-Vi protection domain (Linux 6.1's struct protection_domain with the v1 page table of
// drivers/iommu/amd/io_pgtable.c): a domain ID from the global bitmap, a host page table in system
// memory that starts at 3 levels and grows (increase_address_space, up to 6) as mappings need, pages of
// every AMD_IOMMU_PGSIZES size (default sizes as level leaves, the others as replicated next-level-7
// PTEs), unmap that clears whole pages, and the flushes Linux issues (after map only when an entry was
// replaced or with NpCache, after unmap one ranged INVALIDATE_IOMMU_PAGES per IOMMU, then
// COMPLETION_WAIT). Identity domains have no table (PAGE_MODE_NONE: DTE Mode 0 with IR/IW).
#pragma once
#include "sim/host/iommu/iommu_domain.h"

#include <map>
#include <vector>

namespace iommusim::host {

class amd_iommu_driver;

class protection_domain : public iommu_domain {
public:
    // AMD_IOMMU_PGSIZES: every power of two from 4 KiB except 512 GiB (not encodable as next-level 7).
    static constexpr u64 AMD_IOMMU_PGSIZES = ~0xfffull & ~(2ull << 38);
    static constexpr int PAGE_MODE_NONE = 0, PAGE_MODE_3_LEVEL = 3, PAGE_MODE_6_LEVEL = 6;
    static constexpr int DEFAULT_PGTABLE_LEVEL = PAGE_MODE_3_LEVEL;

    protection_domain(amd_iommu_driver& driver, iommu_domain_type type, kernel_log* log);
    ~protection_domain() override;  // the table back to the allocator, the domain ID freed

    // protection_domain_init_v1: domain ID and (unless identity) the zeroed root table. -ENOMEM / -ENOSPC.
    int init();

    int attach_dev(pci_dev& dev) override;
    void detach_dev(pci_dev& dev) override;
    // amd_iommu_enforce_cache_coherency: IOMMU_PTE_FC is always set, so always true.
    bool enforce_cache_coherency() override { return true; }

    u16 id() const { return m_id; }
    int mode() const { return m_mode; }
    u64 root() const { return m_root; }
    const std::vector<pci_dev*>& devices() const { return m_devices; }
    // dev_iommu[]: attached devices per IOMMU index.
    const std::map<int, unsigned>& dev_iommu() const { return m_dev_iommu; }
    void add_device(pci_dev& dev, int iommu_index);
    void remove_device(pci_dev& dev, int iommu_index);

    // fetch_pte: the PTE's physical address (0 if the walk stops) and the page size it maps.
    u64 fetch_pte(u64 address, u64& page_size);

protected:
    int map_pages(u64 iova, u64 paddr, u64 pgsize, u64 pgcount, int prot, u64& mapped) override;
    u64 unmap_pages(u64 iova, u64 pgsize, u64 pgcount, iommu_iotlb_gather& gather) override;
    void iotlb_sync_map(u64 iova, u64 size) override;
    void iotlb_sync(iommu_iotlb_gather& gather) override;
    void do_flush_iotlb_all() override;
    u64 do_iova_to_phys(u64 iova) override;

private:
    bool increase_address_space(u64 address, int& err);
    u64 alloc_pte(u64 address, u64 page_size, bool& updated, std::vector<std::pair<u64, int>>& freelist);
    bool free_clear_pte(u64 pte_pa, std::vector<std::pair<u64, int>>& freelist);
    void free_sub_pt(u64 table, int mode);
    u64 rd(u64 pa) const;
    void wr(u64 pa, u64 v);

    amd_iommu_driver& m_driver;
    u16 m_id = 0;
    int m_mode = PAGE_MODE_NONE;
    u64 m_root = 0;
    std::vector<pci_dev*> m_devices;
    std::map<int, unsigned> m_dev_iommu;
};

} // namespace iommusim::host

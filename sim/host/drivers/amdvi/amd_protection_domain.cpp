#include "sim/host/drivers/amdvi/amd_protection_domain.h"

#include "models/iommu/amdvi/amdvi_defs.h"
#include "sim/host/drivers/amdvi/amd_iommu_driver.h"

#include <algorithm>
#include <cerrno>

namespace iommusim::host {

using amdvi::pte;

namespace {
constexpr int PAGE_MODE_7_LEVEL = 7;
constexpr int IOMMU_PROT_IR = 1, IOMMU_PROT_IW = 2;
// PM_LEVEL_SIZE(x): the last address a table of x levels reaches.
u64 pm_level_size(int mode) { return mode < 6 ? (1ull << (12 + 9 * mode)) - 1 : ~0ull; }
unsigned pm_level_index(int level, u64 address) { return unsigned((address >> (12 + 9 * level)) & 0x1ff); }
u64 pte_level_page_size(int level) { return 1ull << (12 + 9 * level); }
// PAGE_SIZE_LEVEL / PAGE_SIZE_PTE_COUNT for a power-of-two page size.
int page_size_level(u64 pgsize) { return (__builtin_ctzll(pgsize) - 12) / 9; }
u64 page_size_pte_count(u64 pgsize) { return 1ull << ((__builtin_ctzll(pgsize) - 12) % 9); }
// PTE_PAGE_SIZE: a next-level-7 PTE's size from its first zero address bit.
u64 pte_page_size(u64 v) { return 1ull << (1 + __builtin_ctzll(~(v | 0xfffull))); }
} // namespace

protection_domain::protection_domain(amd_iommu_driver& driver, iommu_domain_type type, kernel_log* log)
    : iommu_domain(type, log), m_driver(driver) {}

protection_domain::~protection_domain() {
    if (m_root) free_sub_pt(m_root, m_mode);
    if (m_id) m_driver.domain_id_free(m_id);
}

int protection_domain::init() {
    m_id = m_driver.domain_id_alloc();
    if (!m_id) return -ENOSPC;
    if (type() != iommu_domain_type::identity) {
        m_root = m_driver.alloc_pgtable_page();
        if (!m_root) return -ENOMEM;
        m_mode = DEFAULT_PGTABLE_LEVEL;
    }
    // amd_iommu_domain_alloc: aperture 0 .. ~0ULL (a window cannot hold the last byte here).
    set_geometry({dma_window{0, ~0ull, AMD_IOMMU_PGSIZES, unsigned(m_mode), m_mode != PAGE_MODE_NONE}});
    return 0;
}

u64 protection_domain::rd(u64 pa) const { return m_driver.read64(pa); }
void protection_domain::wr(u64 pa, u64 v) { m_driver.write64(pa, v); }

int protection_domain::attach_dev(pci_dev& dev) { return m_driver.attach_device(*this, dev); }
void protection_domain::detach_dev(pci_dev& dev) { m_driver.detach_device(dev); }

void protection_domain::add_device(pci_dev& dev, int iommu_index) {
    m_devices.push_back(&dev);
    ++m_dev_iommu[iommu_index];
}
void protection_domain::remove_device(pci_dev& dev, int iommu_index) {
    m_devices.erase(std::remove(m_devices.begin(), m_devices.end(), &dev), m_devices.end());
    auto it = m_dev_iommu.find(iommu_index);
    if (it != m_dev_iommu.end() && --it->second == 0) m_dev_iommu.erase(it);
}

void protection_domain::free_sub_pt(u64 table, int mode) {
    if (mode == PAGE_MODE_NONE || mode == PAGE_MODE_7_LEVEL) return;
    if (mode > 1) {
        for (unsigned i = 0; i < 512; ++i) {
            const pte e{rd(table + 8 * i)};
            if (e.pr() && !e.is_leaf()) free_sub_pt(e.addr(), int(e.next_level()));
        }
    }
    m_driver.free_pgtable_page(table);
}

// free_clear_pte: clear the entry; a PDE's tables go to the freelist. True if something was there.
bool protection_domain::free_clear_pte(u64 pte_pa, std::vector<std::pair<u64, int>>& freelist) {
    const pte old{rd(pte_pa)};
    wr(pte_pa, 0);
    if (!old.pr()) return false;
    if (!old.is_leaf()) freelist.emplace_back(old.addr(), int(old.next_level()));
    return true;
}

// increase_address_space: one more level on top, the old root as entry 0; the DTEs of every attached
// device get the new root and mode (amd_iommu_update_and_flush_device_table), then a completion wait.
bool protection_domain::increase_address_space(u64 address, int& err) {
    if (address <= pm_level_size(m_mode)) return false;
    if (m_mode == PAGE_MODE_6_LEVEL) {
        err = -EFAULT;
        return false;
    }
    const u64 table = m_driver.alloc_pgtable_page();
    if (!table) {
        err = -ENOMEM;
        return false;
    }
    wr(table, pte::pde(m_root, unsigned(m_mode)).v);
    m_root = table;
    m_mode += 1;
    auto g = geometry();
    g.front().levels = unsigned(m_mode);
    set_geometry(g);
    m_driver.update_and_flush_device_table(*this);
    m_driver.domain_flush_complete(*this);
    return true;
}

// alloc_pte: grow the table until it reaches the last byte, then walk down to the level of page_size,
// tearing down large PTEs and allocating tables on the way. 0 on failure (no memory, level skipping).
u64 protection_domain::alloc_pte(u64 address, u64 page_size, bool& updated,
                                 std::vector<std::pair<u64, int>>& freelist) {
    const u64 last_addr = address + page_size - 1;
    for (int count = 0; last_addr > pm_level_size(m_mode);) {
        int err = 0;
        if (increase_address_space(address + page_size - 1, err)) updated = true;
        if (err || ++count > 6) return 0;
    }
    int level = m_mode - 1;
    u64 pte_pa = m_root + 8 * pm_level_index(level, address);
    address &= ~(page_size - 1);
    const int end_lvl = page_size_level(page_size);
    while (level > end_lvl) {
        const pte cur{rd(pte_pa)};
        const int pte_level = int(cur.next_level());
        if (cur.pr() && pte_level == PAGE_MODE_7_LEVEL) {
            // Replacing a series of large PTEs: clear every replica that still holds the old value.
            const u64 count = page_size_pte_count(pte_page_size(cur.v));
            const u64 first = pte_pa & ~((count << 3) - 1);
            for (u64 i = 0; i < count; ++i)
                if (rd(first + 8 * i) == cur.v) wr(first + 8 * i, 0);
            updated = true;
            continue;
        }
        if (!cur.pr() || pte_level == PAGE_MODE_NONE) {
            const u64 table = m_driver.alloc_pgtable_page();
            if (!table) return 0;
            wr(pte_pa, pte::pde(table, unsigned(level)).v);
            if (cur.pr()) updated = true;  // a default-size leaf was replaced by a table
            continue;
        }
        if (pte_level != level) return 0;  // "No level skipping support yet"
        level -= 1;
        pte_pa = cur.addr() + 8 * pm_level_index(level, address);
    }
    (void)freelist;
    return pte_pa;
}

// fetch_pte: walks down to a leaf (default size or next-level 7, then the first replica).
u64 protection_domain::fetch_pte(u64 address, u64& page_size) {
    page_size = 0;
    if (m_mode == PAGE_MODE_NONE || address > pm_level_size(m_mode)) return 0;
    int level = m_mode - 1;
    u64 pte_pa = m_root + 8 * pm_level_index(level, address);
    page_size = pte_level_page_size(level);
    while (level > 0) {
        const pte cur{rd(pte_pa)};
        if (!cur.pr()) return 0;
        const int nl = int(cur.next_level());
        if (nl == PAGE_MODE_7_LEVEL || nl == PAGE_MODE_NONE) break;
        if (nl != level) return 0;
        level -= 1;
        pte_pa = cur.addr() + 8 * pm_level_index(level, address);
        page_size = pte_level_page_size(level);
    }
    const pte leaf{rd(pte_pa)};
    if (leaf.pr() && leaf.next_level() == PAGE_MODE_7_LEVEL) {
        page_size = pte_page_size(leaf.v);
        const u64 count = page_size_pte_count(page_size);
        pte_pa &= ~((count << 3) - 1);
    }
    return pte_pa;
}

// amd_iommu_map_pages -> iommu_v1_map_pages.
int protection_domain::map_pages(u64 iova, u64 paddr, u64 pgsize, u64 pgcount, int iommu_prot, u64& mapped) {
    if (m_mode == PAGE_MODE_NONE) return -EINVAL;
    int prot = 0;
    if (iommu_prot & IOMMU_READ) prot |= IOMMU_PROT_IR;
    if (iommu_prot & IOMMU_WRITE) prot |= IOMMU_PROT_IW;
    if (!prot) return -EINVAL;
    bool updated = false;
    std::vector<std::pair<u64, int>> freelist;
    int ret = 0;
    for (; pgcount > 0; --pgcount) {
        const u64 count = page_size_pte_count(pgsize);
        const u64 pte_pa = alloc_pte(iova, pgsize, updated, freelist);
        if (!pte_pa) {
            ret = -ENOMEM;
            break;
        }
        for (u64 i = 0; i < count; ++i) updated = free_clear_pte(pte_pa + 8 * i, freelist) || updated;
        const bool ir = prot & IOMMU_PROT_IR, iw = prot & IOMMU_PROT_IW;
        const pte e = count > 1 ? pte::large(paddr, unsigned(__builtin_ctzll(pgsize)), ir, iw, true)
                                : pte::page(paddr, ir, iw, true);
        for (u64 i = 0; i < count; ++i) wr(pte_pa + 8 * i, e.v);
        iova += pgsize;
        paddr += pgsize;
        mapped += pgsize;
    }
    if (updated) {
        // Replaced entries: flush the whole domain (PDE too) and wait; then the old tables can go.
        m_driver.domain_flush_tlb_pde(*this);
        m_driver.domain_flush_complete(*this);
    }
    for (const auto& [table, mode] : freelist) free_sub_pt(table, mode);
    return ret;
}

// iommu_v1_unmap_pages: whole pages from fetch_pte until the size is covered or nothing is mapped.
u64 protection_domain::unmap_pages(u64 iova, u64 pgsize, u64 pgcount, iommu_iotlb_gather& gather) {
    if (!pgsize || (pgsize & AMD_IOMMU_PGSIZES) != pgsize || !pgcount || m_mode == PAGE_MODE_NONE) return 0;
    const u64 size = pgsize * pgcount, start = iova;
    u64 unmapped = 0;
    while (unmapped < size) {
        u64 unmap_size = 0;
        const u64 pte_pa = fetch_pte(iova, unmap_size);
        if (!pte_pa) break;
        const u64 count = page_size_pte_count(unmap_size);
        for (u64 i = 0; i < count; ++i) wr(pte_pa + 8 * i, 0);
        iova = (iova & ~(unmap_size - 1)) + unmap_size;
        unmapped += unmap_size;
    }
    // amd_iommu_iotlb_gather_add_page: with NpCache a disjoint range is synced first.
    if (unmapped) {
        if (m_driver.np_cache() && !gather.empty() && (start > gather.end + 1 || start + unmapped < gather.start))
            iotlb_sync(gather), gather = iommu_iotlb_gather{};
        gather.add_page(start, unmapped);
    }
    return unmapped;
}

// amd_iommu_iotlb_sync_map -> domain_flush_np_cache: only when NpCache says non-present entries are cached.
void protection_domain::iotlb_sync_map(u64 iova, u64 size) {
    if (!m_driver.np_cache()) return;
    m_driver.domain_flush_pages(*this, iova, size, true);
    m_driver.domain_flush_complete(*this);
}

// amd_iommu_iotlb_sync: the gathered range, PDE = 1, then completion.
void protection_domain::iotlb_sync(iommu_iotlb_gather& gather) {
    if (gather.empty()) return;
    m_driver.domain_flush_pages(*this, gather.start, gather.end - gather.start + 1, true);
    m_driver.domain_flush_complete(*this);
}

void protection_domain::do_flush_iotlb_all() {
    m_driver.domain_flush_tlb_pde(*this);
    m_driver.domain_flush_complete(*this);
}

u64 protection_domain::do_iova_to_phys(u64 iova) {
    if (m_mode == PAGE_MODE_NONE) return iova;
    u64 pgsize = 0;
    const u64 pte_pa = fetch_pte(iova, pgsize);
    if (!pte_pa) return 0;
    const pte e{rd(pte_pa)};
    if (!e.pr()) return 0;
    const u64 offset_mask = pgsize - 1;
    return (e.addr() & ~offset_mask) | (iova & offset_mask);
}

} // namespace iommusim::host

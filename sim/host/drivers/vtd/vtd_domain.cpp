#include "sim/host/drivers/vtd/vtd_domain.h"

#include "models/iommu/vtd/vtd_params.h"
#include "sim/host/drivers/vtd/vtd_driver.h"
#include "sim/host/drivers/vtd/vtd_iommu.h"
#include "sim/host/kernel_log.h"

#include <algorithm>
#include <cerrno>
#include <fmt/format.h>

namespace iommusim::host {

namespace {
// DMA PTE bits (include/linux/intel-iommu.h): second-level R, W, PS (large page), SNP.
constexpr u64 DMA_PTE_READ = 1, DMA_PTE_WRITE = 2, DMA_PTE_LARGE_PAGE = 1u << 7, DMA_PTE_SNP = 1u << 11;
constexpr u64 VTD_PAGE_SIZE = 4096;
constexpr unsigned LEVEL_STRIDE = 9;

bool pte_present(u64 v) { return (v & 3) != 0; }
bool pte_superpage(u64 v) { return (v & DMA_PTE_LARGE_PAGE) != 0; }
u64 pte_addr(u64 v) { return v & ~0xfffull & ~(1ull << 63); }
unsigned offset_bits(int level) { return unsigned(level - 1) * LEVEL_STRIDE; }
unsigned pfn_level_offset(u64 pfn, int level) { return unsigned((pfn >> offset_bits(level)) & 0x1ff); }
u64 level_size(int level) { return 1ull << offset_bits(level); }
u64 level_mask(int level) { return ~0ull << offset_bits(level); }
u64 align_to_level(u64 pfn, int level) { return (pfn + level_size(level) - 1) & level_mask(level); }
u64 lvl_to_nr_pages(int level) { return 1ull << std::min(offset_bits(level), 52u); }
bool first_pte_in_page(u64 pte) { return (pte & (VTD_PAGE_SIZE - 1)) == 0; }
u64 nr_pte_to_next_page(u64 pte) { return first_pte_in_page(pte) ? 512 : (VTD_PAGE_SIZE - (pte & 0xfff)) / 8; }
int agaw_to_width(int agaw) { return std::min(30 + agaw * int(LEVEL_STRIDE), 64); }
int width_to_agaw(int width) { return (width - 30 + int(LEVEL_STRIDE) - 1) / int(LEVEL_STRIDE); }
int guestwidth_to_adjustwidth(int gaw) {
    const int r = (gaw - 12) % 9;
    const int agaw = r == 0 ? gaw : gaw + 9 - r;
    return std::min(agaw, 64);
}
u64 domain_max_pfn(int gaw) { return gaw >= 76 ? ~0ull : (1ull << (gaw - 12)) - 1; }
// aligned_nrpages: 4 KiB pages covering [addr, addr + size).
u64 aligned_nrpages(u64 addr, u64 size) { return ((addr & 0xfff) + size + 0xfff) >> 12; }
} // namespace

dmar_domain::dmar_domain(vtd_driver& driver, iommu_domain_type type, kernel_log* log)
    : iommu_domain(type, log), m_driver(driver) {}

dmar_domain::~dmar_domain() {
    if (m_pgd) {
        std::vector<u64> freelist;
        dma_pte_clear_level(levels(), m_pgd, 0, 0, domain_max_pfn(m_gaw), freelist);
        freelist.push_back(m_pgd);
        for (u64 pa : freelist) m_driver.free_pgtable_page(pa);
    }
}

u64 dmar_domain::rd(u64 pa) const { return m_driver.read64(pa); }
void dmar_domain::wr(u64 pa, u64 v) { m_driver.write64(pa, v); }

int dmar_domain::init(int guest_width) {
    m_gaw = guest_width;
    m_agaw = width_to_agaw(guestwidth_to_adjustwidth(guest_width));
    m_pgd = m_driver.alloc_pgtable_page();
    if (!m_pgd) return -ENOMEM;
    // Until a unit is attached the domain offers 4 KiB pages over the whole guest width (the ops'
    // pgsize_bitmap SZ_4K and aperture_end = __DOMAIN_MAX_ADDR(gaw)).
    set_geometry({dma_window{0, guest_width >= 64 ? ~0ull : 1ull << guest_width, SZ_4K, unsigned(levels()), true}});
    return 0;
}

u16 dmar_domain::did_on(const vtd_iommu& iommu) const {
    for (const auto& u : m_units)
        if (u.iommu == &iommu) return u.did;
    return 0;
}

void dmar_domain::remove_device(pci_dev& dev) {
    m_devices.erase(std::remove(m_devices.begin(), m_devices.end(), &dev), m_devices.end());
}

// domain_update_iommu_cap: page-walk coherency and large pages are the lowest common denominator of
// the units (superpage over every active unit, as domain_update_iommu_superpage does); the window
// ends at 2^gaw and gains the large page sizes.
void dmar_domain::update_cap() {
    m_coherency = true;
    const auto& units = m_driver.units();
    bool found = false;
    for (const auto& u : m_units) {
        found = true;
        if (!vtd::ecap::c(u.iommu->ecap())) m_coherency = false;
    }
    if (!found)
        for (const auto& u : units)
            if (!vtd::ecap::c(u->ecap())) m_coherency = false;
    int mask = 0x3;
    if (!m_driver.options().superpage) mask = 0;
    for (const auto& u : units) mask &= int(vtd::cap::sllps(u->cap()));
    m_superpage = mask == 0 ? 0 : mask >= 2 ? 2 : 1;  // fls(mask)
    u64 bitmap = geometry().empty() ? SZ_4K : geometry().front().pgsize_bitmap;
    if (m_superpage == 1) bitmap |= SZ_2M;
    else if (m_superpage == 2) bitmap |= SZ_2M | SZ_1G;
    set_geometry({dma_window{0, m_gaw >= 64 ? ~0ull : 1ull << m_gaw, bitmap, unsigned(levels()), true}});
}

// prepare_domain_attach_device: the unit's width bounds the domain; extra top levels are dropped.
int dmar_domain::prepare_attach(vtd_iommu& iommu) {
    int addr_width = agaw_to_width(iommu.agaw());
    if (addr_width > int(vtd::cap::mgaw(iommu.cap()))) addr_width = int(vtd::cap::mgaw(iommu.cap()));
    if (addr_width < 64 && m_max_addr > (1ull << addr_width)) return -EINVAL;
    m_gaw = addr_width;
    while (iommu.agaw() < m_agaw) {
        const u64 top = m_pgd;
        const u64 e = rd(top);
        if (pte_present(e)) {
            m_pgd = pte_addr(e);
            m_driver.free_pgtable_page(top);
        }
        --m_agaw;
    }
    return 0;
}

int dmar_domain::attach_iommu(vtd_iommu& iommu) {
    for (auto& u : m_units)
        if (u.iommu == &iommu) {
            ++u.refcnt;
            return 0;
        }
    const int did = iommu.alloc_did();
    if (did < 0) return did;
    m_units.push_back({&iommu, u16(did), 1});
    update_cap();
    return 0;
}

void dmar_domain::detach_iommu(vtd_iommu& iommu) {
    for (auto it = m_units.begin(); it != m_units.end(); ++it) {
        if (it->iommu != &iommu) continue;
        if (--it->refcnt == 0) {
            iommu.free_did(it->did);
            m_units.erase(it);
            update_cap();
        }
        return;
    }
}

int dmar_domain::attach_dev(pci_dev& dev) { return m_driver.attach_device(*this, dev); }
void dmar_domain::detach_dev(pci_dev& dev) { m_driver.remove_dev_info(dev); }

// intel_iommu_enforce_cache_coherency: every unit of the domain needs ECAP.SC; then leaf entries get SNP.
bool dmar_domain::enforce_cache_coherency() {
    if (m_force_snooping) return true;
    for (pci_dev* dev : m_devices) {
        vtd_iommu* u = m_driver.device_to_iommu(*dev);
        if (!u || !vtd::ecap::sc(u->ecap())) return false;
    }
    m_set_pte_snp = true;
    m_force_snooping = true;
    return true;
}

// ---- page-table walking ------------------------------------------------------------------------------

bool dmar_domain::pfn_supported(u64 pfn) const {
    const int addr_width = agaw_to_width(m_agaw) - 12;
    return !(addr_width < 64 && (pfn >> addr_width));
}

// pfn_to_dma_pte: the entry for pfn at target_level, allocating tables on the way (target 0: stop at
// the first large or non-present entry and report its level). 0 for an unsupported pfn or no memory.
u64 dmar_domain::pfn_to_dma_pte(u64 pfn, int& target_level) {
    if (!m_pgd || !pfn_supported(pfn)) return 0;
    int level = levels();
    u64 parent = m_pgd, pte = 0;
    while (true) {
        pte = parent + pfn_level_offset(pfn, level) * 8;
        u64 v = rd(pte);
        if (!target_level && (pte_superpage(v) || !pte_present(v))) break;
        if (level == target_level) break;
        if (!pte_present(v)) {
            const u64 page = m_driver.alloc_pgtable_page();
            if (!page) return 0;
            v = page | DMA_PTE_READ | DMA_PTE_WRITE;
            wr(pte, v);
        }
        if (level == 1) break;
        parent = pte_addr(v);
        --level;
    }
    if (!target_level) target_level = level;
    return pte;
}

// dma_pfn_level_pte: the entry for pfn at `level` without allocating; 0 when a non-present entry is met
// above it (large_page then says where).
u64 dmar_domain::dma_pfn_level_pte(u64 pfn, int level, int& large_page) {
    int total = levels();
    u64 parent = m_pgd;
    while (level <= total) {
        const u64 pte = parent + pfn_level_offset(pfn, total) * 8;
        if (level == total) return pte;
        const u64 v = rd(pte);
        if (!pte_present(v)) {
            large_page = total;
            break;
        }
        if (pte_superpage(v)) {
            large_page = total;
            return pte;
        }
        parent = pte_addr(v);
        --total;
    }
    return 0;
}

void dmar_domain::dma_pte_clear_range(u64 start_pfn, u64 last_pfn) {
    do {
        int large_page = 1;
        u64 first = dma_pfn_level_pte(start_pfn, 1, large_page);
        u64 pte = first;
        if (!pte) {
            start_pfn = align_to_level(start_pfn + 1, large_page + 1);
            continue;
        }
        do {
            wr(pte, 0);
            start_pfn += lvl_to_nr_pages(large_page);
            pte += 8;
        } while (start_pfn <= last_pfn && !first_pte_in_page(pte));
    } while (start_pfn && start_pfn <= last_pfn);
}

void dmar_domain::dma_pte_free_level(int level, int retain_level, u64 table, u64 pfn, u64 start_pfn,
                                     u64 last_pfn) {
    pfn = std::max(start_pfn, pfn);
    u64 pte = table + pfn_level_offset(pfn, level) * 8;
    do {
        const u64 v = rd(pte);
        if (pte_present(v) && !pte_superpage(v)) {
            const u64 level_pfn = pfn & level_mask(level);
            const u64 level_pte = pte_addr(v);
            if (level > 2) dma_pte_free_level(level - 1, retain_level, level_pte, level_pfn, start_pfn, last_pfn);
            // Free the table below if the range covers all of it and it is below the retained level.
            if (level < retain_level && !(start_pfn > level_pfn || last_pfn < level_pfn + level_size(level) - 1)) {
                wr(pte, 0);
                m_driver.free_pgtable_page(level_pte);
            }
        }
        pfn += level_size(level);
        pte += 8;
    } while (!first_pte_in_page(pte) && pfn <= last_pfn);
}

void dmar_domain::dma_pte_free_pagetable(u64 start_pfn, u64 last_pfn, int retain_level) {
    dma_pte_clear_range(start_pfn, last_pfn);
    dma_pte_free_level(levels(), retain_level, m_pgd, 0, start_pfn, last_pfn);
}

void dmar_domain::dma_pte_list_pagetables(int level, u64 pte, std::vector<u64>& freelist) {
    const u64 page = pte_addr(rd(pte));
    freelist.push_back(page);
    if (level == 1) return;
    u64 p = page;
    do {
        const u64 v = rd(p);
        if (pte_present(v) && !pte_superpage(v)) dma_pte_list_pagetables(level - 1, p, freelist);
        p += 8;
    } while (!first_pte_in_page(p));
}

// dma_pte_clear_level: entries wholly inside the range are cleared (their tables listed for freeing
// after the flush); partially covered tables are descended into.
void dmar_domain::dma_pte_clear_level(int level, u64 table, u64 pfn, u64 start_pfn, u64 last_pfn,
                                      std::vector<u64>& freelist) {
    pfn = std::max(start_pfn, pfn);
    u64 pte = table + pfn_level_offset(pfn, level) * 8;
    do {
        const u64 level_pfn = pfn & level_mask(level);
        const u64 v = rd(pte);
        if (pte_present(v)) {
            const bool covered = start_pfn <= level_pfn && last_pfn >= level_pfn + level_size(level) - 1;
            if (covered || pte_superpage(v)) {
                // Ours for the superpage case: Linux would descend into the large page's data as if it
                // were a table; a partially covered large page is cleared whole instead.
                if (level > 1 && !pte_superpage(v)) dma_pte_list_pagetables(level - 1, pte, freelist);
                wr(pte, 0);
            } else if (level > 1) {
                dma_pte_clear_level(level - 1, pte_addr(v), level_pfn, start_pfn, last_pfn, freelist);
            }
        }
        pfn = level_pfn + level_size(level);
        pte += 8;
    } while (!first_pte_in_page(pte) && pfn <= last_pfn);
}

void dmar_domain::domain_unmap(u64 start_pfn, u64 last_pfn, std::vector<u64>& freelist) {
    // Linux also frees the top-level table when the whole width is unmapped; the domain keeps it here
    // (ours) so a huge unmap cannot leave context entries pointing at a freed page.
    dma_pte_clear_level(levels(), m_pgd, 0, start_pfn, last_pfn, freelist);
}

// ---- mapping ---------------------------------------------------------------------------------------------

int dmar_domain::hardware_largepage_caps(u64 iov_pfn, u64 phy_pfn, u64 pages) const {
    int support = m_superpage, level = 1;
    u64 merge = iov_pfn | phy_pfn;
    while (support && !(merge & 0x1ff)) {
        pages >>= LEVEL_STRIDE;
        if (!pages) break;
        merge >>= LEVEL_STRIDE;
        ++level;
        --support;
    }
    return level;
}

// switch_to_super_page: tables below where a large page goes are freed and that range flushed.
void dmar_domain::switch_to_super_page(u64 start_pfn, u64 end_pfn, int level) {
    const u64 lvl_pages = lvl_to_nr_pages(level);
    u64 pte = 0;
    while (start_pfn <= end_pfn) {
        if (!pte) {
            int l = level;
            pte = pfn_to_dma_pte(start_pfn, l);
            if (!pte) return;
        }
        if (pte_present(rd(pte))) {
            dma_pte_free_pagetable(start_pfn, start_pfn + lvl_pages - 1, level + 1);
            for (auto& u : m_units) u.iommu->flush_iotlb_psi(u.did, start_pfn, lvl_pages, false, false);
        }
        pte += 8;
        start_pfn += lvl_pages;
        if (first_pte_in_page(pte)) pte = 0;
    }
}

// __domain_mapping: leaf entries written only where the entry is clear; an entry already set is kept
// and reported (v6.1 returns success anyway).
int dmar_domain::domain_mapping(u64 iov_pfn, u64 phys_pfn, u64 nr_pages, u64 prot) {
    if (!pfn_supported(iov_pfn + nr_pages - 1)) return -EINVAL;  // Linux BUG()s
    if (!(prot & (DMA_PTE_READ | DMA_PTE_WRITE))) return -EINVAL;
    u64 pteval = (phys_pfn << 12) | (prot & (DMA_PTE_READ | DMA_PTE_WRITE | DMA_PTE_SNP));
    u64 pte = 0, lvl_pages = 0;
    int largepage_lvl = 0;
    while (nr_pages > 0) {
        if (!pte) {
            largepage_lvl = hardware_largepage_caps(iov_pfn, phys_pfn, nr_pages);
            pte = pfn_to_dma_pte(iov_pfn, largepage_lvl);
            if (!pte) return -ENOMEM;
            lvl_pages = lvl_to_nr_pages(largepage_lvl);
            if (largepage_lvl > 1) {
                pteval |= DMA_PTE_LARGE_PAGE;
                const u64 to_remove = std::min(nr_pages, nr_pte_to_next_page(pte) * lvl_pages);
                switch_to_super_page(iov_pfn, iov_pfn + to_remove - 1, largepage_lvl);
            } else {
                pteval &= ~DMA_PTE_LARGE_PAGE;
            }
        }
        const u64 old = rd(pte);
        if (old == 0) {
            wr(pte, pteval);
        } else if (log()) {
            log()->warn(fmt::format("DMAR: ERROR: DMA PTE for vPFN 0x{:x} already set (to {:x} not {:x})", iov_pfn,
                                    old, pteval));
            if (m_crit_dumps) --m_crit_dumps;
        }
        nr_pages -= lvl_pages;
        iov_pfn += lvl_pages;
        phys_pfn += lvl_pages;
        pteval += lvl_pages * VTD_PAGE_SIZE;
        pte += 8;
        if (!nr_pages || first_pte_in_page(pte) || (largepage_lvl > 1 && nr_pages < lvl_pages)) pte = 0;
    }
    return 0;
}

int dmar_domain::intel_map(u64 iova, u64 hpa, u64 size, int iommu_prot) {
    u64 prot = 0;
    if (iommu_prot & IOMMU_READ) prot |= DMA_PTE_READ;
    if (iommu_prot & IOMMU_WRITE) prot |= DMA_PTE_WRITE;
    if (m_set_pte_snp) prot |= DMA_PTE_SNP;
    const u64 max_addr = iova + size;
    if (m_max_addr < max_addr) {
        const u64 end = m_gaw >= 64 ? ~0ull : 1ull << m_gaw;
        if (end < max_addr || max_addr < iova) {
            if (log())
                log()->warn(fmt::format("DMAR: intel_iommu_map: iommu width ({}) is not sufficient for the mapped "
                                        "address ({:x})",
                                        m_gaw, max_addr));
            return -EFAULT;
        }
        m_max_addr = max_addr;
    }
    return domain_mapping(iova >> 12, hpa >> 12, aligned_nrpages(hpa, size), prot);
}

int dmar_domain::map_pages(u64 iova, u64 paddr, u64 pgsize, u64 pgcount, int prot, u64& mapped) {
    mapped = 0;
    if (pgsize != SZ_4K && pgsize != SZ_2M && pgsize != SZ_1G) return -EINVAL;
    if ((iova | paddr) & (pgsize - 1)) return -EINVAL;
    const u64 size = pgcount * pgsize;
    const int ret = intel_map(iova, paddr, size, prot);
    if (!ret) mapped = size;
    return ret;
}

u64 dmar_domain::intel_unmap(u64 iova, u64 size, iommu_iotlb_gather& gather) {
    int level = 0;
    if (!pfn_to_dma_pte(iova >> 12, level)) return 0;  // Linux BUG()s beyond the domain
    // Unmapping inside a large page removes all of it (the "horrid API" rounding).
    const u64 lvl_size = VTD_PAGE_SIZE << offset_bits(level);
    if (size < lvl_size) size = lvl_size;
    const u64 start_pfn = iova >> 12;
    u64 last_pfn = (iova + size - 1) >> 12;
    if (!pfn_supported(last_pfn)) last_pfn = domain_max_pfn(agaw_to_width(m_agaw));
    domain_unmap(start_pfn, last_pfn, gather.freelist);
    if (m_max_addr == iova + size) m_max_addr = iova;
    gather.add_page(iova, size);
    return size;
}

u64 dmar_domain::unmap_pages(u64 iova, u64 pgsize, u64 pgcount, iommu_iotlb_gather& gather) {
    return intel_unmap(iova, pgsize * pgcount, gather);
}

// intel_iommu_tlb_sync: one PSI per unit over the gathered range, IH when no table page was freed;
// only then are the table pages returned to the allocator.
void dmar_domain::iotlb_sync(iommu_iotlb_gather& gather) {
    if (!gather.empty()) {
        const u64 nrpages = aligned_nrpages(gather.start, gather.end - gather.start);
        for (auto& u : m_units)
            u.iommu->flush_iotlb_psi(u.did, gather.start >> 12, nrpages, gather.freelist.empty(), false);
    }
    for (u64 pa : gather.freelist) m_driver.free_pgtable_page(pa);
    gather = iommu_iotlb_gather{};
}

// intel_iommu_iotlb_sync_map -> __mapping_notify_one: with caching mode a not-present -> present change
// must be invalidated (PSI); otherwise only the write buffer is flushed (CAP.RWBF).
void dmar_domain::iotlb_sync_map(u64 iova, u64 size) {
    const u64 pages = aligned_nrpages(iova, size);
    for (auto& u : m_units) {
        if (vtd::cap::cm(u.iommu->cap())) u.iommu->flush_iotlb_psi(u.did, iova >> 12, pages, false, true);
        else u.iommu->flush_write_buffer();
    }
}

void dmar_domain::do_flush_iotlb_all() {
    for (auto& u : m_units) u.iommu->flush_iotlb(u.did, 0, 0, vtd_flush::domain);
}

// intel_iommu_iova_to_phys: the entry where the walk stops, plus the offset inside its page size.
u64 dmar_domain::do_iova_to_phys(u64 iova) {
    int level = 0;
    const u64 pte = pfn_to_dma_pte(iova >> 12, level);
    if (!pte) return 0;
    const u64 v = rd(pte);
    if (!pte_present(v)) return 0;
    return pte_addr(v) + (iova & ((1ull << (offset_bits(level) + 12)) - 1));
}

} // namespace iommusim::host

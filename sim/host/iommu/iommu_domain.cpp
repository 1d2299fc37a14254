#include "sim/host/iommu/iommu_domain.h"

#include "sim/core/bits.h"
#include "sim/host/kernel_log.h"

#include <cerrno>
#include <fmt/format.h>

namespace iommusim::host {

namespace {
unsigned ffs64(u64 v) { return unsigned(__builtin_ctzll(v)); }        // v != 0
u64 genmask(unsigned hi) { return hi >= 63 ? ~0ull : (2ull << hi) - 1; }  // bits hi..0
} // namespace

const char* domain_type_name(iommu_domain_type t) {
    switch (t) {
    case iommu_domain_type::blocked: return "Blocked";
    case iommu_domain_type::identity: return "Passthrough";
    case iommu_domain_type::unmanaged: return "Unmanaged";
    case iommu_domain_type::dma: return "Translated";
    }
    return "Unknown";
}

const char* resv_type_name(iommu_resv_type t) {
    switch (t) {
    case iommu_resv_type::direct: return "direct";
    case iommu_resv_type::direct_relaxable: return "direct-relaxable";
    case iommu_resv_type::reserved: return "reserved";
    case iommu_resv_type::msi: return "msi";
    case iommu_resv_type::sw_msi: return "sw_msi";
    }
    return "unknown";
}

const dma_window* iommu_domain::window_for(u64 iova, u64 len) const {
    for (const auto& w : m_windows)
        if (w.contains(iova, len)) return &w;
    return nullptr;
}

u64 iommu_domain::pgsize_bitmap() const {
    u64 b = 0;
    for (const auto& w : m_windows) b |= w.pgsize_bitmap;
    return b;
}

// iommu_pgsize() (iommu.c, v5.15+): the largest supported page that fits both the alignment of
// iova|paddr and the remaining size, and how many of them to map before a larger page becomes usable.
u64 iommu_domain::pgsize(u64 bitmap, u64 iova, u64 paddr, u64 size, u64& count) {
    const u64 addr_merge = paddr | iova;
    u64 pgsizes = bitmap & genmask(ilog2(size));
    if (addr_merge) pgsizes &= genmask(ffs64(addr_merge));
    if (!pgsizes) {  // the caller checked alignment against the smallest size; cannot happen
        count = 0;
        return 0;
    }
    const unsigned idx = ilog2(pgsizes);
    const u64 pg = 1ull << idx;
    const u64 bigger = bitmap & ~genmask(idx);
    if (bigger) {
        const u64 next = 1ull << ffs64(bigger);
        // A bigger page is only worth stopping for when iova and paddr share their offset in it.
        if (!((iova ^ paddr) & (next - 1))) {
            const u64 offset = next - (addr_merge & (next - 1));
            if (offset + next <= size) size = offset;
        }
    }
    count = size >> idx;
    return pg;
}

int iommu_domain::map(u64 iova, u64 paddr, u64 size, int prot) {
    if (!domain_type_paging(m_type)) return -EINVAL;
    const u64 bitmap = pgsize_bitmap();
    if (!bitmap) return -ENODEV;
    const u64 min_pagesz = 1ull << ffs64(bitmap);
    // __iommu_map: every one of iova, paddr and size must be aligned to the smallest page size.
    if ((iova | paddr | size) & (min_pagesz - 1)) {
        if (m_log)
            m_log->warn(fmt::format("iommu: unaligned: iova 0x{:x} pa 0x{:016x} size 0x{:x} min_pagesz 0x{:x}",
                                    iova, paddr, size, min_pagesz));
        return -EINVAL;
    }
    // Ours (Linux 6.1's core does not look at the aperture; see README): the whole range must lie in
    // one window, which is what a windowed (TCE) IOMMU requires and what VFIO checks above us anyway.
    const dma_window* w = window_for(iova, size);
    if (!w) return -EINVAL;

    const u64 orig_iova = iova, orig_size = size;
    int ret = 0;
    while (size) {
        u64 count = 0;
        const u64 pg = pgsize(w->pgsize_bitmap, iova, paddr, size, count);
        if (!pg || !count) {
            ret = -EINVAL;
            break;
        }
        u64 mapped = 0;
        ret = map_pages(iova, paddr, pg, count, prot, mapped);
        size -= mapped;
        if (ret) break;
        iova += mapped;
        paddr += mapped;
    }
    if (ret) {
        // Unroll what this call mapped (iommu_unmap of the mapped part).
        if (orig_size - size) unmap(orig_iova, orig_size - size);
        return ret;
    }
    iotlb_sync_map(orig_iova, orig_size);
    return 0;
}

u64 iommu_domain::unmap(u64 iova, u64 size) {
    if (!domain_type_paging(m_type)) return 0;
    const u64 bitmap = pgsize_bitmap();
    if (!bitmap || !size) return 0;
    const u64 min_pagesz = 1ull << ffs64(bitmap);
    if ((iova | size) & (min_pagesz - 1)) {
        if (m_log)
            m_log->warn(fmt::format("iommu: unaligned: iova 0x{:x} size 0x{:x} min_pagesz 0x{:x}", iova, size,
                                    min_pagesz));
        return 0;
    }
    // Ours: Linux's drivers BUG() on addresses beyond the domain; here nothing is unmapped.
    const dma_window* w = window_for(iova, size);
    if (!w) return 0;

    iommu_iotlb_gather gather;
    u64 unmapped = 0;
    while (unmapped < size) {
        u64 count = 0;
        const u64 pg = pgsize(w->pgsize_bitmap, iova, iova, size - unmapped, count);
        if (!pg || !count) break;
        const u64 done = unmap_pages(iova, pg, count, gather);
        if (!done) break;
        iova += done;
        unmapped += done;
    }
    iotlb_sync(gather);
    return unmapped;
}

u64 iommu_domain::iova_to_phys(u64 iova) {
    if (m_type == iommu_domain_type::identity) return iova;
    if (m_type == iommu_domain_type::blocked) return 0;
    return do_iova_to_phys(iova);
}

} // namespace iommusim::host

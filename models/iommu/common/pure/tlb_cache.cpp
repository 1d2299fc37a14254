#include "models/iommu/common/pure/tlb_cache.h"

#include <algorithm>
#include <stdexcept>

namespace iommusim::iommu {

tlb_cache::tlb_cache(const cache_geometry& g, std::vector<unsigned> page_shifts)
    : m_cache(g), m_shifts(std::move(page_shifts)) {
    if (m_shifts.empty()) throw std::invalid_argument("tlb_cache needs at least one page size");
    std::sort(m_shifts.begin(), m_shifts.end());
    for (unsigned s : m_shifts)
        if (s >= 64) throw std::invalid_argument("tlb_cache page shift must be below 64");
    m_probe.resize(m_shifts.size());
}

std::optional<translation> tlb_cache::lookup(u32 domain, u32 pasid, u64 address) {
    for (size_t i = 0; i < m_shifts.size(); ++i)
        m_probe[i] = tlb_key{domain, pasid, address >> m_shifts[i], u8(m_shifts[i])};
    size_t which = 0;
    const tlb_entry* e = m_cache.lookup_any(m_probe.data(), m_probe.size(), &which);
    if (!e) return std::nullopt;
    translation t;
    t.page_shift = m_probe[which].page_shift;
    t.address = e->output_base | (address & t.page_mask());
    t.perms = e->perms;
    t.attrs = e->attrs;
    return t;
}

void tlb_cache::fill(u32 domain, u32 pasid, u16 source_id, u64 address, const translation& t) {
    if (!std::binary_search(m_shifts.begin(), m_shifts.end(), t.page_shift))
        throw std::invalid_argument("tlb_cache: page size not configured");
    const u64 in_base = address & ~t.page_mask();
    cache_tag tag;
    tag.domain = domain;
    tag.source_id = source_id;
    tag.pasid = pasid;
    tag.level = 0;
    tag.address = in_base;
    tag.size_shift = u8(t.page_shift);
    m_cache.insert(tlb_key{domain, pasid, address >> t.page_shift, u8(t.page_shift)},
                   tlb_entry{t.address & ~t.page_mask(), t.perms, t.attrs}, tag);
}

} // namespace iommusim::iommu

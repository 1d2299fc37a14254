#include "models/iommu/common/pure/paging_structure_cache.h"

namespace iommusim::iommu {

paging_structure_cache::paging_structure_cache(const std::vector<cache_geometry>& per_level) {
    m_levels.resize(per_level.size() < 2 ? 2 : per_level.size());
    for (size_t l = 2; l < per_level.size(); ++l)
        if (per_level[l].entries() > 0) m_levels[l] = std::make_unique<cache_type>(per_level[l]);
}

std::optional<psc_entry> paging_structure_cache::lookup(unsigned level, u32 domain, u32 pasid, u64 address,
                                                        unsigned region_shift) {
    if (!caches_level(level)) return std::nullopt;
    const psc_key k{domain, pasid, region_shift >= 64 ? 0 : address >> region_shift};
    if (const psc_entry* e = m_levels[level]->lookup(k)) return *e;
    return std::nullopt;
}

void paging_structure_cache::fill(unsigned level, u32 domain, u32 pasid, u16 source_id, u64 address,
                                  unsigned region_shift, const psc_entry& e) {
    if (!caches_level(level)) return;
    cache_tag tag;
    tag.domain = domain;
    tag.source_id = source_id;
    tag.pasid = pasid;
    tag.level = u8(level);
    tag.size_shift = u8(region_shift >= 64 ? 64 : region_shift);
    tag.address = region_shift >= 64 ? 0 : address & ~((u64(1) << region_shift) - 1);
    m_levels[level]->insert(psc_key{domain, pasid, region_shift >= 64 ? 0 : address >> region_shift}, e, tag);
}

size_t paging_structure_cache::invalidate(const cache_selector& s, inval_kind kind) {
    size_t n = 0;
    for (auto& c : m_levels)
        if (c) n += c->invalidate(s, kind);
    return n;
}

size_t paging_structure_cache::invalidate_all() {
    return invalidate(cache_selector{}, inval_kind::global);
}

size_t paging_structure_cache::invalidate_domain(u32 domain) {
    cache_selector s;
    s.domain = domain;
    return invalidate(s, inval_kind::domain);
}

size_t paging_structure_cache::invalidate_pasid(u32 domain, u32 pasid) {
    cache_selector s;
    s.domain = domain;
    s.pasid = pasid;
    return invalidate(s, inval_kind::pasid);
}

size_t paging_structure_cache::invalidate_range(u64 base, u64 size, std::optional<u32> domain) {
    cache_selector s;
    s.domain = domain;
    s.range_base = base;
    s.range_size = size;
    return invalidate(s, inval_kind::range);
}

cache_stats paging_structure_cache::total_stats() const {
    cache_stats t;
    for (const auto& c : m_levels) {
        if (!c) continue;
        const auto& s = c->stats();
        t.lookups += s.lookups;
        t.hits += s.hits;
        t.misses += s.misses;
        t.fills += s.fills;
        t.evictions += s.evictions;
        for (size_t k = 0; k < t.invalidations.size(); ++k) {
            t.invalidations[k] += s.invalidations[k];
            t.invalidated_entries[k] += s.invalidated_entries[k];
        }
    }
    return t;
}

} // namespace iommusim::iommu

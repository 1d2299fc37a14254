// Paging-structure caches: one set-associative cache per table level, each holding non-leaf entries
// (the next table's address and the rights granted so far) keyed by the input-address prefix that
// selected the entry. A walk that hits at level L skips the reads of levels above and including L.
// Levels are numbered as the walker numbers them: 1 = leaf tables, `levels` = root table; an entry
// cached "at level L" was read from a level-L table and points to a level L-1 table.
#pragma once
#include "models/iommu/common/pure/assoc_cache.h"
#include "models/iommu/common/pure/xlate.h"

#include <memory>
#include <optional>
#include <vector>

namespace iommusim::iommu {

struct psc_key {
    u32 domain = 0;
    u32 pasid = no_pasid;
    u64 prefix = 0; // input address >> the level's region shift
    bool operator==(const psc_key& o) const { return prefix == o.prefix && domain == o.domain && pasid == o.pasid; }
};
struct psc_key_index {
    u64 operator()(const psc_key& k) const { return k.prefix; }
};
struct psc_entry {
    u64 table = 0;           // next-level table address
    perm_mask perms = perm_all; // rights accumulated from the root down to this entry
};

class paging_structure_cache {
public:
    using cache_type = assoc_cache<psc_key, psc_entry, psc_key_index>;

    // per_level[L] is the geometry of level L's cache (index 0 and 1 unused: leaves go to the IOTLB);
    // a level with no entry, or 0 entries, is not cached.
    explicit paging_structure_cache(const std::vector<cache_geometry>& per_level);

    bool caches_level(unsigned level) const { return level < m_levels.size() && m_levels[level]; }
    unsigned top_level() const { return unsigned(m_levels.size()) - 1; }

    // region_shift: log2 of the input region one level-L entry covers.
    std::optional<psc_entry> lookup(unsigned level, u32 domain, u32 pasid, u64 address, unsigned region_shift);
    void fill(unsigned level, u32 domain, u32 pasid, u16 source_id, u64 address, unsigned region_shift,
              const psc_entry& e);

    // Every level at once; each returns the number of entries removed.
    size_t invalidate_all();
    size_t invalidate_domain(u32 domain);
    size_t invalidate_pasid(u32 domain, u32 pasid);
    size_t invalidate_range(u64 base, u64 size, std::optional<u32> domain = std::nullopt);
    size_t invalidate(const cache_selector& s, inval_kind kind);

    cache_type* level_cache(unsigned level) { return caches_level(level) ? m_levels[level].get() : nullptr; }
    cache_stats total_stats() const;

private:
    std::vector<std::unique_ptr<cache_type>> m_levels;
};

} // namespace iommusim::iommu

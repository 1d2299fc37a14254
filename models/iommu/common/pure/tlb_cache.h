// A translation cache (IOTLB, or a TCE cache) holding leaf translations of several page sizes in one
// structure. An entry is keyed by the page number at its own size, so a 2 MiB or 1 GiB entry is found
// for every address it covers by probing once per configured size (hardware probes the sizes in
// parallel; one lookup is counted). The set index is the page number at the entry's size.
#pragma once
#include "models/iommu/common/pure/assoc_cache.h"
#include "models/iommu/common/pure/xlate.h"

#include <optional>
#include <vector>

namespace iommusim::iommu {

struct tlb_key {
    u32 domain = 0;
    u32 pasid = no_pasid;
    u64 page = 0;        // input address >> page_shift
    u8 page_shift = 12;
    bool operator==(const tlb_key& o) const {
        return page == o.page && page_shift == o.page_shift && domain == o.domain && pasid == o.pasid;
    }
};
struct tlb_key_index {
    u64 operator()(const tlb_key& k) const { return k.page; }
};

struct tlb_entry {
    u64 output_base = 0; // translated address of the page's first byte
    perm_mask perms = perm_none;
    u64 attrs = 0;
};

class tlb_cache {
public:
    using cache_type = assoc_cache<tlb_key, tlb_entry, tlb_key_index>;

    // page_shifts: the sizes entries may have, probed smallest first (e.g. {12, 21, 30}).
    tlb_cache(const cache_geometry& g, std::vector<unsigned> page_shifts = {12, 21, 30});

    // The translation of `address` if a covering entry is cached (of any configured size).
    std::optional<translation> lookup(u32 domain, u32 pasid, u64 address);
    // Caches t (the translation of `address`); the tag records the filling requester for device-selective
    // invalidation. A page size not configured is an error in the model: throws std::invalid_argument.
    void fill(u32 domain, u32 pasid, u16 source_id, u64 address, const translation& t);

    cache_type& cache() { return m_cache; }
    const cache_type& cache() const { return m_cache; }
    const cache_stats& stats() const { return m_cache.stats(); }
    const std::vector<unsigned>& page_shifts() const { return m_shifts; }

private:
    cache_type m_cache;
    std::vector<unsigned> m_shifts;
    std::vector<tlb_key> m_probe; // scratch, avoids an allocation per lookup
};

} // namespace iommusim::iommu

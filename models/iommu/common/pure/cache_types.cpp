#include "models/iommu/common/pure/cache_types.h"

namespace iommusim::iommu {

const char* to_string(replacement_policy p) {
    switch (p) {
    case replacement_policy::lru: return "lru";
    case replacement_policy::fifo: return "fifo";
    case replacement_policy::random: return "random";
    case replacement_policy::tree_plru: return "tree_plru";
    }
    return "?";
}

std::optional<replacement_policy> parse_replacement_policy(const std::string& s) {
    for (auto p : {replacement_policy::lru, replacement_policy::fifo, replacement_policy::random,
                   replacement_policy::tree_plru})
        if (s == to_string(p)) return p;
    return std::nullopt;
}

const char* to_string(inval_kind k) {
    switch (k) {
    case inval_kind::global: return "global";
    case inval_kind::domain: return "domain";
    case inval_kind::device: return "device";
    case inval_kind::pasid: return "pasid";
    case inval_kind::range: return "range";
    case inval_kind::predicate: return "predicate";
    case inval_kind::count: break;
    }
    return "?";
}

bool cache_selector::matches(const cache_tag& t) const {
    if (domain && *domain != t.domain) return false;
    if (source_id && *source_id != t.source_id) return false;
    if (pasid && *pasid != t.pasid) return false;
    if (level && *level != t.level) return false;
    if (range_base) {
        if (range_size == 0) return false;
        // Inclusive ends avoid overflow at the top of the 64-bit space.
        const u64 entry_last = t.size_shift >= 64 ? ~u64(0) : t.address + ((u64(1) << t.size_shift) - 1);
        const u64 range_last = *range_base + (range_size - 1);
        if (entry_last < *range_base || t.address > range_last) return false;
    }
    return true;
}

} // namespace iommusim::iommu

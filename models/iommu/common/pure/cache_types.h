// What the IOMMU caches share: their geometry, the tag every entry carries so that invalidations can
// select by the kinds the specs define (global, domain, device, PASID, address range, anything else by
// predicate), and the statistics each cache keeps.
#pragma once
#include "sim/core/types.h"

#include <array>
#include <optional>
#include <string>

namespace iommusim::iommu {

enum class replacement_policy : u8 { lru, fifo, random, tree_plru };
const char* to_string(replacement_policy p);
// Parses "lru", "fifo", "random", "tree_plru"; nullopt for anything else (callers report the JSON path).
std::optional<replacement_policy> parse_replacement_policy(const std::string& s);

struct cache_geometry {
    unsigned sets = 1;  // 1: fully associative
    unsigned ways = 64;
    replacement_policy policy = replacement_policy::lru;
    u64 seed = 1;       // the random policy's RNG seed: runs are reproducible
    unsigned entries() const { return sets * ways; }
};

constexpr u32 no_pasid = 0xffffffffu; // tag value for requests without a PASID

// Carried by every entry; filled by the model at insert time. The covered input region
// [address, address + 2^size_shift) is what range invalidations test against, so one large-page entry
// is hit by any range that overlaps it.
struct cache_tag {
    u32 domain = 0;      // domain id (VT-d DID, AMD DomainID, TCE window/LIOBN)
    u16 source_id = 0;   // requester id of the request that filled the entry
    u32 pasid = no_pasid;
    u8 level = 0;        // table level the entry came from (0: not from a walk)
    u64 address = 0;     // first input address covered
    u8 size_shift = 12;  // covered size = 1 << size_shift (64: everything)
};

// An invalidation's selection: every set field must match; unset fields match anything.
struct cache_selector {
    std::optional<u32> domain;
    std::optional<u16> source_id;
    std::optional<u32> pasid;
    std::optional<u8> level;
    std::optional<u64> range_base; // with range_size: entries whose region overlaps [base, base + size)
    u64 range_size = 0;

    bool matches(const cache_tag& t) const;
};

enum class inval_kind : u8 { global, domain, device, pasid, range, predicate, count };
const char* to_string(inval_kind k);

struct cache_stats {
    u64 lookups = 0, hits = 0, misses = 0, fills = 0, evictions = 0;
    // Per kind: invalidation operations, and entries they removed.
    std::array<u64, size_t(inval_kind::count)> invalidations{}, invalidated_entries{};
};

} // namespace iommusim::iommu

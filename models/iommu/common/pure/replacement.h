// Replacement state of a set-associative cache: which way of a full set to evict. LRU and FIFO keep a
// stamp per way, random draws from a seeded xorshift generator (reproducible runs), tree-PLRU keeps
// ways - 1 bits per set as hardware does (ways must be a power of two).
#pragma once
#include "models/iommu/common/pure/cache_types.h"

#include <vector>

namespace iommusim::iommu {

class replacement {
public:
    // Throws std::invalid_argument for tree_plru with ways not a power of two, or zero sets/ways
    // (configuration errors).
    replacement(const cache_geometry& g);

    void touch(unsigned set, unsigned way); // a hit
    void filled(unsigned set, unsigned way); // a new entry
    unsigned victim(unsigned set);          // called with every way of the set valid

private:
    void plru_point_away(unsigned set, unsigned way);

    replacement_policy m_policy;
    unsigned m_ways;
    std::vector<u64> m_stamp; // lru: last use, fifo: fill time; sets * ways
    std::vector<u8> m_plru;   // sets * (ways - 1) tree nodes, 0 = go left
    u64 m_clock = 0;
    u64 m_rng;
};

} // namespace iommusim::iommu

#include "models/iommu/common/pure/replacement.h"

#include <stdexcept>

namespace iommusim::iommu {

replacement::replacement(const cache_geometry& g)
    : m_policy(g.policy), m_ways(g.ways), m_rng(g.seed ? g.seed : 0x9e3779b97f4a7c15ull) {
    if (g.sets == 0 || g.ways == 0) throw std::invalid_argument("cache needs at least one set and one way");
    if (m_policy == replacement_policy::tree_plru) {
        if (m_ways & (m_ways - 1)) throw std::invalid_argument("tree_plru needs a power-of-two number of ways");
        m_plru.assign(size_t(g.sets) * (m_ways > 1 ? m_ways - 1 : 1), 0);
    } else if (m_policy != replacement_policy::random) {
        m_stamp.assign(size_t(g.sets) * m_ways, 0);
    }
}

// Each node on the path from the root to `way` is set to point at the other half.
void replacement::plru_point_away(unsigned set, unsigned way) {
    if (m_ways == 1) return;
    u8* tree = &m_plru[size_t(set) * (m_ways - 1)];
    unsigned node = 0, lo = 0, span = m_ways;
    while (span > 1) {
        span /= 2;
        const bool right = way >= lo + span;
        tree[node] = right ? 0 : 1; // next victim search goes the other way
        node = 2 * node + (right ? 2 : 1);
        if (right) lo += span;
    }
}

void replacement::touch(unsigned set, unsigned way) {
    switch (m_policy) {
    case replacement_policy::lru: m_stamp[size_t(set) * m_ways + way] = ++m_clock; break;
    case replacement_policy::tree_plru: plru_point_away(set, way); break;
    case replacement_policy::fifo: // a hit does not change the fill order
    case replacement_policy::random: break;
    }
}

void replacement::filled(unsigned set, unsigned way) {
    switch (m_policy) {
    case replacement_policy::lru:
    case replacement_policy::fifo: m_stamp[size_t(set) * m_ways + way] = ++m_clock; break;
    case replacement_policy::tree_plru: plru_point_away(set, way); break;
    case replacement_policy::random: break;
    }
}

unsigned replacement::victim(unsigned set) {
    switch (m_policy) {
    case replacement_policy::lru:
    case replacement_policy::fifo: {
        const u64* s = &m_stamp[size_t(set) * m_ways];
        unsigned best = 0;
        for (unsigned w = 1; w < m_ways; ++w)
            if (s[w] < s[best]) best = w;
        return best;
    }
    case replacement_policy::random: {
        m_rng ^= m_rng << 13; // xorshift64
        m_rng ^= m_rng >> 7;
        m_rng ^= m_rng << 17;
        return unsigned(m_rng % m_ways);
    }
    case replacement_policy::tree_plru: {
        if (m_ways == 1) return 0;
        const u8* tree = &m_plru[size_t(set) * (m_ways - 1)];
        unsigned node = 0, lo = 0, span = m_ways;
        while (span > 1) {
            span /= 2;
            const bool right = tree[node] != 0;
            node = 2 * node + (right ? 2 : 1);
            if (right) lo += span;
        }
        return lo;
    }
    }
    return 0;
}

} // namespace iommusim::iommu

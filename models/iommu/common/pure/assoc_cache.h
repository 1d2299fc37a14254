// A set-associative cache of Key -> Value with selectable replacement, tagged entries and statistics:
// the building block of IOTLBs, context/device-table caches and paging-structure caches. Key needs
// operator==; Index maps a key to a u64 whose value modulo the set count picks the set (for address
// keys: the page number, so neighbouring pages spread over the sets as in hardware).
// Lookup is linear in the ways of one set (an 8-byte index compare per way), after one hinted slot that
// usually holds the key: hits rarely scan.
#pragma once
#include "models/iommu/common/pure/cache_types.h"
#include "models/iommu/common/pure/replacement.h"

#include <cstddef>
#include <functional>
#include <vector>

namespace iommusim::iommu {

template <typename Key, typename Value, typename Index = std::hash<Key>>
class assoc_cache {
public:
    struct entry {
        Key key{};
        Value value{};
        cache_tag tag{};
        bool valid = false;
    };

    explicit assoc_cache(const cache_geometry& g, Index index = Index())
        : m_geometry(g), m_repl(g), m_entries(size_t(g.sets) * g.ways), m_fast(m_entries.size(), 0),
          m_hint(hint_size(m_entries.size()), 0), m_hint_mask(m_hint.size() - 1), m_index(index) {}

    const cache_geometry& geometry() const { return m_geometry; }
    const cache_stats& stats() const { return m_stats; }

    // Changes whenever the contents change (a fill, an eviction, an invalidation that removed something),
    // never on lookups. A model may remember where a lookup hit (last_hit_slot) and, while the generation
    // is unchanged, replay that lookup's effects with replay_hit / replay_miss instead of searching again:
    // the same statistics and the same replacement-state update, so the cache behaves exactly as if
    // searched (a simulator speed-up, like QEMU's soft TLB in front of its page tables).
    u64 generation() const { return m_generation; }
    size_t last_hit_slot() const { return m_last_hit; }
    Value* replay_hit(size_t slot) {
        ++m_stats.lookups;
        return hit(slot, 0, nullptr);
    }
    void replay_miss() {
        ++m_stats.lookups;
        ++m_stats.misses;
    }
    void reset_stats() { m_stats = cache_stats{}; }

    // One lookup that hits if any of the keys is present (e.g. the same address at each page size);
    // counts one lookup and one hit or miss, and updates the replacement state of the entry found.
    // *which (if given) receives the index of the key that hit.
    Value* lookup_any(const Key* keys, size_t n, size_t* which = nullptr) {
        ++m_stats.lookups;
        if (m_valid) {
            for (size_t i = 0; i < n; ++i) {
                const u64 h = u64(m_index(keys[i]));
                // The hint names the slot that last held a key of this index: a hit without a scan.
                const u32 hinted = m_hint[h & m_hint_mask];
                if (m_fast[hinted] == h && m_entries[hinted].valid && m_entries[hinted].key == keys[i])
                    return hit(hinted, i, which);
                const unsigned set = set_of_index(h);
                const size_t first = size_t(set) * m_geometry.ways;
                const u64* f = &m_fast[first];
                for (unsigned w = 0; w < m_geometry.ways; ++w)
                    if (f[w] == h && m_entries[first + w].valid && m_entries[first + w].key == keys[i]) {
                        m_hint[h & m_hint_mask] = u32(first + w);
                        return hit(first + w, i, which);
                    }
            }
        }
        ++m_stats.misses;
        return nullptr;
    }
    Value* lookup(const Key& k) { return lookup_any(&k, 1); }

    // No statistics, no replacement update: for tests and debug dumps.
    const entry* peek(const Key& k) const {
        const unsigned set = set_of(k);
        const entry* e = &m_entries[size_t(set) * m_geometry.ways];
        for (unsigned w = 0; w < m_geometry.ways; ++w)
            if (e[w].valid && e[w].key == k) return &e[w];
        return nullptr;
    }

    // Inserts or replaces the entry for k; evicts the policy's victim when the set is full.
    void insert(const Key& k, const Value& v, const cache_tag& tag) {
        const u64 h = u64(m_index(k));
        const unsigned set = set_of_index(h);
        entry* e = &m_entries[size_t(set) * m_geometry.ways];
        unsigned way = m_geometry.ways;
        for (unsigned w = 0; w < m_geometry.ways; ++w)
            if (e[w].valid && e[w].key == k) { way = w; break; }
        if (way == m_geometry.ways)
            for (unsigned w = 0; w < m_geometry.ways; ++w)
                if (!e[w].valid) { way = w; break; }
        if (way == m_geometry.ways) {
            way = m_repl.victim(set);
            ++m_stats.evictions;
        }
        if (!e[way].valid) ++m_valid;
        ++m_generation;
        e[way] = entry{k, v, tag, true};
        m_fast[size_t(set) * m_geometry.ways + way] = h;
        m_hint[h & m_hint_mask] = u32(size_t(set) * m_geometry.ways + way);
        m_repl.filled(set, way);
        ++m_stats.fills;
    }

    // Removes every entry pred(const entry&) accepts; returns how many. Counted under `kind`.
    template <typename Pred>
    size_t invalidate_if(Pred pred, inval_kind kind = inval_kind::predicate) {
        size_t n = 0;
        for (auto& e : m_entries)
            if (e.valid && pred(static_cast<const entry&>(e))) {
                e.valid = false;
                --m_valid;
                ++n;
            }
        if (n) ++m_generation;
        ++m_stats.invalidations[size_t(kind)];
        m_stats.invalidated_entries[size_t(kind)] += n;
        return n;
    }
    size_t invalidate(const cache_selector& s, inval_kind kind) {
        return invalidate_if([&](const entry& e) { return s.matches(e.tag); }, kind);
    }
    size_t invalidate_all() {
        return invalidate_if([](const entry&) { return true; }, inval_kind::global);
    }
    size_t invalidate_domain(u32 domain) {
        cache_selector s;
        s.domain = domain;
        return invalidate(s, inval_kind::domain);
    }
    size_t invalidate_device(u16 source_id) {
        cache_selector s;
        s.source_id = source_id;
        return invalidate(s, inval_kind::device);
    }
    size_t invalidate_pasid(u32 domain, u32 pasid) {
        cache_selector s;
        s.domain = domain;
        s.pasid = pasid;
        return invalidate(s, inval_kind::pasid);
    }
    // Entries of `domain` (any domain if nullopt) overlapping [base, base + size).
    size_t invalidate_range(u64 base, u64 size, std::optional<u32> domain = std::nullopt) {
        cache_selector s;
        s.domain = domain;
        s.range_base = base;
        s.range_size = size;
        return invalidate(s, inval_kind::range);
    }

    size_t size() const {
        size_t n = 0;
        for (const auto& e : m_entries) n += e.valid;
        return n;
    }
    template <typename Fn>
    void for_each(Fn fn) const {
        for (const auto& e : m_entries)
            if (e.valid) fn(e);
    }

private:
    Value* hit(size_t slot, size_t key, size_t* which) {
        ++m_stats.hits;
        m_last_hit = slot;
        m_repl.touch(unsigned(slot / m_geometry.ways), unsigned(slot % m_geometry.ways));
        if (which) *which = key;
        return &m_entries[slot].value;
    }
    static size_t hint_size(size_t entries) {
        size_t n = 2;
        while (n < 2 * entries) n *= 2;
        return n;
    }
    unsigned set_of(const Key& k) const { return set_of_index(u64(m_index(k))); }
    unsigned set_of_index(u64 h) const { return m_geometry.sets == 1 ? 0u : unsigned(h % m_geometry.sets); }

    cache_geometry m_geometry;
    replacement m_repl;
    std::vector<entry> m_entries; // set-major: set * ways + way
    // Index(key) of each slot's last key, scanned before the full entry: a lookup touches 8 bytes per way
    // instead of a whole entry (invalid slots keep a stale value; `valid` still decides).
    std::vector<u64> m_fast;
    // Slot of the last key filled or found per index(key) & m_hint_mask (checked, never trusted), and the
    // number of valid entries (an empty cache answers without looking).
    std::vector<u32> m_hint;
    u64 m_hint_mask = 0;
    size_t m_valid = 0;
    u64 m_generation = 0;
    size_t m_last_hit = 0;
    Index m_index;
    cache_stats m_stats;
};

// The address range [addr & ~(2^(mask_bits + page_shift) - 1), + 2^(mask_bits + page_shift)): the
// "address mask" form of page-selective invalidations (VT-d IOTLB AM, AMD S bit decoded to a size).
struct address_range {
    u64 base = 0, size = 0;
};
inline address_range masked_range(u64 addr, unsigned mask_bits, unsigned page_shift = 12) {
    const unsigned shift = mask_bits + page_shift;
    if (shift >= 64) return {0, ~u64(0)};
    const u64 size = u64(1) << shift;
    return {addr & ~(size - 1), size};
}

} // namespace iommusim::iommu

// The host's physical page allocator: naturally aligned power-of-two runs of 4 KiB pages from one
// physical range, as a buddy allocator (Linux's alloc_pages(order) / free_pages). Free memory is kept
// as one record per free block, never one per page, so a terabyte range costs a few dozen records.
// Pure bookkeeping: it never touches memory (callers that need zeroed pages write the zeros, as
// __GFP_ZERO does).
#pragma once
#include "sim/core/types.h"

#include <map>
#include <optional>
#include <set>
#include <vector>

namespace iommusim::memory {

class page_allocator {
public:
    static constexpr u64 page_shift = 12;
    static constexpr u64 page_size = 1ull << page_shift;
    static constexpr unsigned max_order = 40;  // 4 PiB blocks: more than any simulated range

    struct stats {
        u64 total_pages = 0;
        u64 free_pages = 0;
        u64 allocated_blocks = 0;
        u64 free_blocks = 0;       // records on the free lists
        unsigned largest_free_order = 0;
        bool any_free = false;
    };

    // [base, base + size) rounded inwards to whole pages. An empty range is allowed (every alloc fails).
    page_allocator(u64 base, u64 size);

    // 2^order contiguous pages aligned to their size; nullopt when no such run is free.
    std::optional<u64> alloc(unsigned order = 0);
    // Smallest order whose run holds `bytes`.
    static unsigned order_for(u64 bytes);
    // Returns false (and changes nothing) for an address that is not the start of an allocated block
    // of that order: a double or mismatched free is the caller's bug, reported rather than corrupting.
    bool free(u64 addr, unsigned order = 0);

    bool is_allocated(u64 addr) const { return m_allocated.count(addr) != 0; }
    stats statistics() const;
    u64 base() const { return m_base; }
    u64 end() const { return m_end; }

private:
    void insert_free(u64 addr, unsigned order);

    u64 m_base = 0, m_end = 0;
    std::vector<std::set<u64>> m_free;   // per order: block start addresses
    std::map<u64, unsigned> m_allocated; // block start -> order
    u64 m_free_pages = 0, m_total_pages = 0;
};

} // namespace iommusim::memory

#include "sim/memory/page_allocator.h"

namespace iommusim::memory {

page_allocator::page_allocator(u64 base, u64 size) : m_free(max_order + 1) {
    const u64 mask = page_size - 1;
    m_base = (base + mask) & ~mask;
    const u64 end = base + size < base ? ~0ull : base + size;  // clamp a wrapping range
    m_end = end & ~mask;
    if (m_end < m_base) m_end = m_base;
    m_total_pages = (m_end - m_base) >> page_shift;
    // Carve the range into the largest naturally aligned blocks that fit (the buddy invariant: a
    // block of order k starts at a multiple of its size, so its buddy is addr ^ size).
    u64 addr = m_base;
    while (addr < m_end) {
        unsigned order = 0;
        while (order < max_order) {
            const u64 next = page_size << (order + 1);
            if (addr & (next - 1)) break;
            if (m_end - addr < next) break;
            ++order;
        }
        insert_free(addr, order);
        addr += page_size << order;
    }
}

void page_allocator::insert_free(u64 addr, unsigned order) {
    m_free[order].insert(addr);
    m_free_pages += 1ull << order;
}

unsigned page_allocator::order_for(u64 bytes) {
    unsigned order = 0;
    while (order < max_order && (page_size << order) < bytes) ++order;
    return order;
}

std::optional<u64> page_allocator::alloc(unsigned order) {
    if (order > max_order) return std::nullopt;
    unsigned o = order;
    while (o <= max_order && m_free[o].empty()) ++o;
    if (o > max_order) return std::nullopt;
    // Lowest address first, so allocations are deterministic and tests can predict them.
    const u64 addr = *m_free[o].begin();
    m_free[o].erase(m_free[o].begin());
    m_free_pages -= 1ull << o;
    while (o > order) {  // split, keeping the lower half and freeing the upper buddy
        --o;
        insert_free(addr + (page_size << o), o);
    }
    m_allocated.emplace(addr, order);
    return addr;
}

bool page_allocator::free(u64 addr, unsigned order) {
    auto it = m_allocated.find(addr);
    if (it == m_allocated.end() || it->second != order) return false;
    m_allocated.erase(it);
    u64 block = addr;
    unsigned o = order;
    while (o < max_order) {
        const u64 buddy = block ^ (page_size << o);
        auto b = m_free[o].find(buddy);
        if (b == m_free[o].end()) break;  // buddy busy, split further, or outside the range
        m_free[o].erase(b);
        m_free_pages -= 1ull << o;
        block &= ~(page_size << o);
        ++o;
    }
    insert_free(block, o);
    return true;
}

page_allocator::stats page_allocator::statistics() const {
    stats s;
    s.total_pages = m_total_pages;
    s.free_pages = m_free_pages;
    s.allocated_blocks = m_allocated.size();
    for (unsigned o = 0; o <= max_order; ++o) {
        s.free_blocks += m_free[o].size();
        if (!m_free[o].empty()) {
            s.largest_free_order = o;
            s.any_free = true;
        }
    }
    return s;
}

} // namespace iommusim::memory

// A single resource (a memory channel, one direction of a link) booked by loosely-timed initiators that
// call in program order but carry their own, not necessarily increasing, timestamps (IEEE 1666-2011
// §10.4 temporal decoupling). A plain busy-until time would make a transfer that arrives earlier than one
// already booked wait behind it, serializing independent requests; the calendar instead keeps the busy
// intervals and places each transfer in the first gap at or after its arrival that is long enough.
// With arrivals in time order it is exactly busy-until. Adjacent intervals merge; beyond `capacity`
// intervals the oldest are forgotten (as if that past were free), half the capacity at a time.
// Header-only, pure C++.
#pragma once
#include "sim/core/types.h"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <vector>

namespace iommusim::memory {

class busy_calendar {
public:
    explicit busy_calendar(size_t capacity = 4096) : m_capacity(capacity ? capacity : 1) {}

    // Books `duration` at the earliest start >= arrival where the resource is free; returns the start.
    u64 book(u64 arrival, u64 duration) {
        // Fast path (arrivals in time order): at or after the end of the last booking.
        if (m_busy.empty() || arrival >= m_busy.back().end) {
            if (duration) append(arrival, arrival + duration);
            return arrival;
        }
        u64 start = arrival;
        // The first interval that starts after `arrival`; the one before may still cover it.
        auto it = std::upper_bound(m_busy.begin(), m_busy.end(), arrival,
                                   [](u64 a, const interval& i) { return a < i.start; });
        if (it != m_busy.begin() && std::prev(it)->end > start) start = std::prev(it)->end;
        for (; it != m_busy.end(); ++it) {
            if (it->start >= start + duration) break; // fits in the gap before this interval
            if (it->end > start) start = it->end;
        }
        if (duration) insert(it, start, start + duration);
        return start;
    }

    // End of the latest booking (0 when nothing is booked).
    u64 busy_until() const { return m_busy.empty() ? 0 : m_busy.back().end; }
    size_t intervals() const { return m_busy.size(); }
    void clear() { m_busy.clear(); }

private:
    struct interval {
        u64 start, end; // [start, end)
    };
    using iter = std::vector<interval>::iterator;

    void append(u64 s, u64 e) {
        if (!m_busy.empty() && m_busy.back().end == s) m_busy.back().end = e;
        else m_busy.push_back({s, e});
        prune();
    }
    // [s, e) lies in the gap before `next` (or at the end): merge with the neighbours it touches.
    void insert(iter next, u64 s, u64 e) {
        const bool joins_prev = next != m_busy.begin() && std::prev(next)->end == s;
        const bool joins_next = next != m_busy.end() && next->start == e;
        if (joins_prev && joins_next) {
            std::prev(next)->end = next->end;
            m_busy.erase(next);
        } else if (joins_prev) {
            std::prev(next)->end = e;
        } else if (joins_next) {
            next->start = s;
        } else {
            m_busy.insert(next, interval{s, e});
        }
        prune();
    }
    // Forgets the oldest intervals, half the capacity at a time (amortized O(1) per booking).
    void prune() {
        if (m_busy.size() > m_capacity)
            m_busy.erase(m_busy.begin(), m_busy.begin() + std::ptrdiff_t(m_busy.size() - m_capacity / 2));
    }

    size_t m_capacity;
    std::vector<interval> m_busy; // sorted by start, disjoint, never touching
};

} // namespace iommusim::memory

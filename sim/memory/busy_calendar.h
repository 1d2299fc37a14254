// A single resource (a memory channel, one direction of a link) booked by loosely-timed initiators that
// call in program order but carry their own, not necessarily increasing, timestamps (IEEE 1666-2011
// §10.4 temporal decoupling). A plain busy-until time would make a transfer that arrives earlier than one
// already booked wait behind it, serializing independent requests; the calendar instead keeps the busy
// intervals and places each transfer in the first gap at or after its arrival that is long enough.
// With arrivals in time order it is exactly busy-until. Adjacent intervals merge; at most `capacity`
// intervals are kept (the oldest are forgotten, as if that past were free). Header-only, pure C++.
#pragma once
#include "sim/core/types.h"

#include <iterator>
#include <map>

namespace iommusim::memory {

class busy_calendar {
public:
    explicit busy_calendar(size_t capacity = 4096) : m_capacity(capacity ? capacity : 1) {}

    // Books `duration` at the earliest start >= arrival where the resource is free; returns the start.
    u64 book(u64 arrival, u64 duration) {
        u64 start = arrival;
        // The first interval that ends after `arrival` (intervals are disjoint and sorted).
        auto it = m_busy.upper_bound(arrival);
        if (it != m_busy.begin()) {
            auto prev = std::prev(it);
            if (prev->second > start) start = prev->second;
        }
        for (; it != m_busy.end(); ++it) {
            if (it->first >= start + duration) break; // fits in the gap before this interval
            if (it->second > start) start = it->second;
        }
        if (duration) insert(start, start + duration);
        return start;
    }

    // End of the latest booking (0 when nothing is booked).
    u64 busy_until() const { return m_busy.empty() ? 0 : std::prev(m_busy.end())->second; }
    size_t intervals() const { return m_busy.size(); }
    void clear() { m_busy.clear(); }

private:
    void insert(u64 s, u64 e) {
        auto next = m_busy.lower_bound(s);
        if (next != m_busy.begin()) {
            auto prev = std::prev(next);
            if (prev->second == s) { // extends the interval before
                s = prev->first;
                m_busy.erase(prev);
            }
        }
        next = m_busy.find(e);
        if (next != m_busy.end()) { // touches the interval after
            e = next->second;
            m_busy.erase(next);
        }
        m_busy[s] = e;
        while (m_busy.size() > m_capacity) m_busy.erase(m_busy.begin());
    }

    size_t m_capacity;
    std::map<u64, u64> m_busy; // start -> end (exclusive), disjoint
};

} // namespace iommusim::memory

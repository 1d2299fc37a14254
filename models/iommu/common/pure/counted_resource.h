// A limited hardware resource (page-walk slots, the invalidation engine, a port) as N slots with
// busy-until times: gem5 SMMUv3's counting semaphores, loosely timed. A user that is ready at time t
// starts at max(t, earliest slot free time) and holds the slot until the end it reports. Times are
// picoseconds on the simulation's absolute time axis.
//
// Approximation: slots are granted in call order, not time order. In loosely-timed TLM a transaction
// issued later with an earlier timestamp queues behind reservations already made; the error is bounded
// by the quantum.
#pragma once
#include "sim/core/types.h"

#include <string>
#include <vector>

namespace iommusim::iommu {

class counted_resource {
public:
    struct grant {
        unsigned slot = 0;
        u64 start_ps = 0;
    };
    struct statistics {
        u64 grants = 0;
        u64 waited = 0;        // grants that had to wait for a slot
        u64 total_wait_ps = 0;
        u64 max_wait_ps = 0;
    };

    // Throws std::invalid_argument for zero slots (a configuration error).
    counted_resource(std::string name, unsigned slots);

    grant acquire(u64 ready_ps);
    void release(const grant& g, u64 end_ps);
    // acquire + release for a use whose duration is known up front; returns the start time.
    u64 reserve(u64 ready_ps, u64 duration_ps);

    unsigned slots() const { return unsigned(m_busy_until.size()); }
    u64 busy_until(unsigned slot) const { return m_busy_until[slot]; }
    const statistics& stats() const { return m_stats; }
    const std::string& name() const { return m_name; }
    void reset(); // all slots free, statistics cleared

private:
    std::string m_name;
    std::vector<u64> m_busy_until;
    statistics m_stats;
};

} // namespace iommusim::iommu

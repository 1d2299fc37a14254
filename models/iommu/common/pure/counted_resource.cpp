#include "models/iommu/common/pure/counted_resource.h"

#include <algorithm>
#include <stdexcept>

namespace iommusim::iommu {

counted_resource::counted_resource(std::string name, unsigned slots) : m_name(std::move(name)) {
    if (slots == 0) throw std::invalid_argument(m_name + ": needs at least one slot");
    m_busy_until.assign(slots, 0);
}

counted_resource::grant counted_resource::acquire(u64 ready_ps) {
    // Prefer a slot already free at ready_ps (the one free longest keeps the others for later users);
    // otherwise the one that frees first.
    unsigned best = 0;
    for (unsigned s = 1; s < m_busy_until.size(); ++s)
        if (m_busy_until[s] < m_busy_until[best]) best = s;
    grant g{best, std::max(ready_ps, m_busy_until[best])};
    // Provisional: a user that blocks inside its use (a target calling wait()) still holds the slot.
    m_busy_until[best] = g.start_ps;
    const u64 wait = g.start_ps - ready_ps;
    ++m_stats.grants;
    if (wait) {
        ++m_stats.waited;
        m_stats.total_wait_ps += wait;
        m_stats.max_wait_ps = std::max(m_stats.max_wait_ps, wait);
    }
    return g;
}

void counted_resource::release(const grant& g, u64 end_ps) {
    m_busy_until.at(g.slot) = std::max(end_ps, g.start_ps);
}

u64 counted_resource::reserve(u64 ready_ps, u64 duration_ps) {
    const grant g = acquire(ready_ps);
    release(g, g.start_ps + duration_ps);
    return g.start_ps;
}

void counted_resource::reset() {
    std::fill(m_busy_until.begin(), m_busy_until.end(), 0);
    m_stats = statistics{};
}

} // namespace iommusim::iommu

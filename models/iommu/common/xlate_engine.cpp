#include "models/iommu/common/xlate_engine.h"

#include "sim/tlm/payload_data.h"

#include <algorithm>

namespace iommusim::iommu {

using sc_core::sc_time;

xlate_engine::xlate_engine(sc_core::sc_module_name name, const timing_params& params)
    : sc_module(name), mem("mem"), m_params(params), m_clock(params),
      m_walker(*this, m_clock, params.psc_lookup_cycles), m_walk_slots("walk_slots", params.walk_slots),
      m_inval("inval_slots", params.inval_slots) {}

void xlate_engine::charge_lookup(unsigned lookup_cycles, sc_time& delay) const {
    if (!functional()) delay += cycles(lookup_cycles);
}

walk_outcome xlate_engine::walk(const walk_format& fmt, u64 root, const xlate_request& req, const walk_context& ctx,
                                sc_time& delay) {
    if (functional()) {
        m_read_offset = delay; // reads still carry an annotation; the walker ignores their latency
        return m_walker.walk(fmt, root, req, ctx);
    }
    const u64 now = to_ps(sc_core::sc_time_stamp());
    const auto grant = m_walk_slots.acquire(now + to_ps(delay));
    m_read_offset = ps(grant.start_ps - now);
    walk_outcome out = m_walker.walk(fmt, root, req, ctx);
    const u64 end = grant.start_ps + out.elapsed_ps;
    m_walk_slots.release(grant, end);
    delay = ps(end - now);
    return out;
}

bool xlate_engine::read_entry(u64 address, unsigned char* data, unsigned len, sc_time& delay) {
    m_read_offset = delay;
    u64 lat = 0;
    const bool ok = read(address, data, std::min(len, 8u), lat);
    if (!functional()) delay += ps(lat);
    return ok;
}

void xlate_engine::invalidate(unsigned work_cycles, sc_time& delay) {
    if (functional()) return;
    const u64 now = to_ps(sc_core::sc_time_stamp());
    const u64 start = m_inval.reserve(now + to_ps(delay), m_clock.cycles(work_cycles));
    delay = ps(start + m_clock.cycles(work_cycles) - now);
}

// The walker's memory: one TLM read per entry, annotated with the time the read is issued so a memory
// model that books its own resources sees the real issue time.
bool xlate_engine::read(u64 address, unsigned char* data, unsigned len, u64& delay_ps) {
    tlm::tlm_generic_payload gp;
    tlmx::init_payload(gp, tlm::TLM_READ_COMMAND, address, data, len);
    sc_time t = m_read_offset;
    mem->b_transport(gp, t);
    const sc_time lat = t > m_read_offset ? t - m_read_offset : sc_core::SC_ZERO_TIME;
    delay_ps += to_ps(lat);
    m_read_offset = t;
    if (gp.is_response_error()) {
        ++m_memory_errors;
        return false;
    }
    return true;
}

} // namespace iommusim::iommu

#include "sim/bench/pcie_link.h"

#include "sim/core/input_error.h"

#include <cmath>

namespace iommusim::bench {

namespace {
// Per-lane raw rate in GT/s and line-code efficiency (PCIe Base §4.2.2; Gen1/2 8b/10b, Gen3+ 128b/130b).
struct gen_rate {
    double gts, efficiency;
};
gen_rate rate_of(unsigned generation) {
    switch (generation) {
    case 1: return {2.5, 8.0 / 10.0};
    case 2: return {5.0, 8.0 / 10.0};
    case 3: return {8.0, 128.0 / 130.0};
    case 4: return {16.0, 128.0 / 130.0};
    default: return {32.0, 128.0 / 130.0};
    }
}
} // namespace

void pcie_link_params::validate() const {
    if (generation < 1 || generation > 5)
        throw input_error("", "/link.gen", "PCIe generation must be 1..5, not " + std::to_string(generation));
    if (lanes == 0 || lanes > 32 || (lanes & (lanes - 1)))
        throw input_error("", "/link.lanes", "lanes must be 1, 2, 4, 8, 16 or 32, not " + std::to_string(lanes));
    if (!(latency_ns >= 0) || latency_ns > 1e6)
        throw input_error("", "/link.latency_ns", "latency must be 0..1e6 ns");
}

pcie_link::pcie_link(const pcie_link_params& p) : m_params(p) {
    p.validate();
    const gen_rate r = rate_of(p.generation);
    m_bytes_per_ns = r.gts * r.efficiency * p.lanes / 8.0; // one bit per transfer per lane
    m_latency_ps = u64(std::llround(p.latency_ns * 1000));
}

u64 pcie_link::wire_ps(unsigned bytes) const { return u64(std::llround(bytes / m_bytes_per_ns * 1000)); }
u64 pcie_link::request_ps() const { return wire_ps(m_params.request_header_bytes + m_params.framing_bytes); }
u64 pcie_link::completion_ps(unsigned payload) const {
    return wire_ps(payload + m_params.completion_header_bytes + m_params.framing_bytes);
}

u64 pcie_link::send(memory::busy_calendar& dir, u64 ready_ps, u64 wire) {
    return dir.book(ready_ps, wire) + wire + m_latency_ps;
}

} // namespace iommusim::bench

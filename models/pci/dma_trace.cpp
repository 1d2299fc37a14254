#include "models/pci/dma_trace.h"

#include "sim/core/log.h"

namespace iommusim::pci {

const char* to_string(dma_route r) {
    switch (r) {
    case dma_route::to_root_complex: return "to_root_complex";
    case dma_route::peer_to_peer: return "peer_to_peer";
    case dma_route::blocked: return "blocked";
    }
    return "?";
}

void dma_trace::record(dma_record r) {
    if (log().should_log(spdlog::level::debug))
        log().debug("dma {} {:02x}:{:02x}.{} {} {:#x}+{} at {}{}{}", to_string(r.route), r.requester_id >> 8,
                    (r.requester_id >> 3) & 0x1f, r.requester_id & 7, r.write ? "write" : "read", r.address, r.length,
                    r.where, *r.reason ? ": " : "", r.reason);
    ++m_counts[size_t(r.route)];
    m_ring[m_total % m_ring.size()] = r;
    ++m_total;
}

std::vector<dma_record> dma_trace::recent() const {
    std::vector<dma_record> out;
    const u64 n = std::min<u64>(m_total, m_ring.size());
    out.reserve(n);
    for (u64 i = m_total - n; i < m_total; ++i) out.push_back(m_ring[i % m_ring.size()]);
    return out;
}

void dma_trace::clear() {
    m_counts.fill(0);
    m_total = 0;
}

} // namespace iommusim::pci

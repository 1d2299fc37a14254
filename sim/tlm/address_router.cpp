#include "sim/tlm/address_router.h"

#include <stdexcept>

namespace iommusim::tlmx {

address_router::address_router(sc_core::sc_module_name name, sc_core::sc_time latency)
    : sc_module(name), target("target"), initiator("initiator"), m_latency(latency) {
    target.register_b_transport(this, &address_router::b_transport);
    target.register_transport_dbg(this, &address_router::transport_dbg);
    target.register_get_direct_mem_ptr(this, &address_router::get_direct_mem_ptr);
}

void address_router::map(u64 base, u64 size, unsigned port, std::string name) {
    if (size == 0 || base + (size - 1) < base) throw std::invalid_argument("address range '" + name + "' is empty or wraps");
    if (port >= m_ports) throw std::invalid_argument("address range '" + name + "' names an unconnected port");
    const u64 last = base + (size - 1);
    auto next = m_map.lower_bound(base);
    if (next != m_map.end() && next->first <= last)
        throw std::invalid_argument("address range '" + name + "' overlaps '" + next->second.name + "'");
    if (next != m_map.begin()) {
        const range& prev = std::prev(next)->second;
        if (prev.base + (prev.size - 1) >= base)
            throw std::invalid_argument("address range '" + name + "' overlaps '" + prev.name + "'");
    }
    m_map.emplace(base, range{base, size, port, std::move(name)});
}

const address_router::range* address_router::find(u64 addr) const {
    auto it = m_map.upper_bound(addr);
    if (it == m_map.begin()) return nullptr;
    const range& r = std::prev(it)->second;
    return addr - r.base < r.size ? &r : nullptr;
}

std::vector<address_router::range> address_router::ranges() const {
    std::vector<range> v;
    v.reserve(m_map.size());
    for (const auto& [base, r] : m_map) v.push_back(r);
    return v;
}

void address_router::b_transport(int, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
    const range* r = find(gp.get_address());
    if (!r) {
        gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    delay += m_latency;
    initiator[int(r->port)]->b_transport(gp, delay);
}

unsigned address_router::transport_dbg(int, tlm::tlm_generic_payload& gp) {
    const range* r = find(gp.get_address());
    if (!r) return 0;
    return initiator[int(r->port)]->transport_dbg(gp);
}

bool address_router::get_direct_mem_ptr(int, tlm::tlm_generic_payload&, tlm::tlm_dmi& dmi) {
    // No DMI: every access goes through b_transport so the fabric sees it.
    dmi.allow_read_write();
    dmi.set_start_address(0);
    dmi.set_end_address(~u64(0));
    return false;
}

} // namespace iommusim::tlmx

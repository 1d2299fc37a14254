#include "models/pci/pci_bus.h"

#include <stdexcept>
#include <string>

namespace iommusim::pci {

pci_bus::pci_bus(sc_core::sc_module_name name, const pci_timing& timing)
    : sc_module(name), from_upstream("from_upstream"), to_functions("to_functions"), dma_in("dma_in"),
      to_upstream("to_upstream"), m_timing(timing) {
    m_port_of_devfn.fill(-1);
    from_upstream.register_b_transport(this, &pci_bus::downstream);
    dma_in.register_b_transport(this, &pci_bus::upstream);
}

void pci_bus::attach(pci_function& fn) {
    if (m_port_of_devfn[fn.devfn()] >= 0)
        throw std::invalid_argument(std::string(name()) + ": devfn " + std::to_string(fn.devfn()) + " is taken");
    const int port = int(m_functions.size());
    to_functions.bind(fn.target);
    fn.dma_out.bind(dma_in);
    m_functions.push_back(&fn);
    fn.set_parent_bus(this);
    if (m_trace) fn.set_trace(m_trace);
    m_port_of_devfn[fn.devfn()] = port;
    if (fn.is_type1()) m_bridge_ports.push_back(port);
}

pci_function* pci_bus::function_at(u8 devfn) const {
    const int port = m_port_of_devfn[devfn];
    return port < 0 ? nullptr : m_functions[size_t(port)];
}

void pci_bus::forward(int port, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
    delay += sc_core::sc_time(m_timing.hop_ns, sc_core::SC_NS);
    to_functions[port]->b_transport(gp, delay);
}

void pci_bus::downstream(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
    auto* ext = gp.get_extension<tlmx::pci_extension>();
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE); // unless someone claims it
    if (!ext) return;
    switch (ext->request) {
    case tlmx::pci_request::config_type0:
        if (const int port = m_port_of_devfn[ext->devfn]; port >= 0) forward(port, gp, delay);
        return;
    case tlmx::pci_request::config_type1:
        for (int port : m_bridge_ports)
            if (m_functions[size_t(port)]->claims_config_type1(ext->bus)) return forward(port, gp, delay);
        return;
    case tlmx::pci_request::memory:
        for (size_t port = 0; port < m_functions.size(); ++port)
            if (m_functions[port]->claims_memory(gp.get_address())) return forward(int(port), gp, delay);
        return;
    default: return; // I/O space and DMA are not routed downstream
    }
}

void pci_bus::set_trace(dma_trace* trace) {
    m_trace = trace;
    for (pci_function* f : m_functions) f->set_trace(trace);
}

pci_function* pci_bus::peer_claiming(u64 addr, const pci_function* except) const {
    for (pci_function* f : m_functions)
        if (f != except && f->claims_memory(addr)) return f;
    return nullptr;
}

void pci_bus::deliver_to_peer(pci_function& peer, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
    auto* ext = gp.get_extension<tlmx::pci_extension>();
    const int port = m_port_of_devfn[peer.devfn()];
    if (!ext || port < 0) {
        gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    // Downstream the request is routed like any memory request (by address); it stays a DMA for
    // whoever looks at it afterwards.
    ext->request = tlmx::pci_request::memory;
    gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    forward(port, gp, delay);
    ext->request = tlmx::pci_request::dma;
}

void pci_bus::upstream(int id, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
    if (m_shared) {
        // PCI 3.0 §3.2: on a shared bus the target decodes the address itself; a peer's BAR or a
        // bridge's window claims the transaction before the bridge above forwards it.
        const pci_function* source = id >= 0 && size_t(id) < m_functions.size() ? m_functions[size_t(id)] : nullptr;
        if (pci_function* peer = peer_claiming(gp.get_address(), source)) {
            if (m_trace) {
                const auto* ext = gp.get_extension<tlmx::pci_extension>();
                m_trace->record({dma_route::peer_to_peer, u16(ext ? ext->requester_id : 0), gp.get_address(),
                                 gp.get_data_length(), gp.is_write(), name(), "shared PCI bus"});
            }
            delay += sc_core::sc_time(m_timing.hop_ns, sc_core::SC_NS);
            deliver_to_peer(*peer, gp, delay);
            return;
        }
    }
    delay += sc_core::sc_time(m_timing.hop_ns, sc_core::SC_NS);
    to_upstream->b_transport(gp, delay);
}

} // namespace iommusim::pci

// One PCI bus (or the internal bus of a switch): a router between the functions on it.
//   Downstream (from the host bridge or the bridge above, socket from_upstream):
//     config type 0 -> the function at the request's devfn (none: unclaimed);
//     config type 1 -> the bridge on this bus whose secondary..subordinate range holds the bus;
//     memory        -> the function whose BAR, or bridge whose window, claims the address.
//   Upstream (DMA from the functions, socket dma_in) -> to_upstream (the bridge or host bridge above);
//     on a shared (conventional PCI) bus a peer whose BAR or window claims the address takes the request
//     directly (PCI 3.0 §3.2: every agent on the bus sees the transaction; no ACS can stop it).
//   Peer delivery for a downstream port (route_to_peer): a switch's internal bus, and a root bus whose
//     root complex supports peer-to-peer between root ports, deliver a request to the sibling claiming it.
// Unclaimed requests complete with TLM_ADDRESS_ERROR_RESPONSE (master abort / Unsupported Request); the
// host bridge turns that into all ones for the CPU. Routing costs one hop latency per crossing.
#pragma once
#include "models/pci/pci_function.h"

#include <array>
#include <tlm_utils/multi_passthrough_initiator_socket.h>
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <vector>

namespace iommusim::pci {

class pci_bus : public sc_core::sc_module {
public:
    tlm_utils::simple_target_socket<pci_bus> from_upstream;
    tlm_utils::multi_passthrough_initiator_socket<pci_bus, 32, tlm::tlm_base_protocol_types, 0,
                                                  sc_core::SC_ZERO_OR_MORE_BOUND>
        to_functions;
    tlm_utils::multi_passthrough_target_socket<pci_bus, 32, tlm::tlm_base_protocol_types, 0,
                                               sc_core::SC_ZERO_OR_MORE_BOUND>
        dma_in;
    tlm_utils::simple_initiator_socket<pci_bus> to_upstream;

    explicit pci_bus(sc_core::sc_module_name name, const pci_timing& timing = {});

    // Places a function on this bus and binds its sockets. Throws std::invalid_argument when the devfn is
    // already taken. Call during construction (elaboration) only.
    void attach(pci_function& fn);

    pci_function* function_at(u8 devfn) const;

    // Whether requests may go from one function of this bus to another (switch internal bus: always;
    // root bus: when the root complex supports P2P between root ports). Set during construction.
    void set_peer_routing(bool on) { m_peer_routing = on; }
    bool peer_routing() const { return m_peer_routing; }
    // Conventional PCI bus: peers claim upstream requests directly.
    void set_shared(bool on) { m_shared = on; }
    bool shared() const { return m_shared; }
    // The function other than `except` whose BAR or window claims addr; nullptr when none.
    pci_function* peer_claiming(u64 addr, const pci_function* except) const;
    // Delivers an upstream request to `peer` as a memory request (keeping its requester ID) and restores
    // the request kind afterwards.
    void deliver_to_peer(pci_function& peer, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
    // Hands the trace to this bus and to every function on it (bridges pass it further down).
    void set_trace(dma_trace* trace);
    const std::vector<pci_function*>& functions() const { return m_functions; }

private:
    void downstream(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
    void upstream(int id, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
    void forward(int port, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);

    std::vector<pci_function*> m_functions; // index = port of to_functions
    std::vector<int> m_bridge_ports;        // ports of type 1 functions
    std::array<int, 256> m_port_of_devfn;   // -1: no function
    pci_timing m_timing;
    bool m_peer_routing = false, m_shared = false;
    dma_trace* m_trace = nullptr;
};

} // namespace iommusim::pci

// A generic address router: the CPU-side system bus. An address map of non-overlapping ranges, each
// leading to one initiator port; a transaction is forwarded unchanged (targets see absolute addresses,
// as devices on a real system bus decode their own ranges). Unmapped addresses answer
// TLM_ADDRESS_ERROR_RESPONSE. Lookup is O(log n) in the number of ranges.
#pragma once
#include "sim/core/types.h"

#include <map>
#include <string>
#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_initiator_socket.h>
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <vector>

namespace iommusim::tlmx {

class address_router : public sc_core::sc_module {
public:
    using target_socket_type = tlm_utils::multi_passthrough_target_socket<address_router, 32, tlm::tlm_base_protocol_types,
                                                                          0, sc_core::SC_ZERO_OR_MORE_BOUND>;
    using initiator_socket_type = tlm_utils::multi_passthrough_initiator_socket<address_router, 32,
                                                                                tlm::tlm_base_protocol_types, 0,
                                                                                sc_core::SC_ZERO_OR_MORE_BOUND>;

    target_socket_type target;       // any number of initiators (CPUs, host software)
    initiator_socket_type initiator; // one binding per connected target

    struct range {
        u64 base = 0, size = 0;
        unsigned port = 0;
        std::string name;
    };

    // latency: added to every routed transaction (the system bus crossing).
    explicit address_router(sc_core::sc_module_name name, sc_core::sc_time latency = sc_core::SC_ZERO_TIME);

    // Binds a target and returns its port number for map(). Call during construction only.
    template <typename TARGET_SOCKET>
    unsigned connect(TARGET_SOCKET& t) {
        initiator.bind(t);
        return m_ports++;
    }
    // Routes [base, base + size) to port; throws std::invalid_argument on overlap, empty or wrapping
    // ranges or an unknown port (configuration errors).
    void map(u64 base, u64 size, unsigned port, std::string name);

    const range* find(u64 addr) const;
    std::vector<range> ranges() const;

private:
    void b_transport(int id, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
    unsigned transport_dbg(int id, tlm::tlm_generic_payload& gp);
    bool get_direct_mem_ptr(int id, tlm::tlm_generic_payload& gp, tlm::tlm_dmi& dmi);

    std::map<u64, range> m_map; // keyed by base
    unsigned m_ports = 0;
    sc_core::sc_time m_latency;
};

} // namespace iommusim::tlmx

#include "models/pci/pci_host_bridge.h"

#include "sim/tlm/payload_data.h"

#include <stdexcept>

namespace iommusim::pci {

pci_host_bridge::pci_host_bridge(sc_core::sc_module_name name, const host_bridge_config& config, const pci_timing& timing)
    : sc_module(name), cpu_in("cpu_in"), to_iommu_or_memory("to_iommu_or_memory"), m_config(config), m_timing(timing),
      m_root_out("root_out"), m_root_dma_in("root_dma_in"), m_sink("unattached_sink"), m_root("root_bus", timing) {
    if (config.bus_end < config.bus_start) throw std::invalid_argument("host bridge bus range is empty");
    cpu_in.register_b_transport(this, &pci_host_bridge::from_cpu);
    cpu_in.register_transport_dbg(this, &pci_host_bridge::from_cpu_dbg);
    m_root_dma_in.register_b_transport(this, &pci_host_bridge::upstream);
    m_sink.register_b_transport(this, &pci_host_bridge::unattached);
    m_root_out.bind(m_root.from_upstream);
    m_root.to_upstream.bind(m_root_dma_in);
    m_root.set_peer_routing(config.p2p_between_root_ports);
}

void pci_host_bridge::set_trace(dma_trace* trace) {
    m_trace = trace;
    m_root.set_trace(trace);
}

void pci_host_bridge::before_end_of_elaboration() {
    // Port binding is still allowed here (IEEE 1666 §4.4.2); an IOMMU or memory bound by the platform
    // during construction has already raised the bind count.
    if (to_iommu_or_memory.get_base_port().bind_count() == 0) {
        if (m_default_upstream) {
            to_iommu_or_memory.bind(*m_default_upstream);
        } else {
            to_iommu_or_memory.bind(m_sink);
            m_sink_bound = true;
        }
    }
}

bool pci_host_bridge::decode(tlm::tlm_generic_payload& gp, tlmx::pci_extension& ext) const {
    const u64 addr = gp.get_address();
    if (addr - ecam_window_base() < ecam_window_size()) {
        const u64 off = addr - m_config.ecam_base;
        ext.bus = u8(off >> 20);
        ext.devfn = u8(off >> 12);
        ext.reg = u16(off & 0xfff);
        ext.request = ext.bus == m_config.bus_start ? tlmx::pci_request::config_type0 : tlmx::pci_request::config_type1;
        return true;
    }
    for (const auto& a : m_config.mmio)
        if (addr - a.base < a.size) {
            ext.request = tlmx::pci_request::memory;
            return true;
        }
    return false;
}

void pci_host_bridge::from_cpu(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
    tlmx::pci_extension ext;
    if (!decode(gp, ext)) {
        gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    delay += sc_core::sc_time(m_timing.host_bridge_ns, sc_core::SC_NS);
    if (m_gate.check) {
        switch (m_gate.check(ext, gp.get_address(), gp.get_data_length(), gp.is_write(), delay)) {
        case downstream_gate::verdict::forward: break;
        case downstream_gate::verdict::all_ones:
            if (gp.is_read()) tlmx::fill_all_ones(gp);
            gp.set_response_status(tlm::TLM_OK_RESPONSE);
            return;
        case downstream_gate::verdict::drop: gp.set_response_status(tlm::TLM_OK_RESPONSE); return;
        }
    }
    {
        tlmx::scoped_extension scope(gp, &ext);
        gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
        m_root_out->b_transport(gp, delay);
    }
    if (!gp.is_response_ok()) {
        if (m_gate.failed && ext.request == tlmx::pci_request::memory) m_gate.failed(ext, gp.get_address());
        // Master abort / Unsupported Request: the CPU reads all ones, writes vanish.
        tlmx::fill_all_ones(gp);
        gp.set_response_status(tlm::TLM_OK_RESPONSE);
    }
}

unsigned pci_host_bridge::from_cpu_dbg(tlm::tlm_generic_payload&) {
    return 0; // debug access to the hierarchy is not modelled
}

void pci_host_bridge::upstream(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
    delay += sc_core::sc_time(m_timing.host_bridge_ns, sc_core::SC_NS);
    if (m_trace) {
        const auto* ext = gp.get_extension<tlmx::pci_extension>();
        m_trace->record({dma_route::to_root_complex, u16(ext ? ext->requester_id : 0), gp.get_address(),
                         gp.get_data_length(), gp.is_write(), name(), ""});
    }
    to_iommu_or_memory->b_transport(gp, delay);
}

void pci_host_bridge::unattached(tlm::tlm_generic_payload& gp, sc_core::sc_time&) {
    ++m_unattached_dma;
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
}

} // namespace iommusim::pci

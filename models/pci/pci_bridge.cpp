#include "models/pci/pci_bridge.h"

#include "models/pci/cfg/pci_regs.h"

namespace iommusim::pci {

pci_bridge::pci_bridge(sc_core::sc_module_name name, u8 devfn, config_space cfg, const pci_timing& timing)
    : pci_function(name, devfn, std::move(cfg), timing), downstream_out("downstream_out"),
      from_secondary("from_secondary"), m_secondary("secondary", timing) {
    from_secondary.register_b_transport(this, &pci_bridge::upstream);
    downstream_out.bind(m_secondary.from_upstream);
    m_secondary.to_upstream.bind(from_secondary);
    // The Device/Port Type is RO, so the routing flavour is fixed at construction.
    if (const auto exp = config().find_capability(PCI_CAP_ID_EXP)) {
        const unsigned type = (config().get16(*exp + PCI_EXP_FLAGS) & PCI_EXP_FLAGS_TYPE) >> 4;
        m_downstream_port = type == PCI_EXP_TYPE_ROOT_PORT || type == PCI_EXP_TYPE_DOWNSTREAM;
        m_owns_requester_id = type == PCI_EXP_TYPE_PCI_BRIDGE;
    }
}

u8 pci_bridge::secondary_bus() const { return config().get8(PCI_SECONDARY_BUS); }
u8 pci_bridge::subordinate_bus() const { return config().get8(PCI_SUBORDINATE_BUS); }

// Memory Base/Limit hold address bits 31:20; the limit's low 20 bits are implied ones (bridge spec
// §3.2.5.8). The prefetchable pair adds bits 63:32 when its type is 64-bit (§3.2.5.9-10).
std::optional<std::pair<u64, u64>> pci_bridge::memory_window() const {
    const u64 base = u64(config().get16(PCI_MEMORY_BASE) & PCI_MEMORY_RANGE_MASK) << 16;
    const u64 limit = u64(config().get16(PCI_MEMORY_LIMIT) & PCI_MEMORY_RANGE_MASK) << 16 | 0xfffff;
    if (base > limit) return std::nullopt;
    return std::make_pair(base, limit);
}

std::optional<std::pair<u64, u64>> pci_bridge::prefetchable_window() const {
    const u16 b = config().get16(PCI_PREF_MEMORY_BASE), l = config().get16(PCI_PREF_MEMORY_LIMIT);
    u64 base = u64(b & PCI_MEMORY_RANGE_MASK) << 16;
    u64 limit = u64(l & PCI_MEMORY_RANGE_MASK) << 16 | 0xfffff;
    if ((b & PCI_PREF_RANGE_TYPE_MASK) == PCI_PREF_RANGE_TYPE_64) {
        base |= u64(config().get32(PCI_PREF_BASE_UPPER32)) << 32;
        limit |= u64(config().get32(PCI_PREF_LIMIT_UPPER32)) << 32;
    }
    if (base > limit) return std::nullopt;
    return std::make_pair(base, limit);
}

bool pci_bridge::in_windows(u64 addr) const {
    if (!(config().get16(PCI_COMMAND) & PCI_COMMAND_MEMORY)) return false;
    const auto m = memory_window();
    if (m && addr >= m->first && addr <= m->second) return true;
    const auto p = prefetchable_window();
    return p && addr >= p->first && addr <= p->second;
}

bool pci_bridge::claims_config_type1(u8 bus) const {
    return bus >= secondary_bus() && bus <= subordinate_bus();
}

bool pci_bridge::claims_memory(u64 addr) const { return pci_function::claims_memory(addr) || in_windows(addr); }

void pci_bridge::config_type1(tlm::tlm_generic_payload& gp, tlmx::pci_extension& ext, sc_core::sc_time& delay) {
    if (!claims_config_type1(ext.bus)) {
        gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    if (ext.bus == secondary_bus()) {
        // PCIe Base §7.3.1: a downstream port's link reaches only Device 0 (ARI forwarding is not
        // modelled), other device numbers complete as Unsupported Request.
        if (m_downstream_port && (ext.devfn >> 3) != 0) {
            gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
            return;
        }
        ext.request = tlmx::pci_request::config_type0;
    }
    delay += sc_core::sc_time(timing().hop_ns, sc_core::SC_NS);
    downstream_out->b_transport(gp, delay);
}

void pci_bridge::memory(tlm::tlm_generic_payload& gp, tlmx::pci_extension& ext, sc_core::sc_time& delay) {
    if (pci_function::claims_memory(gp.get_address())) {
        pci_function::memory(gp, ext, delay);
        return;
    }
    if (!in_windows(gp.get_address())) {
        gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    delay += sc_core::sc_time(timing().hop_ns, sc_core::SC_NS);
    downstream_out->b_transport(gp, delay);
}

void pci_bridge::upstream(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
    // PCIe Base §7.5.1.1.3: with Bus Master Enable clear, a type 1 function handles memory requests
    // received on its secondary side as Unsupported Requests.
    if (!(config().get16(PCI_COMMAND) & PCI_COMMAND_MASTER)) {
        gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    if (m_owns_requester_id)
        if (auto* ext = gp.get_extension<tlmx::pci_extension>()) ext->requester_id = u16(secondary_bus() << 8);
    delay += sc_core::sc_time(timing().hop_ns, sc_core::SC_NS);
    dma_out->b_transport(gp, delay);
}

} // namespace iommusim::pci

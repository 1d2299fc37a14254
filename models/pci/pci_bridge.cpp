#include "models/pci/pci_bridge.h"

#include "models/pci/cfg/config_builder.h"
#include "models/pci/cfg/pci_regs.h"

namespace iommusim::pci {

namespace {
// Intel SPT/UPT PCH root ports: ACS Control is a dword at cap + 8 (config_builder.cpp builds it there).
constexpr u16 INTEL_SPT_ACS_CTRL = PCI_ACS_CAP + 4;
} // namespace

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
        // Requester ID of requests forwarded upstream (PCIe-to-PCI/PCI-X Bridge 1.0 §2.3; PCIe §2.2.6.2):
        // a PCIe-to-PCI bridge takes ownership as (secondary bus, device 0, function 0) since
        // conventional PCI carries no ID; a PCI-to-PCIe (reverse) bridge masters the request on its
        // conventional primary side itself; PCIe ports preserve the ID.
        if (type == PCI_EXP_TYPE_PCI_BRIDGE) m_rid_rule = rid_rule::secondary_bus;
        else if (type == PCI_EXP_TYPE_PCIE_BRIDGE) m_rid_rule = rid_rule::own;
        // PCIe §7.3.3: a switch routes between its downstream ports (P2P through the internal bus).
        if (type == PCI_EXP_TYPE_UPSTREAM) m_secondary.set_peer_routing(true);
        if (type == PCI_EXP_TYPE_PCI_BRIDGE) m_secondary.set_shared(true);
    } else {
        // Conventional PCI-to-PCI bridge (PCI-to-PCI Bridge 1.2 §4): it masters the transaction on its
        // primary bus, so upstream of it the bridge's own ID is the requester; its secondary is a shared bus.
        m_rid_rule = rid_rule::own;
        m_secondary.set_shared(true);
    }
    m_acs = config().find_ext_capability(PCI_EXT_CAP_ID_ACS);
    m_acs_dword_ctrl = m_acs && intel_spt_pch_acs_layout(config());
}

void pci_bridge::set_trace(dma_trace* trace) {
    pci_function::set_trace(trace);
    m_secondary.set_trace(trace);
}

u16 pci_bridge::acs_control() const {
    if (!m_acs) return 0;
    return m_acs_dword_ctrl ? u16(config().get32(*m_acs + INTEL_SPT_ACS_CTRL)) : config().get16(*m_acs + PCI_ACS_CTRL);
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

void pci_bridge::block(tlm::tlm_generic_payload& gp, tlm::tlm_response_status status, const char* reason) {
    gp.set_response_status(status);
    trace_dma(dma_route::blocked, gp, reason);
}

// A request arriving from the link below a root port or switch downstream port. In order:
//   ACS Source Validation (PCIe §6.12.1.1): the requester's bus must lie in SECONDARY..SUBORDINATE;
//   ACS Translation Blocking: requests with AT = translated are blocked;
//   an address in this port's own windows targets its own link: forwarded upstream only with ACS
//     Upstream Forwarding enabled (§6.12.1.1), else an Unsupported Request (never sent back down);
//   an address claimed by a sibling on the parent bus (another downstream port of the switch, or another
//     root port when the root complex routes P2P): ACS P2P Request Redirect on -> upstream (towards the
//     root complex and the IOMMU), unless Direct Translated P2P lets a translated request through
//     (§6.12.1.1, DT); RR off -> delivered to the sibling peer-to-peer (§6.12.3).
// ACS violations complete with Completer Abort (TLM_GENERIC_ERROR_RESPONSE), UR with an address error.
bool pci_bridge::downstream_port_ingress(tlm::tlm_generic_payload& gp, tlmx::pci_extension* ext, sc_core::sc_time& delay) {
    const u16 ctrl = acs_control();
    if (ext && (ctrl & PCI_ACS_SV)) {
        const u8 bus = u8(ext->requester_id >> 8);
        if (bus < secondary_bus() || bus > subordinate_bus()) {
            block(gp, tlm::TLM_GENERIC_ERROR_RESPONSE, "ACS source validation");
            return false;
        }
    }
    if (ext && (ctrl & PCI_ACS_TB) && ext->at == tlmx::address_type::translated) {
        block(gp, tlm::TLM_GENERIC_ERROR_RESPONSE, "ACS translation blocking");
        return false;
    }
    const u64 addr = gp.get_address();
    if (in_windows(addr)) {
        if (ctrl & PCI_ACS_UF) return true;
        block(gp, tlm::TLM_ADDRESS_ERROR_RESPONSE, "targets the ingress port's own link (ACS UF off)");
        return false;
    }
    pci_bus* parent = parent_bus();
    if (!parent || !parent->peer_routing()) return true;
    pci_function* peer = parent->peer_claiming(addr, this);
    if (!peer) return true;
    const bool direct_translated = (ctrl & PCI_ACS_DT) && ext && ext->at == tlmx::address_type::translated;
    if ((ctrl & PCI_ACS_RR) && !direct_translated) return true; // redirected upstream
    trace_dma(dma_route::peer_to_peer, gp, peer->name());
    delay += sc_core::sc_time(timing().hop_ns, sc_core::SC_NS);
    parent->deliver_to_peer(*peer, gp, delay);
    return false;
}

void pci_bridge::upstream(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
    // PCIe Base §7.5.1.1.3: with Bus Master Enable clear, a type 1 function handles memory requests
    // received on its secondary side as Unsupported Requests.
    if (!(config().get16(PCI_COMMAND) & PCI_COMMAND_MASTER)) {
        block(gp, tlm::TLM_ADDRESS_ERROR_RESPONSE, "bridge bus master disabled");
        return;
    }
    auto* ext = gp.get_extension<tlmx::pci_extension>();
    if (m_downstream_port && !downstream_port_ingress(gp, ext, delay)) return;
    if (ext) {
        if (m_rid_rule == rid_rule::secondary_bus) ext->requester_id = u16(secondary_bus() << 8);
        else if (m_rid_rule == rid_rule::own) ext->requester_id = requester_id();
    }
    delay += sc_core::sc_time(timing().hop_ns, sc_core::SC_NS);
    dma_out->b_transport(gp, delay);
}

} // namespace iommusim::pci

// Every type 1 function: PCIe root port, switch upstream and downstream ports, PCIe-to-PCI and reverse
// bridges, conventional PCI-to-PCI bridges and captured type 1 headers. It owns its secondary bus and
// routes as the PCI-to-PCI Bridge Spec 1.2 §4 and PCIe Base §7.3.1 describe, all decided by what
// software programmed into its config space:
//   config type 0 at its devfn           -> its own configuration space;
//   config type 1, bus == SECONDARY_BUS  -> converted to type 0 on the secondary bus (a root or switch
//                                           downstream port passes only device 0: its link has one
//                                           device);
//   config type 1, SECONDARY < bus <= SUBORDINATE -> forwarded unchanged;
//   other type 1                         -> not claimed;
//   memory in its own BARs               -> its own registers (none are modelled: address error);
//   memory in the memory or prefetchable window, COMMAND.MEMORY set -> forwarded downstream;
//   upstream DMA from the secondary side -> forwarded up when COMMAND.MASTER is set (else UR); a
//                                           PCIe-to-PCI bridge takes ownership of the requester ID
//                                           (secondary bus, devfn 0) as conventional PCI has none; a
//                                           conventional PCI-to-PCI bridge and a PCI-to-PCIe (reverse)
//                                           bridge master it upstream with their own ID. Root ports
//                                           and switch downstream ports apply ACS (PCIe §6.12) and
//                                           route to a sibling's BAR peer-to-peer (see upstream()).
#pragma once
#include "models/pci/pci_bus.h"
#include "models/pci/pci_function.h"

namespace iommusim::pci {

class pci_bridge : public pci_function {
public:
    tlm_utils::simple_initiator_socket<pci_bridge> downstream_out; // bound to secondary().from_upstream
    tlm_utils::simple_target_socket<pci_bridge> from_secondary;    // bound from secondary().to_upstream

    pci_bridge(sc_core::sc_module_name name, u8 devfn, config_space cfg, const pci_timing& timing = {});

    pci_bus& secondary() { return m_secondary; }
    const pci_bus& secondary() const { return m_secondary; }

    u8 secondary_bus() const;
    u8 subordinate_bus() const;
    // Programmed windows as [base, limit], inclusive; nullopt when closed (base above limit).
    std::optional<std::pair<u64, u64>> memory_window() const;
    std::optional<std::pair<u64, u64>> prefetchable_window() const;

    bool claims_config_type1(u8 bus) const override;
    void set_trace(dma_trace* trace) override;

    bool is_downstream_port() const { return m_downstream_port; }
    // ACS Control as software programmed it (0 when the port has no ACS capability), PCIe §7.7.8.3.
    u16 acs_control() const;
    bool claims_memory(u64 addr) const override;

protected:
    void config_type1(tlm::tlm_generic_payload& gp, tlmx::pci_extension& ext, sc_core::sc_time& delay) override;
    void memory(tlm::tlm_generic_payload& gp, tlmx::pci_extension& ext, sc_core::sc_time& delay) override;

private:
    void upstream(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
    bool in_windows(u64 addr) const;

    // Routing decisions of a downstream port for a request from below; false when it was completed here
    // (blocked or delivered to a peer).
    bool downstream_port_ingress(tlm::tlm_generic_payload& gp, tlmx::pci_extension* ext, sc_core::sc_time& delay);
    void block(tlm::tlm_generic_payload& gp, tlm::tlm_response_status status, const char* reason);

    enum class rid_rule { preserve, secondary_bus, own };
    bool m_downstream_port = false;     // PCIe root port or switch downstream port
    rid_rule m_rid_rule = rid_rule::preserve;
    std::optional<u16> m_acs;           // ACS extended capability offset
    bool m_acs_dword_ctrl = false;      // Intel SPT/UPT PCH layout: control dword at cap + 8
    pci_bus m_secondary;
};

} // namespace iommusim::pci

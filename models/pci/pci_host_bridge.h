// A host bridge (root complex) for one root bus: the CPU-facing end of a PCI hierarchy.
//   cpu_in: ECAM accesses in [ecam_base + (bus_start << 20), ecam_base + ((bus_end + 1) << 20)) become
//           configuration requests (PCIe Base §7.2.2: address = base + (bus << 20 | devfn << 12 | reg)):
//           type 0 on the root bus for bus_start, type 1 on the root bus for the other buses of the
//           range. Accesses in an MMIO aperture become memory requests on the root bus. A request no
//           function claims completes to the CPU with all ones on reads and OK (master abort / UR as
//           x86 root complexes report them); writes are dropped.
//   to_iommu_or_memory: upstream requests (DMA) from the hierarchy leave here, tagged with their
//           pci_extension. When nothing is bound before elaboration ends, the default target given to
//           set_default_upstream (the platform's system memory) is bound; without one an internal sink
//           answers TLM_ADDRESS_ERROR_RESPONSE and counts the requests.
//   Peer-to-peer between root ports (PCIe §1.3.1: optional for a root complex) is decided by the root
//           ports from p2p_between_root_ports; most Intel root complexes do not support it.
#pragma once
#include "models/pci/pci_bus.h"
#include "models/pci/cfg/pci_timing.h"

#include <functional>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <vector>

namespace iommusim::pci {

// A host bridge's own checks of the requests it sends down (a POWER PHB's EEH gating: a frozen PE's MMIO
// loads return all ones, its stores are dropped, its config accesses fail), asked with the decoded request
// before it enters the hierarchy; `failed` hears of a memory request the hierarchy answered with an error
// (UR, CA), which freezes its owner on POWER. Without a gate every request goes down.
struct downstream_gate {
    enum class verdict { forward, all_ones, drop };
    std::function<verdict(const tlmx::pci_extension& ext, u64 addr, unsigned len, bool write, sc_core::sc_time& delay)>
        check;
    std::function<void(const tlmx::pci_extension& ext, u64 addr)> failed;
};

struct host_bridge_config {
    u16 segment = 0;
    u8 bus_start = 0, bus_end = 0xff;
    u64 ecam_base = 0xe0000000;   // the segment's ECAM base, i.e. the address of bus 0 (ACPI MCFG)
    struct aperture {
        u64 base = 0, size = 0;
    };
    std::vector<aperture> mmio;   // memory apertures forwarded to the root bus (ACPI _CRS)
    bool p2p_between_root_ports = false; // route requests between root ports (and root bus functions)
};

class pci_host_bridge : public sc_core::sc_module {
public:
    tlm_utils::simple_target_socket<pci_host_bridge> cpu_in;
    tlm_utils::simple_initiator_socket<pci_host_bridge> to_iommu_or_memory;

    pci_host_bridge(sc_core::sc_module_name name, const host_bridge_config& config, const pci_timing& timing = {});

    const host_bridge_config& host_config() const { return m_config; }
    pci_bus& root_bus() { return m_root; }
    const pci_bus& root_bus() const { return m_root; }

    // This bridge's slice of its segment's ECAM.
    u64 ecam_window_base() const { return m_config.ecam_base + (u64(m_config.bus_start) << 20); }
    u64 ecam_window_size() const { return u64(m_config.bus_end - m_config.bus_start + 1) << 20; }

    using target_socket_base = tlm::tlm_base_target_socket_b<32, tlm::tlm_fw_transport_if<>, tlm::tlm_bw_transport_if<>>;
    // What to_iommu_or_memory is bound to when nothing else was bound by the end of construction.
    void set_default_upstream(target_socket_base& target) { m_default_upstream = &target; }
    void set_downstream_gate(downstream_gate g) { m_gate = std::move(g); }
    // Records every request leaving through to_iommu_or_memory; handed down to the whole hierarchy.
    void set_trace(dma_trace* trace);

    bool upstream_attached() const { return !m_sink_bound; }
    u64 unattached_dma_count() const { return m_unattached_dma; }

private:
    void from_cpu(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
    unsigned from_cpu_dbg(tlm::tlm_generic_payload& gp);
    void upstream(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
    void unattached(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
    void before_end_of_elaboration() override;
    bool decode(tlm::tlm_generic_payload& gp, tlmx::pci_extension& ext) const;

    host_bridge_config m_config;
    pci_timing m_timing;
    tlm_utils::simple_initiator_socket<pci_host_bridge> m_root_out;  // -> m_root.from_upstream
    tlm_utils::simple_target_socket<pci_host_bridge> m_root_dma_in;  // <- m_root.to_upstream
    // Default for to_iommu_or_memory; optional so it may stay unbound when something else is attached.
    tlm_utils::simple_target_socket_optional<pci_host_bridge> m_sink;
    pci_bus m_root;
    bool m_sink_bound = false;
    target_socket_base* m_default_upstream = nullptr;
    dma_trace* m_trace = nullptr;
    downstream_gate m_gate;
    u64 m_unattached_dma = 0;
};

} // namespace iommusim::pci

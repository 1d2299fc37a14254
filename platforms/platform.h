// A running SystemC platform built from a platform_desc: one pci_host_bridge per root bus, every
// function of the description as a model on its bus, and a CPU-side system bus (address_router) that
// reaches every host bridge's ECAM slice and MMIO apertures. Software (the simulated kernel, through
// host::tlm_host_ops) binds an initiator to cpu_side().
//
// SystemC allows one elaboration per process: construct one platform, bind to it, then sc_start(). A
// second platform cannot be built once simulation has started (run each in its own process).
//
// Address map (platform_params): ECAM per segment at ecam_base(segment), each host bridge decoding the
// slice of its bus range; system memory (params.memory, default 1 TiB, sparse) at [0, size) below every
// host bridge, bound to to_iommu_or_memory unless something (an IOMMU) was bound there before elaboration
// ends (the memory hole under 4 GiB is not modelled: DMA to any address below size reaches memory);
// a dma_trace of where upstream requests went. On memory_bus(), the LAPICs' MSI window [0xFEE0_0000,
// +1 MiB) goes to the interrupt controller and memory fills the rest below its size (the hole is real x86).
// Firmware assigns every BAR and bridge window before the OS boots (firmware_resources.h). Each root bus gets a 32-bit MMIO aperture (an equal, 1 MiB aligned share of
// [mmio32_base, mmio32_limit)) and a 64-bit aperture of mmio64_size_per_root_bus bytes.
#pragma once
#include "models/intc/msi_controller.h"
#include "models/pci/pci_function.h"
#include "models/pci/pci_host_bridge.h"
#include "models/pci/cfg/pci_timing.h"
#include "models/pci/dma_trace.h"
#include "platforms/desc/firmware_resources.h"
#include "platforms/desc/platform_desc.h"
#include "sim/host/pci_host_ops.h"
#include "sim/memory/system_memory.h"
#include "sim/tlm/address_router.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace iommusim::vtd {
class vtd_unit;
}
namespace iommusim::amdvi {
class amdvi_unit;
}
namespace iommusim::tce {
class phb_iommu;
struct msi_message;
} // namespace iommusim::tce

namespace iommusim::platforms {

// One host bridge as built: what firmware (MCFG, _CRS) would describe.
struct root_complex {
    u16 segment = 0;
    u8 bus_start = 0, bus_end = 0xff;         // bus_end clipped below the next root bus of the segment
    u64 ecam_base = 0;                        // the segment's ECAM base (bus 0)
    u64 mmio32_base = 0, mmio32_size = 0;
    u64 mmio64_base = 0, mmio64_size = 0;
    pci::pci_host_bridge* host_bridge = nullptr;
};

// A function model and where the description put it.
struct built_function {
    pci::pci_function* model = nullptr;
    const function_desc* desc = nullptr;      // points into platform::description()
    size_t root = 0;                          // index into root_complexes()
    pci::pci_function* parent = nullptr;      // bridge above, nullptr on a root bus
};

class platform : public sc_core::sc_module {
public:
    // Parameters come from desc.params (the platform JSON's "params" object).
    platform(sc_core::sc_module_name name, const platform_desc& desc);
    ~platform() override;

    tlmx::address_router::target_socket_type& cpu_side() { return m_router->target; }
    tlmx::address_router& system_bus() { return *m_router; }

    // Root buses in description order; the IOMMU kind as the firmware table that would describe it; on
    // AMD-Vi platforms the IOMMUs' own functions (AMD, class 0x0806, on a root bus) as IVRS names them.
    host::firmware_info firmware() const;
    const std::vector<root_complex>& root_complexes() const { return m_roots; }
    std::optional<u64> ecam_base(u16 segment) const;

    // System memory below the host bridges; nullptr when params.memory.size is 0.
    memory::system_memory* memory() { return m_memory.get(); }
    // Where requests to memory are routed (system memory, and whatever is mapped beside it); the target
    // an IOMMU's output and the kernel's memory accesses bind to. nullptr when there is no memory.
    tlmx::address_router* memory_bus() { return m_dma_bus.get(); }
    // The LAPICs' MSI window on memory_bus(): every message that reaches it is recorded. nullptr when
    // there is no memory (and so no memory bus), and on "powernv" (no LAPICs: see phb_interrupts()).
    intc::msi_controller* interrupt_controller() { return m_intc.get(); }
    // Firmware's BAR and window assignment; bar_address by the description's label and BAR register.
    const firmware_resources& resources() const { return *m_resources; }
    // The VT-d remapping units (DMAR DRHDs) in table order; empty unless the platform is "intel_vtd" with
    // memory and params.vtd_units.
    const std::vector<vtd::vtd_unit*>& vtd_units() const { return m_vtd_unit_ptrs; }
    // The AMD IOMMUs in IVRS order (one per IOMMU function); empty unless the platform is "amd_vi" with
    // memory and params.amdvi_units.
    const std::vector<amdvi::amdvi_unit*>& amdvi_units() const { return m_amdvi_unit_ptrs; }
    // The AMD IOMMU serving a root complex (index into root_complexes()); nullptr when none does.
    amdvi::amdvi_unit* amdvi_unit_of_root(size_t root) const {
        return root < m_amdvi_by_root.size() ? m_amdvi_by_root[root] : nullptr;
    }
    // The PHBs of a "powernv" platform, one per root complex (index = root = OPAL id); empty otherwise or
    // without memory.
    const std::vector<tce::phb_iommu*>& phbs() const { return m_phb_ptrs; }
    tce::phb_iommu* phb_of_root(size_t root) const { return root < m_phb_ptrs.size() ? m_phb_ptrs[root] : nullptr; }
    // Interrupts the PHBs validated and passed on (to the XICS/XIVE sources, which are not modelled), in
    // order of arrival.
    const std::vector<tce::msi_message>& phb_interrupts() const { return m_phb_msis; }
    // Told of every such interrupt with the index of its PHB (the OS's interrupt handling); nullptr: none.
    using phb_msi_fn = std::function<void(size_t phb, const tce::msi_message&)>;
    void on_phb_msi(phb_msi_fn fn) { m_on_phb_msi = std::move(fn); }
    std::optional<u64> bar_address(const std::string& name, unsigned bar) const;
    // Where upstream requests went (to a root complex, peer-to-peer, blocked), for tests and scenarios.
    pci::dma_trace& dma_trace() { return m_dma_trace; }
    const pci::dma_trace& dma_trace() const { return m_dma_trace; }

    const platform_desc& description() const { return m_desc; }
    const platform_params& params() const { return m_params; }
    const std::vector<built_function>& functions() const { return m_functions; }
    // By the description's label (function_desc::name); nullptr when none carries it.
    pci::pci_function* find(const std::string& name) const;

private:
    friend class platform_builder;
    void build_vtd_units();   // platform_vtd.cpp
    void build_amdvi_units(); // platform_amdvi.cpp
    void build_phbs();        // platform_tce.cpp
    std::vector<host::opal_phb_info> opal_phbs() const; // platform_tce.cpp

    platform_desc m_desc; // owned copy: built_function::desc points into it
    platform_params m_params;
    std::unique_ptr<tlmx::address_router> m_router;
    pci::dma_trace m_dma_trace;
    std::unique_ptr<memory::system_memory> m_memory;
    std::unique_ptr<tlmx::address_router> m_dma_bus; // memory_bus()
    std::unique_ptr<intc::msi_controller> m_intc;
    std::unique_ptr<firmware_resources> m_resources;
    std::vector<std::unique_ptr<vtd::vtd_unit>> m_vtd_units;
    std::vector<vtd::vtd_unit*> m_vtd_unit_ptrs;
    std::vector<host::dmar_drhd> m_drhds;
    std::vector<std::unique_ptr<amdvi::amdvi_unit>> m_amdvi_units;
    std::vector<amdvi::amdvi_unit*> m_amdvi_unit_ptrs;
    std::vector<amdvi::amdvi_unit*> m_amdvi_by_root;
    std::vector<std::unique_ptr<tce::phb_iommu>> m_phbs;
    std::vector<tce::phb_iommu*> m_phb_ptrs;
    std::vector<tce::msi_message> m_phb_msis;
    phb_msi_fn m_on_phb_msi;
    std::vector<std::unique_ptr<pci::pci_host_bridge>> m_host_bridges;
    std::vector<std::unique_ptr<pci::pci_function>> m_models;
    std::vector<root_complex> m_roots;
    std::vector<built_function> m_functions;
    std::unordered_map<std::string, size_t> m_by_name;
};

} // namespace iommusim::platforms

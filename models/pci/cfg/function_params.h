// Hardware parameters of one PCI function: what a board designer fixes in silicon and firmware.
// The models build their config space from this (build_config_space); platform descriptions carry it.
// Pure data, no SystemC.
#pragma once
#include "sim/core/model_info.h"
#include "sim/core/types.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace iommusim::pci {

enum class function_kind {
    host_bridge,        // type 0 header, class 0x0600, on a root bus, no PCIe capability (as on q35)
    root_port,          // type 1, PCIe Root Port
    switch_upstream,    // type 1, PCIe Switch Upstream Port
    switch_downstream,  // type 1, PCIe Switch Downstream Port
    pcie_to_pci_bridge, // type 1, PCI_EXP_TYPE_PCI_BRIDGE
    pci_to_pcie_bridge, // type 1, PCI_EXP_TYPE_PCIE_BRIDGE ("reverse" bridge)
    pci_bridge,         // type 1, conventional PCI-to-PCI bridge, no PCIe capability
    endpoint,           // type 0, PCIe Endpoint
    legacy_endpoint,    // type 0, PCIe Legacy Endpoint
    rc_endpoint,        // type 0, Root Complex Integrated Endpoint
    rc_event_collector, // type 0, Root Complex Event Collector
    pci_endpoint,       // type 0, conventional PCI function (no PCIe capability)
    captured,           // config space taken verbatim from captured bytes (lspci -xxxx)
    dma_engine,         // type 0, the programmable DMA engine (models/pci/dma_engine.h): a PCIe Endpoint, or
                        // a conventional function when `conventional` is set (it sits on a PCI bus)
};
const char* to_string(function_kind k);
std::optional<function_kind> function_kind_from_string(const std::string& s);
bool is_bridge(function_kind k);    // type 1 header
bool is_pcie(function_kind k);      // has a PCI Express capability (a dma_engine: unless `conventional`)

struct bar_params {
    unsigned index = 0;           // BAR number 0..5 (0..1 on a type 1 header)
    u64 size = 0;                 // bytes, power of two (>= 16 for memory, >= 4 for I/O)
    bool io = false;
    bool mem64 = false;           // takes index and index+1
    bool prefetchable = false;
};

struct acs_params {
    u16 cap = 0;                  // ACS Capability register: SV TB RR CR UF EC DT as advertised
    u16 ctrl = 0;                 // Control register as firmware left it (the kernel may enable more)
    u8 egress_bits = 0;           // egress control vector size, when EC is advertised
};

struct msi_params {
    unsigned vectors = 1;         // 1, 2, 4, 8, 16 or 32 (Multiple Message Capable)
    bool addr64 = true;
    bool per_vector_mask = false;
};

struct msix_params {
    unsigned table_size = 1;      // entries, 1..2048
    unsigned table_bar = 0;
    u32 table_offset = 0;
    unsigned pba_bar = 0;
    u32 pba_offset = 0x800;
};

// Device-side limits of a dma_engine (the model's dma_engine_limits; kept here so descriptions stay
// free of SystemC). Defaults: PCIe's smallest common Max_Payload_Size / Max_Read_Request_Size settings.
struct dma_engine_params {
    unsigned max_payload = 256;      // bytes per write request (PCIe §7.5.3.4 Max_Payload_Size), 128..4096
    unsigned max_read_request = 512; // bytes per read request (Max_Read_Request_Size), 128..4096
    double per_byte_ns = 0;          // device-side cost per byte moved
};
// For `iommusim describe` (the dma_engine model's entry).
std::vector<param_info> dma_engine_param_infos();

struct function_params {
    function_kind kind = function_kind::endpoint;
    u16 vendor_id = 0x1b36, device_id = 0x0001;
    u16 subsystem_vendor_id = 0, subsystem_id = 0;
    u32 class_code = 0xff0000;    // 24-bit: base class, subclass, programming interface
    u8 revision = 0;
    bool multifunction = false;   // header type bit 7 (the builder sets it on function 0 of a shared slot)
    u8 interrupt_pin = 0;         // 0 none, 1..4 INTA..INTD

    std::vector<bar_params> bars;
    // BARs firmware must place at a given address (platform JSON "address"): {BAR index, address}.
    std::vector<std::pair<unsigned, u64>> pinned_bars;
    std::optional<acs_params> acs;
    std::optional<msi_params> msi;
    std::optional<msix_params> msix;
    bool power_management = true;
    bool ats = false, pasid = false, pri = false;

    // Intel PCH LPC bridge (00:1f.0): Root Complex Base Address register at config 0xf0 as firmware
    // set it (bit 0 = enable). The chipset model decodes RCBA MMIO (BSPR, UPDCR) when present.
    std::optional<u32> rcba;
    u32 rcba_bspr = 0;            // BSPR (RCBA + 0x1104) as firmware left it; read-only to software
    u32 rcba_updcr = 0;           // UPDCR (RCBA + 0x1114) reset value

    // Expansion ROM size in bytes (power of two, >= 2 KiB); 0 = no ROM BAR.
    u64 rom_size = 0;

    // Firmware-assigned bus numbers of a bridge (a real machine's dump); unset means firmware left the
    // bridge unconfigured and the kernel numbers it.
    std::optional<u8> primary_bus, secondary_bus, subordinate_bus;

    // Captured config space (kind == captured): 256 or 4096 bytes, used verbatim.
    std::vector<u8> config;

    // kind == dma_engine: device-side limits; and whether it sits on a conventional PCI bus (then it has
    // no PCI Express capability, as a PCI device behind a PCIe-to-PCI bridge).
    dma_engine_params engine;
    bool conventional = false;
};

// Whether the function has a PCI Express capability: by kind, or for a dma_engine by `conventional`.
bool has_pcie_capability(const function_params& p);
// The pinned address of BAR `index`, if the description gives one.
std::optional<u64> pinned_bar_address(const function_params& p, unsigned index);

// What the dma_engine kind exposes (models/pci/dma_engine.h): BAR0 of 64 KiB, 64-bit non-prefetchable
// (it holds registers with side effects), 4 MSI vectors with per-vector masking, 4 MSI-X entries in BAR0
// at 0x8000 (PBA 0x9000), INTA. Defaults of the platform loader; the model needs exactly this layout.
function_params dma_engine_function_params();


} // namespace iommusim::pci

#include "models/pci/cfg/function_params.h"

#include <fmt/format.h>

#include <array>
#include <utility>

namespace iommusim::pci {

namespace {
constexpr std::array<std::pair<function_kind, const char*>, 14> kind_names{{
    {function_kind::host_bridge, "host_bridge"},
    {function_kind::root_port, "root_port"},
    {function_kind::switch_upstream, "switch_upstream"},
    {function_kind::switch_downstream, "switch_downstream"},
    {function_kind::pcie_to_pci_bridge, "pcie_to_pci_bridge"},
    {function_kind::pci_to_pcie_bridge, "pci_to_pcie_bridge"},
    {function_kind::pci_bridge, "pci_bridge"},
    {function_kind::endpoint, "endpoint"},
    {function_kind::legacy_endpoint, "legacy_endpoint"},
    {function_kind::rc_endpoint, "rc_endpoint"},
    {function_kind::rc_event_collector, "rc_event_collector"},
    {function_kind::pci_endpoint, "pci_endpoint"},
    {function_kind::captured, "captured"},
    {function_kind::dma_engine, "dma_engine"},
}};
} // namespace

const char* to_string(function_kind k) {
    for (const auto& [kind, name] : kind_names)
        if (kind == k) return name;
    return "?";
}

std::optional<function_kind> function_kind_from_string(const std::string& s) {
    for (const auto& [kind, name] : kind_names)
        if (s == name) return kind;
    return std::nullopt;
}

bool is_bridge(function_kind k) {
    switch (k) {
    case function_kind::root_port:
    case function_kind::switch_upstream:
    case function_kind::switch_downstream:
    case function_kind::pcie_to_pci_bridge:
    case function_kind::pci_to_pcie_bridge:
    case function_kind::pci_bridge: return true;
    default: return false;
    }
}

bool is_pcie(function_kind k) {
    switch (k) { // dma_engine: a PCIe Endpoint unless the description marks it conventional
    case function_kind::host_bridge:
    case function_kind::pci_bridge:
    case function_kind::pci_endpoint:
    case function_kind::captured: return false; // captured: decided by its bytes, not by kind
    default: return true;
    }
}

bool has_pcie_capability(const function_params& p) {
    return p.kind == function_kind::dma_engine ? !p.conventional : is_pcie(p.kind);
}

std::optional<u64> pinned_bar_address(const function_params& p, unsigned index) {
    for (const auto& [bar, addr] : p.pinned_bars)
        if (bar == index) return addr;
    return std::nullopt;
}

std::vector<param_info> dma_engine_param_infos() {
    const dma_engine_params d;
    return {
        {"max_payload", "bytes", fmt::format("{}", d.max_payload),
         "largest write request (Max_Payload_Size): 128, 256, 512, 1024, 2048 or 4096"},
        {"max_read_request", "bytes", fmt::format("{}", d.max_read_request),
         "largest read request (Max_Read_Request_Size): 128..4096, a power of two"},
        {"per_byte_ns", "ns", fmt::format("{}", d.per_byte_ns), "device-side cost per byte moved"},
    };
}

function_params dma_engine_function_params() {
    function_params p;
    p.kind = function_kind::dma_engine;
    // A test device, not a real part: QEMU's test vendor ID with a device ID of its own ("DMA0") and
    // class 0x088000 (generic system peripheral), as QEMU's edu device uses for the same purpose.
    p.vendor_id = 0x1b36;
    p.device_id = 0xd4a0;
    p.class_code = 0x088000;
    p.interrupt_pin = 1;
    p.bars = {{0, 0x10000, false, true, false}};
    p.msi = msi_params{4, true, true};
    p.msix = msix_params{4, 0, 0x8000, 0, 0x9000};
    return p;
}

} // namespace iommusim::pci

#include "models/pci/cfg/function_params.h"

#include <array>
#include <utility>

namespace iommusim::pci {

namespace {
constexpr std::array<std::pair<function_kind, const char*>, 13> kind_names{{
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
    switch (k) {
    case function_kind::host_bridge:
    case function_kind::pci_bridge:
    case function_kind::pci_endpoint:
    case function_kind::captured: return false; // captured: decided by its bytes, not by kind
    default: return true;
    }
}

} // namespace iommusim::pci

// Topology validation of a platform description: the checks that do not depend on where it came from
// (JSON file or lspci dump). Every error is an input_error located at the offending function's `where`
// (a JSON pointer, or "line N" for a dump).
#pragma once
#include "platforms/desc/platform_desc.h"

#include <optional>

namespace iommusim::platforms {

struct check_options {
    // PCIe placement rules (root ports only on a root bus, only device 0 below a downstream port,
    // PCIe endpoints not on a conventional bus...). On for hand-written platforms; off for dumps, where
    // ARI and SR-IOV legitimately put functions at other device numbers.
    bool placement_rules = true;
    // Function 0 must carry the multifunction bit when its slot has more functions (synthesised functions;
    // captured bytes are taken as they are).
    bool multifunction_rule = true;
};

constexpr unsigned max_bus_depth = 256; // no PCI hierarchy can be deeper than the number of bus numbers

void check_platform(const platform_desc& p, const check_options& opt = {});

// Whether a described function has a type 1 (bridge) header: by kind, or by the captured header byte.
bool desc_is_bridge(const function_desc& f);
// PCIe Device/Port Type of a function (kind, or the Express capability in captured bytes); nullopt when
// it has no PCI Express capability.
std::optional<u8> desc_pcie_type(const function_desc& f);

// Location below `where`: appends to a JSON pointer, keeps a "line N" location as it is.
std::string sub_location(const std::string& where, const std::string& suffix);

} // namespace iommusim::platforms

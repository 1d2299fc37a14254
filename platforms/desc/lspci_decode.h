// Second stage of the lspci importer for dumps without hex (`lspci -nn -vvv`): synthesises the function
// parameters from lspci's decoded lines. What the text cannot tell is reported in `gaps` so the importer
// can tell the user in plain words.
#pragma once
#include "models/pci/cfg/function_params.h"
#include "platforms/desc/lspci_parse.h"

#include <string>

namespace iommusim::platforms::lspci {

struct decode_gaps {
    bool bar_size_unknown = false;     // a Region line without [size=...]
    bool acs_egress_unknown = false;   // EgressCtrl+ advertised; vector size not shown
    bool sriov = false;                // SR-IOV capability seen; VFs not created
};

// Throws input_error(source, "line N", ...) for contradictory or unreadable text (e.g. capabilities
// hidden because lspci ran without root).
pci::function_params decode(const record& r, const std::string& source, decode_gaps& gaps);

// Firmware bus numbers from a "Bus: primary=00, secondary=01, subordinate=05" line, if present.
struct bus_numbers { u8 primary, secondary, subordinate; unsigned line; };
std::optional<bus_numbers> decoded_bus_numbers(const record& r, const std::string& source);

} // namespace iommusim::platforms::lspci

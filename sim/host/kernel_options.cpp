#include "sim/host/kernel_options.h"

#include <cctype>
#include <cstdlib>

namespace iommusim::host {

std::string kernel_version::str() const { return std::to_string(major) + "." + std::to_string(minor); }

std::optional<kernel_version> kernel_version::parse(const std::string& text) {
    std::size_t i = 0;
    if (i < text.size() && (text[i] == 'v' || text[i] == 'V')) ++i;
    auto number = [&](unsigned& out) {
        const std::size_t start = i;
        unsigned v = 0;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) && i - start < 4)
            v = v * 10 + unsigned(text[i++] - '0');
        out = v;
        return i > start;
    };
    kernel_version v;
    if (!number(v.major) || i >= text.size() || text[i] != '.') return std::nullopt;
    ++i;
    if (!number(v.minor)) return std::nullopt;
    if (i < text.size()) {  // optional ".stable"
        if (text[i] != '.') return std::nullopt;
        ++i;
        unsigned ignored = 0;
        if (!number(ignored) || i != text.size()) return std::nullopt;
    }
    if (v.major < 2 || v.major > 9) return std::nullopt;
    return v;
}

namespace {

// kstrtol(opt, 16) on at most four characters, as the patch does with snprintf(opt, 5, ...).
bool parse_hex4(const std::string& text, std::size_t pos, long& out) {
    std::string opt = text.substr(pos, 4);
    if (opt.empty()) return false;
    char* end = nullptr;
    out = std::strtol(opt.c_str(), &end, 16);
    // kstrtol rejects trailing garbage except one newline; a ':' or ',' inside the four characters fails.
    return end && *end == '\0' && std::isxdigit(static_cast<unsigned char>(opt[0]));
}

} // namespace

// The out-of-tree patch's pcie_acs_override_setup, token by token.
acs_override acs_override::parse(const std::string& text) {
    acs_override r;
    std::size_t p = 0;
    auto starts = [&](const char* s) { return text.compare(p, std::char_traits<char>::length(s), s) == 0; };
    while (p < text.size()) {
        if (starts("downstream")) r.downstream = true;
        if (starts("multifunction")) r.multifunction = true;
        if (starts("id:")) {
            long val = 0;
            if (r.ids.size() >= num_acs_ids - 1) {
                r.warnings.push_back("Out of PCIe ACS override slots (" + std::to_string(num_acs_ids) + ")");
            } else if (p += 3; !parse_hex4(text, p, val)) {
                r.warnings.push_back("PCIe ACS ID parse error -22");
            } else {
                const u16 vendor = u16(val);
                // strcspn(p, ":") looks past commas: the device ID is whatever follows the next ':'.
                const std::size_t colon = text.find(':', p);
                if (colon == std::string::npos) {
                    r.warnings.push_back("PCIe ACS invalid ID");
                    p = text.size();
                } else if (p = colon + 1; !parse_hex4(text, p, val)) {
                    r.warnings.push_back("PCIe ACS ID parse error -22");
                } else {
                    r.ids.push_back({vendor, u16(val)});
                }
            }
        }
        const std::size_t comma = text.find(',', p);
        p = comma == std::string::npos ? text.size() : comma + 1;
    }
    return r;
}

} // namespace iommusim::host

namespace iommusim::host {

checked_kernel_version check_kernel_version(const std::string& text) {
    const auto v = kernel_version::parse(text);
    if (!v) return {std::nullopt, "unknown kernel version \"" + text + "\" (expected e.g. \"6.1\")"};
    if (*v < oldest_supported_kernel)
        return {std::nullopt, "kernel " + v->str() + " is older than the oldest modelled (" + oldest_supported_kernel.str() + ")"};
    return {v, {}};
}

bool is_pci_id_spec(const std::string& spec) {
    if (spec.rfind("pci:", 0) != 0) return false;
    size_t fields = 0, digits = 0;
    for (size_t i = 4; i <= spec.size(); ++i) {
        if (i == spec.size() || spec[i] == ':') {
            if (digits == 0 || digits > 4) return false;
            ++fields;
            digits = 0;
        } else if (std::isxdigit(static_cast<unsigned char>(spec[i]))) {
            ++digits;
        } else {
            return false;
        }
    }
    return fields == 2 || fields == 4;
}

model_info kernel_options_info() {
    return {"kernel",
            "The simulated Linux kernel: the \"host\" object of a scenario, flags of `iommusim groups`",
            {{"kernel", "string", "6.1",
              "Linux version whose PCI quirks and grouping rules are reproduced (sim/host/README.md lists them)"},
             {"acs_override", "string", "\"\"",
              "out-of-tree pcie_acs_override=: downstream, multifunction, id:vvvv:dddd (comma-separated); off"},
             {"disable_acs_redir", "list", "[]",
              "pci=disable_acs_redir=: \"[dddd:]bb:dd.f\" or \"pci:vvvv:dddd\"; their ACS RR, CR and EC are cleared"},
             {"iommu", "string", "(firmware)",
              "\"intel\" (DMAR), \"amd\" (IVRS) or \"none\" (intel_iommu=off: no ACS request, no groups)"},
             {"assign_busses", "bool", "false", "pci=assign-busses: renumber every bridge, ignoring firmware"},
             {"pcie_scan_all", "bool", "false", "pci=pcie_scan_all: scan all device numbers below PCIe ports"},
             {"external_facing", "list of BDF", "[]",
              "ports firmware marks external-facing (ACPI ExternalFacingPort): TB enabled, devices below untrusted"},
             {"iommu_passthrough", "bool", "false", "iommu.passthrough=1: identity default domains"},
             {"intremap", "bool", "true", "intremap=off when false: no interrupt remapping"},
             {"iommu_superpage", "bool", "true", "intel_iommu=sp_off when false: 4 KiB IOMMU pages only"},
             {"kernel_memory_base", "address", "0x10000000",
              "start of the physical range the kernel's IOMMU tables, queues and IRTs are allocated from"},
             {"kernel_memory_size", "bytes", "0x10000000", "size of that range"}}};
}

} // namespace iommusim::host

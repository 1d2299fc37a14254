#include "platforms/desc/lspci_decode.h"

#include "models/pci/cfg/pci_regs.h"
#include "sim/core/input_error.h"

#include <cstdlib>
#include <cstring>

namespace iommusim::platforms::lspci {

using pci::function_kind;

namespace {

bool starts_with(const std::string& s, const char* prefix) { return s.compare(0, std::strlen(prefix), prefix) == 0; }

// Value of "key=HEX" inside s (e.g. "secondary=01"); nullopt if absent or not hex.
std::optional<unsigned long> hex_field(const std::string& s, const char* key, unsigned long max) {
    size_t p = s.find(key);
    if (p == std::string::npos) return std::nullopt;
    p += std::strlen(key);
    size_t e = p;
    while (e < s.size() && e - p < 9 && std::isxdigit(static_cast<unsigned char>(s[e]))) ++e;
    if (e == p) return std::nullopt;
    unsigned long v = std::strtoul(s.substr(p, e - p).c_str(), nullptr, 16);
    if (v > max) return std::nullopt;
    return v;
}

std::optional<unsigned long> dec_field(const std::string& s, const char* key, unsigned long max) {
    size_t p = s.find(key);
    if (p == std::string::npos) return std::nullopt;
    p += std::strlen(key);
    size_t e = p;
    while (e < s.size() && e - p < 9 && std::isdigit(static_cast<unsigned char>(s[e]))) ++e;
    if (e == p) return std::nullopt;
    unsigned long v = std::strtoul(s.substr(p, e - p).c_str(), nullptr, 10);
    if (v > max) return std::nullopt;
    return v;
}

// "+"/"-" flag after a name, e.g. "SrcValid+" in an ACSCap line.
bool flag_on(const std::string& s, const char* name) {
    size_t p = s.find(name);
    if (p == std::string::npos) return false;
    p += std::strlen(name);
    return p < s.size() && s[p] == '+';
}

u16 acs_flags(const std::string& s) {
    u16 v = 0;
    if (flag_on(s, "SrcValid")) v |= pci::PCI_ACS_SV;
    if (flag_on(s, "TransBlk")) v |= pci::PCI_ACS_TB;
    if (flag_on(s, "ReqRedir")) v |= pci::PCI_ACS_RR;
    if (flag_on(s, "CmpltRedir")) v |= pci::PCI_ACS_CR;
    if (flag_on(s, "UpstreamFwd")) v |= pci::PCI_ACS_UF;
    if (flag_on(s, "EgressCtrl")) v |= pci::PCI_ACS_EC;
    if (flag_on(s, "DirectTrans")) v |= pci::PCI_ACS_DT;
    return v;
}

// "[size=16K]" -> bytes
std::optional<u64> region_size(const std::string& s) {
    size_t p = s.find("[size=");
    if (p == std::string::npos) return std::nullopt;
    p += 6;
    size_t e = p;
    while (e < s.size() && e - p < 12 && std::isdigit(static_cast<unsigned char>(s[e]))) ++e;
    if (e == p || e >= s.size()) return std::nullopt;
    u64 n = std::strtoull(s.substr(p, e - p).c_str(), nullptr, 10);
    unsigned shift = 0;
    switch (s[e]) {
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    case 'T': shift = 40; break;
    case ']': break;
    default: return std::nullopt;
    }
    if (n == 0 || n > (u64(1) << 20)) return std::nullopt;
    return n << shift;
}

// Express capability port type names as lspci prints them, longest first so "Endpoint" does not
// swallow "Legacy Endpoint" or "Root Complex Integrated Endpoint".
struct type_name { const char* text; function_kind kind; };
constexpr type_name k_types[] = {
    {"Root Complex Integrated Endpoint", function_kind::rc_endpoint},
    {"Root Complex Event Collector", function_kind::rc_event_collector},
    {"PCI-Express to PCI/PCI-X Bridge", function_kind::pcie_to_pci_bridge},
    {"PCI/PCI-X to PCI-Express Bridge", function_kind::pci_to_pcie_bridge},
    {"Legacy Endpoint", function_kind::legacy_endpoint},
    {"Downstream Port", function_kind::switch_downstream},
    {"Upstream Port", function_kind::switch_upstream},
    {"Root Port", function_kind::root_port},
    {"Endpoint", function_kind::endpoint},
};

} // namespace

std::optional<bus_numbers> decoded_bus_numbers(const record& r, const std::string& source) {
    for (const auto& [line, text] : r.decoded) {
        if (!starts_with(text, "Bus: ")) continue;
        auto pri = hex_field(text, "primary=", 0xff), sec = hex_field(text, "secondary=", 0xff),
             sub = hex_field(text, "subordinate=", 0xff);
        if (!pri || !sec || !sub)
            throw input_error(source, "line " + std::to_string(line), "garbled Bus: line; expected "
                              "\"Bus: primary=00, secondary=01, subordinate=05, sec-latency=0\"");
        return bus_numbers{u8(*pri), u8(*sec), u8(*sub), line};
    }
    return std::nullopt;
}

pci::function_params decode(const record& r, const std::string& source, decode_gaps& gaps) {
    auto fail = [&](unsigned line, const std::string& msg) {
        throw input_error(source, "line " + std::to_string(line), msg);
    };
    if (!r.vendor || !r.class_id)
        fail(r.line, "vendor/device and class IDs are missing; without a hex dump the importer needs "
             "`lspci -nn -vvv` (the -nn adds [8086:a110] and [0604])");
    pci::function_params p;
    p.vendor_id = *r.vendor, p.device_id = *r.device;
    p.class_code = u32(*r.class_id) << 8 | r.prog_if.value_or(0);
    p.revision = r.revision.value_or(0);
    p.power_management = false;  // only if the dump shows the capability
    std::optional<function_kind> express;
    unsigned express_line = 0;
    bool in_acs = false, in_msix = false;
    for (const auto& [line, text] : r.decoded) {
        if (starts_with(text, "Capabilities:")) {
            in_acs = in_msix = false;
            if (text.find("<access denied>") != std::string::npos)
                fail(line, "capabilities were not readable (lspci ran without root); capture again with `sudo lspci -nn -vvv` "
                     "or `sudo lspci -xxxx`");
            if (size_t e = text.find("] Express ("); e != std::string::npos) {
                size_t close = text.find(") ", e + 11);
                std::string type = close == std::string::npos ? "" : text.substr(close + 2);
                express.reset();
                for (const auto& t : k_types)
                    if (starts_with(type, t.text)) {
                        express = t.kind;
                        break;
                    }
                if (!express) fail(line, "unknown PCI Express port type in " + text.substr(0, 80));
                express_line = line;
            } else if (text.find("] MSI: ") != std::string::npos) {
                pci::msi_params m;
                // "Count=1/4": enabled/capable
                if (size_t c = text.find("Count="); c != std::string::npos)
                    if (size_t sl = text.find('/', c); sl != std::string::npos)
                        if (auto cap = dec_field(text.substr(sl), "/", 32)) m.vectors = unsigned(*cap);
                if (m.vectors == 0 || (m.vectors & (m.vectors - 1))) m.vectors = 1;
                m.addr64 = flag_on(text, "64bit");
                m.per_vector_mask = flag_on(text, "Maskable");
                p.msi = m;
            } else if (text.find("] MSI-X: ") != std::string::npos) {
                pci::msix_params m;
                if (auto n = dec_field(text, "Count=", 2048); n && *n > 0) m.table_size = unsigned(*n);
                p.msix = m;
                in_msix = true;
            } else if (text.find("] Power Management") != std::string::npos) {
                p.power_management = true;
            } else if (text.find("] Access Control Services") != std::string::npos) {
                p.acs = pci::acs_params{};
                in_acs = true;
            } else if (text.find("] Address Translation Service") != std::string::npos) {
                p.ats = true;
            } else if (text.find("] Process Address Space ID") != std::string::npos) {
                p.pasid = true;
            } else if (text.find("] Page Request Interface") != std::string::npos) {
                p.pri = true;
            } else if (text.find("] Single Root I/O Virtualization") != std::string::npos) {
                gaps.sriov = true;
            }
            continue;
        }
        if (in_acs && starts_with(text, "ACSCap:")) {
            p.acs->cap = acs_flags(text);
            if (p.acs->cap & pci::PCI_ACS_EC) gaps.acs_egress_unknown = true;
        } else if (in_acs && starts_with(text, "ACSCtl:")) {
            p.acs->ctrl = u16(acs_flags(text) & p.acs->cap);
        } else if (in_msix && starts_with(text, "Vector table:")) {
            if (auto b = dec_field(text, "BAR=", 5)) p.msix->table_bar = unsigned(*b);
            if (auto o = hex_field(text, "offset=", 0xffffffff)) p.msix->table_offset = u32(*o) & ~7u;
        } else if (in_msix && starts_with(text, "PBA:")) {
            if (auto b = dec_field(text, "BAR=", 5)) p.msix->pba_bar = unsigned(*b);
            if (auto o = hex_field(text, "offset=", 0xffffffff)) p.msix->pba_offset = u32(*o) & ~7u;
        } else if (starts_with(text, "Subsystem: ")) {
            size_t open = text.rfind('[');
            if (open != std::string::npos && open + 11 <= text.size() && text[open + 5] == ':') {
                auto v = hex_field(text.substr(open), "[", 0xffff), d = hex_field(text.substr(open + 5), ":", 0xffff);
                if (v && d) p.subsystem_vendor_id = u16(*v), p.subsystem_id = u16(*d);
            }
        } else if (starts_with(text, "Interrupt: pin ") && text.size() > 15 && text[15] >= 'A' && text[15] <= 'D') {
            p.interrupt_pin = u8(text[15] - 'A' + 1);
        } else if (starts_with(text, "Region ") && text.size() > 9 && text[8] == ':') {
            unsigned idx = unsigned(text[7] - '0');
            if (idx > 5) continue;
            auto size = region_size(text);
            if (!size) {
                gaps.bar_size_unknown = true;
                continue;
            }
            pci::bar_params b;
            b.index = idx, b.size = *size;
            b.io = text.find("I/O ports") != std::string::npos;
            b.mem64 = text.find("(64-bit") != std::string::npos;
            b.prefetchable = text.find(", prefetchable") != std::string::npos;
            p.bars.push_back(b);
        }
    }
    auto bus = decoded_bus_numbers(r, source);
    if (bus) p.primary_bus = bus->primary, p.secondary_bus = bus->secondary, p.subordinate_bus = bus->subordinate;
    if (express) {
        p.kind = *express;
        if (pci::is_bridge(p.kind) && !bus)
            fail(express_line, std::string("an Express ") + pci::to_string(p.kind) + " is a bridge but the dump shows no "
                 "\"Bus: primary=.., secondary=.., subordinate=..\" line for it");
        if (!pci::is_bridge(p.kind) && bus)
            fail(bus->line, std::string("a \"Bus:\" line (bridge header) on a function whose Express type is ") +
                 pci::to_string(p.kind));
    } else if (bus) {
        p.kind = function_kind::pci_bridge;
    } else if ((p.class_code >> 8) == pci::PCI_CLASS_BRIDGE_HOST) {
        p.kind = function_kind::host_bridge;
    } else {
        p.kind = function_kind::pci_endpoint;
    }
    if (p.pri && !p.ats) p.pri = false;  // PRI without ATS cannot be enabled; keep the description consistent
    return p;
}

} // namespace iommusim::platforms::lspci

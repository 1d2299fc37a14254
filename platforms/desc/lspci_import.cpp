#include "platforms/desc/lspci_import.h"

#include "models/pci/cfg/pci_regs.h"
#include "platforms/desc/captured_config.h"
#include "platforms/desc/hex_text.h"
#include "platforms/desc/lspci_decode.h"
#include "platforms/desc/lspci_parse.h"
#include "platforms/desc/platform_check.h"
#include "sim/core/bdf.h"
#include "sim/core/input_error.h"
#include "sim/core/json_file.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace iommusim::platforms {

using pci::function_kind;
using lspci::record;

namespace {

std::string loc(unsigned line) { return "line " + std::to_string(line); }

// Intel PCH root ports whose isolation Linux decides through pci_quirk_intel_pch_acs (RCBA-based) or
// pci_quirk_intel_spt_pch_acs (dword ACS control); see reference/linux-semantics.md §1.3.
bool intel_pch_rcba_port(u16 id) {
    return (id >= 0x3b42 && id <= 0x3b51) || (id >= 0x1c10 && id <= 0x1c1f) || (id >= 0x1e10 && id <= 0x1e1f) ||
           (id >= 0x8c10 && id <= 0x8c1f) || (id >= 0x9c10 && id <= 0x9c1b) || (id >= 0x9c90 && id <= 0x9c9b) ||
           (id >= 0x1d10 && id <= 0x1d1e && !(id & 1)) || (id >= 0x8d10 && id <= 0x8d1e) ||
           (id >= 0x8c90 && id <= 0x8c9e && !(id & 1));
}
bool intel_spt_port(u16 id) {
    return (id >= 0xa110 && id <= 0xa11f) || (id >= 0xa167 && id <= 0xa16a) || (id >= 0xa290 && id <= 0xa29f) ||
           (id >= 0xa2e7 && id <= 0xa2ee);
}

struct item {
    const record* rec;
    function_desc desc;
    bool bridge = false;
    unsigned sec = 0, sub = 0;
};

class importer {
public:
    importer(const std::string& source, const lspci_import_options& opt) : m_source(source), m_opt(opt) {}

    platform_desc run(const std::string& text) {
        m_parsed = lspci::parse(text, m_source);
        for (const auto& w : m_parsed.ignored) m_notes.push_back("lspci printed a warning, ignored: " + w);
        bool hex = std::any_of(m_parsed.records.begin(), m_parsed.records.end(), [](const record& r) { return !r.bytes.empty(); });
        check_duplicates();
        lspci::decode_gaps gaps;
        for (const auto& r : m_parsed.records) {
            if (hex && r.bytes.empty())
                fail(r.line, lspci::bdf_string(r) + " has no hex dump while other devices have one; the capture looks truncated");
            if (hex) add_captured(r);
            else add_decoded(r, gaps);
        }
        if (m_items.empty()) fail(1, "no usable PCI functions in the dump");
        if (!hex) {
            infer_multifunction();
            decoded_notes(gaps);
        } else {
            captured_notes();
        }
        platform_desc p;
        p.source = m_source;
        p.name = m_opt.name.empty() ? std::filesystem::path(m_source).stem().string() : m_opt.name;
        p.description = std::string("imported from ") + (hex ? "an lspci hex dump" : "lspci -vvv text") + " (" +
                        std::to_string(m_items.size()) + " functions)";
        build_tree(p);
        guess_iommu(p);
        p.notes = std::move(m_notes);
        check_options copt;
        copt.placement_rules = false;  // ARI / SR-IOV put real functions where hand-written platforms may not
        check_platform(p, copt);
        return p;
    }

private:
    [[noreturn]] void fail(unsigned line, const std::string& msg) const { throw input_error(m_source, loc(line), msg); }

    void check_duplicates() {
        std::map<std::tuple<unsigned, unsigned, unsigned>, unsigned> seen;
        for (const auto& r : m_parsed.records) {
            auto [it, fresh] = seen.emplace(std::make_tuple(r.segment, r.bus, r.devfn), r.line);
            if (!fresh) fail(r.line, "duplicate device " + lspci::bdf_string(r) + " (first at line " + std::to_string(it->second) + ")");
        }
        bool with_domain = std::any_of(m_parsed.records.begin(), m_parsed.records.end(), [](const record& r) { return r.has_domain; });
        if (!with_domain) m_notes.push_back("the dump has no PCI domains (lspci without -D): everything is taken as domain 0000");
    }

    void add_captured(const record& r) {
        item it{&r, {}, false, 0, 0};
        auto& pp = it.desc.params;
        pp.kind = function_kind::captured;
        pp.config = r.bytes;
        if (pp.config.size() < pci::PCI_CFG_SPACE_SIZE) pp.config.resize(pci::PCI_CFG_SPACE_SIZE, 0);
        pp.vendor_id = captured::get16(pp.config, pci::PCI_VENDOR_ID);
        pp.device_id = captured::get16(pp.config, pci::PCI_DEVICE_ID);
        if (pp.vendor_id == 0xffff || pp.vendor_id == 0) {
            m_notes.push_back(lspci::bdf_string(r) + " reads vendor ID " + hex4(pp.vendor_id) + " in its hex dump (an SR-IOV "
                              "virtual function or a device that did not answer); Linux does not find such functions by "
                              "scanning, so it is left out");
            return;
        }
        if (r.vendor && (*r.vendor != pp.vendor_id || *r.device != pp.device_id))
            fail(r.line, "the device line says [" + hex4(*r.vendor) + ":" + hex4(*r.device) + "] but its hex dump reads " +
                 hex4(pp.vendor_id) + ":" + hex4(pp.device_id));
        pp.multifunction = captured::multifunction(pp.config);
        pp.class_code = captured::get32(pp.config, pci::PCI_CLASS_REVISION) >> 8;
        pp.revision = captured::get8(pp.config, pci::PCI_REVISION_ID);
        if (captured::header_type(pp.config) == pci::PCI_HEADER_TYPE_BRIDGE) {
            it.bridge = true;
            pp.primary_bus = captured::get8(pp.config, pci::PCI_PRIMARY_BUS);
            pp.secondary_bus = captured::get8(pp.config, pci::PCI_SECONDARY_BUS);
            pp.subordinate_bus = captured::get8(pp.config, pci::PCI_SUBORDINATE_BUS);
        }
        finish_item(std::move(it));
    }

    void add_decoded(const record& r, lspci::decode_gaps& gaps) {
        item it{&r, {}, false, 0, 0};
        it.desc.params = lspci::decode(r, m_source, gaps);
        it.bridge = pci::is_bridge(it.desc.params.kind);
        finish_item(std::move(it));
    }

    void finish_item(item it) {
        const record& r = *it.rec;
        it.desc.where = loc(r.line);
        it.desc.devfn = r.devfn;
        it.desc.name = r.description.substr(0, 120);
        if (it.bridge) {
            it.sec = *it.desc.params.secondary_bus;
            it.sub = *it.desc.params.subordinate_bus;
        }
        m_items.push_back(std::move(it));
    }

    // Linux scans functions 1-7 only when function 0 has the multifunction bit, so a slot that shows
    // several functions had it set; -vvv does not print the header type, so set it on all of them.
    void infer_multifunction() {
        std::map<std::tuple<unsigned, unsigned, unsigned>, unsigned> per_slot;
        auto key = [](const item& i) { return std::make_tuple(unsigned(i.rec->segment), unsigned(i.rec->bus), pci_slot(i.rec->devfn)); };
        for (const auto& i : m_items) per_slot[key(i)]++;
        for (auto& i : m_items)
            if (per_slot[key(i)] > 1) i.desc.params.multifunction = true;
    }

    void decoded_notes(const lspci::decode_gaps& gaps) {
        m_notes.push_back("built from decoded lspci -vvv text without hex: capability offsets, vendor-specific registers "
                          "and registers lspci does not print are laid out by the simulator, not copied");
        m_notes.push_back("multifunction bits inferred: every function of a slot with several functions is marked multifunction "
                          "(single-function slots that had the bit set cannot be recognised)");
        if (gaps.bar_size_unknown)
            m_notes.push_back("some BAR sizes were not shown (no [size=...]; lspci needs root for them, or the dump was decoded "
                              "from a file): those BARs are left out");
        if (gaps.acs_egress_unknown)
            m_notes.push_back("ACS egress control is advertised somewhere but its vector size is not printed: taken as 0");
        if (gaps.sriov) m_notes.push_back("SR-IOV capabilities are present; virtual functions are not created");
        bool rcba_ports = false;
        for (auto& i : m_items) {
            const auto& pp = i.desc.params;
            if (pp.vendor_id != pci::PCI_VENDOR_ID_INTEL || pp.kind != function_kind::root_port) continue;
            if (intel_pch_rcba_port(pp.device_id)) rcba_ports = true;
            if (intel_spt_port(pp.device_id) && pp.acs)
                m_notes.push_back(lspci::bdf_string(*i.rec) + " (8086:" + hex4(pp.device_id) + ") is a Sunrise/Union Point PCH "
                                  "root port: its real ACS control is the dword at cap+8, which lspci's ACSCtl does not show; "
                                  "the capability is taken from ACSCap and the control as lspci printed it");
        }
        if (!rcba_ports) return;
        for (auto& i : m_items) {
            auto& pp = i.desc.params;
            if (pp.vendor_id == pci::PCI_VENDOR_ID_INTEL && (pp.class_code >> 8) == pci::PCI_CLASS_BRIDGE_ISA &&
                i.rec->bus == 0 && i.rec->devfn == pci_devfn(0x1f, 0)) {
                pp.rcba = 0xfed1c001;
                m_notes.push_back("the Intel PCH root ports here are isolated by Linux's RCBA-based PCH ACS quirk, but -vvv does "
                                  "not show the LPC bridge's RCBA register (config 0xf0): assumed enabled at 0xfed1c000 as "
                                  "firmware usually sets it, so the quirk is assumed to succeed");
            }
        }
    }

    void captured_notes() {
        std::vector<std::string> short_pcie, only64;
        for (const auto& i : m_items) {
            const record& r = *i.rec;
            if (r.bytes.size() == 64) only64.push_back(lspci::bdf_string(r));
            else if (r.bytes.size() == 256 && captured::pcie_type(i.desc.params.config)) short_pcie.push_back(lspci::bdf_string(r));
            if (pci_func(r.devfn) != 0) {
                auto f0 = std::find_if(m_items.begin(), m_items.end(), [&](const item& o) {
                    return o.rec->segment == r.segment && o.rec->bus == r.bus && o.rec->devfn == pci_devfn(pci_slot(r.devfn), 0);
                });
                if (f0 != m_items.end() && !f0->desc.params.multifunction)
                    m_notes.push_back(lspci::bdf_string(r) + " exists although function 0 of its slot lacks the multifunction "
                                      "bit (ARI or SR-IOV); the simulated kernel's scan will not find it");
            }
        }
        auto list = [](const std::vector<std::string>& v) {
            std::string s;
            for (size_t k = 0; k < v.size() && k < 12; ++k) s += (k ? ", " : "") + v[k];
            if (v.size() > 12) s += ", ...";
            return s;
        };
        if (!only64.empty())
            m_notes.push_back("only the first 64 bytes were captured (lspci -x) for " + list(only64) + ": no capabilities can be "
                              "seen, so these act as conventional PCI functions without MSI, PCIe or ACS; capture with "
                              "`sudo lspci -xxxx`");
        if (!short_pcie.empty())
            m_notes.push_back("only 256 bytes were captured (lspci -xxx, or not as root) for the PCIe functions " + list(short_pcie) +
                              ": the ACS extended capability cannot be seen, so they are treated as having none");
    }

    void build_tree(platform_desc& p) {
        // secondary bus -> bridge item, per segment
        std::map<std::pair<unsigned, unsigned>, size_t> by_sec;
        for (size_t k = 0; k < m_items.size(); ++k) {
            const item& i = m_items[k];
            if (!i.bridge) continue;
            const record& r = *i.rec;
            if (i.sec <= r.bus)
                fail(r.line, "bridge " + lspci::bdf_string(r) + " has secondary bus " + hex2(i.sec) + ", which is not above its own bus " +
                     hex2(r.bus) + " (firmware left it unconfigured?)");
            if (i.sub < i.sec)
                fail(r.line, "bridge " + lspci::bdf_string(r) + " has subordinate bus " + hex2(i.sub) + " below its secondary bus " + hex2(i.sec));
            auto [it, fresh] = by_sec.emplace(std::make_pair(unsigned(r.segment), i.sec), k);
            if (!fresh)
                fail(r.line, "bridges " + lspci::bdf_string(*m_items[it->second].rec) + " and " + lspci::bdf_string(r) +
                     " both claim secondary bus " + hex2(i.sec));
        }
        // parent of each item: the bridge leading to its bus, or a root bus
        std::map<std::pair<unsigned, unsigned>, std::vector<size_t>> on_bus;
        std::set<std::pair<unsigned, unsigned>> roots;
        for (size_t k = 0; k < m_items.size(); ++k) {
            const record& r = *m_items[k].rec;
            auto key = std::make_pair(unsigned(r.segment), unsigned(r.bus));
            on_bus[key].push_back(k);
            if (by_sec.count(key)) continue;
            for (const auto& [sk, bk] : by_sec) {
                const item& b = m_items[bk];
                if (sk.first == r.segment && r.bus >= b.sec && r.bus <= b.sub)
                    fail(r.line, lspci::bdf_string(r) + " is on bus " + hex2(r.bus) + ", inside the range " + hex2(b.sec) + "-" +
                         hex2(b.sub) + " of bridge " + lspci::bdf_string(*b.rec) + ", but no bridge has secondary bus " + hex2(r.bus));
            }
            roots.insert(key);
        }
        for (const auto& key : roots) {
            root_bus_desc rb;
            rb.segment = u16(key.first);
            rb.bus = u8(key.second);
            auto next = roots.upper_bound(key);
            rb.bus_end = (next != roots.end() && next->first == key.first) ? u8(next->second - 1) : u8(0xff);
            rb.where = loc(m_items[on_bus[key].front()].rec->line);
            for (size_t k : on_bus[key]) rb.functions.push_back(subtree(k, on_bus, 1));
            p.root_buses.push_back(std::move(rb));
        }
        if (roots.size() > 1)
            m_notes.push_back("root buses are taken in ascending order; firmware (ACPI) may list the host bridges in "
                              "another order, which renumbers the groups (and /dev/vfio/N) but does not change which "
                              "devices share a group");
    }

    // Secondary buses are strictly above their bridge's bus (checked above), so this recursion ends
    // within 256 levels.
    function_desc subtree(size_t k, std::map<std::pair<unsigned, unsigned>, std::vector<size_t>>& on_bus, unsigned depth) {
        function_desc d = m_items[k].desc;
        if (!m_items[k].bridge || depth > max_bus_depth) return d;
        auto it = on_bus.find(std::make_pair(unsigned(m_items[k].rec->segment), m_items[k].sec));
        if (it == on_bus.end()) return d;
        for (size_t c : it->second) d.children.push_back(subtree(c, on_bus, depth + 1));
        return d;
    }

    void guess_iommu(platform_desc& p) {
        if (m_opt.iommu) {
            p.iommu = *m_opt.iommu;
            m_notes.push_back(std::string("IOMMU set by the caller: ") + to_string(p.iommu));
            return;
        }
        const record* amd = nullptr;
        for (const auto& i : m_items)
            if (i.desc.params.vendor_id == pci::PCI_VENDOR_ID_AMD && (i.desc.params.class_code >> 8) == 0x0806) amd = i.rec;
        p.iommu = amd ? iommu_kind::amd_vi : iommu_kind::intel_vtd;
        m_notes.push_back(amd ? "IOMMU guessed as amd: " + lspci::bdf_string(*amd) + " is an AMD IOMMU function (class 0806)"
                              : std::string("IOMMU guessed as intel (no AMD IOMMU function in the dump); override if the "
                                            "machine has none or another kind"));
    }

    std::string m_source;
    lspci_import_options m_opt;
    lspci::parse_result m_parsed;
    std::vector<item> m_items;
    std::vector<std::string> m_notes;
};

} // namespace

platform_desc import_lspci_text(const std::string& text, const std::string& source, const lspci_import_options& opt) {
    return importer(source, opt).run(text);
}

platform_desc import_lspci_file(const std::string& path, const lspci_import_options& opt) {
    return import_lspci_text(read_text_file(path), path, opt);
}

} // namespace iommusim::platforms

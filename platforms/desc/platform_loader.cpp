#include "platforms/desc/platform_loader.h"

#include "models/iommu/amdvi/tlm/amdvi_unit_params.h"
#include "models/iommu/tce/phb_opal.h"
#include "models/iommu/tce/tlm/tce_unit_params.h"
#include "models/iommu/vtd/tlm/vtd_unit_params.h"

#include "models/pci/cfg/pci_regs.h"
#include "platforms/desc/json_fields.h"
#include "platforms/desc/platform_check.h"
#include "sim/core/bdf.h"
#include "sim/core/json_file.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace iommusim::platforms {

using pci::function_kind;
using nlohmann::json;

namespace {

// Defaults when a device leaves out its IDs or class: QEMU's devices of that kind, so a quick test
// platform looks like a VM rather than matching a real vendor's quirk by accident.
struct kind_defaults { function_kind kind; u16 vendor, device; u32 class_code; };
constexpr kind_defaults k_defaults[] = {
    {function_kind::host_bridge, 0x8086, 0x29c0, 0x060000},        // q35 host bridge
    {function_kind::root_port, 0x1b36, 0x000c, 0x060400},          // pcie-root-port
    {function_kind::switch_upstream, 0x104c, 0x8232, 0x060400},    // x3130-upstream
    {function_kind::switch_downstream, 0x104c, 0x8233, 0x060400},  // xio3130-downstream
    {function_kind::pcie_to_pci_bridge, 0x1b36, 0x000e, 0x060400}, // pcie-pci-bridge
    {function_kind::pci_to_pcie_bridge, 0x1b36, 0x000e, 0x060400},
    {function_kind::pci_bridge, 0x1b36, 0x0001, 0x060400},         // pci-bridge
    {function_kind::endpoint, 0x1b36, 0x0005, 0xff0000},           // pci-testdev, unclassified
    {function_kind::legacy_endpoint, 0x1b36, 0x0005, 0xff0000},
    {function_kind::rc_endpoint, 0x1b36, 0x0005, 0xff0000},
    {function_kind::rc_event_collector, 0x1b36, 0x0005, 0x080700}, // class: root complex event collector
    {function_kind::pci_endpoint, 0x1b36, 0x0005, 0xff0000},
};

const kind_defaults& defaults_for(function_kind k) {
    for (const auto& d : k_defaults)
        if (d.kind == k) return d;
    return k_defaults[7];
}

struct acs_flag { const char* short_name; const char* lspci_name; u16 bit; };
constexpr acs_flag k_acs_flags[] = {
    {"SV", "SrcValid", pci::PCI_ACS_SV}, {"TB", "TransBlk", pci::PCI_ACS_TB},
    {"RR", "ReqRedir", pci::PCI_ACS_RR}, {"CR", "CmpltRedir", pci::PCI_ACS_CR},
    {"UF", "UpstreamFwd", pci::PCI_ACS_UF}, {"EC", "EgressCtrl", pci::PCI_ACS_EC},
    {"DT", "DirectTrans", pci::PCI_ACS_DT},
};

bool is_pow2(u64 v) { return v && !(v & (v - 1)); }

class loader {
public:
    loader(std::string source) : m_in(std::move(source)) {}

    platform_desc load(const json& j, const std::string& root) {
        m_in.check_members(j, root, {"$schema", "name", "description", "comment", "iommu", "params", "root_buses", "ivrs"});
        platform_desc p;
        p.source = m_in.file();
        if (j.contains("name")) p.name = m_in.get_string(j["name"], json_ptr(root, "name"));
        else p.name = std::filesystem::path(m_in.file()).stem().string();
        if (j.contains("description")) p.description = m_in.get_string(j["description"], json_ptr(root, "description"));
        if (j.contains("comment")) m_in.get_string(j["comment"], json_ptr(root, "comment"));
        if (j.contains("iommu")) {
            std::string ptr = json_ptr(root, "iommu"), s = m_in.get_string(j["iommu"], ptr);
            if (s == "intel") p.iommu = iommu_kind::intel_vtd;
            else if (s == "amd") p.iommu = iommu_kind::amd_vi;
            else if (s == "spapr") p.iommu = iommu_kind::spapr;
            else if (s == "powernv") p.iommu = iommu_kind::powernv;
            else if (s == "none") p.iommu = iommu_kind::none;
            else
                m_in.fail(ptr, "iommu must be \"intel\", \"amd\", \"spapr\", \"powernv\" or \"none\", got \"" +
                                   s.substr(0, 40) + "\"");
        }
        if (j.contains("params")) p.params = params(j["params"], json_ptr(root, "params"));
        if (j.contains("ivrs")) p.ivrs = ivrs(j["ivrs"], json_ptr(root, "ivrs"));
        std::string rb_ptr = json_ptr(root, "root_buses");
        if (!j.contains("root_buses")) m_in.fail(root, "missing required field \"root_buses\"");
        const json& rbs = j["root_buses"];
        if (!rbs.is_array()) m_in.fail(rb_ptr, std::string("expected an array, got ") + json_type_name(rbs));
        if (rbs.empty()) m_in.fail(rb_ptr, "a platform needs at least one root bus");
        for (size_t i = 0; i < rbs.size(); ++i) p.root_buses.push_back(root_bus(rbs[i], json_ptr(rb_ptr, i)));
        default_bus_ends(p);
        check_platform(p);
        return p;
    }

private:
    // Latency in nanoseconds: a finite, non-negative number below one second.
    double get_ns(const json& v, const std::string& ptr) const {
        if (!v.is_number()) m_in.fail(ptr, std::string("expected a number of nanoseconds, got ") + json_type_name(v));
        const double d = v.get<double>();
        if (!(d >= 0 && d < 1e9)) m_in.fail(ptr, "latency must be between 0 and 1e9 ns");
        return d;
    }

    // A requester ID written "bb:dd.f" (the segment is a separate member).
    u16 devid(const json& v, const std::string& ptr) const {
        const std::string s = m_in.get_string(v, ptr);
        auto b = bdf::parse(s);
        if (!b || b->segment != 0) m_in.fail(ptr, "expected a device ID \"bb:dd.f\", got \"" + s.substr(0, 40) + "\"");
        return b->rid();
    }

    // "ivrs": AMD-Vi IVRS entries beyond the derived ones (aliases, the IO-APIC, unity maps).
    ivrs_desc ivrs(const json& j, const std::string& ptr) {
        m_in.check_members(j, ptr, {"aliases", "ioapic", "unity_maps"});
        ivrs_desc d;
        auto array = [&](const char* key) -> const json& {
            const json& a = j[key];
            if (!a.is_array()) m_in.fail(json_ptr(ptr, key), std::string("expected an array, got ") + json_type_name(a));
            return a;
        };
        if (j.contains("aliases")) {
            const json& a = array("aliases");
            for (size_t i = 0; i < a.size(); ++i) {
                const std::string ap = json_ptr(json_ptr(ptr, "aliases"), i);
                m_in.check_members(a[i], ap, {"segment", "devid", "last", "to"});
                ivrs_alias_desc e;
                e.where = ap;
                if (a[i].contains("segment")) e.segment = u16(m_in.get_uint(a[i]["segment"], json_ptr(ap, "segment"), 0xffff));
                if (!a[i].contains("devid") || !a[i].contains("to")) m_in.fail(ap, "an alias needs \"devid\" and \"to\"");
                e.devid = devid(a[i]["devid"], json_ptr(ap, "devid"));
                e.last = a[i].contains("last") ? devid(a[i]["last"], json_ptr(ap, "last")) : e.devid;
                if (e.last < e.devid) m_in.fail(json_ptr(ap, "last"), "the range ends before it starts");
                e.to = devid(a[i]["to"], json_ptr(ap, "to"));
                d.aliases.push_back(e);
            }
        }
        if (j.contains("ioapic")) {
            const json& io = j["ioapic"];
            const std::string ip = json_ptr(ptr, "ioapic");
            if (io.is_boolean()) {
                d.ioapic = io.get<bool>();
            } else {
                m_in.check_members(io, ip, {"id", "devid"});
                if (io.contains("id")) d.ioapic_id = u8(m_in.get_uint(io["id"], json_ptr(ip, "id"), 0xff));
                if (io.contains("devid")) d.ioapic_devid = devid(io["devid"], json_ptr(ip, "devid"));
            }
        }
        if (j.contains("unity_maps")) {
            const json& a = array("unity_maps");
            for (size_t i = 0; i < a.size(); ++i) {
                const std::string up = json_ptr(json_ptr(ptr, "unity_maps"), i);
                m_in.check_members(a[i], up, {"segment", "devid", "last", "start", "length", "read", "write"});
                ivrs_unity_desc e;
                e.where = up;
                if (a[i].contains("segment")) e.segment = u16(m_in.get_uint(a[i]["segment"], json_ptr(up, "segment"), 0xffff));
                if (a[i].contains("devid")) {
                    e.devid = devid(a[i]["devid"], json_ptr(up, "devid"));
                    e.type = 0x21;
                    if (a[i].contains("last")) {
                        e.last = devid(a[i]["last"], json_ptr(up, "last"));
                        e.type = 0x22;
                    }
                } else {
                    e.type = 0x20;  // every device
                }
                if (!a[i].contains("start") || !a[i].contains("length")) m_in.fail(up, "a unity map needs \"start\" and \"length\"");
                e.start = m_in.get_uint(a[i]["start"], json_ptr(up, "start"), (u64(1) << 52) - 1);
                e.length = m_in.get_size(a[i]["length"], json_ptr(up, "length"));
                if (a[i].contains("read")) e.read = m_in.get_bool(a[i]["read"], json_ptr(up, "read"));
                if (a[i].contains("write")) e.write = m_in.get_bool(a[i]["write"], json_ptr(up, "write"));
                d.unity.push_back(e);
            }
        }
        return d;
    }

    // "params": fabric timing and the firmware's address map (platform_params_info describes each).
    platform_params params(const json& j, const std::string& ptr) {
        m_in.check_members(j, ptr, {"timing", "ecam_base_segment0", "ecam_base_high", "mmio32_base", "mmio32_limit",
                                    "mmio64_base", "mmio64_size_per_root_bus", "system_bus_ns", "memory",
                                    "p2p_between_root_ports", "vtd_units", "vtd", "amdvi_units", "amdvi", "amdvi_base",
                                    "tce", "phb_reg_base"});
        platform_params p;
        const u64 addr_max = (u64(1) << 52) - 1; // x86-64 physical address width limit
        auto addr = [&](const char* key, u64& field) {
            if (j.contains(key)) field = m_in.get_uint(j[key], json_ptr(ptr, key), addr_max);
        };
        addr("ecam_base_segment0", p.ecam_base_segment0);
        addr("ecam_base_high", p.ecam_base_high);
        addr("mmio32_base", p.mmio32_base);
        addr("mmio32_limit", p.mmio32_limit);
        addr("mmio64_base", p.mmio64_base);
        if (j.contains("mmio64_size_per_root_bus"))
            p.mmio64_size_per_root_bus = m_in.get_size(j["mmio64_size_per_root_bus"], json_ptr(ptr, "mmio64_size_per_root_bus"));
        if (j.contains("system_bus_ns")) p.system_bus_ns = get_ns(j["system_bus_ns"], json_ptr(ptr, "system_bus_ns"));
        if (p.ecam_base_segment0 & 0xfffffff) m_in.fail(json_ptr(ptr, "ecam_base_segment0"), "ECAM base must be 256 MiB aligned");
        if (p.ecam_base_high & 0xfffffff) m_in.fail(json_ptr(ptr, "ecam_base_high"), "ECAM base must be 256 MiB aligned");
        if (p.mmio32_limit <= p.mmio32_base || p.mmio32_limit > (u64(1) << 32))
            m_in.fail(json_ptr(ptr, "mmio32_limit"), "the 32-bit MMIO space must end above its base and at or below 4 GiB");
        if (j.contains("timing")) {
            const json& t = j["timing"];
            const std::string tp = json_ptr(ptr, "timing");
            m_in.check_members(t, tp, {"config_access_ns", "hop_ns", "mmio_access_ns", "host_bridge_ns"});
            auto ns = [&](const char* key, double& field) {
                if (t.contains(key)) field = get_ns(t[key], json_ptr(tp, key));
            };
            ns("config_access_ns", p.timing.config_access_ns);
            ns("hop_ns", p.timing.hop_ns);
            ns("mmio_access_ns", p.timing.mmio_access_ns);
            ns("host_bridge_ns", p.timing.host_bridge_ns);
        }
        if (j.contains("p2p_between_root_ports"))
            p.p2p_between_root_ports = m_in.get_bool(j["p2p_between_root_ports"], json_ptr(ptr, "p2p_between_root_ports"));
        if (j.contains("memory")) memory(j["memory"], json_ptr(ptr, "memory"), p.memory);
        if (j.contains("vtd_units")) p.vtd_units = m_in.get_bool(j["vtd_units"], json_ptr(ptr, "vtd_units"));
        // Unit parameters are checked here by name, type and range (and as a whole), so `validate` reports what
        // the platform would only find when it builds the units.
        unit_params<vtd::vtd_unit_params>(j, ptr, "vtd", vtd::set_vtd_unit_param, p.vtd);
        addr("amdvi_base", p.amdvi_base);
        if (p.amdvi_base & 0x3fff) m_in.fail(json_ptr(ptr, "amdvi_base"), "the AMD IOMMU register base must be 16 KiB aligned");
        if (j.contains("amdvi_units")) p.amdvi_units = m_in.get_bool(j["amdvi_units"], json_ptr(ptr, "amdvi_units"));
        unit_params<amdvi::amdvi_unit_params>(j, ptr, "amdvi", amdvi::set_amdvi_unit_param, p.amdvi);
        addr("phb_reg_base", p.phb_reg_base);
        if (p.phb_reg_base & (tce::PHB_REGS_STRIDE - 1))
            m_in.fail(json_ptr(ptr, "phb_reg_base"), "the PHB register base must be 1 MiB aligned");
        unit_params<tce::tce_unit_params>(j, ptr, "tce", tce::set_tce_unit_param, p.tce);
        return p;
    }

    // "params"."<key>": an IOMMU unit's parameters by their describe names, kept as JSON for the platform.
    template <class Params>
    void unit_params(const json& j, const std::string& ptr, const char* key,
                     void (*set)(Params&, const std::string&, const json&, const std::string&, const std::string&),
                     json& out) {
        if (!j.contains(key)) return;
        const std::string up = json_ptr(ptr, key);
        m_in.require_object(j[key], up);
        Params scratch;
        for (const auto& [name, value] : j[key].items()) set(scratch, name, value, m_in.file(), json_ptr(up, name));
        try {
            scratch.validate();
        } catch (const input_error& e) {
            throw input_error(m_in.file(), up + e.location(), e.message());
        }
        out = j[key];
    }

    // "params"."memory": system memory below the host bridges (memory_model_info describes each field).
    void memory(const json& j, const std::string& ptr, memory::memory_params& m) {
        m_in.require_object(j, ptr);
        m_in.check_members(j, ptr, {"size", "latency_ns", "bandwidth_bytes_per_ns", "dmi"});
        if (j.contains("size")) {
            const json& v = j["size"];
            // 0 (a number) means "no memory"; otherwise a size, at most the 52-bit physical address space.
            m.size = v.is_number_unsigned() && v.get<u64>() == 0 ? 0 : m_in.get_size(v, json_ptr(ptr, "size"));
            if (m.size > (u64(1) << 52)) m_in.fail(json_ptr(ptr, "size"), "memory larger than the 52-bit physical address space");
        }
        if (j.contains("latency_ns")) m.latency_ns = get_ns(j["latency_ns"], json_ptr(ptr, "latency_ns"));
        if (j.contains("bandwidth_bytes_per_ns")) {
            const json& v = j["bandwidth_bytes_per_ns"];
            const std::string bp = json_ptr(ptr, "bandwidth_bytes_per_ns");
            if (!v.is_number()) m_in.fail(bp, std::string("expected a number, got ") + json_type_name(v));
            const double b = v.get<double>();
            if (!(b > 0) || b > 1e6) m_in.fail(bp, "bandwidth must be above 0 and at most 1e6 bytes/ns");
            m.bandwidth_bytes_per_ns = b;
        }
        if (j.contains("dmi")) m.dmi = m_in.get_bool(j["dmi"], json_ptr(ptr, "dmi"));
    }

    root_bus_desc root_bus(const json& j, const std::string& ptr) {
        m_in.check_members(j, ptr, {"segment", "bus", "bus_end", "devices", "name", "comment"});
        root_bus_desc rb;
        rb.where = ptr;
        if (j.contains("segment")) rb.segment = u16(m_in.get_uint(j["segment"], json_ptr(ptr, "segment"), 0xffff));
        if (j.contains("bus")) rb.bus = u8(m_in.get_uint(j["bus"], json_ptr(ptr, "bus"), 0xff));
        if (j.contains("bus_end")) {
            rb.bus_end = u8(m_in.get_uint(j["bus_end"], json_ptr(ptr, "bus_end"), 0xff));
            m_explicit_end.insert(ptr);
        }
        if (j.contains("name")) m_in.get_string(j["name"], json_ptr(ptr, "name"));
        if (j.contains("comment")) m_in.get_string(j["comment"], json_ptr(ptr, "comment"));
        if (!j.contains("devices")) m_in.fail(ptr, "missing required field \"devices\"");
        rb.functions = function_list(j["devices"], json_ptr(ptr, "devices"), 1, false);
        return rb;
    }

    // bus_end defaults to just below the next root bus of the same segment (as ACPI _CRS ranges of
    // several host bridges split the bus space), else 0xff.
    void default_bus_ends(platform_desc& p) {
        for (auto& rb : p.root_buses) {
            if (m_explicit_end.count(rb.where)) continue;
            unsigned end = 0xff;
            for (const auto& other : p.root_buses)
                if (other.segment == rb.segment && other.bus > rb.bus) end = std::min<unsigned>(end, other.bus - 1u);
            rb.bus_end = u8(end);
        }
    }

    // conventional_bus: the list sits on a conventional PCI bus (below a pci_bridge or the PCI side of a
    // PCIe-to-PCI bridge), where a dma_engine is a conventional PCI function.
    std::vector<function_desc> function_list(const json& j, const std::string& ptr, unsigned depth, bool conventional_bus) {
        if (!j.is_array()) m_in.fail(ptr, std::string("expected an array of devices, got ") + json_type_name(j));
        if (depth > max_bus_depth)
            m_in.fail(ptr, "devices nested deeper than " + std::to_string(max_bus_depth) + " buses");
        std::vector<function_desc> out;
        std::set<size_t> explicit_mf;
        for (size_t i = 0; i < j.size(); ++i) {
            out.push_back(function(j[i], json_ptr(ptr, i), depth, conventional_bus));
            if (j[i].contains("multifunction")) explicit_mf.insert(i);
        }
        // A slot with several functions has the multifunction bit (on every function, as real devices do)
        // unless the user said otherwise; the checker then reports a function 0 without it.
        std::map<unsigned, unsigned> per_slot;
        for (const auto& f : out) per_slot[pci_slot(f.devfn)]++;
        for (size_t i = 0; i < out.size(); ++i)
            if (per_slot[pci_slot(out[i].devfn)] > 1 && !explicit_mf.count(i)) out[i].params.multifunction = true;
        return out;
    }

    u8 address(const json& j, const std::string& ptr) {
        if (j.contains("addr")) {
            std::string aptr = json_ptr(ptr, "addr");
            if (j.contains("slot") || j.contains("function"))
                m_in.fail(aptr, "give either \"addr\" or \"slot\"/\"function\", not both");
            std::string s = m_in.get_string(j["addr"], aptr);
            // "1c.0": slot in hex as Linux prints it, function 0-7.
            size_t dot = s.find('.');
            auto bad = [&] { m_in.fail(aptr, "expected slot.function such as \"1c.0\" (slot in hex), got \"" + s.substr(0, 40) + "\""); };
            if (dot == std::string::npos || dot == 0 || dot > 2 || s.size() != dot + 2) bad();
            unsigned slot = 0;
            for (size_t i = 0; i < dot; ++i) {
                char c = char(std::tolower(static_cast<unsigned char>(s[i])));
                if (!std::isxdigit(static_cast<unsigned char>(c))) bad();
                slot = slot * 16 + unsigned(std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : c - 'a' + 10);
            }
            if (!std::isdigit(static_cast<unsigned char>(s[dot + 1]))) bad();
            unsigned fn = unsigned(s[dot + 1] - '0');
            if (slot > 31) m_in.fail(aptr, "slot " + s.substr(0, dot) + " is out of range (00-1f)");
            if (fn > 7) m_in.fail(aptr, "function " + std::to_string(fn) + " is out of range (0-7)");
            return pci_devfn(slot, fn);
        }
        if (!j.contains("slot")) m_in.fail(ptr, "missing the device address: \"addr\": \"1c.0\" or \"slot\" (+ \"function\")");
        unsigned slot = unsigned(m_in.get_uint(j["slot"], json_ptr(ptr, "slot"), 31));
        unsigned fn = j.contains("function") ? unsigned(m_in.get_uint(j["function"], json_ptr(ptr, "function"), 7)) : 0;
        return pci_devfn(slot, fn);
    }

    function_kind kind(const json& j, const std::string& ptr) {
        if (!j.contains("kind")) m_in.fail(ptr, "missing required field \"kind\"");
        std::string kptr = json_ptr(ptr, "kind"), s = m_in.get_string(j["kind"], kptr);
        if (auto k = pci::function_kind_from_string(s)) return *k;
        std::string msg = "unknown kind \"" + s.substr(0, 40) + "\"";
        auto near = closest_name(s, {"host_bridge", "root_port", "switch_upstream", "switch_downstream",
                                     "pcie_to_pci_bridge", "pci_to_pcie_bridge", "pci_bridge", "endpoint",
                                     "legacy_endpoint", "rc_endpoint", "rc_event_collector", "pci_endpoint", "captured",
                                     "dma_engine"});
        m_in.fail(kptr, msg + (near ? "; did you mean \"" + *near + "\"?" : "; see docs/platform-format.md for the list"));
    }

    function_desc function(const json& j, const std::string& ptr, unsigned depth, bool conventional_bus) {
        m_in.check_members(j, ptr, {"addr", "slot", "function", "kind", "name", "comment", "vendor", "device", "class",
                                    "revision", "subsystem", "multifunction", "interrupt_pin", "acs", "msi", "msix",
                                    "pm", "ats", "pasid", "pri", "bars", "rom", "rcba", "bus_numbers", "children", "config",
                                    "dma_engine"});
        function_desc f;
        f.where = ptr;
        f.params.kind = kind(j, ptr);
        if (f.params.kind == function_kind::dma_engine) {
            f.params = pci::dma_engine_function_params();
            f.params.conventional = conventional_bus;
        } else if (j.contains("dma_engine")) {
            m_in.fail(json_ptr(ptr, "dma_engine"), "\"dma_engine\" parameters belong to a function of kind dma_engine");
        }
        f.devfn = address(j, ptr);
        if (j.contains("rom") && f.params.kind != function_kind::captured) {
            // Expansion ROM BAR (PCI 3.0 §6.2.5.2): a power of two from 2 KiB; firmware places it like a
            // 32-bit memory BAR and leaves it disabled.
            const std::string rptr = json_ptr(ptr, "rom");
            const u64 size = m_in.get_size(j["rom"], rptr);
            if (size < 2048 || size > (u64(1) << 31) || (size & (size - 1)))
                m_in.fail(rptr, "an expansion ROM is a power of two between 2K and 2G");
            f.params.rom_size = size;
        }
        if (j.contains("name")) f.name = m_in.get_string(j["name"], json_ptr(ptr, "name"));
        if (j.contains("comment")) m_in.get_string(j["comment"], json_ptr(ptr, "comment"));
        if (f.params.kind == function_kind::captured) captured_function(j, ptr, f);
        else described_function(j, ptr, f);
        bool bridge = desc_is_bridge(f);
        if (j.contains("bus_numbers")) {
            if (!bridge) m_in.fail(json_ptr(ptr, "bus_numbers"), "bus_numbers belong to bridges only");
            if (f.params.kind != function_kind::captured) bus_numbers(j["bus_numbers"], json_ptr(ptr, "bus_numbers"), f.params);
            else m_in.fail(json_ptr(ptr, "bus_numbers"), "a captured bridge takes its bus numbers from its config bytes");
        }
        if (j.contains("children")) {
            std::string cptr = json_ptr(ptr, "children");
            if (!bridge)
                m_in.fail(cptr, std::string("only bridges have children; a ") + pci::to_string(f.params.kind) + " has no secondary bus");
            const auto type = desc_pcie_type(f);
            // Below a conventional bridge, or on the PCI side of a PCIe-to-PCI bridge, the bus is conventional.
            const bool child_conventional = !type || *type == pci::PCI_EXP_TYPE_PCI_BRIDGE;
            f.children = function_list(j["children"], cptr, depth + 1, child_conventional);
        }
        return f;
    }

    void captured_function(const json& j, const std::string& ptr, function_desc& f) {
        for (const char* k : {"vendor", "device", "class", "revision", "subsystem", "multifunction", "interrupt_pin",
                              "acs", "msi", "msix", "pm", "ats", "pasid", "pri", "bars", "rom", "rcba", "dma_engine"})
            if (j.contains(k))
                m_in.fail(json_ptr(ptr, k), std::string("a captured function takes \"") + k + "\" from its config bytes; remove it");
        std::string cptr = json_ptr(ptr, "config");
        if (!j.contains("config")) m_in.fail(ptr, "a captured function needs \"config\": its config space as hex");
        std::string s = m_in.get_string(j["config"], cptr);
        std::vector<u8> bytes;
        int hi = -1;
        for (char c : s) {
            if (std::isspace(static_cast<unsigned char>(c))) continue;
            if (!std::isxdigit(static_cast<unsigned char>(c))) m_in.fail(cptr, std::string("non-hex character '") + c + "' in config");
            int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
            if (hi < 0) hi = d;
            else bytes.push_back(u8(hi << 4 | d)), hi = -1;
            if (bytes.size() > pci::PCI_CFG_SPACE_EXP_SIZE) break;
        }
        if (hi >= 0) m_in.fail(cptr, "odd number of hex digits in config");
        if (bytes.size() != 64 && bytes.size() != pci::PCI_CFG_SPACE_SIZE && bytes.size() != pci::PCI_CFG_SPACE_EXP_SIZE)
            m_in.fail(cptr, "config must hold 64, 256 or 4096 bytes, got " + std::to_string(bytes.size()));
        if (bytes.size() == 64) bytes.resize(pci::PCI_CFG_SPACE_SIZE, 0);
        f.params.config = std::move(bytes);
        f.params.vendor_id = u16(f.params.config[0] | f.params.config[1] << 8);
        f.params.device_id = u16(f.params.config[2] | f.params.config[3] << 8);
    }

    void described_function(const json& j, const std::string& ptr, function_desc& f) {
        auto& pp = f.params;
        bool pcie = pci::has_pcie_capability(pp), bridge = pci::is_bridge(pp.kind);
        if (pp.kind == function_kind::dma_engine) {
            // The model needs its own BAR0 / MSI / MSI-X layout (dma_engine_function_params): not overridable.
            for (const char* k : {"bars", "msi", "msix", "rcba"})
                if (j.contains(k))
                    m_in.fail(json_ptr(ptr, k), std::string("a dma_engine has a fixed \"") + k +
                              "\" layout (BAR0 64K mem64, MSI 4 vectors, MSI-X 4 entries in BAR0); remove it");
            if (j.contains("dma_engine")) engine(j["dma_engine"], json_ptr(ptr, "dma_engine"), pp.engine);
        } else {
            const auto& d = defaults_for(pp.kind);
            pp.vendor_id = d.vendor, pp.device_id = d.device, pp.class_code = d.class_code;
        }
        if (j.contains("vendor")) pp.vendor_id = u16(m_in.get_hex_id(j["vendor"], json_ptr(ptr, "vendor"), 0xfffe));
        if (j.contains("device")) pp.device_id = u16(m_in.get_hex_id(j["device"], json_ptr(ptr, "device"), 0xffff));
        if (j.contains("class")) pp.class_code = u32(m_in.get_hex_id(j["class"], json_ptr(ptr, "class"), 0xffffff));
        if (j.contains("revision")) pp.revision = u8(m_in.get_uint(j["revision"], json_ptr(ptr, "revision"), 0xff));
        if (j.contains("subsystem")) subsystem(j["subsystem"], json_ptr(ptr, "subsystem"), pp);
        if (j.contains("multifunction")) pp.multifunction = m_in.get_bool(j["multifunction"], json_ptr(ptr, "multifunction"));
        if (j.contains("interrupt_pin")) pp.interrupt_pin = interrupt_pin(j["interrupt_pin"], json_ptr(ptr, "interrupt_pin"));
        if (j.contains("pm")) pp.power_management = m_in.get_bool(j["pm"], json_ptr(ptr, "pm"));
        for (const char* k : {"acs", "ats", "pasid", "pri"})
            if (j.contains(k) && !pcie)
                m_in.fail(json_ptr(ptr, k), std::string("\"") + k + "\" is a PCI Express extended capability; a " +
                          pci::to_string(pp.kind) + (pp.conventional ? " on a conventional PCI bus" : "") +
                          " has no PCIe capability");
        if (j.contains("acs")) pp.acs = acs(j["acs"], json_ptr(ptr, "acs"));
        if (j.contains("ats")) pp.ats = m_in.get_bool(j["ats"], json_ptr(ptr, "ats"));
        if (j.contains("pasid")) pp.pasid = m_in.get_bool(j["pasid"], json_ptr(ptr, "pasid"));
        if (j.contains("pri")) pp.pri = m_in.get_bool(j["pri"], json_ptr(ptr, "pri"));
        if (pp.pri && !pp.ats) m_in.fail(json_ptr(ptr, "pri"), "PRI needs ATS (\"ats\": true)");
        if (j.contains("bars")) bars(j["bars"], json_ptr(ptr, "bars"), pp, bridge);
        if (j.contains("msi")) msi(j["msi"], json_ptr(ptr, "msi"), pp);
        if (j.contains("msix")) msix(j["msix"], json_ptr(ptr, "msix"), pp);
        if (j.contains("rcba")) {
            if (bridge) m_in.fail(json_ptr(ptr, "rcba"), "rcba is a register of the Intel PCH LPC function, not of a bridge");
            pp.rcba = u32(m_in.get_hex_id(j["rcba"], json_ptr(ptr, "rcba"), 0xffffffff));
        }
    }

    // "dma_engine": the engine's device-side limits (dma_engine_param_infos describes each).
    void engine(const json& v, const std::string& ptr, pci::dma_engine_params& e) {
        m_in.require_object(v, ptr);
        m_in.check_members(v, ptr, {"max_payload", "max_read_request", "per_byte_ns"});
        // PCIe §7.5.3.4: Max_Payload_Size and Max_Read_Request_Size encode 128 << n bytes, n = 0..5.
        auto pcie_size = [&](const char* key, unsigned& field) {
            if (!v.contains(key)) return;
            const std::string kp = json_ptr(ptr, key);
            const u64 n = m_in.get_size(v[key], kp);
            if (!is_pow2(n) || n < 128 || n > 4096) m_in.fail(kp, "must be 128, 256, 512, 1024, 2048 or 4096 bytes");
            field = unsigned(n);
        };
        pcie_size("max_payload", e.max_payload);
        pcie_size("max_read_request", e.max_read_request);
        if (v.contains("per_byte_ns")) {
            const std::string kp = json_ptr(ptr, "per_byte_ns");
            if (!v["per_byte_ns"].is_number()) m_in.fail(kp, std::string("expected a number of nanoseconds, got ") + json_type_name(v["per_byte_ns"]));
            const double d = v["per_byte_ns"].get<double>();
            if (!(d >= 0 && d <= 1e6)) m_in.fail(kp, "must be between 0 and 1e6 ns per byte");
            e.per_byte_ns = d;
        }
    }

    void subsystem(const json& v, const std::string& ptr, pci::function_params& pp) {
        if (v.is_string()) {  // lspci's "1af4:1100"
            const std::string& s = v.get_ref<const std::string&>();
            unsigned a = 0, b = 0;
            char tail = 0;
            if (s.size() != 9 || std::sscanf(s.c_str(), "%4x:%4x%c", &a, &b, &tail) != 2 || !std::isxdigit(static_cast<unsigned char>(s[0])))
                m_in.fail(ptr, "expected \"vvvv:dddd\" in hex (as lspci prints it) or {\"vendor\", \"device\"}");
            pp.subsystem_vendor_id = u16(a), pp.subsystem_id = u16(b);
            return;
        }
        m_in.check_members(v, ptr, {"vendor", "device"});
        if (!v.contains("vendor") || !v.contains("device")) m_in.fail(ptr, "subsystem needs both \"vendor\" and \"device\"");
        pp.subsystem_vendor_id = u16(m_in.get_hex_id(v["vendor"], json_ptr(ptr, "vendor"), 0xffff));
        pp.subsystem_id = u16(m_in.get_hex_id(v["device"], json_ptr(ptr, "device"), 0xffff));
    }

    u8 interrupt_pin(const json& v, const std::string& ptr) {
        if (v.is_string()) {
            const std::string& s = v.get_ref<const std::string&>();
            if (s == "none") return 0;
            if (s.size() == 1 && s[0] >= 'A' && s[0] <= 'D') return u8(s[0] - 'A' + 1);
            m_in.fail(ptr, "expected \"A\", \"B\", \"C\", \"D\" or \"none\"");
        }
        return u8(m_in.get_uint(v, ptr, 4));
    }

    u16 acs_bits(const json& v, const std::string& ptr) {
        if (v.is_array()) {
            u16 bits = 0;
            for (size_t i = 0; i < v.size(); ++i) {
                std::string eptr = json_ptr(ptr, i), s = m_in.get_string(v[i], eptr);
                const acs_flag* hit = nullptr;
                for (const auto& fl : k_acs_flags)
                    if (s == fl.short_name || s == fl.lspci_name) hit = &fl;
                if (!hit) {
                    auto near = closest_name(s, {"SV", "TB", "RR", "CR", "UF", "EC", "DT"});
                    m_in.fail(eptr, "unknown ACS flag \"" + s.substr(0, 20) + "\"" +
                              (near ? "; did you mean \"" + *near + "\"?" : "; flags are SV TB RR CR UF EC DT"));
                }
                bits |= hit->bit;
            }
            return bits;
        }
        u64 bits = m_in.get_uint(v, ptr, 0xffff);
        if (bits & ~u64(pci::PCI_ACS_ALL))
            m_in.fail(ptr, "only bits 0-6 (SV TB RR CR UF EC DT, mask 0x7f) are ACS flags; give the egress vector size as egress_bits");
        return u16(bits);
    }

    pci::acs_params acs(const json& v, const std::string& ptr) {
        m_in.check_members(v, ptr, {"cap", "ctrl", "egress_bits"});
        pci::acs_params a;
        if (!v.contains("cap")) m_in.fail(ptr, "ACS needs \"cap\": the flags the capability advertises");
        a.cap = acs_bits(v["cap"], json_ptr(ptr, "cap"));
        if (v.contains("ctrl")) a.ctrl = acs_bits(v["ctrl"], json_ptr(ptr, "ctrl"));
        if (a.ctrl & ~a.cap)
            m_in.fail(json_ptr(ptr, "ctrl"), "ctrl enables flags the capability does not advertise (hardware keeps those bits 0)");
        if (v.contains("egress_bits")) {
            a.egress_bits = u8(m_in.get_uint(v["egress_bits"], json_ptr(ptr, "egress_bits"), 0xff));
            if (!(a.cap & pci::PCI_ACS_EC)) m_in.fail(json_ptr(ptr, "egress_bits"), "egress_bits needs EC in cap");
        }
        return a;
    }

    void bars(const json& v, const std::string& ptr, pci::function_params& pp, bool bridge) {
        if (!v.is_array()) m_in.fail(ptr, std::string("expected an array of BARs, got ") + json_type_name(v));
        unsigned limit = bridge ? 2 : 6;
        std::map<unsigned, std::string> used; // BAR register -> where it was claimed
        for (size_t i = 0; i < v.size(); ++i) {
            std::string bptr = json_ptr(ptr, i);
            const json& b = v[i];
            m_in.check_members(b, bptr, {"index", "size", "type", "prefetchable", "address"});
            pci::bar_params bar;
            if (!b.contains("index")) m_in.fail(bptr, "missing required field \"index\"");
            bar.index = unsigned(m_in.get_uint(b["index"], json_ptr(bptr, "index"), limit - 1));
            if (!b.contains("size")) m_in.fail(bptr, "missing required field \"size\"");
            std::string sptr = json_ptr(bptr, "size");
            bar.size = m_in.get_size(b["size"], sptr);
            std::string type = b.contains("type") ? m_in.get_string(b["type"], json_ptr(bptr, "type")) : "mem32";
            if (type == "io") bar.io = true;
            else if (type == "mem64") bar.mem64 = true;
            else if (type != "mem32") m_in.fail(json_ptr(bptr, "type"), "BAR type must be \"mem32\", \"mem64\" or \"io\"");
            if (b.contains("prefetchable")) bar.prefetchable = m_in.get_bool(b["prefetchable"], json_ptr(bptr, "prefetchable"));
            if (!is_pow2(bar.size)) m_in.fail(sptr, "BAR size " + std::to_string(bar.size) + " is not a power of two");
            if (bar.io) {
                if (bar.size < 4 || bar.size > 256) m_in.fail(sptr, "an I/O BAR is 4 to 256 bytes");
                if (bar.prefetchable) m_in.fail(json_ptr(bptr, "prefetchable"), "I/O BARs are never prefetchable");
            } else {
                if (bar.size < 16) m_in.fail(sptr, "a memory BAR is at least 16 bytes");
                if (!bar.mem64 && bar.size > (u64(1) << 31)) m_in.fail(sptr, "a 32-bit BAR cannot be larger than 2G; use \"mem64\"");
                if (bar.mem64 && bar.size > (u64(1) << 63)) m_in.fail(sptr, "BAR too large");
            }
            if (b.contains("address")) {
                // Firmware places the BAR here (firmware_resources checks it against the apertures).
                const std::string aptr = json_ptr(bptr, "address");
                const u64 a = m_in.get_uint(b["address"], aptr, (u64(1) << 52) - 1);
                if (a & (bar.size - 1)) m_in.fail(aptr, "a BAR address must be aligned to its size (PCI 3.0 §6.2.5.1)");
                if (!bar.io && !bar.mem64 && a + bar.size > (u64(1) << 32))
                    m_in.fail(aptr, "a 32-bit BAR must lie below 4 GiB; use \"mem64\"");
                if (bar.io && a + bar.size > 0x10000) m_in.fail(aptr, "an I/O BAR must lie below 64K");
                pp.pinned_bars.emplace_back(bar.index, a);
            }
            if (bar.mem64 && bar.index + 1 >= limit)
                m_in.fail(json_ptr(bptr, "index"), "a 64-bit BAR takes two registers; BAR " + std::to_string(bar.index) +
                          " has no BAR " + std::to_string(bar.index + 1) + " after it");
            for (unsigned r = bar.index; r <= bar.index + (bar.mem64 ? 1u : 0u); ++r) {
                auto [it, fresh] = used.emplace(r, bptr);
                if (!fresh)
                    m_in.fail(bptr, "BAR register " + std::to_string(r) + " is already used by " + it->second +
                              (bar.mem64 ? " (a 64-bit BAR takes index and index+1)" : ""));
            }
            pp.bars.push_back(bar);
        }
    }

    void msi(const json& v, const std::string& ptr, pci::function_params& pp) {
        if (v.is_boolean()) {
            if (v.get<bool>()) pp.msi = pci::msi_params{};
            return;
        }
        m_in.check_members(v, ptr, {"vectors", "addr64", "per_vector_mask"});
        pci::msi_params m;
        if (v.contains("vectors")) {
            m.vectors = unsigned(m_in.get_uint(v["vectors"], json_ptr(ptr, "vectors"), 32));
            if (!is_pow2(m.vectors)) m_in.fail(json_ptr(ptr, "vectors"), "MSI vectors must be 1, 2, 4, 8, 16 or 32");
        }
        if (v.contains("addr64")) m.addr64 = m_in.get_bool(v["addr64"], json_ptr(ptr, "addr64"));
        if (v.contains("per_vector_mask")) m.per_vector_mask = m_in.get_bool(v["per_vector_mask"], json_ptr(ptr, "per_vector_mask"));
        pp.msi = m;
    }

    void msix(const json& v, const std::string& ptr, pci::function_params& pp) {
        if (v.is_boolean()) {
            if (v.get<bool>()) pp.msix = pci::msix_params{};
            return;
        }
        m_in.check_members(v, ptr, {"table_size", "table_bar", "table_offset", "pba_bar", "pba_offset"});
        pci::msix_params m;
        if (v.contains("table_size")) {
            m.table_size = unsigned(m_in.get_uint(v["table_size"], json_ptr(ptr, "table_size"), 2048));
            if (m.table_size == 0) m_in.fail(json_ptr(ptr, "table_size"), "an MSI-X table has at least one entry");
        }
        if (v.contains("table_bar")) m.table_bar = unsigned(m_in.get_uint(v["table_bar"], json_ptr(ptr, "table_bar"), 5));
        if (v.contains("table_offset")) m.table_offset = u32(m_in.get_uint(v["table_offset"], json_ptr(ptr, "table_offset"), 0xfffffff8));
        if (v.contains("pba_bar")) m.pba_bar = unsigned(m_in.get_uint(v["pba_bar"], json_ptr(ptr, "pba_bar"), 5));
        if (v.contains("pba_offset")) m.pba_offset = u32(m_in.get_uint(v["pba_offset"], json_ptr(ptr, "pba_offset"), 0xfffffff8));
        if (m.table_offset & 7) m_in.fail(json_ptr(ptr, "table_offset"), "the MSI-X table offset must be 8-byte aligned");
        if (m.pba_offset & 7) m_in.fail(json_ptr(ptr, "pba_offset"), "the MSI-X PBA offset must be 8-byte aligned");
        // When BARs are declared, the table and PBA must lie inside one of them.
        if (!pp.bars.empty()) {
            auto inside = [&](unsigned bar, u64 off, u64 len, const char* what, const char* field) {
                auto it = std::find_if(pp.bars.begin(), pp.bars.end(), [&](const auto& b) { return b.index == bar; });
                if (it == pp.bars.end() || it->io)
                    m_in.fail(json_ptr(ptr, field), std::string("the MSI-X ") + what + " BAR " + std::to_string(bar) + " is not a declared memory BAR");
                if (off + len > it->size)
                    m_in.fail(json_ptr(ptr, field), std::string("the MSI-X ") + what + " does not fit in BAR " + std::to_string(bar));
            };
            inside(m.table_bar, m.table_offset, u64(m.table_size) * 16, "table", "table_bar");
            inside(m.pba_bar, m.pba_offset, (u64(m.table_size) + 63) / 64 * 8, "PBA", "pba_bar");
        }
        pp.msix = m;
    }

    void bus_numbers(const json& v, const std::string& ptr, pci::function_params& pp) {
        m_in.check_members(v, ptr, {"primary", "secondary", "subordinate"});
        for (const char* k : {"primary", "secondary", "subordinate"})
            if (!v.contains(k)) m_in.fail(ptr, std::string("missing \"") + k + "\"; give primary, secondary and subordinate together");
        pp.primary_bus = u8(m_in.get_uint(v["primary"], json_ptr(ptr, "primary"), 0xff));
        pp.secondary_bus = u8(m_in.get_uint(v["secondary"], json_ptr(ptr, "secondary"), 0xff));
        pp.subordinate_bus = u8(m_in.get_uint(v["subordinate"], json_ptr(ptr, "subordinate"), 0xff));
    }

    json_fields m_in;
    std::set<std::string> m_explicit_end;
};

} // namespace

platform_desc load_platform_json(const json& j, const std::string& source, const std::string& json_pointer_prefix) {
    return loader(source).load(j, json_pointer_prefix);
}

platform_desc load_platform_text(const std::string& text, const std::string& source) {
    return load_platform_json(parse_json_text(text, source, 4 * max_bus_depth + 64), source);
}

platform_desc load_platform_file(const std::string& path) { return load_platform_text(read_text_file(path), path); }

std::vector<std::string> preset_dirs() {
    std::vector<std::string> dirs;
    if (const char* env = std::getenv("IOMMUSIM_PLATFORM_PATH")) {
        std::string list = env;
        for (size_t start = 0; start <= list.size();) {
            const size_t end = std::min(list.find(':', start), list.size());
            if (end > start) dirs.push_back(list.substr(start, end - start));
            start = end + 1;
        }
    }
    // An installed iommusim finds its own presets; a build tree uses the source tree's.
    std::error_code ec;
    if (std::filesystem::is_directory(IOMMUSIM_INSTALLED_PRESET_DIR, ec)) dirs.emplace_back(IOMMUSIM_INSTALLED_PRESET_DIR);
    dirs.emplace_back(IOMMUSIM_PRESET_DIR);
    return dirs;
}

std::vector<std::string> preset_names() {
    std::vector<std::string> names;
    for (const auto& dir : preset_dirs()) {
        std::error_code ec;
        for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
            if (it->path().extension() == ".json") names.push_back(it->path().stem().string());
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

std::string preset_path(const std::string& name) {
    for (const auto& dir : preset_dirs()) {
        const auto p = std::filesystem::path(dir) / (name + ".json");
        std::error_code ec;
        if (std::filesystem::is_regular_file(p, ec)) return p.string();
    }
    std::string known;
    for (const auto& n : preset_names()) known += " " + n;
    throw input_error("", "", "unknown preset \"" + name + "\"; presets:" + known);
}

platform_desc load_preset(const std::string& name) { return load_platform_file(preset_path(name)); }

} // namespace iommusim::platforms

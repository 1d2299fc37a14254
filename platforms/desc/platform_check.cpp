#include "platforms/desc/platform_check.h"

#include "models/pci/cfg/pci_regs.h"
#include "platforms/desc/captured_config.h"
#include "platforms/desc/hex_text.h"
#include "sim/core/bdf.h"
#include "sim/core/input_error.h"

#include <cstdio>
#include <map>

namespace iommusim::platforms {

using pci::function_kind;

std::string sub_location(const std::string& where, const std::string& suffix) {
    if (where.compare(0, 5, "line ") == 0) return where;
    return where + suffix;
}

bool desc_is_bridge(const function_desc& f) {
    if (f.params.kind == function_kind::captured)
        return captured::header_type(f.params.config) == pci::PCI_HEADER_TYPE_BRIDGE;
    return pci::is_bridge(f.params.kind);
}

std::optional<u8> desc_pcie_type(const function_desc& f) {
    switch (f.params.kind) {
    case function_kind::root_port: return pci::PCI_EXP_TYPE_ROOT_PORT;
    case function_kind::switch_upstream: return pci::PCI_EXP_TYPE_UPSTREAM;
    case function_kind::switch_downstream: return pci::PCI_EXP_TYPE_DOWNSTREAM;
    case function_kind::pcie_to_pci_bridge: return pci::PCI_EXP_TYPE_PCI_BRIDGE;
    case function_kind::pci_to_pcie_bridge: return pci::PCI_EXP_TYPE_PCIE_BRIDGE;
    case function_kind::endpoint: return pci::PCI_EXP_TYPE_ENDPOINT;
    case function_kind::legacy_endpoint: return pci::PCI_EXP_TYPE_LEG_END;
    case function_kind::rc_endpoint: return pci::PCI_EXP_TYPE_RC_END;
    case function_kind::rc_event_collector: return pci::PCI_EXP_TYPE_RC_EC;
    case function_kind::captured: return captured::pcie_type(f.params.config);
    case function_kind::dma_engine:
        if (f.params.conventional) return std::nullopt;
        return pci::PCI_EXP_TYPE_ENDPOINT;
    default: return std::nullopt;
    }
}

namespace {

// A bus as the checker sees it: its functions, the bridge above (nullptr on a root bus), its number when
// firmware fixed it, and the range of bus numbers below it that its bridges may use.
struct bus_view {
    const std::vector<function_desc>* functions;
    const function_desc* parent;
    std::optional<unsigned> number;
    unsigned lo, hi;      // usable for subordinate buses; lo > hi means none
    bool ranges_known;
};

class checker {
public:
    checker(const platform_desc& p, const check_options& opt) : m_p(p), m_opt(opt) {}

    void run() {
        check_root_buses();
        for (const auto& rb : m_p.root_buses) {
            bus_view v{&rb.functions, nullptr, rb.bus, unsigned(rb.bus) + 1, rb.bus_end, true};
            unsigned needed = check_bus(v, 1);
            unsigned avail = unsigned(rb.bus_end) - rb.bus + 1;
            if (needed > avail)
                fail(rb.where, "this hierarchy needs " + std::to_string(needed) + " bus numbers (one per bridge "
                     "plus the root bus) but the root bus range " + hex2(rb.bus) + "-" + hex2(rb.bus_end) +
                     " has only " + std::to_string(avail));
        }
    }

private:
    [[noreturn]] void fail(const std::string& where, const std::string& msg) const {
        throw input_error(m_p.source, where, msg);
    }

    void check_root_buses() {
        std::map<std::pair<unsigned, unsigned>, const root_bus_desc*> seen; // (segment, bus)
        for (const auto& rb : m_p.root_buses) {
            if (rb.bus_end < rb.bus)
                fail(sub_location(rb.where, "/bus_end"), "bus_end " + hex2(rb.bus_end) + " is below the first bus " + hex2(rb.bus));
            auto key = std::make_pair(unsigned(rb.segment), unsigned(rb.bus));
            if (auto it = seen.find(key); it != seen.end())
                fail(rb.where, "duplicate root bus " + hex2(rb.bus) + " in segment " + std::to_string(rb.segment) +
                     " (also at " + it->second->where + ")");
            for (const auto& [k, other] : seen)
                if (k.first == key.first && rb.bus <= other->bus_end && other->bus <= rb.bus_end)
                    fail(rb.where, "bus range " + hex2(rb.bus) + "-" + hex2(rb.bus_end) + " overlaps root bus " +
                         hex2(other->bus) + "-" + hex2(other->bus_end) + " at " + other->where);
            seen[key] = &rb;
        }
    }

    void check_placement(const bus_view& bus, const function_desc& f) const {
        auto parent_type = bus.parent ? desc_pcie_type(*bus.parent) : std::nullopt;
        bool parent_conventional = bus.parent && !parent_type;
        bool parent_pci_side = parent_conventional || parent_type == pci::PCI_EXP_TYPE_PCI_BRIDGE;
        bool parent_link = parent_type == pci::PCI_EXP_TYPE_ROOT_PORT || parent_type == pci::PCI_EXP_TYPE_DOWNSTREAM ||
                           parent_type == pci::PCI_EXP_TYPE_PCIE_BRIDGE;
        function_kind k = f.params.kind;
        const char* kname = pci::to_string(k);
        if (parent_link && pci_slot(f.devfn) != 0)
            fail(f.where, "a PCIe link below a root or downstream port carries only device 0; Linux scans "
                 "nothing else there (only_one_child), so " + addr_str(f.devfn) + " would never be found");
        if (parent_type == pci::PCI_EXP_TYPE_UPSTREAM && k != function_kind::switch_downstream && k != function_kind::captured)
            fail(f.where, std::string("only switch_downstream ports sit on a switch's internal bus, not ") + kname);
        if (k == function_kind::switch_downstream && parent_type != pci::PCI_EXP_TYPE_UPSTREAM)
            fail(f.where, "a switch_downstream port must be a child of a switch_upstream port");
        bool root_only = k == function_kind::root_port || k == function_kind::rc_endpoint ||
                         k == function_kind::rc_event_collector || k == function_kind::host_bridge;
        if (root_only && bus.parent)
            fail(f.where, std::string(kname) + " belongs on a root bus (a root_buses[] devices list), not below a bridge");
        bool needs_link = k == function_kind::endpoint || k == function_kind::legacy_endpoint ||
                          k == function_kind::switch_upstream || k == function_kind::pcie_to_pci_bridge ||
                          (k == function_kind::dma_engine && !f.params.conventional);
        if (needs_link && parent_pci_side)
            fail(f.where, std::string("a PCIe ") + kname + " cannot sit on a conventional PCI bus; use pci_endpoint, "
                 "pci_bridge or pci_to_pcie_bridge there");
        if (k == function_kind::dma_engine && f.params.conventional && !parent_pci_side)
            fail(f.where, "a conventional dma_engine belongs on a conventional PCI bus; elsewhere it is a PCIe Endpoint");
        if (k == function_kind::pci_bridge && parent_link)
            fail(f.where, "a conventional pci_bridge cannot sit directly on a PCIe link; use pcie_to_pci_bridge");
        if (k == function_kind::switch_upstream && bus.parent == nullptr)
            fail(f.where, "a switch_upstream port must be below a root port or a switch downstream port");
    }

    // Checks one bus and everything below it; returns how many bus numbers the hierarchy from this bus
    // down needs (itself included) when the kernel has to number the bridges without firmware values.
    unsigned check_bus(const bus_view& bus, unsigned depth) {
        const std::string& bus_where = bus.parent ? bus.parent->where : std::string();
        if (depth > max_bus_depth)
            fail(bus_where, "PCI hierarchy nested deeper than " + std::to_string(max_bus_depth) + " buses");
        std::map<unsigned, const function_desc*> by_devfn;
        for (const auto& f : *bus.functions) {
            auto [it, fresh] = by_devfn.emplace(f.devfn, &f);
            if (!fresh)
                fail(f.where, "duplicate address " + addr_str(f.devfn) + " on this bus (also at " + it->second->where + ")");
        }
        for (const auto& f : *bus.functions) {
            if (pci_func(f.devfn) != 0 && !by_devfn.count(pci_devfn(pci_slot(f.devfn), 0)))
                fail(f.where, "function " + addr_str(f.devfn) + " has no function 0 in its slot; Linux scans "
                     "functions 1-7 only when function 0 exists and has the multifunction bit");
            if (m_opt.multifunction_rule && pci_func(f.devfn) != 0) {
                const function_desc* f0 = by_devfn[pci_devfn(pci_slot(f.devfn), 0)];
                if (f0->params.kind != function_kind::captured && !f0->params.multifunction)
                    fail(f0->where, "function 0 of slot " + hex2(pci_slot(f.devfn)) + " has more functions but "
                         "\"multifunction\" is false; Linux would not scan them");
            }
            if (m_opt.placement_rules) check_placement(bus, f);
            if (!f.children.empty() && !desc_is_bridge(f))
                fail(sub_location(f.where, "/children"), "only bridges have children; " + addr_str(f.devfn) +
                     " is a " + pci::to_string(f.params.kind));
        }
        unsigned needed = 1;
        std::vector<std::pair<unsigned, const function_desc*>> ranges; // (secondary, bridge) of numbered siblings
        for (const auto& f : *bus.functions) {
            if (!desc_is_bridge(f)) continue;
            needed += check_bridge(bus, f, depth, ranges);
        }
        return needed;
    }

    unsigned check_bridge(const bus_view& bus, const function_desc& f, unsigned depth,
                          std::vector<std::pair<unsigned, const function_desc*>>& ranges) {
        const auto& pp = f.params;
        bool any = pp.primary_bus || pp.secondary_bus || pp.subordinate_bus;
        std::string where = sub_location(f.where, "/bus_numbers");
        if (!any) {
            bus_view child{&f.children, &f, std::nullopt, 1, 0, false};
            return check_bus(child, depth + 1);
        }
        if (!(pp.primary_bus && pp.secondary_bus && pp.subordinate_bus))
            fail(where, "give all three of primary, secondary and subordinate, or none");
        unsigned pri = *pp.primary_bus, sec = *pp.secondary_bus, sub = *pp.subordinate_bus;
        if (!bus.ranges_known)
            fail(where, "firmware bus numbers on a bridge whose parent bridge has none; firmware numbers "
                 "buses top-down, so give the parent bridge bus_numbers too");
        if (bus.number && pri != *bus.number)
            fail(sub_location(where, "/primary"), "primary bus " + hex2(pri) + " is not the bus this bridge sits on (" +
                 hex2(*bus.number) + ")");
        if (bus.number && sec <= *bus.number)
            fail(sub_location(where, "/secondary"), "secondary bus " + hex2(sec) + " must be above the bridge's own bus " +
                 hex2(*bus.number));
        if (sub < sec)
            fail(sub_location(where, "/subordinate"), "subordinate bus " + hex2(sub) + " is below the secondary bus " + hex2(sec));
        if (sec < bus.lo || sub > bus.hi)
            fail(where, "bus range " + hex2(sec) + "-" + hex2(sub) + " is outside the range " + hex2(bus.lo) + "-" +
                 hex2(bus.hi) + " available below " + (bus.parent ? "the parent bridge" : "this root bus"));
        for (const auto& [other_sec, other] : ranges) {
            unsigned other_sub = *other->params.subordinate_bus;
            if (sec <= other_sub && other_sec <= sub)
                fail(where, "bus range " + hex2(sec) + "-" + hex2(sub) + " overlaps the range " + hex2(other_sec) + "-" +
                     hex2(other_sub) + " of the bridge at " + other->where);
        }
        ranges.emplace_back(sec, &f);
        bus_view child{&f.children, &f, sec, sec + 1, sub, true};
        unsigned needed = check_bus(child, depth + 1);
        if (needed > sub - sec + 1)
            fail(where, "the hierarchy below needs " + std::to_string(needed) + " bus numbers but " + hex2(sec) + "-" +
                 hex2(sub) + " has only " + std::to_string(sub - sec + 1));
        return sub - sec + 1;
    }

    const platform_desc& m_p;
    const check_options& m_opt;
};

} // namespace

void check_platform(const platform_desc& p, const check_options& opt) { checker(p, opt).run(); }

} // namespace iommusim::platforms

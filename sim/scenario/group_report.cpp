#include "sim/scenario/group_report.h"

#include <fmt/format.h>

namespace iommusim::scenario {

namespace {
std::string describe_line(const device_row& d) {
    std::string s = fmt::format("{} {} [{:04x}]: {} [{:04x}:{:04x}]", d.addr.str(),
                                d.class_name, u16(d.class_code >> 8),
                                d.name.empty() ? "Device" : d.name, d.vendor, d.device);
    if (d.revision) s += fmt::format(" (rev {:02x})", d.revision);
    return s;
}

std::string hex(unsigned v, int width) { return fmt::format("0x{:0{}x}", v, width); }
} // namespace

std::string format_groups_text(const group_result& r, bool explain) {
    std::string out;
    for (const auto& g : r.groups) {
        for (const auto& m : g.members) {
            const device_row* d = r.find(m);
            out += fmt::format("IOMMU Group {}: {}\n", g.id, d ? describe_line(*d) : m.str());
        }
        if (explain && !g.reason.empty()) out += fmt::format("    why: {}\n", g.reason);
    }
    for (const auto& d : r.devices)
        if (!d.group) out += fmt::format("No IOMMU group: {}\n", describe_line(d));
    if (explain)
        for (const auto& n : r.notes) out += fmt::format("note: {}\n", n);
    return out;
}

nlohmann::json groups_to_json(const group_result& r) {
    using nlohmann::json;
    auto device_json = [](const device_row& d) {
        json j{{"bdf", d.addr.str()},
               {"vendor", hex(d.vendor, 4)},
               {"device", hex(d.device, 4)},
               {"class", hex(d.class_code, 6)},
               {"class_name", d.class_name},
               {"header_type", hex(d.header_type, 2)},
               {"pcie_type", d.pcie_type},
               {"parent", d.parent ? json(d.parent->str()) : json(nullptr)},
               {"acs_cap", d.acs_cap ? json(hex(*d.acs_cap, 4)) : json(nullptr)},
               {"acs_ctrl", d.acs_ctrl ? json(hex(*d.acs_ctrl, 4)) : json(nullptr)}};
        if (!d.name.empty()) j["name"] = d.name;
        return j;
    };
    json groups = json::array();
    for (const auto& g : r.groups) {
        json members = json::array();
        for (const auto& m : g.members)
            if (const device_row* d = r.find(m)) members.push_back(device_json(*d));
            else members.push_back(json{{"bdf", m.str()}});
        json gj{{"id", g.id}, {"devices", members}, {"reason", g.reason}};
        if (g.dma_window) {
            // What /sys/kernel/iommu_groups/N does not show and a management tool must learn before it
            // hands the group out: the PE's default window (sPAPR v1 locks all of it at ENABLE) and how
            // many dynamic windows of which page sizes can be added.
            const pe_window_row& w = *g.dma_window;
            json sizes = json::array();
            for (unsigned b = 0; b < 64; ++b)
                if (w.pgsizes >> b & 1) sizes.push_back(u64(1) << b);
            json dw{{"start", fmt::format("{:#x}", w.start)}, {"size", fmt::format("{:#x}", w.size)},
                    {"tce_page_size", w.page_size}, {"ddw_page_sizes", sizes}, {"max_dynamic_windows", w.max_dynamic_windows}};
            // sPAPR v1 charges the whole window at ENABLE; on PEs it refuses (powernv) v2's first MAP_DMA
            // charges the default window's table instead.
            if (w.v2_only) {
                dw["v1_locked_bytes"] = nullptr;
                dw["v2_default_window_locked_bytes"] = w.v2_default_window_locked_bytes;
            } else {
                dw["v1_locked_bytes"] = w.size;
            }
            gj["dma_window"] = std::move(dw);
        }
        groups.push_back(std::move(gj));
    }
    json ungrouped = json::array();
    for (const auto& d : r.devices)
        if (!d.group) ungrouped.push_back(device_json(d));
    return json{{"platform", r.platform}, {"kernel", r.kernel_version}, {"iommu", r.iommu},
                {"groups", groups}, {"devices_without_group", ungrouped}, {"notes", r.notes}};
}

} // namespace iommusim::scenario

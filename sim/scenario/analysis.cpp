#include "sim/scenario/analysis.h"

#include "sim/core/input_error.h"
#include "sim/host/kernel.h"
#include "sim/host/tlm/tlm_host_ops.h"
#include "models/pci/cfg/pci_regs.h"
#include "platforms/platform.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace iommusim::scenario {

namespace {
// The oracle's and our JSON's spelling of the PCIe Device/Port Type (PCIe Base §7.5.3.2).
std::string pcie_type_key(const host::device_facts& f) {
    if (!f.pcie) return "pci";
    switch (f.pcie_type) {
    case 0x0: return "endpoint";
    case 0x1: return "legacy_endpoint";
    case 0x4: return "root_port";
    case 0x5: return "switch_upstream";
    case 0x6: return "switch_downstream";
    case 0x7: return "pcie_to_pci_bridge";
    case 0x8: return "pci_to_pcie_bridge";
    case 0x9: return "rc_integrated_endpoint";
    case 0xa: return "rc_event_collector";
    default: return fmt::format("type_{:x}", f.pcie_type);
    }
}

} // namespace

group_result analyze_groups(const platforms::platform_desc& platform, const host::kernel_options& kopt) {
    // Bad options fail before elaboration.
    if (const auto checked = host::check_kernel_version(kopt.kernel_version); !checked.version)
        throw input_error("--kernel", "", checked.problem);
    host::tlm_machine machine(platform);
    // Partitioning is done once the groups exist: the IOMMU driver would only add its tables.
    host::kernel_options opts = kopt;
    opts.iommu_driver = false;
    host::kernel k(machine.ops(), opts);
    k.boot();
    return collect_groups(platform, machine, k);
}

group_result collect_groups(const platforms::platform_desc& platform, host::tlm_machine& machine, host::kernel& k) {
    group_result r;
    r.platform = platform.name.empty() ? platform.source : platform.name;
    r.kernel_version = k.version().str();
    switch (machine.ops().firmware().iommu) {
    case host::firmware_iommu::dmar: r.iommu = "intel"; break;
    case host::firmware_iommu::ivrs: r.iommu = "amd"; break;
    case host::firmware_iommu::spapr: r.iommu = "spapr"; break;
    case host::firmware_iommu::opal: r.iommu = "powernv"; break;
    case host::firmware_iommu::none: r.iommu = "none"; break;
    }
    if (!k.iommu_enabled()) r.iommu = "none";
    r.notes = platform.notes;

    // Labels from the description, at the BDF each function ended up on: its bus is the root bus or the
    // secondary bus the kernel programmed into the bridge above it.
    std::map<bdf, std::string> labels;
    for (const auto& bf : machine.platform().functions()) {
        if (!bf.desc || bf.desc->name.empty()) continue;
        const auto& rc = machine.platform().root_complexes()[bf.root];
        const u8 bus = bf.parent ? bf.parent->config().get8(pci::PCI_SECONDARY_BUS) : rc.bus_start;
        labels[bdf{rc.segment, bus, bf.model->devfn()}] = bf.desc->name;
    }
    for (const auto& f : k.facts()) {
        device_row d;
        d.addr = f.address;
        d.vendor = f.vendor;
        d.device = f.device;
        d.class_code = f.class_code;
        d.class_name = f.class_name;
        d.revision = f.revision;
        d.header_type = f.hdr_type;
        d.pcie_type = pcie_type_key(f);
        d.pcie_type_name = f.pcie_type_name;
        d.parent = f.parent;
        if (f.has_acs) {
            d.acs_cap = f.acs_cap;
            d.acs_ctrl = f.acs_ctrl;
        }
        if (f.group != host::no_group) d.group = f.group;
        if (auto it = labels.find(f.address); it != labels.end()) d.name = it->second;
        r.devices.push_back(std::move(d));
    }
    std::sort(r.devices.begin(), r.devices.end(), [](const auto& a, const auto& b) { return a.addr < b.addr; });

    for (const auto& g : k.groups()) {
        if (g.devices.empty()) continue;  // a PE without devices: its id is taken, sysfs shows it empty
        group_row row;
        row.id = g.id;
        for (const auto* dev : g.devices) row.members.push_back(dev->address());
        row.reason = g.explanation();
        if (g.pe)
            row.dma_window = pe_window_row{g.pe->tce32_start, g.pe->tce32_size, u64(1) << g.pe->page_shift,
                                           g.pe->pgsizes, g.pe->max_dynamic_windows, g.pe->v2_only,
                                           g.pe->v2_default_window_locked_bytes};
        r.groups.push_back(std::move(row));
    }
    std::sort(r.groups.begin(), r.groups.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    for (const auto& l : k.log().lines()) r.log.push_back(l.text);
    return r;
}

} // namespace iommusim::scenario

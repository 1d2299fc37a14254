// A platform as a description: the PCI tree (root buses, functions, what sits behind each bridge) and what
// the firmware tells the kernel (IOMMU tables, root-bus apertures). Produced by the JSON platform loader
// and by the lspci importer; consumed by the SystemC builder. Pure data, no SystemC.
#pragma once
#include "models/pci/cfg/function_params.h"
#include "platforms/desc/platform_params.h"
#include "sim/core/types.h"

#include <string>
#include <vector>

namespace iommusim::platforms {

struct function_desc {
    std::string where;          // origin for messages: JSON path ("/root_buses/0/devices/2") or "line 17"
    std::string name;           // user's label, e.g. "dgpu"; may be empty
    u8 devfn = 0;               // slot << 3 | function on the parent bus
    pci::function_params params;
    std::vector<function_desc> children; // functions on the secondary bus (bridges only)
};

struct root_bus_desc {
    std::string where;
    u16 segment = 0;
    u8 bus = 0;                 // first bus number of this host bridge
    u8 bus_end = 0xff;          // last bus number the host bridge decodes (ACPI _CRS bus range)
    std::vector<function_desc> functions;
};

// What an AMD-Vi platform's IVRS says beyond what the builder derives from the tree (platform_ivrs.cpp):
// IVHD alias entries (a device ID, or a range of them, whose DMA the IOMMU sees under another requester
// ID), the southbridge IO-APIC special entry and IVMD unity-mapped ranges. Device IDs are bus << 8 | devfn.
struct ivrs_alias_desc {
    std::string where;
    u16 segment = 0;
    u16 devid = 0, last = 0;    // last == devid: a single alias entry (42h); otherwise a range (43h .. 04h)
    u16 to = 0;
};
struct ivrs_unity_desc {
    std::string where;
    u8 type = 0x21;             // IVMD 20h (all devices), 21h (devid), 22h (devid .. last)
    u16 segment = 0, devid = 0, last = 0;
    u64 start = 0, length = 0;
    bool read = true, write = true;
};
struct ivrs_desc {
    std::vector<ivrs_alias_desc> aliases;
    bool ioapic = true;         // false: a BIOS that forgot the IO-APIC (Linux disables interrupt remapping)
    u8 ioapic_id = 0;
    u16 ioapic_devid = 0x00a0;  // 00:14.0, the FCH
    std::vector<ivrs_unity_desc> unity;
};

// "spapr": a pseries guest, whose hypervisor presents each PHB (root bus) as one Partitionable Endpoint.
// "powernv": bare-metal POWER (OPAL firmware): every root bus is a PHB with its own PEs and TCE tables,
// which the kernel programs through OPAL.
enum class iommu_kind { none, intel_vtd, amd_vi, spapr, powernv };
const char* to_string(iommu_kind k);

struct platform_desc {
    std::string source;         // file it came from, for messages
    std::string name;
    std::string description;
    iommu_kind iommu = iommu_kind::intel_vtd; // which IOMMU the firmware (DMAR/IVRS) describes
    std::vector<root_bus_desc> root_buses;
    platform_params params;                   // fabric timing and address map
    ivrs_desc ivrs;                           // AMD-Vi: IVRS entries beyond the derived ones
    std::vector<std::string> notes;           // importer remarks: what could not be decided, assumptions
};

} // namespace iommusim::platforms

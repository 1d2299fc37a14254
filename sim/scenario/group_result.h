// What a boot of the simulated kernel tells about IOMMU groups, in a neutral form the reports, the
// expectation checks and the scenario runner share.
#pragma once
#include "sim/core/bdf.h"
#include "sim/core/types.h"

#include <optional>
#include <string>
#include <vector>

namespace iommusim::scenario {

struct device_row {
    bdf addr;
    u16 vendor = 0, device = 0;
    u32 class_code = 0;                  // 24-bit
    std::string class_name;              // as lspci names the class ("PCI bridge")
    u8 revision = 0;
    u8 header_type = 0;                  // with the multifunction bit
    std::string pcie_type;               // "root_port", ..., or "pci" when there is no PCIe capability
    std::string pcie_type_name;          // "Root Port", ..., "conventional PCI"
    std::optional<bdf> parent;           // upstream bridge, none on a root bus
    std::optional<u16> acs_cap, acs_ctrl;
    std::optional<int> group;            // none: the IOMMU does not cover the device
    std::string name;                    // label from the platform description, may be empty
};

// POWER groups: the PE's DMA windows (host::pe_dma_info).
struct pe_window_row {
    u64 start = 0, size = 0;
    u64 page_size = 0;
    u64 pgsizes = 0;
    u32 max_dynamic_windows = 0;
    bool v2_only = false;                  // powernv: sPAPR v1 refused; v2 charges window tables
    u64 v2_default_window_locked_bytes = 0;
};

struct group_row {
    int id = 0;
    std::vector<bdf> members;            // in probe order
    std::string reason;                  // why these devices are together (or alone)
    std::optional<pe_window_row> dma_window; // POWER groups only
};

struct group_result {
    std::string platform;                // platform name or source file
    std::string kernel_version;
    std::string iommu;                   // "intel", "amd", "none"
    std::vector<group_row> groups;       // by id
    std::vector<device_row> devices;     // in BDF order
    std::vector<std::string> log;        // dmesg-like kernel log
    std::vector<std::string> notes;      // importer notes (what an lspci dump could not tell)

    const device_row* find(const bdf& b) const;
};

} // namespace iommusim::scenario

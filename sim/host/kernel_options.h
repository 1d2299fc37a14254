// Options of the simulated kernel: the kernel version whose rules apply and what a user would put on the
// kernel command line (pcie_acs_override=, pci=disable_acs_redir=, pci=assign-busses, intel_iommu=off...).
#pragma once
#include "sim/core/bdf.h"
#include "sim/core/model_info.h"
#include "sim/host/pci_host_ops.h"

#include <optional>
#include <string>
#include <vector>

namespace iommusim::host {

// A mainline release "major.minor". Rules that changed between releases are gated on it (README table).
struct kernel_version {
    unsigned major = 6, minor = 1;

    bool at_least(unsigned ma, unsigned mi) const { return major > ma || (major == ma && minor >= mi); }
    std::string str() const;
    // "6.1", "5.4", "v4.19", "6.1.55" (the stable suffix is ignored); nullopt on anything else.
    static std::optional<kernel_version> parse(const std::string& text);

    friend bool operator<(kernel_version a, kernel_version b) { return !a.at_least(b.major, b.minor); }
};

// Oldest version whose rules are modelled; older versions are refused rather than approximated.
constexpr kernel_version oldest_supported_kernel{4, 4};

// The version a kernel_options string names, or why it cannot be simulated (unparsable, too old). One
// check for the kernel, the scenario loader and the CLI, so all three refuse the same strings.
struct checked_kernel_version {
    std::optional<kernel_version> version;
    std::string problem;   // set when version is empty
};
checked_kernel_version check_kernel_version(const std::string& text);

struct kernel_options {
    std::string kernel_version = "6.1";          // see kernel_version::parse
    // Out-of-tree pcie_acs_override= value ("downstream,multifunction,id:8086:1234"); "" = patch absent.
    std::string acs_override;
    // pci=disable_acs_redir= entries: "[dddd:]bb:dd.f" or "pci:vvvv:dddd" (pci_dev_str_match forms).
    std::vector<std::string> disable_acs_redir;
    // Overrides what firmware says about the IOMMU: none = intel_iommu=off / amd_iommu=off (no
    // pci_request_acs, no groups); dmar / ivrs = as if that ACPI table were present.
    std::optional<firmware_iommu> iommu;
    bool assign_busses = false;                  // pci=assign-busses: renumber every bridge (pass 1)
    bool pcie_scan_all = false;                  // pci=pcie_scan_all: scan every device number below ports
    // Ports firmware marks as external facing (ACPI "ExternalFacingPort"): get TB, children untrusted.
    std::vector<bdf> external_facing;
    // IOMMU driver options (drivers/iommu/intel): iommu.passthrough=1 (identity default domains),
    // intel_iommu=sp_off (no superpages), intremap=off (no interrupt remapping).
    bool iommu_passthrough = false;
    // false: boot stops after forming the groups and no IOMMU driver programs the hardware (what
    // `iommusim groups` needs, and tests that drive the driver step by step).
    bool iommu_driver = true;
    bool iommu_superpage = true;
    bool intremap = true;
    // Where the kernel's own IOMMU structures (root/context/page tables, queues, IRTs) come from: a
    // physical range the simulated kernel owns, [base, base + size). Scenarios put their DMA buffers
    // elsewhere.
    u64 kernel_memory_base = 0x10000000;  // 256 MiB
    u64 kernel_memory_size = 0x10000000;  // 256 MiB
};

// Parsed pcie_acs_override= (the patch's pcie_acs_override_setup): tokens are prefix-matched and
// comma separated; at most NUM_ACS_IDS - 1 = 15 ids fit.
struct acs_override {
    static constexpr unsigned num_acs_ids = 16;  // NUM_ACS_IDS
    struct id { u16 vendor, device; };

    bool downstream = false;
    bool multifunction = false;
    std::vector<id> ids;
    std::vector<std::string> warnings;           // the patch's pr_warn lines, in order

    bool enabled() const { return downstream || multifunction || !ids.empty(); }
    static acs_override parse(const std::string& text);
};

} // namespace iommusim::host

namespace iommusim::host {
// "pci:vvvv:dddd[:ssss:ssss]", the pci_dev_str_match ID form of pci=disable_acs_redir= (hex fields).
bool is_pci_id_spec(const std::string& spec);

// The options above, for `iommusim describe kernel`: names as a scenario's "host" object spells them.
model_info kernel_options_info();
} // namespace iommusim::host

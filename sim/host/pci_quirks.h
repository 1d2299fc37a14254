// Device-specific behaviour from drivers/pci/quirks.c that decides IOMMU grouping: the ACS quirk table
// pci_dev_acs_enabled[] (plus the out-of-tree pcie_acs_override entry appended last), the ACS enable /
// disable-redirect quirks (pci_dev_acs_ops[]), and the header fixups that add DMA aliases or mark bridges.
// Entries carry the mainline version that introduced them; see README "Kernel versions".
#pragma once
#include "sim/host/kernel_log.h"
#include "sim/host/kernel_options.h"
#include "sim/host/pci_access.h"

#include <string>
#include <vector>

namespace iommusim::host {

constexpr int err_enodev = 19;  // -ENODEV
constexpr int err_enotty = 25;  // -ENOTTY: "no quirk applies"
constexpr int err_einval = 22;  // -EINVAL

// The ACS controls pci_device_group() requires (REQ_ACS_FLAGS in drivers/iommu/iommu.c).
constexpr u16 REQ_ACS_FLAGS = pci::PCI_ACS_SV | pci::PCI_ACS_RR | pci::PCI_ACS_CR | pci::PCI_ACS_UF;

// Intel PCH registers used by pci_quirk_enable_intel_pch_acs (quirks.c names).
constexpr u16 INTEL_LPC_RCBA_REG = 0xf0;          // in the LPC bridge, 00:1f.0
constexpr u32 INTEL_LPC_RCBA_MASK = 0xffffc000;
constexpr u32 INTEL_LPC_RCBA_ENABLE = 1u << 0;
constexpr u32 INTEL_BSPR_REG = 0x1104;            // RCBA-relative
constexpr u32 INTEL_BSPR_REG_BPNPD = 1u << 8;
constexpr u32 INTEL_BSPR_REG_BPPD = 1u << 9;
constexpr u32 INTEL_UPDCR_REG = 0x1014;           // RCBA-relative (Linux's value; not 0x1114)
constexpr u32 INTEL_UPDCR_REG_MASK = 0x3f;
constexpr u16 INTEL_MPC_REG = 0xd8;               // in the root port
constexpr u32 INTEL_MPC_REG_IRBNCE = 1u << 26;
constexpr u16 INTEL_SPT_ACS_CTRL = pci::PCI_ACS_CAP + 4;  // Sunrise Point's dword control register

class pci_quirks;
using acs_quirk_fn = int (*)(pci_quirks& q, pci_dev& dev, u16 acs_flags);

struct acs_quirk_entry {
    u16 vendor, device;        // PCI_ANY_ID wildcards
    acs_quirk_fn fn;
    const char* name;          // the kernel function's name, for explanations
    kernel_version since;      // first mainline release with this entry
};

class pci_quirks {
public:
    pci_quirks(pci_access& access, kernel_log& log, kernel_version version, firmware_iommu iommu,
               acs_override override);

    // pci_dev_specific_acs_enabled(): -err_enotty when no entry has an opinion, else 0 or 1. which (if
    // given) receives the name of the deciding callback.
    int dev_specific_acs_enabled(pci_dev& dev, u16 acs_flags, const char** which = nullptr);
    // pci_dev_specific_enable_acs() / pci_dev_specific_disable_acs_redir(): -err_enotty if no quirk.
    int dev_specific_enable_acs(pci_dev& dev);
    int dev_specific_disable_acs_redir(pci_dev& dev);
    // DECLARE_PCI_FIXUP_HEADER quirks relevant to DMA: aliases, PCIe-bridge alias flag, xlate root.
    void fixup_header(pci_dev& dev);
    // pci_add_dma_alias(dev, devfn_from, nr_devfns).
    void add_dma_alias(pci_dev& dev, unsigned devfn_from, unsigned nr_devfns);

    // The table as it is for this kernel version (override entry last when enabled).
    const std::vector<acs_quirk_entry>& acs_table() const { return m_table; }

    pci_access& access() { return m_access; }
    kernel_log& log() { return m_log; }
    const kernel_version& version() const { return m_version; }
    bool ivrs_present() const { return m_iommu == firmware_iommu::ivrs; }
    const acs_override& override_settings() const { return m_override; }

private:
    int enable_intel_lpc_acs(pci_dev& dev);

    pci_access& m_access;
    kernel_log& m_log;
    kernel_version m_version;
    firmware_iommu m_iommu;
    acs_override m_override;
    std::vector<acs_quirk_entry> m_table;
};

bool pci_quirk_intel_pch_acs_match(const pci_dev& dev);
bool pci_quirk_intel_spt_pch_acs_match(const pci_dev& dev);

} // namespace iommusim::host

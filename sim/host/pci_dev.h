// The kernel's view of one PCI function (Linux's struct pci_dev): what enumeration learned through
// config reads, the flags quirks set, and the IOMMU group the device ended up in.
#pragma once
#include "models/pci/cfg/pci_regs.h"
#include "sim/core/bdf.h"

#include <bitset>
#include <string>
#include <vector>

namespace iommusim::host {

struct pci_bus;

// dev_flags bits (include/linux/pci.h, enum pci_dev_flags), same values as Linux.
constexpr u32 PCI_DEV_FLAGS_ACS_ENABLED_QUIRK = 1u << 3;  // an enable quirk made ACS-like isolation work
constexpr u32 PCI_DEV_FLAG_PCIE_BRIDGE_ALIAS = 1u << 4;   // PCIe-to-PCI bridge without a PCIe capability
constexpr u32 PCI_DEV_FLAGS_BRIDGE_XLATE_ROOT = 1u << 9;  // the IOMMU sits at this bridge: alias walk stops

constexpr unsigned MAX_NR_DEVFNS = 256;
constexpr unsigned PCI_ROM_RESOURCE = 6;   // resource index of the expansion ROM (include/linux/pci.h)

// One BAR as __pci_read_base() found it: what firmware programmed (base) and what the device decodes
// (size from the all-ones read-back). Only implemented BARs appear; a 64-bit BAR once, by its low index.
struct pci_resource {
    unsigned index = 0;              // BAR 0-5, or PCI_ROM_RESOURCE
    u64 base = 0, size = 0;
    bool io = false;                 // IORESOURCE_IO (else memory)
    bool mem64 = false;              // IORESOURCE_MEM_64
    bool prefetch = false;           // IORESOURCE_PREFETCH
    bool rom_enabled = false;        // ROM: the enable bit as firmware left it
};
constexpr int no_group = -1;

struct pci_dev {
    pci_bus* bus = nullptr;          // the bus the function sits on
    pci_bus* subordinate = nullptr;  // the bus behind it, for a bridge that got one
    u8 devfn = 0;

    u16 vendor = 0, device = 0;
    u16 subsystem_vendor = 0, subsystem_device = 0;
    u32 class_code = 0;              // 24 bits: base class, subclass, prog-if (Linux's dev->class)
    u8 revision = 0;
    u8 hdr_type = 0;                 // header layout, without the multifunction bit
    bool multifunction = false;
    unsigned cfg_size = 256;

    u8 pcie_cap = 0;                 // offset of the PCI Express capability, 0 if none
    u16 pcie_flags_reg = 0;          // PCI_EXP_FLAGS as read (possibly corrected by set_pcie_port_type)
    u16 acs_cap = 0;                 // offset of the ACS extended capability, 0 if none
    u32 dev_flags = 0;

    bool has_dma_alias = false;      // Linux allocates dma_alias_mask on first use; we keep it inline
    std::bitset<MAX_NR_DEVFNS> dma_alias_mask;

    bool external_facing = false;
    bool untrusted = false;

    std::vector<pci_resource> resources; // pci_read_bases(), in BAR order
    bool mmio_always_on = false;     // host bridges: decode is never turned off around BAR sizing

    int group = no_group;            // iommu group id, no_group until probed (or if never probed)

    bdf address() const;
    std::string name() const { return address().str(); }  // pci_name(): "0000:00:1c.0"
};

inline bool pci_is_pcie(const pci_dev& d) { return d.pcie_cap != 0; }
inline u8 pci_pcie_type(const pci_dev& d) { return u8((d.pcie_flags_reg & pci::PCI_EXP_FLAGS_TYPE) >> 4); }
inline bool pci_is_bridge(const pci_dev& d) {
    return d.hdr_type == pci::PCI_HEADER_TYPE_BRIDGE || d.hdr_type == pci::PCI_HEADER_TYPE_CARDBUS;
}
bool pci_is_root_bus_dev(const pci_dev& d);   // pci_is_root_bus(dev->bus)
// pcie_downstream_port(): a port whose link leads away from the root (only device 0 below it).
inline bool pcie_downstream_port(const pci_dev& d) {
    const u8 t = pci_pcie_type(d);
    return pci_is_pcie(d) && (t == pci::PCI_EXP_TYPE_ROOT_PORT || t == pci::PCI_EXP_TYPE_DOWNSTREAM ||
                              t == pci::PCI_EXP_TYPE_PCIE_BRIDGE);
}
pci_dev* pci_upstream_bridge(const pci_dev& d);  // bus->self unless on a root bus

// Human names for reports: "Root Port", "Downstream Port", "PCIe-to-PCI bridge", "conventional PCI".
const char* pcie_type_name(const pci_dev& d);
// lspci-like short description of the class code ("PCI bridge", "Ethernet controller", ...).
const char* pci_class_name(u32 class_code);

} // namespace iommusim::host

// Requester IDs a device's DMA may carry at the root complex: pci_for_each_dma_alias()
// (drivers/pci/search.c) and the same-bus relation pci_devs_are_dma_aliases() (drivers/pci/pci.c).
// A template so the per-alias callback inlines: grouping calls this once per probed device.
#pragma once
#include "sim/host/pci_bus.h"

namespace iommusim::host {

// Where an alias reported by pci_for_each_dma_alias comes from (for explanations).
enum class alias_kind {
    self,                 // the device's own requester ID
    quirk,                // a bit of dma_alias_mask (same bus)
    pcie_to_pci_bridge,   // PCI_EXP_TYPE_PCI_BRIDGE: secondary bus, devfn 00.0
    pcie_bridge_quirk,    // PCI_DEV_FLAG_PCIE_BRIDGE_ALIAS: as a PCIe-to-PCI bridge
    reverse_bridge,       // PCI_EXP_TYPE_PCIE_BRIDGE: the bridge's own requester ID
    conventional_bridge,  // conventional PCI bridge: the bridge's own requester ID
};

// pci_real_dma_dev(): the device whose requester ID is used for DMA. Only Intel VMD (not modelled)
// substitutes another device, so this is the identity (v5.6+ hook kept for fidelity).
inline pci_dev& pci_real_dma_dev(pci_dev& dev) { return dev; }

bool pci_devs_are_dma_aliases(const pci_dev& a, const pci_dev& b);

// fn(pci_dev& dev, u16 alias, alias_kind kind) -> int; a non-zero return stops the walk and is returned.
template <class Fn>
int pci_for_each_dma_alias(pci_dev& start, Fn&& fn) {
    pci_dev& pdev = pci_real_dma_dev(start);
    int ret = fn(pdev, pdev.address().rid(), alias_kind::self);
    if (ret) return ret;

    if (pdev.has_dma_alias) {
        for (unsigned devfn = 0; devfn < MAX_NR_DEVFNS; ++devfn) {
            if (!pdev.dma_alias_mask.test(devfn)) continue;
            ret = fn(pdev, pci_devid(pdev.bus->number, u8(devfn)), alias_kind::quirk);
            if (ret) return ret;
        }
    }

    for (pci_bus* bus = pdev.bus; !bus->is_root(); bus = bus->parent) {
        pci_dev* tmp = bus->self;
        if (!tmp) continue;  // virtual bus
        if (tmp->dev_flags & PCI_DEV_FLAGS_BRIDGE_XLATE_ROOT) return ret;  // the IOMMU sits here
        if (pci_is_pcie(*tmp)) {
            switch (pci_pcie_type(*tmp)) {
            case pci::PCI_EXP_TYPE_ROOT_PORT:
            case pci::PCI_EXP_TYPE_UPSTREAM:
            case pci::PCI_EXP_TYPE_DOWNSTREAM:
                continue;  // PCIe keeps the requester ID
            case pci::PCI_EXP_TYPE_PCI_BRIDGE:
                // PCIe-to-PCI bridge spec §2.3: requests from below take (secondary bus, 00.0).
                ret = fn(*tmp, pci_devid(tmp->subordinate->number, 0), alias_kind::pcie_to_pci_bridge);
                if (ret) return ret;
                continue;
            case pci::PCI_EXP_TYPE_PCIE_BRIDGE:
                ret = fn(*tmp, tmp->address().rid(), alias_kind::reverse_bridge);
                if (ret) return ret;
                continue;
            default:
                continue;
            }
        }
        if (tmp->dev_flags & PCI_DEV_FLAG_PCIE_BRIDGE_ALIAS)
            ret = fn(*tmp, pci_devid(tmp->subordinate->number, 0), alias_kind::pcie_bridge_quirk);
        else
            ret = fn(*tmp, tmp->address().rid(), alias_kind::conventional_bridge);
        if (ret) return ret;
    }
    return ret;
}

} // namespace iommusim::host

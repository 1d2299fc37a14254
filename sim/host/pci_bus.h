// The kernel's view of one PCI bus (Linux's struct pci_bus): its number, the bridge leading to it, and
// its devices in devfn order.
#pragma once
#include "sim/host/pci_dev.h"

#include <vector>

namespace iommusim::host {

struct pci_bus {
    u16 segment = 0;                 // pci_domain_nr()
    u8 number = 0;                   // secondary bus number
    u8 primary = 0;                  // number of the bus the bridge sits on
    u8 busn_end = 0;                 // busn_res.end: highest bus number routed to this bus
    pci_dev* self = nullptr;         // bridge leading here; nullptr on a root bus (and on virtual buses)
    pci_bus* parent = nullptr;       // nullptr on a root bus
    std::vector<pci_dev*> devices;   // in devfn order, as pci_scan_slot adds them
    std::vector<pci_bus*> children;  // in the order they were created

    bool is_root() const { return parent == nullptr; }  // pci_is_root_bus()
};

} // namespace iommusim::host

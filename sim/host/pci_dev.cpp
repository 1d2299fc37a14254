#include "sim/host/pci_dev.h"

#include "sim/host/pci_bus.h"

namespace iommusim::host {

using namespace pci;

bdf pci_dev::address() const { return bdf{bus ? bus->segment : u16(0), bus ? bus->number : u8(0), devfn}; }

bool pci_is_root_bus_dev(const pci_dev& d) { return d.bus && d.bus->is_root(); }

pci_dev* pci_upstream_bridge(const pci_dev& d) {
    if (!d.bus || d.bus->is_root()) return nullptr;
    return d.bus->self;
}

const char* pcie_type_name(const pci_dev& d) {
    if (!pci_is_pcie(d)) return "conventional PCI";
    switch (pci_pcie_type(d)) {
    case PCI_EXP_TYPE_ENDPOINT: return "Endpoint";
    case PCI_EXP_TYPE_LEG_END: return "Legacy Endpoint";
    case PCI_EXP_TYPE_ROOT_PORT: return "Root Port";
    case PCI_EXP_TYPE_UPSTREAM: return "Upstream Port";
    case PCI_EXP_TYPE_DOWNSTREAM: return "Downstream Port";
    case PCI_EXP_TYPE_PCI_BRIDGE: return "PCIe-to-PCI bridge";
    case PCI_EXP_TYPE_PCIE_BRIDGE: return "PCI-to-PCIe bridge";
    case PCI_EXP_TYPE_RC_END: return "Root Complex Integrated Endpoint";
    case PCI_EXP_TYPE_RC_EC: return "Root Complex Event Collector";
    default: return "PCIe (reserved type)";
    }
}

const char* pci_class_name(u32 class_code) {
    switch (class_code >> 8) {
    case 0x0100: return "SCSI storage controller";
    case 0x0101: return "IDE interface";
    case 0x0104: return "RAID bus controller";
    case 0x0106: return "SATA controller";
    case 0x0108: return "Non-Volatile memory controller";
    case 0x0200: return "Ethernet controller";
    case 0x0280: return "Network controller";
    case 0x0300: return "VGA compatible controller";
    case 0x0302: return "3D controller";
    case 0x0380: return "Display controller";
    case 0x0401: return "Multimedia audio controller";
    case 0x0403: return "Audio device";
    case 0x0600: return "Host bridge";
    case 0x0601: return "ISA bridge";
    case 0x0604: return "PCI bridge";
    case 0x0680: return "Bridge";
    case 0x0880: return "System peripheral";
    case 0x0c03: return "USB controller";
    case 0x0c05: return "SMBus";
    case 0x0c80: return "Serial bus controller";
    case 0x1180: return "Signal processing controller";
    }
    switch (class_code >> 16) {
    case 0x01: return "Mass storage controller";
    case 0x02: return "Network controller";
    case 0x03: return "Display controller";
    case 0x04: return "Multimedia controller";
    case 0x05: return "Memory controller";
    case 0x06: return "Bridge";
    case 0x07: return "Communication controller";
    case 0x08: return "Generic system peripheral";
    case 0x0c: return "Serial bus controller";
    case 0x12: return "Processing accelerators";
    default: return "Unclassified device";
    }
}

} // namespace iommusim::host

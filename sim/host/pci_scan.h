// PCI enumeration by config cycles, as drivers/pci/probe.c does it on x86: pci_scan_root_bus ->
// pci_scan_child_bus_extend -> pci_scan_slot / pci_scan_single_device / pci_setup_device, and
// pci_scan_bridge_extend in two passes (keep firmware bus numbers, then number the rest depth-first).
// Hostile config (capability loops, bus-number loops and overlaps) ends in bounded time with a warning.
#pragma once
#include "sim/host/pci_acs.h"
#include "sim/host/pci_topology.h"

namespace iommusim::host {

class pci_scanner {
public:
    pci_scanner(pci_access& access, pci_topology& topo, pci_quirks& quirks, pci_acs& acs, kernel_log& log,
                const kernel_options& options, kernel_version version);

    // pci_scan_root_bus() for one host bridge's bus range.
    void scan_root_bus(const root_bus_info& root);

private:
    unsigned scan_child_bus(pci_bus& bus);                               // pci_scan_child_bus_extend
    int scan_slot(pci_bus& bus, u8 devfn);                               // pci_scan_slot
    pci_dev* scan_single_device(pci_bus& bus, u8 devfn);                 // pci_scan_single_device
    bool setup_device(pci_dev& dev, u8 hdr);                             // pci_setup_device
    void set_pcie_port_type(pci_dev& dev);
    unsigned cfg_space_size(pci_dev& dev);                               // pci_cfg_space_size
    void read_bases(pci_dev& dev, unsigned howmany, u16 rom);            // pci_read_bases
    unsigned read_base(pci_dev& dev, unsigned index, u16 pos, bool rom);  // __pci_read_base: BARs taken
    unsigned scan_bridge(pci_bus& bus, pci_dev& dev, unsigned max, int pass);  // pci_scan_bridge_extend
    bool only_one_child(const pci_bus& bus) const;

    pci_access& m_access;
    pci_topology& m_topo;
    pci_quirks& m_quirks;
    pci_acs& m_acs;
    kernel_log& m_log;
    const kernel_options& m_options;
    kernel_version m_version;
};

} // namespace iommusim::host

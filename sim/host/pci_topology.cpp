#include "sim/host/pci_topology.h"

namespace iommusim::host {

pci_bus* pci_topology::add_root_bus(u16 segment, u8 number, u8 busn_end) {
    pci_bus& b = m_buses.emplace_back();
    b.segment = segment;
    b.number = number;
    b.primary = number;
    b.busn_end = busn_end;
    m_bus_index[key(segment, number)] = &b;
    m_root_buses.push_back(&b);
    return &b;
}

pci_bus* pci_topology::add_child_bus(pci_bus* parent, pci_dev* bridge, u8 number) {
    pci_bus& b = m_buses.emplace_back();
    b.segment = parent->segment;
    b.number = number;
    b.primary = parent->number;
    b.busn_end = number;
    b.self = bridge;
    b.parent = parent;
    parent->children.push_back(&b);
    bridge->subordinate = &b;
    m_bus_index[key(b.segment, number)] = &b;
    return &b;
}

pci_dev* pci_topology::add_device(const pci_dev& dev) {
    pci_dev& d = m_devs.emplace_back(dev);
    auto& list = d.bus->devices;
    // pci_scan_slot visits devfns in increasing order, so this is normally a push_back.
    auto pos = list.end();
    while (pos != list.begin() && (*(pos - 1))->devfn > d.devfn) --pos;
    list.insert(pos, &d);
    m_device_list.push_back(&d);
    return &d;
}

pci_bus* pci_topology::find_bus(u16 segment, u8 number) const {
    auto it = m_bus_index.find(key(segment, number));
    return it == m_bus_index.end() ? nullptr : it->second;
}

pci_dev* pci_topology::get_slot(const pci_bus& bus, u8 devfn) const {
    for (pci_dev* d : bus.devices)
        if (d->devfn == devfn) return d;
    return nullptr;
}

pci_dev* pci_topology::find_dev(const bdf& b) const {
    const pci_bus* bus = find_bus(b.segment, b.bus);
    return bus ? get_slot(*bus, b.devfn) : nullptr;
}

} // namespace iommusim::host

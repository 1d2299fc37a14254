// Owner of the kernel's pci_bus and pci_dev objects: pointer-stable storage, the bus lookup
// (pci_find_bus) and the global device list in registration order (Linux's bus_for_each_dev order on
// pci_bus_type, which is also the order bus_iommu_probe() walks).
#pragma once
#include "sim/host/pci_bus.h"

#include <deque>
#include <unordered_map>
#include <vector>

namespace iommusim::host {

class pci_topology {
public:
    pci_bus* add_root_bus(u16 segment, u8 number, u8 busn_end);
    // pci_add_new_bus(): a child bus behind bridge, registered as bridge->subordinate.
    pci_bus* add_child_bus(pci_bus* parent, pci_dev* bridge, u8 number);
    // pci_device_add(): copies dev into storage, appends it to its bus (devfn order) and to the global
    // device list (device_add() happens here in Linux, before drivers bind).
    pci_dev* add_device(const pci_dev& dev);

    pci_bus* find_bus(u16 segment, u8 number) const;  // pci_find_bus()
    pci_dev* find_dev(const bdf& b) const;            // pci_get_domain_bus_and_slot()
    pci_dev* get_slot(const pci_bus& bus, u8 devfn) const;  // pci_get_slot()

    const std::vector<pci_dev*>& devices() const { return m_device_list; }
    const std::vector<pci_bus*>& root_buses() const { return m_root_buses; }
    std::size_t bus_count() const { return m_buses.size(); }

private:
    static u32 key(u16 segment, u8 number) { return u32(segment) << 8 | number; }

    std::deque<pci_dev> m_devs;
    std::deque<pci_bus> m_buses;
    std::unordered_map<u32, pci_bus*> m_bus_index;
    std::vector<pci_dev*> m_device_list;
    std::vector<pci_bus*> m_root_buses;
};

} // namespace iommusim::host

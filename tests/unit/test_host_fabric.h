// An in-memory PCI fabric for the simulated kernel's unit tests: config spaces built with
// pci::build_config_space, reached the way hardware routes type-1 config cycles, i.e. by the bus
// numbers the bridges are programmed with (so enumeration is really exercised), plus a little MMIO
// (Intel RCBA registers) and the firmware description.
#pragma once
#include "models/pci/cfg/config_builder.h"
#include "sim/host/pci_host_ops.h"

#include <deque>
#include <map>
#include <memory>
#include <vector>

namespace iommusim::test {

class fake_fabric : public host::pci_host_ops {
public:
    struct node {
        pci::config_space cfg;
        bool bridge = false;
        bool downstream_link = false;      // root/downstream port: only device 0 answers below it
        std::map<u8, node*> below;         // devfn on the secondary side
        explicit node(pci::config_space c) : cfg(std::move(c)) {}
    };

    explicit fake_fabric(host::firmware_iommu iommu = host::firmware_iommu::dmar, u8 root_bus = 0) {
        m_fw.iommu = iommu;
        add_root_bus(0, root_bus, 0xff);
    }

    void add_root_bus(u16 seg, u8 start, u8 end) {
        m_fw.root_buses.push_back({seg, start, end});
        m_roots.push_back({seg, start, end, {}});
    }
    void set_iommu(host::firmware_iommu i) { m_fw.iommu = i; }

    // A function on root bus number `root` (index into the firmware list) or below a bridge.
    node& at_root(u8 devfn, const pci::function_params& p, std::size_t root = 0) {
        return place(m_roots.at(root).devices, devfn, build(p));
    }
    node& below(node& bridge, u8 devfn, const pci::function_params& p) { return place(bridge.below, devfn, build(p)); }
    node& at_root_raw(u8 devfn, pci::config_space cfg, std::size_t root = 0) {
        return place(m_roots.at(root).devices, devfn, std::move(cfg));
    }
    node& below_raw(node& bridge, u8 devfn, pci::config_space cfg) { return place(bridge.below, devfn, std::move(cfg)); }

    // MMIO registers (e.g. RCBA + 0x1104 BSPR); reads elsewhere return all ones.
    std::map<u64, u32> mmio;
    std::vector<std::pair<u64, u64>> mmio_writes;
    std::vector<std::tuple<u8, u8, u16, unsigned, u32>> config_writes;  // bus, devfn, reg, len, value
    unsigned long config_reads = 0;

    u32 config_read(u16 seg, u8 bus, u8 devfn, u16 reg, unsigned len) override {
        ++config_reads;
        node* n = route(seg, bus, devfn);
        if (!n) return len == 4 ? 0xffffffffu : (1u << (8 * len)) - 1;
        return n->cfg.read(reg, len);
    }
    void config_write(u16 seg, u8 bus, u8 devfn, u16 reg, unsigned len, u32 value) override {
        config_writes.emplace_back(bus, devfn, reg, len, value);
        if (node* n = route(seg, bus, devfn)) n->cfg.write(reg, len, value);
    }
    u64 mmio_read(u64 addr, unsigned) override {
        auto it = mmio.find(addr);
        return it == mmio.end() ? 0xffffffffu : it->second;
    }
    void mmio_write(u64 addr, unsigned, u64 value) override {
        mmio_writes.emplace_back(addr, value);
        if (mmio.count(addr)) mmio[addr] = u32(value);
    }
    // System memory: this fabric has none (group tests never touch it).
    bool memory_read(u64, void*, u64) override { return false; }
    bool memory_write(u64, const void*, u64) override { return false; }
    host::firmware_info firmware() const override { return m_fw; }

    node* route(u16 seg, u8 bus, u8 devfn) {
        for (auto& r : m_roots) {
            if (r.seg != seg || bus < r.start || bus > r.end) continue;
            if (bus == r.start) return find(r.devices, devfn);
            if (node* n = route_below(r.devices, bus, devfn)) return n;
        }
        return nullptr;
    }

private:
    struct root { u16 seg; u8 start, end; std::map<u8, node*> devices; };

    static node* find(std::map<u8, node*>& m, u8 devfn) {
        auto it = m.find(devfn);
        return it == m.end() ? nullptr : it->second;
    }
    // Type 1 routing: the first bridge whose [secondary, subordinate] holds the bus takes the cycle.
    static node* route_below(std::map<u8, node*>& devices, u8 bus, u8 devfn) {
        for (auto& [df, n] : devices) {
            if (!n->bridge) continue;
            const u8 sec = n->cfg.get8(pci::PCI_SECONDARY_BUS), sub = n->cfg.get8(pci::PCI_SUBORDINATE_BUS);
            if (sec == 0 || bus < sec || bus > sub) continue;
            if (bus == sec) {
                if (n->downstream_link && pci_slot(devfn) != 0) return nullptr;
                return find(n->below, devfn);
            }
            return route_below(n->below, bus, devfn);
        }
        return nullptr;
    }
    node& place(std::map<u8, node*>& where, u8 devfn, pci::config_space cfg) {
        node& n = m_nodes.emplace_back(std::move(cfg));
        const u8 hdr = n.cfg.get8(pci::PCI_HEADER_TYPE) & pci::PCI_HEADER_TYPE_MASK;
        n.bridge = hdr == pci::PCI_HEADER_TYPE_BRIDGE;
        if (auto pos = n.cfg.find_capability(pci::PCI_CAP_ID_EXP)) {
            const u8 type = u8((n.cfg.get16(*pos + pci::PCI_EXP_FLAGS) & pci::PCI_EXP_FLAGS_TYPE) >> 4);
            n.downstream_link = type == pci::PCI_EXP_TYPE_ROOT_PORT || type == pci::PCI_EXP_TYPE_DOWNSTREAM;
        }
        where[devfn] = &n;
        return n;
    }
    static pci::config_space build(const pci::function_params& p) { return pci::build_config_space(p); }

    host::firmware_info m_fw;
    std::vector<root> m_roots;
    std::deque<node> m_nodes;
};

// Short constructors for function_params.
inline pci::function_params fn(pci::function_kind kind, u16 vendor, u16 device, bool mf = false) {
    pci::function_params p;
    p.kind = kind;
    p.vendor_id = vendor;
    p.device_id = device;
    p.multifunction = mf;
    p.power_management = false;
    if (pci::is_bridge(kind)) p.class_code = 0x060400;
    if (kind == pci::function_kind::host_bridge) p.class_code = 0x060000;
    return p;
}
inline pci::function_params with_acs(pci::function_params p, u16 cap, u16 ctrl = 0) {
    p.acs = pci::acs_params{cap, ctrl, 0};
    return p;
}
inline pci::function_params with_buses(pci::function_params p, u8 pri, u8 sec, u8 sub) {
    p.primary_bus = pri;
    p.secondary_bus = sec;
    p.subordinate_bus = sub;
    return p;
}

constexpr u16 ACS_ALL4 = pci::PCI_ACS_SV | pci::PCI_ACS_RR | pci::PCI_ACS_CR | pci::PCI_ACS_UF;

} // namespace iommusim::test

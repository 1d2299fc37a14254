// A booted simulated kernel on fake_vtd_hw with the VT-d driver and the IOMMU core on top, for the
// host IOMMU and VT-d driver unit tests. Topology (bus numbers as the kernel assigns them):
//   00:00.0 host bridge, 00:02.0 RCiEP, 00:1c.0 root port (multifunction) -> 01:00.0 endpoint,
//   00:1c.4 root port -> 02:00.0 PCIe-to-PCI bridge -> 03:04.0 and 03:05.0 conventional PCI devices.
#pragma once
#include "../test_host_util.h"
#include "fake_vtd_hw.h"
#include "sim/host/drivers/vtd/vtd_driver.h"
#include "sim/host/iommu/iommu_core.h"
#include "sim/memory/page_allocator.h"

namespace iommusim::test {

constexpr u64 vtd_base = 0xfed90000;
constexpr u64 kernel_mem_base = 0x40000000, kernel_mem_size = 64ull << 20;

inline void build_vtd_topology(fake_fabric& f) {
    using K = pci::function_kind;
    f.at_root(pci_devfn(0, 0), fn(K::host_bridge, 0x8086, 0x0c00));
    f.at_root(pci_devfn(2, 0), fn(K::rc_endpoint, 0x8086, 0x0412));
    auto& rp1 = f.at_root(pci_devfn(0x1c, 0), with_acs(fn(K::root_port, 0x8086, 0x0c01, true), ACS_ALL4));
    f.below(rp1, pci_devfn(0, 0), fn(K::endpoint, 0x8086, 0x10d3));
    auto& rp2 = f.at_root(pci_devfn(0x1c, 4), with_acs(fn(K::root_port, 0x8086, 0x0c02), ACS_ALL4));
    auto& p2p = f.below(rp2, pci_devfn(0, 0), fn(K::pcie_to_pci_bridge, 0x104c, 0x8240));
    f.below(p2p, pci_devfn(4, 0), fn(K::pci_endpoint, 0x1102, 0x0002));
    f.below(p2p, pci_devfn(5, 0), fn(K::pci_endpoint, 0x1274, 0x5000));
}

struct vtd_world {
    fake_vtd_hw hw;
    std::unique_ptr<host::kernel> k;
    host::kernel_log log;
    memory::page_allocator pages{kernel_mem_base, kernel_mem_size};
    std::unique_ptr<host::vtd_driver> vtd;
    std::unique_ptr<host::iommu_core> core;

    explicit vtd_world(const vtd::vtd_params& p = {}, host::vtd_options o = {}, host::iommu_core_options co = {},
                       bool boot_iommu = true) {
        build_vtd_topology(hw);
        hw.add_unit(vtd_base, p);
        host::kernel_options ko;
        ko.iommu_driver = false; // the tests bring the driver up themselves, step by step
        k = boot(hw, ko);
        vtd = std::make_unique<host::vtd_driver>(hw, pages, log, o);
        core = std::make_unique<host::iommu_core>(*k, log, co);
        if (boot_iommu) start();
    }
    ~vtd_world() {
        core.reset();  // domains first: they give their tables back through the driver
        vtd.reset();
    }
    void start() {
        REQUIRE(vtd->init() == 0);
        core->add_driver(*vtd);
        REQUIRE(core->probe() == 0);
        REQUIRE(vtd->enable_translation() == 0);
    }
    host::pci_dev& dev(const char* b) { return const_cast<host::pci_dev&>(*k->find(B(b))); }
    int group(const char* b) { return gid(*k, b); }
    u16 rid(const char* b) { return B(b).rid(); }
};

} // namespace iommusim::test

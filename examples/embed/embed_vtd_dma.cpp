// Embedding iommusim's VT-d model: boot a platform whose Intel VT-d unit sits between the PCI hierarchy and
// memory, let the simulated kernel's VT-d driver map a buffer for one DMA engine's group, drive the engine
// through its BAR, and read the unit's IOTLB statistics.
#include <models/iommu/vtd/tlm/vtd_unit.h>
#include <models/pci/dma_engine_driver.h>
#include <platforms/desc/platform_loader.h>
#include <platforms/platform.h>
#include <sim/host/kernel.h>
#include <sim/host/tlm/tlm_host_ops.h>

#include <cstdio>
#include <systemc>

int sc_main(int, char*[]) {
    using namespace iommusim;
    host::tlm_machine machine(platforms::load_preset("dma-testbed"));
    host::kernel kernel(machine.ops());
    kernel.boot();
    host::pci_dev* dev = kernel.find_mutable(*bdf::parse("0000:01:00.0"));
    if (!dev || !kernel.iommu() || dev->resources.empty()) return 1;

    auto domain = kernel.iommu()->domain_alloc(host::iommu_domain_type::unmanaged, *dev);
    if (!domain || kernel.iommu()->attach_group(domain, dev->group) != 0) return 1;
    if (domain->map(0x100000, 0x40000000, 0x200000, host::IOMMU_READ | host::IOMMU_WRITE) != 0) return 1;

    // The engine's driver: memory decode and bus mastering on the device and the ports above it.
    for (host::pci_dev* d = dev; d; d = host::pci_upstream_bridge(*d))
        kernel.access().write16(*d, pci::PCI_COMMAND, pci::PCI_COMMAND_MEMORY | pci::PCI_COMMAND_MASTER);
    auto& ops = machine.ops();
    pci::dma_engine_driver engine([&](u64 a, unsigned l) { return ops.mmio_read(a, l); },
                                  [&](u64 a, unsigned l, u64 v) { ops.mmio_write(a, l, v); }, dev->resources[0].base);
    pci::dma_engine_driver::operation fill;
    fill.op = pci::dma_engine::OP_FILL;
    fill.dst = 0x100000;
    fill.len = 4096;
    fill.pattern = 0xc0ffee00;
    const u32 status = engine.run(fill);
    const u32 landed = u32(machine.platform().memory()->read_le(0x40000000, 4));

    const auto& s = machine.platform().vtd_units().at(0)->stats();
    std::printf("DMA status %#x, memory at 0x40000000 = %#x, IOTLB hits %llu misses %llu\n", status, landed,
                (unsigned long long)s.iotlb.hits, (unsigned long long)s.iotlb.misses);
    return status == pci::dma_engine::STATUS_DONE && landed == 0xc0ffee00 ? 0 : 1;
}

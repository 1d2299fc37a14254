// Embedding iommusim in your own sc_main: build a platform from a description, bind the simulated kernel
// to it through TLM (ECAM config cycles), boot, and read the IOMMU groups.
#include <platforms/desc/platform_loader.h>
#include <sim/host/kernel.h>
#include <sim/host/tlm/tlm_host_ops.h>

#include <cstdio>
#include <systemc>

int sc_main(int argc, char* argv[]) {
    using namespace iommusim;
    const auto desc = argc > 1 ? platforms::load_platform_file(argv[1]) : platforms::load_preset("qemu-q35");
    host::tlm_machine machine(desc);         // your own IOMMU or memory models bind in its attach callback
    host::kernel kernel(machine.ops());
    kernel.boot();
    for (const auto& g : kernel.groups())
        for (const auto* dev : g.devices) std::printf("IOMMU Group %d: %s\n", g.id, dev->name().c_str());
    return kernel.groups().empty() ? 1 : 0;
}

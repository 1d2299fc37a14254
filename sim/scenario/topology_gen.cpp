#include "sim/scenario/topology_gen.h"

#include "models/pci/cfg/pci_regs.h"
#include "sim/core/bdf.h"

#include <fmt/format.h>

#include <algorithm>

namespace iommusim::scenario {

using pci::function_kind;

namespace {
platforms::function_desc make(function_kind kind, u8 devfn, u16 vendor, u16 device, u32 cls) {
    platforms::function_desc f;
    f.devfn = devfn;
    f.params.kind = kind;
    f.params.vendor_id = vendor;
    f.params.device_id = device;
    f.params.class_code = cls;
    return f;
}

pci::acs_params full_acs() {
    pci::acs_params a;
    a.cap = pci::PCI_ACS_SV | pci::PCI_ACS_TB | pci::PCI_ACS_RR | pci::PCI_ACS_CR | pci::PCI_ACS_UF;
    return a;
}
} // namespace

size_t functions_per_segment(const topology_shape& s) {
    return s.root_ports_per_segment * (2 + s.downstream_ports * (1 + s.functions));
}

platforms::platform_desc generate_topology(const topology_shape& s) {
    platforms::platform_desc p;
    p.name = fmt::format("generated-{}x{}x{}x{}", s.segments, s.root_ports_per_segment, s.downstream_ports, s.functions);
    p.description = "generated scaling topology: root ports, switches, multifunction endpoints";
    p.iommu = platforms::iommu_kind::intel_vtd;
    for (size_t seg = 0; seg < s.segments; ++seg) {
        platforms::root_bus_desc rb;
        rb.segment = u16(seg);
        rb.bus = 0;
        for (size_t rp = 0; rp < s.root_ports_per_segment && rp < 32; ++rp) {
            auto port = make(function_kind::root_port, pci_devfn(unsigned(rp), 0), 0x8086, 0x2030, 0x060400);
            if (rp % 5 != 4) port.params.acs = full_acs(); // every fifth root port lacks ACS
            auto up = make(function_kind::switch_upstream, 0, 0x10b5, 0x8747, 0x060400);
            for (size_t dp = 0; dp < s.downstream_ports && dp < 32; ++dp) {
                auto down = make(function_kind::switch_downstream, pci_devfn(unsigned(dp), 0), 0x10b5, 0x8747, 0x060400);
                if (dp % 3 != 2) down.params.acs = full_acs();
                for (size_t fn = 0; fn < s.functions && fn < 8; ++fn) {
                    auto ep = make(function_kind::endpoint, pci_devfn(0, unsigned(fn)), 0x15b3, 0x1017, 0x020000);
                    if (dp % 2 == 0) ep.params.acs = full_acs(); // half the devices isolate their functions
                    down.children.push_back(std::move(ep));
                }
                up.children.push_back(std::move(down));
            }
            port.children.push_back(std::move(up));
            rb.functions.push_back(std::move(port));
        }
        p.root_buses.push_back(std::move(rb));
    }
    return p;
}

platforms::platform_desc generate_topology(size_t target_functions) {
    topology_shape s;
    const size_t per = functions_per_segment(s);
    s.segments = std::max<size_t>(1, (target_functions + per - 1) / per);
    return generate_topology(s);
}

} // namespace iommusim::scenario

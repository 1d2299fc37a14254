// The platform's Intel VT-d remapping units: what the chipset has and the ACPI DMAR table describes.
// One unit per PCI segment with INCLUDE_PCI_ALL (VT-d spec §8.3: the catch-all DRHD of a segment), as on
// QEMU's q35 and on client parts without a dedicated graphics unit. Every host bridge of the segment sends
// its upstream requests through it; its output and its table reads go to the memory bus; its registers
// sit in the chipset range below 4 GiB (0xFED9_0000 on Intel parts, one page per unit).
#include "platforms/platform.h"

#include "models/iommu/vtd/tlm/vtd_unit.h"
#include "sim/core/input_error.h"

#include <map>

namespace iommusim::platforms {

namespace {
constexpr u64 k_vtd_register_base = 0xfed90000; // Intel chipsets' DMAR unit base (as QEMU's q35 too)
}

void platform::build_vtd_units() {
    if (m_desc.iommu != iommu_kind::intel_vtd || !m_dma_bus || !m_params.vtd_units) return;
    vtd::vtd_unit_params params;
    // "params"."vtd": every member sets one unit parameter by its describe name.
    for (const auto& [name, value] : m_params.vtd.items())
        vtd::set_vtd_unit_param(params, name, value, m_desc.source, "/params/vtd/" + name);
    params.validate();

    std::map<u16, std::vector<size_t>> by_segment;
    for (size_t i = 0; i < m_roots.size(); ++i) by_segment[m_roots[i].segment].push_back(i);
    u64 base = k_vtd_register_base;
    for (const auto& [segment, roots] : by_segment) {
        auto unit = std::make_unique<vtd::vtd_unit>(("dmar" + std::to_string(m_vtd_units.size())).c_str(), base, params);
        // The default upstream target: a testbench that binds its own probe or IOMMU to a host bridge
        // before elaboration ends takes the unit out of that bridge's path.
        for (size_t r : roots) m_roots[r].host_bridge->set_default_upstream(unit->dma);
        unit->out.bind(m_dma_bus->target);
        unit->engine.mem.bind(m_dma_bus->target);
        const unsigned port = m_router->connect(unit->regs);
        const std::string label = "dmar" + std::to_string(m_vtd_units.size());
        try {
            m_router->map(base, unit->reg_size(), port, label);
        } catch (const std::invalid_argument& e) {
            throw input_error(m_desc.source, "/params", std::string("the VT-d register window: ") + e.what());
        }
        host::dmar_drhd drhd;
        drhd.segment = segment;
        drhd.register_base = base;
        drhd.include_pci_all = true;
        for (size_t r : roots) drhd.scope.push_back({m_roots[r].segment, m_roots[r].bus_start, m_roots[r].bus_end});
        m_drhds.push_back(drhd);
        base += (unit->reg_size() + 0xfff) & ~u64(0xfff);
        m_vtd_unit_ptrs.push_back(unit.get());
        m_vtd_units.push_back(std::move(unit));
    }
}

} // namespace iommusim::platforms

// The platform's AMD IOMMUs: one unit per IOMMU PCI function (an AMD function of class 0x0806 on a root
// bus, as EPYC's 1022:1481 at 00.2 of every root complex and QEMU's amd-iommu), which the IVRS names.
// Firmware gives each its MMIO base through the function's IOMMU capability block (AMD IOMMU spec §3.3:
// Capability ID 0Fh, base address low/high with Enable set, the unit's bus/device range, Misc 0 with the
// address sizes) and lists it in IVRS (platform_ivrs.cpp, which reads that block back). The unit serves
// its own root bus and every root bus of its segment without an IOMMU of its own; its output and table
// reads go to the memory bus; its interrupt is the MSI the driver programs into the function's MSI
// capability (Linux iommu_setup_msi), read at the time the unit raises it.
#include "platforms/platform.h"

#include "models/iommu/amdvi/amdvi_defs.h"
#include "models/iommu/amdvi/tlm/amdvi_unit.h"
#include "models/pci/cfg/pci_regs.h"
#include "sim/core/input_error.h"

namespace iommusim::platforms {

namespace {

bool is_amd_iommu_function(const built_function& f) {
    const auto& cfg = f.model->config();
    return !f.parent && cfg.get16(pci::PCI_VENDOR_ID) == pci::PCI_VENDOR_ID_AMD &&
           cfg.get16(pci::PCI_CLASS_DEVICE) == 0x0806;
}

// The message in the function's MSI capability while MSI is enabled (PCI Local Bus 3.0 §6.8.1).
std::optional<amdvi::msi_message> msi_of(const pci::config_space& cfg) {
    auto cap = cfg.find_capability(pci::PCI_CAP_ID_MSI);
    if (!cap) return std::nullopt;
    const u16 flags = cfg.get16(u16(*cap + pci::PCI_MSI_FLAGS));
    if (!(flags & pci::PCI_MSI_FLAGS_ENABLE)) return std::nullopt;
    amdvi::msi_message m;
    m.address = cfg.get32(u16(*cap + pci::PCI_MSI_ADDRESS_LO));
    if (flags & pci::PCI_MSI_FLAGS_64BIT) {
        m.address |= u64(cfg.get32(u16(*cap + pci::PCI_MSI_ADDRESS_LO + 4))) << 32;
        m.data = cfg.get16(u16(*cap + pci::PCI_MSI_ADDRESS_LO + 8));
    } else {
        m.data = cfg.get16(u16(*cap + pci::PCI_MSI_ADDRESS_LO + 4));
    }
    return m;
}

// The capability block as firmware leaves it: the header and Misc 0 as the unit's parameters build them,
// the base programmed and locked by Enable, the unit's range on its bus.
void write_capability_block(pci::config_space& cfg, u64 base, u8 bus, const amdvi::amdvi_params& hw) {
    namespace cap = amdvi::pcicap;
    const auto existing = cfg.find_capability(cap::CAP_ID);
    const u16 off = existing ? *existing : cfg.add_capability(cap::CAP_ID, cap::LENGTH);
    const u8 next = cfg.get8(u16(off + 1));
    cfg.set32(u16(off + cap::HEADER), amdvi::build_cap_header(hw, next));
    cfg.set32(u16(off + cap::BASE_LO), u32(base & cap::BASE_LO_ADDR) | cap::BASE_ENABLE);
    cfg.set32(u16(off + cap::BASE_HI), u32(base >> 32));
    cfg.set32(u16(off + cap::RANGE), cap::range(true, bus, 0x00, 0xff));
    cfg.set32(u16(off + cap::MISC0), amdvi::build_misc0(hw));
    cfg.set32(u16(off + cap::MISC1), 0);
}

} // namespace

void platform::build_amdvi_units() {
    if (m_desc.iommu != iommu_kind::amd_vi || !m_dma_bus || !m_params.amdvi_units) return;
    amdvi::amdvi_unit_params params;
    // "params"."amdvi": every member sets one unit parameter by its describe name.
    for (const auto& [name, value] : m_params.amdvi.items())
        amdvi::set_amdvi_unit_param(params, name, value, m_desc.source, "/params/amdvi/" + name);
    params.validate();

    std::vector<size_t> fns;
    for (size_t i = 0; i < m_functions.size(); ++i)
        if (is_amd_iommu_function(m_functions[i])) fns.push_back(i);
    // Which unit serves each root bus: the one on it, else its segment's first (as the IVRS says).
    std::vector<int> served_by(m_roots.size(), -1);
    for (size_t r = 0; r < m_roots.size(); ++r) {
        for (size_t u = 0; u < fns.size() && served_by[r] < 0; ++u)
            if (m_functions[fns[u]].root == r) served_by[r] = int(u);
        for (size_t u = 0; u < fns.size() && served_by[r] < 0; ++u)
            if (m_roots[m_functions[fns[u]].root].segment == m_roots[r].segment) served_by[r] = int(u);
    }

    u64 base = m_params.amdvi_base;
    for (size_t u = 0; u < fns.size(); ++u) {
        built_function& f = m_functions[fns[u]];
        const std::string label = "amdvi" + std::to_string(u);
        auto unit = std::make_unique<amdvi::amdvi_unit>(label.c_str(), base, params);
        for (size_t r = 0; r < m_roots.size(); ++r)
            if (served_by[r] == int(u)) m_roots[r].host_bridge->set_default_upstream(unit->dma);
        unit->out.bind(m_dma_bus->target);
        unit->engine.mem.bind(m_dma_bus->target);
        const unsigned port = m_router->connect(unit->regs);
        try {
            m_router->map(base, unit->reg_size(), port, label);
        } catch (const std::invalid_argument& e) {
            throw input_error(m_desc.source, "/params/amdvi_base",
                              std::string("the AMD IOMMU register window of ") + f.model->name() + ": " + e.what());
        }
        write_capability_block(f.model->config(), base, m_roots[f.root].bus_start, params.hw);
        const pci::config_space* cfg = &f.model->config();
        unit->set_msi_source([cfg] { return msi_of(*cfg); });
        base += (unit->reg_size() + amdvi::pcicap::MMIO_ALIGN - 1) & ~(amdvi::pcicap::MMIO_ALIGN - 1);
        m_amdvi_unit_ptrs.push_back(unit.get());
        m_amdvi_by_root.resize(m_roots.size(), nullptr);
        for (size_t r = 0; r < m_roots.size(); ++r)
            if (served_by[r] == int(u)) m_amdvi_by_root[r] = unit.get();
        m_amdvi_units.push_back(std::move(unit));
    }
}

} // namespace iommusim::platforms

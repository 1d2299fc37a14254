#include "platforms/platform.h"

#include "models/pci/cfg/pci_regs.h"
#include "models/iommu/amdvi/tlm/amdvi_unit.h"
#include "models/iommu/tce/tlm/phb_iommu.h"
#include "models/iommu/vtd/tlm/vtd_unit.h"
#include "platforms/platform_builder.h"
#include "platforms/platform_ivrs.h"

#include <algorithm>

namespace iommusim::platforms {

platform::platform(sc_core::sc_module_name name, const platform_desc& desc)
    : sc_module(name), m_desc(desc), m_params(desc.params) {
    platform_builder builder(*this, m_params);
    builder.build(m_desc);
    for (root_complex& r : m_roots) r.host_bridge->set_trace(&m_dma_trace);
    if (m_params.memory.size == 0 || m_roots.empty()) return;
    m_memory = std::make_unique<memory::system_memory>("memory", m_params.memory);
    // The memory side of the machine: upstream requests that leave a host bridge (or an IOMMU) and the
    // CPU's own accesses to memory meet here. Bound at the end of elaboration, only where nothing else
    // (an IOMMU) was bound to the host bridge.
    m_dma_bus = std::make_unique<tlmx::address_router>("memory_bus");
    // x86: the LAPICs claim [0xFEE0_0000, +1 MiB) (Intel SDM Vol. 3 §11.11.1), whatever memory lies
    // below; memory fills the rest of [0, size). POWER has no such window: each PHB takes its MSIs out of
    // its own PCI address space before they could reach memory (platform_tce.cpp).
    const unsigned mem_port = m_dma_bus->connect(m_memory->socket);
    const u64 size = m_params.memory.size, msi_end = intc::MSI_WINDOW_BASE + intc::MSI_WINDOW_SIZE;
    if (m_desc.iommu == iommu_kind::powernv) {
        m_dma_bus->map(0, size, mem_port, "memory");
    } else {
        m_intc = std::make_unique<intc::msi_controller>("interrupt_controller");
        m_dma_bus->map(0, std::min(size, intc::MSI_WINDOW_BASE), mem_port, "memory");
        if (size > msi_end) m_dma_bus->map(msi_end, size - msi_end, mem_port, "memory.high");
        m_dma_bus->map(intc::MSI_WINDOW_BASE, intc::MSI_WINDOW_SIZE, m_dma_bus->connect(m_intc->socket), "msi");
    }
    for (root_complex& r : m_roots) r.host_bridge->set_default_upstream(m_dma_bus->target);
    build_vtd_units();
    build_amdvi_units();
    build_phbs();
}

platform::~platform() = default;

host::firmware_info platform::firmware() const {
    host::firmware_info fw;
    fw.root_buses.reserve(m_roots.size());
    for (const root_complex& r : m_roots) fw.root_buses.push_back({r.segment, r.bus_start, r.bus_end});
    switch (m_desc.iommu) {
    case iommu_kind::intel_vtd: fw.iommu = host::firmware_iommu::dmar; break;
    case iommu_kind::amd_vi: fw.iommu = host::firmware_iommu::ivrs; break;
    case iommu_kind::spapr: fw.iommu = host::firmware_iommu::spapr; break;
    case iommu_kind::powernv: fw.iommu = host::firmware_iommu::opal; break;
    case iommu_kind::none: fw.iommu = host::firmware_iommu::none; break;
    }
    // IVRS names each AMD IOMMU's own PCI function in its IVHD (AMD IOMMU spec §5.2.2.1): an AMD function
    // of class 0x0806 (system peripheral, IOMMU) on a root bus. VT-d units are not PCI functions.
    if (m_desc.iommu == iommu_kind::amd_vi) {
        for (const built_function& f : m_functions) {
            if (f.parent) continue;
            const auto& cfg = f.model->config();
            if (cfg.get16(pci::PCI_VENDOR_ID) == pci::PCI_VENDOR_ID_AMD && cfg.get16(pci::PCI_CLASS_DEVICE) == 0x0806) {
                const root_complex& r = m_roots[f.root];
                fw.iommu_functions.push_back(bdf{r.segment, r.bus_start, f.model->devfn()});
            }
        }
    }
    fw.dmar = m_drhds;
    // pseries: every PHB with the hypervisor's default DMA window (QEMU's defaults; not modelled further).
    if (m_desc.iommu == iommu_kind::spapr) fw.spapr_windows.assign(m_roots.size(), host::spapr_dma_window{});
    fw.opal_phbs = opal_phbs(); // powernv: the PHB nodes (platform_tce.cpp)
    fw.memory_size = m_params.memory.size;
    // AMD-Vi: the IVRS a BIOS writes (platform_ivrs.cpp), with each unit's EFR as firmware reads it from
    // the unit's registers; without units nothing answers and IVinfo.EFRSup stays clear.
    if (m_desc.iommu == iommu_kind::amd_vi) {
        fw.ivrs = build_ivrs(*this, [this](u64 base) -> std::optional<u64> {
            for (const amdvi::amdvi_unit* u : m_amdvi_unit_ptrs)
                if (u->reg_base() == base) return u->efr();
            return std::nullopt;
        });
    }
    return fw;
}

std::optional<u64> platform::ecam_base(u16 segment) const {
    for (const root_complex& r : m_roots)
        if (r.segment == segment) return r.ecam_base;
    return std::nullopt;
}

std::optional<u64> platform::bar_address(const std::string& name, unsigned bar) const {
    auto it = m_by_name.find(name);
    if (it == m_by_name.end()) return std::nullopt;
    return m_resources->bar_address(*m_functions[it->second].desc, bar);
}

pci::pci_function* platform::find(const std::string& name) const {
    auto it = m_by_name.find(name);
    return it == m_by_name.end() ? nullptr : m_functions[it->second].model;
}

} // namespace iommusim::platforms

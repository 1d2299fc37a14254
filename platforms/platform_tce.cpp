// The PHBs of a "powernv" platform: every root complex is a POWER PCI host bridge (IODA2 PHB3 / IODA3 PHB4)
// with its own TCE unit (models/iommu/tce/tlm/phb_iommu), as on a bare-metal POWER8/9 machine where each
// PHB is a PCI domain of its own. The unit sits between the host bridge and the memory bus (DMA, MSIs, TCE
// fetches); the host bridge asks it before every downstream access (EEH: a frozen PE's MMIO loads read all
// ones, its stores are dropped, an injected config error fails the access; a device's error completion
// freezes the PE owning the address); its register window (TCE Kill) is on the system bus. The kernel finds
// each PHB through firmware_info::opal_phbs (the device tree's PHB nodes) and programs it through OPAL.
#include "platforms/platform.h"

#include "models/iommu/tce/tlm/phb_iommu.h"
#include "sim/core/input_error.h"

namespace iommusim::platforms {

namespace {

// The host bridge's downstream checks through the PHB: MMIO by PCI address (1:1 with the CPU address on
// this platform), config requests by the target's RID.
pci::downstream_gate phb_gate(tce::phb_iommu& unit) {
    using verdict = pci::downstream_gate::verdict;
    pci::downstream_gate g;
    g.check = [&unit](const tlmx::pci_extension& ext, u64 addr, unsigned len, bool write, sc_core::sc_time& delay) {
        if (ext.request == tlmx::pci_request::memory) {
            const tce::mmio_verdict v = unit.mmio_check(addr, len, write, delay);
            if (v.what == tce::mmio_verdict::kind::all_ones) return verdict::all_ones;
            if (v.what == tce::mmio_verdict::kind::dropped) return verdict::drop;
            return verdict::forward;
        }
        // Config: the target's bus and devfn are the RID whose PE an injected config error belongs to.
        const u16 rid = u16(ext.bus << 8 | ext.devfn);
        return unit.cfg_check(rid, ext.reg, write, delay) ? verdict::forward : verdict::all_ones;
    };
    g.failed = [&unit](const tlmx::pci_extension&, u64 addr) { unit.mmio_error(addr); };
    return g;
}

} // namespace

void platform::build_phbs() {
    if (m_desc.iommu != iommu_kind::powernv || !m_dma_bus) return;
    tce::tce_unit_params params;
    for (const auto& [name, value] : m_params.tce.items())
        tce::set_tce_unit_param(params, name, value, m_desc.source, "/params/tce/" + name);
    params.validate();
    // The host bridges' 32-bit apertures are the PHBs' M32 windows: the PHB segments what it forwards.
    u64 reg = m_params.phb_reg_base;
    for (size_t r = 0; r < m_roots.size(); ++r) {
        root_complex& rc = m_roots[r];
        tce::tce_unit_params p = params;
        if (rc.mmio32_size) {
            p.phb.m32_pci_base = rc.mmio32_base;
            p.phb.m32_size = rc.mmio32_size;
        }
        const std::string label = "phb" + std::to_string(r);
        std::unique_ptr<tce::phb_iommu> unit;
        try {
            unit = std::make_unique<tce::phb_iommu>(label.c_str(), reg, p);
        } catch (const input_error& e) {
            throw input_error(m_desc.source, "/params/tce" + e.location(), label + ": " + e.message());
        }
        rc.host_bridge->set_default_upstream(unit->dma);
        rc.host_bridge->set_downstream_gate(phb_gate(*unit));
        unit->out.bind(m_dma_bus->target);
        unit->engine.mem.bind(m_dma_bus->target);
        const unsigned port = m_router->connect(unit->regs);
        try {
            m_router->map(reg, unit->reg_size(), port, label + ".regs");
        } catch (const std::invalid_argument& e) {
            throw input_error(m_desc.source, "/params/phb_reg_base", label + "'s register window: " + e.what());
        }
        unit->set_msi_sink([this, r](const tce::msi_message& m, sc_core::sc_time&) {
            m_phb_msis.push_back(m);
            if (m_on_phb_msi) m_on_phb_msi(r, m);
            return true;
        });
        m_phb_ptrs.push_back(unit.get());
        m_phbs.push_back(std::move(unit));
        reg += tce::PHB_REGS_STRIDE;
    }
}

std::vector<host::opal_phb_info> platform::opal_phbs() const {
    std::vector<host::opal_phb_info> out;
    for (size_t i = 0; i < m_phb_ptrs.size(); ++i) {
        const tce::tce_params& p = m_phb_ptrs[i]->params().phb;
        host::opal_phb_info info;
        info.opal_id = i;
        info.phb4 = p.model == tce::phb_model::phb4;
        info.num_pes = p.num_pes;
        info.reserved_pe = p.reserved_pe;
        info.m32_pci_base = p.m32_pci_base;
        info.m32_size = p.m32_size;
        info.m32_segments = p.m32_segments;
        info.dma32_size = p.dma32_window_size;
        info.num_msi = p.num_msi;
        // The 64-bit aperture is the M64 window when the PHB can decode it with one BAR (a power of two,
        // aligned to its size).
        const root_complex& rc = m_roots[i];
        if (rc.mmio64_size && !(rc.mmio64_size & (rc.mmio64_size - 1)) && !(rc.mmio64_base & (rc.mmio64_size - 1))) {
            info.m64_base = rc.mmio64_base;
            info.m64_size = rc.mmio64_size;
        }
        info.m64_bars = p.m64_bars;
        info.tce_pgsizes = p.page_sizes;
        // PHB3 exposes its registers (Linux writes TCE Kill there); PHB4's kills go through OPAL.
        info.regs = info.phb4 ? 0 : m_phb_ptrs[i]->reg_base();
        out.push_back(info);
    }
    return out;
}

} // namespace iommusim::platforms

#include "sim/host/drivers/vtd/vtd_driver.h"

#include "models/iommu/vtd/vtd_defs.h"
#include "models/iommu/vtd/vtd_params.h"
#include "sim/host/dma_alias.h"
#include "sim/host/kernel_log.h"

#include <cerrno>
#include <fmt/format.h>

namespace iommusim::host {

vtd_driver::vtd_driver(pci_host_ops& ops, memory::page_allocator& pages, kernel_log& log, vtd_options options)
    : m_ops(ops), m_pages(pages), m_log(log), m_options(options) {}

vtd_driver::~vtd_driver() { m_si_domain.reset(); }

u64 vtd_driver::alloc_pgtable_page() { return m_units.empty() ? 0 : m_units.front()->alloc_pgtable_page(); }
void vtd_driver::free_pgtable_page(u64 pa) { m_pages.free(pa, 0); }
u64 vtd_driver::read64(u64 pa) const {
    u64 v = 0;
    if (!m_ops.memory_read(pa, &v, 8)) return 0;
    return v;
}
void vtd_driver::write64(u64 pa, u64 v) { m_ops.memory_write(pa, &v, 8); }

// intel_prepare_irq_remapping + intel_enable_irq_remapping: every unit must support IR; x2APIC mode
// (IRTA.EIME) only when every unit has ECAP.EIM. IR needs queued invalidation.
int vtd_driver::setup_irq_remapping() {
    for (const auto& u : m_units)
        if (!vtd::ecap::ir(u->ecap()) || !vtd::ecap::qi(u->ecap())) return -ENODEV;
    bool eim = m_options.x2apic;
    for (const auto& u : m_units)
        if (!vtd::ecap::eim(u->ecap())) eim = false;
    for (const auto& u : m_units) {
        auto table = std::make_unique<vtd_ir_table>(*u, m_options.ir_entries, eim);
        const int ret = table->setup();
        m_ir[u.get()] = std::move(table);
        if (ret) {
            m_ir.clear();
            return ret;
        }
    }
    m_ir_enabled = true;
    m_log.info(fmt::format("DMAR-IR: Enabled IRQ remapping in {} mode", eim ? "x2apic" : "xapic"));
    return 0;
}

int vtd_driver::init() {
    if (m_initialised) return 0;
    const firmware_info fw = m_ops.firmware();
    int seq = 0;
    for (const dmar_drhd& d : fw.dmar) {
        auto u = std::make_unique<vtd_iommu>(m_ops, m_pages, m_log, d, seq++, m_options);
        if (u->probe() == 0) m_units.push_back(std::move(u));
    }
    if (m_units.empty()) return -ENODEV;

    // x86 sets up interrupt remapping (enable_IR_x2apic) before the DMA remapping driver initialises.
    if (m_options.intremap) setup_irq_remapping();

    // init_dmars
    int ret = 0;
    for (auto& u : m_units) {
        u->init_qi();
        u->init_domains();
        if (const int r = u->alloc_root_entry(); r && !ret) ret = r;
        if (!vtd::ecap::pt(u->ecap())) m_hw_pass_through = false;
    }
    // Root tables only once QI is on everywhere (some chipsets hang otherwise, Linux notes).
    for (auto& u : m_units) {
        u->flush_write_buffer();
        if (!ret)
            if (const int r = u->set_root_entry()) ret = r;
    }
    if (!ret && m_hw_pass_through) {  // si_domain_init(hw): the identity domain uses TT = pass-through
        m_si_domain = std::make_shared<dmar_domain>(*this, iommu_domain_type::identity, &m_log);
        if (m_si_domain->init()) m_si_domain.reset();
    }
    for (size_t i = 0; i < m_units.size(); ++i) {
        vtd_iommu& u = *m_units[i];
        u.flush_write_buffer();
        // dmar_set_interrupt: each unit's fault event to the boot CPU. Linux allocates the vector
        // dynamically; ours are fixed so tools can recognise them.
        if (!u.failed()) u.set_fault_interrupt(0, u8(dmar_fault_vector_base + i));
        if (u.failed() && !ret) ret = -ETIMEDOUT;
    }
    if (ret) {
        m_log.warn("DMAR: Initialization failed");
        return ret;
    }
    m_initialised = true;
    return 0;
}

int vtd_driver::enable_translation() {
    if (!m_initialised) return -ENODEV;
    int ret = 0;
    for (auto& u : m_units) {
        if (u->failed()) continue;
        if (const int r = u->enable_translation(); r && !ret) ret = r;
    }
    if (!ret) m_log.info("DMAR: Intel(R) Virtualization Technology for Directed I/O");
    return ret;
}

// device_to_iommu: the first unit whose scope holds the device's root bus, else the segment's
// INCLUDE_PCI_ALL unit (the DMAR table lists it last).
vtd_iommu* vtd_driver::match_drhd(const pci_dev& dev) const {
    const pci_bus* root = dev.bus;
    while (root && !root->is_root()) root = root->parent;
    if (!root) return nullptr;
    for (const auto& u : m_units) {
        if (u->drhd().segment != root->segment || u->drhd().include_pci_all) continue;
        for (const auto& s : u->drhd().scope)
            if (root->number >= s.bus_start && root->number <= s.bus_end) return u.get();
    }
    for (const auto& u : m_units)
        if (u->drhd().segment == root->segment && u->drhd().include_pci_all) return u.get();
    return nullptr;
}

vtd_iommu* vtd_driver::device_to_iommu(const pci_dev& dev) const {
    auto it = m_info.find(&dev);
    if (it != m_info.end()) return it->second.iommu;
    return match_drhd(dev);
}

vtd_ir_table* vtd_driver::ir_table(const vtd_iommu& iommu) const {
    auto it = m_ir.find(&iommu);
    return it == m_ir.end() ? nullptr : it->second.get();
}

int vtd_driver::probe_device(pci_dev& dev) {
    if (!m_initialised) return -ENODEV;
    vtd_iommu* u = match_drhd(dev);
    if (!u || u->failed()) return -ENODEV;
    m_info[&dev] = dev_info{u, nullptr};
    return 0;
}

void vtd_driver::release_device(pci_dev& dev) {
    remove_dev_info(dev);
    m_info.erase(&dev);
}

// intel_iommu_capable (v6.1): coherency is always offered on x86 (IOMMU_CACHE maps to SNP only when
// enforced); interrupt isolation when IR is on; enforcement needs snoop control on the device's unit.
bool vtd_driver::capable(const pci_dev& dev, iommu_cap cap) const {
    switch (cap) {
    case iommu_cap::cache_coherency: return true;
    case iommu_cap::intr_remap: return m_ir_enabled;
    case iommu_cap::enforce_cache_coherency: {
        const vtd_iommu* u = device_to_iommu(dev);
        return u && vtd::ecap::sc(u->ecap());
    }
    default: return false;
    }
}

std::shared_ptr<iommu_domain> vtd_driver::domain_alloc(iommu_domain_type type) {
    if (!m_initialised) return nullptr;
    if (type == iommu_domain_type::identity) return m_si_domain;  // nullptr without hardware pass-through
    // v6.1 has no VT-d blocking domain; the core then uses an empty unmanaged-style domain, which is
    // what a blocked dmar_domain is here: context entries pointing at an empty table.
    auto d = std::make_shared<dmar_domain>(*this, type, &m_log);
    if (d->init()) {
        m_log.warn("DMAR: Domain initialization failed");
        return nullptr;
    }
    return d;
}

// intel_iommu_get_resv_regions: RMRRs (not modelled) and the interrupt window as IOMMU_RESV_MSI.
std::vector<iommu_resv_region> vtd_driver::get_resv_regions(const pci_dev& dev) const {
    (void)dev;
    return {iommu_resv_region{0xfee00000ull, 0xfeefffffull - 0xfee00000ull + 1, 0, iommu_resv_type::msi}};
}

// domain_context_mapping_one (legacy mode): a context entry already present is left alone; otherwise
// DID, AW and SLPTPTR (or pass-through with the unit's largest AGAW), then the flushes a not-present ->
// present change needs: with caching mode a device-selective context invalidation tagged DID 0 and a
// domain-selective IOTLB invalidation, otherwise only the write buffer.
int vtd_driver::context_mapping_one(dmar_domain& domain, vtd_iommu& iommu, u8 bus, u8 devfn) {
    const u16 did = domain.did_on(iommu);
    const bool pt = m_hw_pass_through && domain.type() == iommu_domain_type::identity;
    const u64 ctx = iommu.context_addr(bus, devfn, true);
    if (!ctx) return -ENOMEM;
    if (read64(ctx) & 1) return 0;
    vtd::context_entry e;
    if (pt) {
        e = vtd::context_entry::make(0, unsigned(iommu.msagaw()), did, vtd::translation_type::pass_through);
    } else {
        u64 pgd = domain.pgd();
        for (int agaw = domain.agaw(); agaw > iommu.agaw(); --agaw) {  // normally already stripped
            pgd = read64(pgd) & ~0xfffull;
            if (!pgd) return -ENOMEM;
        }
        e = vtd::context_entry::make(pgd, unsigned(iommu.agaw()), did, vtd::translation_type::untranslated_only);
    }
    write64(ctx + 8, e.hi);
    write64(ctx, e.lo);
    if (vtd::cap::cm(iommu.cap())) {
        iommu.flush_context(0, pci_devid(bus, devfn), 0, vtd_flush::device_or_page);
        iommu.flush_iotlb(did, 0, 0, vtd_flush::domain);
    } else {
        iommu.flush_write_buffer();
    }
    return 0;
}

// domain_context_clear_one: clear, then device-selective context and domain-selective IOTLB
// invalidation with the DID the entry had.
void vtd_driver::context_clear_one(vtd_iommu& iommu, u8 bus, u8 devfn) {
    const u64 ctx = iommu.context_addr(bus, devfn, false);
    if (!ctx) return;
    const u16 did_old = u16((read64(ctx + 8) >> 8) & 0xffff);
    write64(ctx, 0);
    write64(ctx + 8, 0);
    iommu.flush_context(did_old, pci_devid(bus, devfn), 0, vtd_flush::device_or_page);
    iommu.flush_iotlb(did_old, 0, 0, vtd_flush::domain);
}

int vtd_driver::attach_device(dmar_domain& domain, pci_dev& dev) {
    auto it = m_info.find(&dev);
    if (it == m_info.end() || !it->second.iommu) return -ENODEV;
    if (it->second.domain) remove_dev_info(dev);
    vtd_iommu& u = *it->second.iommu;
    int ret = domain.prepare_attach(u);
    if (ret) return ret;
    ret = domain.attach_iommu(u);
    if (ret) return ret;
    it->second.domain = &domain;
    domain.add_device(dev);
    ret = pci_for_each_dma_alias(dev, [&](pci_dev&, u16 alias, alias_kind) {
        return context_mapping_one(domain, u, u8(alias >> 8), u8(alias & 0xff));
    });
    if (ret) {
        m_log.pci_err(dev, "DMAR: Domain context map failed");
        remove_dev_info(dev);
    }
    return ret;
}

void vtd_driver::remove_dev_info(pci_dev& dev) {
    auto it = m_info.find(&dev);
    if (it == m_info.end() || !it->second.domain) return;
    vtd_iommu& u = *it->second.iommu;
    pci_for_each_dma_alias(dev, [&](pci_dev&, u16 alias, alias_kind) {
        context_clear_one(u, u8(alias >> 8), u8(alias & 0xff));
        return 0;
    });
    it->second.domain->remove_device(dev);
    it->second.domain->detach_iommu(u);
    it->second.domain = nullptr;
}

int vtd_driver::msi_alloc(pci_dev& dev, unsigned count, u8 vector, u32 dest, remapped_msi& out) {
    if (!m_ir_enabled) return -ENODEV;
    vtd_iommu* u = device_to_iommu(dev);
    vtd_ir_table* t = u ? ir_table(*u) : nullptr;
    if (!t) return -ENODEV;
    const int ret = t->alloc(dev, count, vector, dest, out);
    for (unsigned i = 0; i < m_units.size(); ++i)
        if (m_units[i].get() == u) out.unit = int(i);
    return ret;
}

void vtd_driver::msi_free(const remapped_msi& msi) {
    if (msi.unit < 0 || unsigned(msi.unit) >= m_units.size()) return;
    if (vtd_ir_table* t = ir_table(*m_units[unsigned(msi.unit)])) t->free(msi);
}

unsigned vtd_driver::handle_faults() {
    unsigned n = 0;
    for (auto& u : m_units) n += u->handle_faults();
    return n;
}

void vtd_driver::inject_skip_invalidations(unsigned n) {
    for (auto& u : m_units) u->inject_skip_invalidations(n);
}

} // namespace iommusim::host

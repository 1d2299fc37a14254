#include "sim/host/drivers/amdvi/amd_iommu_driver.h"

#include "sim/host/dma_alias.h"
#include "sim/host/kernel_log.h"

#include <array>
#include <cerrno>
#include <fmt/format.h>

namespace iommusim::host {

using amdvi::dte;

namespace {
// MSI_RANGE_START/END and HT_RANGE_START/END (amd_iommu_types.h).
constexpr u64 MSI_RANGE_START = 0xfee00000ull, MSI_RANGE_END = 0xfeefffffull;
constexpr u64 HT_RANGE_START = 0xfd00000000ull, HT_RANGE_END = 0xffffffffffull;
constexpr u64 DTE_FLAG_V = 1ull << 0, DTE_FLAG_TV = 1ull << 1, DTE_FLAG_IR = 1ull << 61, DTE_FLAG_IW = 1ull << 62;
constexpr u64 DEV_DOMID_MASK = 0xffff;
constexpr u64 DTE_FLAG_MASK = 0x3ffull << 32;  // data[1] bits clear_dte_entry keeps
constexpr std::array<const char*, 10> feat_str = {"PreF", "PPR", "X2APIC", "NX", "GT", "[5]", "IA", "GA", "HE", "PC"};
} // namespace

amd_iommu_driver::amd_iommu_driver(pci_host_ops& ops, memory::page_allocator& pages, kernel_log& log,
                                   const amd_ivrs& ivrs, std::vector<u8> ioapic_ids, amd_iommu_options options)
    : m_ops(ops), m_pages(pages), m_log(log), m_ivrs(ivrs), m_ioapic_ids(std::move(ioapic_ids)), m_options(options),
      m_pd_alloc(std::make_unique<std::bitset<65536>>()) {
    m_pd_alloc->set(0);  // domain ID 0 is never handed out
}

amd_iommu_driver::~amd_iommu_driver() {
    m_ir.reset();
    for (const auto& [seg, t] : m_dev_tables) m_pages.free(t.first, t.second);
}

u64 amd_iommu_driver::alloc_zeroed_pages(unsigned order) {
    auto pa = m_pages.alloc(order);
    if (!pa) return 0;
    static const std::array<u8, 4096> zero{};
    for (u64 i = 0; i < (1ull << order); ++i) m_ops.memory_write(*pa + i * 4096, zero.data(), zero.size());
    return *pa;
}
void amd_iommu_driver::free_pages(u64 pa, unsigned order) { m_pages.free(pa, order); }
u64 amd_iommu_driver::read64(u64 pa) const {
    u64 v = 0;
    if (!m_ops.memory_read(pa, &v, 8)) return 0;
    return v;
}
void amd_iommu_driver::write64(u64 pa, u64 v) { m_ops.memory_write(pa, &v, 8); }
void amd_iommu_driver::write32(u64 pa, u32 v) { m_ops.memory_write(pa, &v, 4); }

u64 amd_iommu_driver::dev_table(u16 seg) const {
    auto it = m_dev_tables.find(seg);
    return it == m_dev_tables.end() ? 0 : it->second.first;
}

// Device IDs beyond the segment's last_bdf lie outside the table (Linux would index past it): reads give
// an empty entry, writes are dropped.
dte amd_iommu_driver::get_dte(u16 seg, u16 devid) const {
    dte d;
    const u64 base = dev_table(seg);
    if (!base || devid > m_ivrs.last_bdf(seg)) return d;
    m_ops.memory_read(base + u64(devid) * dte::size, d.w, sizeof(d.w));
    return d;
}

void amd_iommu_driver::set_dte(u16 seg, u16 devid, const dte& d) {
    const u64 base = dev_table(seg);
    if (base && devid <= m_ivrs.last_bdf(seg)) m_ops.memory_write(base + u64(devid) * dte::size, d.w, sizeof(d.w));
}

// The device table of each segment: tbl_size(32) bytes, the IVRS DTE settings, IV everywhere when
// interrupts are remapped (init_device_table) and V + TV everywhere (init_device_table_dma), written
// at once. Linux sets V + TV later (amd_iommu_init_pci); nothing translates in between here.
int amd_iommu_driver::init_device_tables() {
    for (const auto& u : m_units) {
        const u16 seg = u->segment();
        if (m_dev_tables.count(seg)) continue;
        const amd_pci_seg* s = m_ivrs.segment(seg);
        if (!s) return -ENODEV;
        const u64 size = s->dev_table_size();
        unsigned order = 0;
        while ((4096ull << order) < size) ++order;
        auto pa = m_pages.alloc(order);
        if (!pa) return -ENOMEM;
        std::vector<u64> words(size / 8, 0);
        for (u32 devid = 0; devid <= s->last_bdf; ++devid) {
            for (unsigned i = 0; i < 4; ++i) words[devid * 4 + i] = s->dte[devid][i];
            words[devid * 4] |= DTE_FLAG_V | DTE_FLAG_TV;
            if (m_irq_remap) words[devid * 4 + 2] |= 1;  // DEV_ENTRY_IRQ_TBL_EN (IV)
        }
        m_ops.memory_write(*pa, words.data(), size);
        m_dev_tables[seg] = {*pa, order};
    }
    return 0;
}

int amd_iommu_driver::init() {
    if (m_initialised) return 0;
    if (!m_ivrs.parsed() || m_ivrs.ivhds().empty()) return -ENODEV;
    // early_amd_iommu_init -> init_iommu_all: one unit per IVHD of the target type.
    int idx = 0;
    for (const ivrs_ivhd* h : m_ivrs.ivhds()) {
        auto u = std::make_unique<amd_iommu>(m_ops, m_pages, m_log, *h, idx++, m_options);
        const bool efr_image = m_ivrs.efr_sup() && h->type != 0x10;
        if (const int r = u->init_one(h->efr_reg, efr_image)) return r;
        m_units.push_back(std::move(u));
    }
    // amd_iommu_prepare: interrupt remapping needs the southbridge IO-APIC in the IVRS.
    m_irq_remap = m_options.intremap && m_ivrs.check_ioapic_information(m_ioapic_ids);
    m_xt = m_irq_remap && m_options.x2apic && m_ivrs.x2apic_allowed();
    // amd_iommu_guest_ir: GA (128-bit IRTEs) unless an IVHD lacks GASup; vAPIC is not modelled, so
    // LEGACY_GA at most.
    const bool ga = m_irq_remap && m_ivrs.ga_allowed();
    if (const int r = init_device_tables()) return r;
    if (m_irq_remap) m_ir = std::make_unique<amd_irq_remap>(*this, ga);

    // early_enable_iommus
    for (auto& u : m_units) {
        const u64 base = dev_table(u->segment());
        const amd_pci_seg* s = m_ivrs.segment(u->segment());
        u->early_enable(base, s->dev_table_size(), ga, m_xt);
        u->flush_all_caches(s->last_bdf);
    }
    // amd_iommu_init_pci
    for (auto& u : m_units) {
        u->init_pci();
        if (u->np_cache()) m_np_cache = true;
    }
    print_iommu_info();
    for (auto& u : m_units) u->flush_all_caches(m_ivrs.segment(u->segment())->last_bdf);
    // amd_iommu_enable_interrupts: each unit's event log interrupt to the boot CPU.
    for (auto& u : m_units) u->setup_event_interrupt(0, u8(event_vector_base + unsigned(u->index())));
    for (auto& u : m_units)
        if (u->failed()) return -EIO;
    m_initialised = true;
    return 0;
}

void amd_iommu_driver::print_iommu_info() {
    for (const auto& u : m_units) {
        m_log.info(fmt::format("pci {}: AMD-Vi: Found IOMMU cap 0x{:x}", bdf{u->segment(), u8(u->devid() >> 8),
                                                                            u8(u->devid() & 0xff)}.str(),
                               u->ivhd().cap_ptr));
        if (!(u->cap() & amdvi::pcicap::EFR_SUP)) continue;
        std::string line = fmt::format("AMD-Vi: Extended features ({:#x}, {:#x}):", u->features(), u->features2());
        for (unsigned i = 0; i < feat_str.size(); ++i)
            if (u->features() & (1ull << i)) line += std::string(" ") + feat_str[i];
        if ((u->features() & amdvi::efr::GAM_SUP) >> 21 == 1) line += " GA_vAPIC";
        m_log.info(line);
    }
    if (m_irq_remap) {
        m_log.info("AMD-Vi: Interrupt remapping enabled");
        if (m_xt) m_log.info("AMD-Vi: X2APIC enabled");
    }
}

amd_iommu* amd_iommu_driver::device_iommu(const pci_dev& dev) const {
    auto it = m_devs.find(&dev);
    if (it != m_devs.end()) return it->second.iommu;
    const bdf a = dev.address();
    const int unit = m_ivrs.rlookup(a.segment, a.rid());
    return unit >= 0 && unsigned(unit) < m_units.size() ? m_units[unsigned(unit)].get() : nullptr;
}

// amd_iommu_probe_device: check_device (the rlookup table), then the device's data.
int amd_iommu_driver::probe_device(pci_dev& dev) {
    if (!m_initialised) return -ENODEV;
    amd_iommu* u = device_iommu(dev);
    if (!u || u->failed()) return -ENODEV;
    const bdf a = dev.address();
    m_devs[&dev] = dev_data{u, a.segment, a.rid(), nullptr};
    m_by_devid[{a.segment, a.rid()}] = &dev;
    return 0;
}

void amd_iommu_driver::release_device(pci_dev& dev) {
    detach_device(dev);
    auto it = m_devs.find(&dev);
    if (it == m_devs.end()) return;
    m_by_devid.erase({it->second.seg, it->second.devid});
    m_devs.erase(it);
}

// amd_iommu_capable (v6.1).
bool amd_iommu_driver::capable(const pci_dev& dev, iommu_cap cap) const {
    (void)dev;
    switch (cap) {
    case iommu_cap::cache_coherency: return true;
    case iommu_cap::intr_remap: return irq_remapping_enabled();
    case iommu_cap::noexec: return false;
    case iommu_cap::pre_boot_protection: return (m_ivrs.ivinfo() & ivrs::IVINFO_DMA_REMAP) != 0;
    case iommu_cap::enforce_cache_coherency: return true;  // the domain op: IOMMU_PTE_FC always set
    }
    return false;
}

std::shared_ptr<iommu_domain> amd_iommu_driver::domain_alloc(iommu_domain_type type) {
    if (!m_initialised || type == iommu_domain_type::blocked) return nullptr;
    auto d = std::make_shared<protection_domain>(*this, type, &m_log);
    if (d->init()) return nullptr;
    return d;
}

// amd_iommu_get_resv_regions: the IVMD unity maps covering the device, the MSI window, the HT range.
std::vector<iommu_resv_region> amd_iommu_driver::get_resv_regions(const pci_dev& dev) const {
    std::vector<iommu_resv_region> out;
    const bdf a = dev.address();
    if (const amd_pci_seg* s = m_ivrs.segment(a.segment)) {
        for (const amd_unity_map& e : s->unity_map) {
            if (a.rid() < e.devid_start || a.rid() > e.devid_end) continue;
            int prot = 0;
            if (e.prot & 1) prot |= IOMMU_READ;
            if (e.prot & 2) prot |= IOMMU_WRITE;
            const iommu_resv_type type = (e.prot & 4) ? iommu_resv_type::reserved : iommu_resv_type::direct;
            out.push_back(iommu_resv_region{e.address_start, e.address_end - e.address_start, prot, type});
        }
    }
    out.push_back(iommu_resv_region{MSI_RANGE_START, MSI_RANGE_END - MSI_RANGE_START + 1, 0, iommu_resv_type::msi});
    out.push_back(iommu_resv_region{HT_RANGE_START, HT_RANGE_END - HT_RANGE_START + 1, 0, iommu_resv_type::reserved});
    return out;
}

u16 amd_iommu_driver::domain_id_alloc() {
    for (u32 id = 1; id < 65536; ++id)
        if (!m_pd_alloc->test(id)) {
            m_pd_alloc->set(id);
            return u16(id);
        }
    return 0;
}
void amd_iommu_driver::domain_id_free(u16 id) {
    if (id) m_pd_alloc->reset(id);
}

// set_dte_entry: root, Mode, IR | IW | V | TV in qword 0 (replaced); DomainID in qword 1 (other flags
// kept); the old domain's TLB entries flushed when the entry had one.
void amd_iommu_driver::set_dte_entry(amd_iommu& iommu, u16 devid, const protection_domain& domain) {
    dte d = get_dte(iommu.segment(), devid);
    const u16 old_domid = u16(d.w[1] & DEV_DOMID_MASK);
    const dte t = dte::make_translation(domain.mode() ? domain.root() : 0, unsigned(domain.mode()), domain.id(), true, true);
    d.w[0] = t.w[0];
    d.w[1] = (d.w[1] & ~DEV_DOMID_MASK) | domain.id();
    set_dte(iommu.segment(), devid, d);
    if (old_domid) {
        // amd_iommu_flush_tlb_domid: not subject to the skip experiment (it is not a page invalidation
        // Linux issues for an unmap).
        iommu.queue_command(amdvi::command::invalidate_iommu_pages(old_domid, amdvi::INV_ALL_PAGES_ADDRESS, true, true));
        iommu.completion_wait();
    }
}

// clear_dte_entry: V + TV only (DMA blocked), the flags of qword 1 kept, erratum 63 re-applied.
void amd_iommu_driver::clear_dte_entry(u16 seg, u16 devid) {
    dte d = get_dte(seg, devid);
    d.w[0] = DTE_FLAG_V | DTE_FLAG_TV;
    d.w[1] &= DTE_FLAG_MASK;
    if (d.sysmgt() == amdvi::sys_mgt::forward_all) d.w[0] |= DTE_FLAG_IW;
    set_dte(seg, devid, d);
}

// clone_aliases: the device's whole DTE copied to its IVRS alias (which may sit on another bus, so not
// be a PCI DMA alias), then to each PCI DMA alias.
void amd_iommu_driver::clone_aliases(pci_dev& dev, u16 seg, u16 devid) {
    const dte d = get_dte(seg, devid);
    const u16 ivrs_alias = m_ivrs.alias(seg, devid);
    if (ivrs_alias != devid) set_dte(seg, ivrs_alias, d);
    pci_for_each_dma_alias(dev, [&](pci_dev&, u16 alias, alias_kind) {
        if (alias != devid) set_dte(seg, alias, d);
        return 0;
    });
}

// device_flush_dte: every PCI DMA alias, then the IVRS alias when it differs.
void amd_iommu_driver::device_flush_dte(pci_dev& dev, const dev_data& d) {
    pci_for_each_dma_alias(dev, [&](pci_dev&, u16 alias, alias_kind) { return d.iommu->flush_dte(alias); });
    const u16 alias = m_ivrs.alias(d.seg, d.devid);
    if (alias != d.devid) d.iommu->flush_dte(alias);
}

int amd_iommu_driver::attach_device(protection_domain& domain, pci_dev& dev) {
    auto it = m_devs.find(&dev);
    if (it == m_devs.end() || !it->second.iommu) return -EINVAL;
    if (it->second.domain == &domain) return 0;
    if (it->second.domain) detach_device(dev);
    dev_data& d = it->second;
    // do_attach
    d.domain = &domain;
    domain.add_device(dev, d.iommu->index());
    set_dte_entry(*d.iommu, d.devid, domain);
    clone_aliases(dev, d.seg, d.devid);
    device_flush_dte(dev, d);
    // attach_device: flush what a previous user may have left, then amd_iommu_attach_device's wait.
    domain_flush_tlb_pde(domain);
    domain_flush_complete(domain);
    d.iommu->completion_wait();
    return d.iommu->failed() ? -EIO : 0;
}

void amd_iommu_driver::detach_device(pci_dev& dev) {
    auto it = m_devs.find(&dev);
    if (it == m_devs.end() || !it->second.domain) return;
    dev_data& d = it->second;
    protection_domain& domain = *d.domain;
    // do_detach
    clear_dte_entry(d.seg, d.devid);
    clone_aliases(dev, d.seg, d.devid);
    device_flush_dte(dev, d);
    domain_flush_tlb_pde(domain);
    domain_flush_complete(domain);
    domain.remove_device(dev, d.iommu->index());
    d.domain = nullptr;
}

// domain_flush_pages: with NpCache (a virtualised IOMMU) only naturally aligned ranges are flushed.
void amd_iommu_driver::domain_flush_pages(protection_domain& domain, u64 address, u64 size, bool pde) {
    auto flush = [&](u64 a, u64 s) {
        for (const auto& [idx, n] : domain.dev_iommu())
            if (n && unsigned(idx) < m_units.size()) m_units[unsigned(idx)]->flush_pages(domain.id(), a, s, pde);
    };
    if (!m_np_cache) {
        flush(address, size);
        return;
    }
    while (size != 0) {
        const unsigned size_alignment = 63 - unsigned(__builtin_clzll(size));
        unsigned min_alignment = size_alignment;
        if (address) min_alignment = std::min(unsigned(__builtin_ctzll(address)), size_alignment);
        const u64 flush_size = 1ull << min_alignment;
        flush(address, flush_size);
        address += flush_size;
        size -= flush_size;
    }
}

// amd_iommu_domain_flush_tlb_pde: every page of the domain, PDE = 1.
void amd_iommu_driver::domain_flush_tlb_pde(protection_domain& domain) {
    for (const auto& [idx, n] : domain.dev_iommu())
        if (n && unsigned(idx) < m_units.size())
            m_units[unsigned(idx)]->flush_pages(domain.id(), 0, amdvi::INV_ALL_PAGES_ADDRESS, true);
}

void amd_iommu_driver::domain_flush_complete(protection_domain& domain) {
    for (const auto& [idx, n] : domain.dev_iommu())
        if (n && unsigned(idx) < m_units.size()) m_units[unsigned(idx)]->completion_wait();
}

// amd_iommu_update_and_flush_device_table: new root and mode in every attached device's DTE and its
// aliases, then the DTE flushes.
void amd_iommu_driver::update_and_flush_device_table(protection_domain& domain) {
    for (pci_dev* dev : domain.devices()) {
        const dev_data& d = m_devs.at(dev);
        set_dte_entry(*d.iommu, d.devid, domain);
        clone_aliases(*dev, d.seg, d.devid);
    }
    for (pci_dev* dev : domain.devices()) device_flush_dte(*dev, m_devs.at(dev));
}

int amd_iommu_driver::msi_alloc(pci_dev& dev, unsigned count, u8 vector, u32 dest, remapped_msi& out) {
    if (!irq_remapping_enabled()) return -ENODEV;
    amd_iommu* u = device_iommu(dev);
    if (!u) return -ENODEV;
    return m_ir->alloc(dev, *u, dev.address().rid(), count, vector, dest, out);
}

void amd_iommu_driver::msi_free(const remapped_msi& msi) {
    if (m_ir) m_ir->free(msi);
}

unsigned amd_iommu_driver::handle_events() {
    unsigned n = 0;
    auto find = [this](u16 seg, u16 devid) -> const pci_dev* {
        auto it = m_by_devid.find({seg, devid});
        return it == m_by_devid.end() ? nullptr : it->second;
    };
    for (auto& u : m_units) n += u->poll_events(find);
    return n;
}

void amd_iommu_driver::inject_skip_invalidations(unsigned n) {
    for (auto& u : m_units) u->inject_skip_invalidations(n);
}

} // namespace iommusim::host

// The simulated kernel's VT-d driver against a fake of the hardware (support/fake_vtd_hw.h): what it
// writes to registers, tables and the invalidation queue, checked with the pure reference walk
// (vtd::slpt_translator) and against the values Linux 6.1 would produce.
#include "support/vtd_fixture.h"

#include "models/iommu/vtd/vtd_defs.h"

using namespace iommusim;
using namespace iommusim::test;
using host::IOMMU_READ;
using host::IOMMU_WRITE;
using host::iommu_domain_type;
using vtd::inv_type;
namespace rb = vtd::regbits;

namespace {
constexpr u64 SZ_4K = 1ull << 12, SZ_2M = 1ull << 21, SZ_1G = 1ull << 30;

std::shared_ptr<host::iommu_domain> unmanaged_for(vtd_world& w, const char* b) {
    auto d = w.core->domain_alloc(iommu_domain_type::unmanaged, w.dev(b));
    REQUIRE(d);
    REQUIRE(w.core->attach_group(d, w.group(b)) == 0);
    return d;
}
host::dmar_domain& as_dmar(const std::shared_ptr<host::iommu_domain>& d) {
    return static_cast<host::dmar_domain&>(*d);
}
vtd::context_entry context_of(vtd_world& w, u16 rid) {
    const u64 root = w.hw.hw().rtaddr_active;
    const u64 re = w.hw.read64(root + (rid >> 8) * 16);
    if (!(re & 1)) return {};
    const u64 ce = (re & ~0xfffull) + (rid & 0xff) * 16;
    return vtd::context_entry{w.hw.read64(ce), w.hw.read64(ce + 8)};
}
} // namespace

TEST_CASE("vtd init: intel_iommu_init order, GCMD keeps the commands in effect, AGAW and DID 0", "[host][vtd]") {
    vtd_world w;
    auto& u = w.hw.hw();
    const auto& unit = *w.vtd->units().front();
    CHECK(unit.agaw() == 2);    // 48-bit, 4 levels: largest SAGAW (39|48) at or below 57
    CHECK(unit.msagaw() == 2);
    // Status after boot: QI, IR with its table pointer, root table, translation.
    const u64 sts = u.gsts();
    CHECK((sts & rb::GSTS_QIES));
    CHECK((sts & rb::GSTS_IRES));
    CHECK((sts & rb::GSTS_IRTPS));
    CHECK((sts & rb::GSTS_RTPS));
    CHECK((sts & rb::GSTS_TES));
    CHECK_FALSE((sts & rb::GSTS_CFIS));  // compatibility-format interrupts stay blocked
    // GCMD writes in order: QIE; SIRTP on top of QIE; IRE; SRTP on top of QIE|IRE; TE.
    const std::vector<u32> expect = {rb::GCMD_QIE, rb::GCMD_QIE | rb::GCMD_SIRTP, rb::GCMD_QIE | rb::GCMD_IRE,
                                     rb::GCMD_QIE | rb::GCMD_IRE | rb::GCMD_SRTP,
                                     rb::GCMD_QIE | rb::GCMD_IRE | rb::GCMD_TE};
    CHECK(u.gcmd_writes == expect);
    CHECK(u.rtaddr_active == unit.root_table());
    // IRTA: the table, EIME (x2APIC: ECAP.EIM), S = 0xf (65536 entries).
    const auto* ir = w.vtd->ir_table(unit);
    REQUIRE(ir);
    CHECK(u.irta_active == (ir->base() | rb::IRTA_EIME | 0xf));
    CHECK(ir->base() % (1u << 20) == 0);  // one 1 MiB run, naturally aligned
    // Queue at init: IEC global (after SIRTP), then context-cache global and IOTLB global (after SRTP).
    REQUIRE(u.queued.size() >= 6);
    CHECK(u.queued[0].type() == u8(inv_type::iec));
    CHECK_FALSE(u.queued[0].iec_index_selective());
    CHECK(u.queued[1].type() == u8(inv_type::inv_wait));
    CHECK(u.queued[2].type() == u8(inv_type::context_cache));
    CHECK(u.queued[2].granularity() == vtd::inv_granularity::global);
    CHECK(u.queued[4].type() == u8(inv_type::iotlb));
    CHECK(u.queued[4].granularity() == vtd::inv_granularity::global);
    CHECK(u.queued[4].iotlb_dw());  // CAP.DWD
    CHECK(u.queued[4].iotlb_dr());  // CAP.DRD
    CHECK(w.log.contains("DMAR: dmar0: reg_base_addr fed90000 ver 1:0"));
    CHECK(w.log.contains("DMAR: dmar0: Using Queued invalidation"));
    CHECK(w.log.contains("DMAR-IR: Enabled IRQ remapping in x2apic mode"));
    CHECK(w.log.contains("Intel(R) Virtualization Technology for Directed I/O"));
    // Default DMA domains: DIDs from 1 (0 is reserved).
    const auto ce = context_of(w, w.rid("01:00.0"));
    CHECK(ce.present());
    CHECK(ce.did() >= 1);
}

TEST_CASE("vtd map: 4K, 2M and 1G mappings translate exactly through the reference walk", "[host][vtd]") {
    vtd_world w;
    auto d = unmanaged_for(w, "01:00.0");
    auto& dd = as_dmar(d);
    CHECK(dd.levels() == 4);
    const u16 sid = w.rid("01:00.0");
    REQUIRE(d->map(0x1000, 0x80000000, SZ_4K, IOMMU_READ) == 0);
    REQUIRE(d->map(0x200000, 0x80200000, SZ_2M, IOMMU_READ | IOMMU_WRITE) == 0);
    REQUIRE(d->map(SZ_1G, 0x100000000ull, SZ_1G, IOMMU_READ | IOMMU_WRITE) == 0);

    auto r = w.hw.translate(0, sid, 0x1234, false);
    REQUIRE(r.ok());
    CHECK(r.addr == 0x80000234);
    CHECK(r.page_size == SZ_4K);
    CHECK(r.did == dd.did_on(*w.vtd->units().front()));
    CHECK(w.hw.translate(0, sid, 0x1234, true).fault == vtd::fault_reason::write_not_allowed);
    r = w.hw.translate(0, sid, 0x3fffff, true);
    REQUIRE(r.ok());
    CHECK(r.addr == 0x803fffff);
    CHECK(r.page_size == SZ_2M);
    r = w.hw.translate(0, sid, SZ_1G + 0x12345678, true);
    REQUIRE(r.ok());
    CHECK(r.addr == 0x100000000ull + 0x12345678);
    CHECK(r.page_size == SZ_1G);
    CHECK(w.hw.translate(0, sid, 0x10000000, false).fault == vtd::fault_reason::read_not_allowed);
    CHECK(d->iova_to_phys(0x3fffff) == 0x803fffff);
    CHECK(d->iova_to_phys(0x10000000) == 0);
    // A device in another group still uses its default domain: the mapping is not visible there.
    CHECK_FALSE(w.hw.translate(0, w.rid("00:02.0"), 0x1234, false).ok());

    // A 4 MiB + 4 KiB range at a 2 MiB-aligned iova: two large pages and one 4 KiB page.
    REQUIRE(d->map(0x40000000ull * 3, 0x200000000ull, 2 * SZ_2M + SZ_4K, IOMMU_READ) == 0);
    CHECK(w.hw.translate(0, sid, 0xc0200000ull, false).page_size == SZ_2M);
    CHECK(w.hw.translate(0, sid, 0xc0400000ull, false).page_size == SZ_4K);
    CHECK(w.hw.translate(0, sid, 0xc0400000ull, false).addr == 0x200400000ull);
}

TEST_CASE("vtd unmap: no translation left, PSI with AM per iommu_flush_iotlb_psi, tables freed after the flush", "[host][vtd]") {
    vtd_world w;
    auto d = unmanaged_for(w, "01:00.0");
    const u16 did = as_dmar(d).did_on(*w.vtd->units().front());
    const u16 sid = w.rid("01:00.0");
    REQUIRE(d->map(0x3000, 0x90003000, 2 * SZ_4K, IOMMU_READ | IOMMU_WRITE) == 0);
    w.hw.hw().queued.clear();
    CHECK(d->unmap(0x3000, 2 * SZ_4K) == 2 * SZ_4K);
    CHECK_FALSE(w.hw.translate(0, sid, 0x3000, false).ok());
    CHECK_FALSE(w.hw.translate(0, sid, 0x4000, false).ok());
    auto inv = w.hw.queued_of(0, inv_type::iotlb);
    REQUIRE(inv.size() == 1);
    CHECK(inv[0].granularity() == vtd::inv_granularity::device_or_page);
    CHECK(inv[0].did() == did);
    // pfn 3, 2 pages: 3 and 4 share no 2-aligned block, the smallest covering mask is 3 (8 pages).
    CHECK(inv[0].iotlb_am() == 3);
    CHECK(inv[0].iotlb_addr() == 0x3000);
    CHECK_FALSE(inv[0].iotlb_ih());  // v6.1 qi_flush_iotlb never sets IH

    // Unmapping a 2 MiB range that covers a whole last-level table frees that table (after the flush).
    const auto before = w.pages.statistics().free_pages;
    REQUIRE(d->map(0x10000000, 0x90000000, SZ_4K, IOMMU_READ) == 0);
    const auto after_map = w.pages.statistics().free_pages;
    CHECK(before - after_map == 1);  // one new last-level table (the upper levels exist from 0x3000)
    CHECK(d->unmap(0x10000000, SZ_2M) == SZ_2M);
    CHECK(w.pages.statistics().free_pages == before);
    // Unmapping inside a 2 MiB page removes the whole page (iommu_unmap may unmap more than asked).
    REQUIRE(d->map(0x600000, 0xa0600000, SZ_2M, IOMMU_READ) == 0);
    CHECK(d->unmap(0x600000, SZ_4K) == SZ_2M);
    CHECK_FALSE(w.hw.translate(0, sid, 0x7ff000, false).ok());
}

TEST_CASE("vtd unmap: DSI when the mask exceeds CAP.MAMV or PSI is absent", "[host][vtd]") {
    vtd::vtd_params p;
    p.mamv = 2;
    vtd_world w(p);
    auto d = unmanaged_for(w, "01:00.0");
    REQUIRE(d->map(0x100000, 0x90100000, 16 * SZ_4K, IOMMU_READ) == 0);
    w.hw.hw().queued.clear();
    CHECK(d->unmap(0x100000, 16 * SZ_4K) == 16 * SZ_4K);  // mask 4 > MAMV 2
    auto inv = w.hw.queued_of(0, inv_type::iotlb);
    REQUIRE(inv.size() == 1);
    CHECK(inv[0].granularity() == vtd::inv_granularity::domain);
    w.hw.hw().queued.clear();
    REQUIRE(d->map(0x100000, 0x90100000, 4 * SZ_4K, IOMMU_READ) == 0);
    CHECK(d->unmap(0x100000, 4 * SZ_4K) == 4 * SZ_4K);  // mask 2 fits
    inv = w.hw.queued_of(0, inv_type::iotlb);
    REQUIRE(inv.size() == 1);
    CHECK(inv[0].granularity() == vtd::inv_granularity::device_or_page);
    CHECK(inv[0].iotlb_am() == 2);
}

TEST_CASE("vtd register-based invalidation without QI: IVA carries IH only when no table was freed", "[host][vtd]") {
    vtd::vtd_params p;
    p.qi = false;
    p.ir = false;  // interrupt remapping needs QI
    p.eim = false;
    p.mhmv = 0;
    vtd_world w(p);
    CHECK(w.log.contains("DMAR: dmar0: Using Register based invalidation"));
    CHECK_FALSE(w.vtd->irq_remapping_enabled());
    auto& u = w.hw.hw();
    CHECK(u.queued.empty());
    REQUIRE(!u.reg_ccmd.empty());
    CHECK(((u.reg_ccmd.front() >> rb::CCMD_CIRG_SHIFT) & 3) == 1);  // global at SRTP
    auto d = unmanaged_for(w, "01:00.0");
    const u16 did = as_dmar(d).did_on(*w.vtd->units().front());
    REQUIRE(d->map(0x5000, 0x95000000, SZ_4K, IOMMU_READ) == 0);
    u.reg_iotlb.clear();
    CHECK(d->unmap(0x5000, SZ_4K) == SZ_4K);
    REQUIRE(u.reg_iotlb.size() == 1);
    const auto [iotlb, iva] = u.reg_iotlb.front();
    CHECK(((iotlb >> rb::IOTLB_IIRG_SHIFT) & 3) == 3);  // page selective
    CHECK(((iotlb >> rb::IOTLB_DID_SHIFT) & 0xffff) == did);
    CHECK((iotlb & rb::IOTLB_DW));
    CHECK_FALSE((iotlb & rb::IOTLB_DR));  // read drain is compiled out in Linux
    CHECK((iva & rb::IVA_ADDR) == 0x5000);
    CHECK((iva & rb::IVA_IH));            // only a leaf changed
    CHECK((iva & rb::IVA_AM) == 0);
    // Freeing the page table clears the hint.
    REQUIRE(d->map(0x20000000, 0x96000000, SZ_4K, IOMMU_READ) == 0);
    u.reg_iotlb.clear();
    CHECK(d->unmap(0x20000000, SZ_2M) == SZ_2M);
    REQUIRE(u.reg_iotlb.size() == 1);
    CHECK_FALSE((u.reg_iotlb.front().second & rb::IVA_IH));
}

TEST_CASE("vtd caching mode: context flush tagged DID 0 and a PSI after every map", "[host][vtd]") {
    vtd::vtd_params p;
    p.cm = true;
    vtd_world w(p);
    auto d = w.core->domain_alloc(iommu_domain_type::unmanaged, w.dev("01:00.0"));
    w.hw.hw().queued.clear();
    REQUIRE(w.core->attach_group(d, w.group("01:00.0")) == 0);
    const u16 did = as_dmar(d).did_on(*w.vtd->units().front());
    const u16 sid = w.rid("01:00.0");
    // Attach of 01:00.0: clear of the default context (its old DID), then the not-present -> present
    // flushes: device-selective context invalidation tagged DID 0, domain-selective IOTLB with the new DID.
    std::vector<vtd::inv_desc> mine;
    for (const auto& q : w.hw.hw().queued) {
        if (q.type() == u8(inv_type::context_cache) && q.cc_sid() == sid) mine.push_back(q);
        if (q.type() == u8(inv_type::iotlb) && !mine.empty()) mine.push_back(q);
    }
    REQUIRE(mine.size() >= 4);
    CHECK(mine[0].did() != 0);  // clearing: the default domain's DID
    CHECK(mine[2].type() == u8(inv_type::context_cache));
    CHECK(mine[2].granularity() == vtd::inv_granularity::device_or_page);
    CHECK(mine[2].did() == 0);
    CHECK(mine[3].type() == u8(inv_type::iotlb));
    CHECK(mine[3].granularity() == vtd::inv_granularity::domain);
    CHECK(mine[3].did() == did);
    w.hw.hw().queued.clear();
    REQUIRE(d->map(0x400000, 0x98000000, 8 * SZ_4K, IOMMU_READ) == 0);
    auto io = w.hw.queued_of(0, inv_type::iotlb);
    REQUIRE(io.size() == 1);
    CHECK(io[0].granularity() == vtd::inv_granularity::device_or_page);
    CHECK(io[0].iotlb_addr() == 0x400000);
    CHECK(io[0].iotlb_am() == 3);
    // Without caching mode a map queues nothing.
    vtd_world plain;
    auto d2 = unmanaged_for(plain, "01:00.0");
    plain.hw.hw().queued.clear();
    REQUIRE(d2->map(0x400000, 0x98000000, 8 * SZ_4K, IOMMU_READ) == 0);
    CHECK(plain.hw.hw().queued.empty());
}

TEST_CASE("vtd attach: context entries for every DMA alias, detach clears them and invalidates", "[host][vtd]") {
    vtd_world w;
    const int g = w.group("03:04.0");
    CHECK(w.group("03:05.0") == g);
    CHECK(w.group("02:00.0") == g);
    auto d = w.core->domain_alloc(iommu_domain_type::unmanaged, w.dev("03:04.0"));
    REQUIRE(w.core->attach_group(d, g) == 0);
    auto& dd = as_dmar(d);
    const u16 did = dd.did_on(*w.vtd->units().front());
    // Own requester IDs of the three functions, and the bridge's (03, 00.0) alias.
    for (const u16 rid : {w.rid("02:00.0"), w.rid("03:04.0"), w.rid("03:05.0"), u16(0x0300)}) {
        INFO("rid " << std::hex << rid);
        const auto ce = context_of(w, rid);
        CHECK(ce.present());
        CHECK(ce.did() == did);
        CHECK(ce.aw() == 2);
        CHECK(ce.slptptr() == dd.pgd());
        CHECK(ce.tt() == vtd::translation_type::untranslated_only);
        CHECK_FALSE(ce.fpd());
    }
    REQUIRE(d->map(0x8000, 0x77000000, SZ_4K, IOMMU_READ) == 0);
    CHECK(w.hw.translate(0, 0x0300, 0x8000).addr == 0x77000000);  // DMA arriving with the bridge's ID

    w.hw.hw().queued.clear();
    w.core->detach_group(d, g);
    auto cc = w.hw.queued_of(0, inv_type::context_cache);
    auto io = w.hw.queued_of(0, inv_type::iotlb);
    // Four aliases of three devices; 03:04.0 and 03:05.0 share 0x0300 (cleared once per device walk).
    REQUIRE(cc.size() >= 4);
    CHECK(cc[0].granularity() == vtd::inv_granularity::device_or_page);
    CHECK(cc[0].did() == did);
    REQUIRE(!io.empty());
    CHECK(io[0].granularity() == vtd::inv_granularity::domain);
    CHECK(io[0].did() == did);
    // Back on the default domain: new DID, nothing of d translates.
    CHECK(context_of(w, w.rid("03:04.0")).did() != did);
    CHECK_FALSE(w.hw.translate(0, 0x0300, 0x8000).ok());
    CHECK(w.core->group_domain(g) == w.core->default_domain(g));
}

TEST_CASE("vtd fault injection: a skipped IOTLB invalidation leaves a stale translation", "[host][vtd]") {
    vtd_world w;
    auto d = unmanaged_for(w, "01:00.0");
    const u16 sid = w.rid("01:00.0");
    REQUIRE(d->map(0x9000, 0x66000000, SZ_4K, IOMMU_READ | IOMMU_WRITE) == 0);
    REQUIRE(w.hw.dma(0, sid, 0x9010, true).ok());  // fills the fake IOTLB
    w.vtd->inject_skip_invalidations(1);
    w.hw.hw().queued.clear();
    CHECK(d->unmap(0x9000, SZ_4K) == SZ_4K);
    CHECK(w.hw.queued_of(0, inv_type::iotlb).empty());
    CHECK(w.vtd->units().front()->skipped_invalidations() == 1);
    CHECK_FALSE(w.hw.translate(0, sid, 0x9010).ok());  // the tables say unmapped...
    auto stale = w.hw.dma(0, sid, 0x9010, true);       // ...but the IOTLB still answers
    CHECK(stale.ok());
    CHECK(stale.addr == 0x66000010);
    // The next invalidation is not skipped and removes the stale entry.
    REQUIRE(d->map(0xa000, 0x67000000, SZ_4K, IOMMU_READ) == 0);
    CHECK(d->unmap(0x8000, 4 * SZ_4K) == 4 * SZ_4K);
    CHECK_FALSE(w.hw.dma(0, sid, 0x9010, true).ok());
}

TEST_CASE("vtd faults: dmar_fault logs each record as Linux and clears F and PPF", "[host][vtd]") {
    vtd_world w;
    const u16 sid = w.rid("01:00.0");
    auto d = unmanaged_for(w, "01:00.0");
    REQUIRE(d->map(0x1000, 0x80000000, SZ_4K, IOMMU_READ) == 0);
    CHECK_FALSE(w.hw.dma(0, sid, 0x10000000, false).ok());
    CHECK_FALSE(w.hw.dma(0, sid, 0x1000, true).ok());
    CHECK((w.hw.hw().regs->get(vtd::reg_id::FSTS) & rb::FSTS_PPF));
    CHECK(w.vtd->handle_faults() == 2);
    CHECK(w.log.contains("DMAR: [DMA Read NO_PASID] Request device [01:00.0] fault addr 0x10000000 "
                         "[fault reason 0x06] PTE Read access is not set"));
    CHECK(w.log.contains("DMAR: [DMA Write NO_PASID] Request device [01:00.0] fault addr 0x1000 "
                         "[fault reason 0x05] PTE Write access is not set"));
    CHECK(w.log.contains("DMAR: DRHD: handling fault status reg 2"));
    CHECK_FALSE((w.hw.hw().regs->get(vtd::reg_id::FSTS) & rb::FSTS_PPF));
    CHECK_FALSE(w.hw.hw().faults->record_pending(0));
    CHECK(w.vtd->handle_faults() == 0);
}

TEST_CASE("vtd a unit that never answers GCMD is reported and does not hang the kernel", "[host][vtd]") {
    vtd::vtd_params p;
    host::vtd_options o;
    o.poll_limit = 50;
    vtd_world w(p, o, {}, false);
    w.hw.hw().dead = true;
    CHECK(w.vtd->init() != 0);
    CHECK(w.vtd->units().front()->failed());
    CHECK(w.log.contains("DMAR hardware is malfunctioning"));
    CHECK(w.log.contains("DMAR: Initialization failed"));
    CHECK(w.hw.hw().gcmd_writes.size() <= 5);
    // Devices then have no IOMMU driver: no default domains.
    w.core->add_driver(*w.vtd);
    CHECK(w.core->probe() == 0);
    CHECK(w.core->driver_of(w.dev("01:00.0")) == nullptr);
}

TEST_CASE("vtd AGAW: a 39-bit unit gives 3-level tables and a 2^39 window", "[host][vtd]") {
    vtd::vtd_params p;
    p.mgaw = 39;
    p.sagaw = vtd::SAGAW_39_BIT;
    vtd_world w(p);
    CHECK(w.vtd->units().front()->agaw() == 1);
    auto d = unmanaged_for(w, "01:00.0");
    CHECK(as_dmar(d).levels() == 3);
    REQUIRE(d->geometry().size() == 1);
    CHECK(d->geometry()[0].size == (1ull << 39));
    CHECK(context_of(w, w.rid("01:00.0")).aw() == 1);
    REQUIRE(d->map(0x7f00000000ull, 0x5000, SZ_4K, IOMMU_READ) == 0);
    CHECK(w.hw.translate(0, w.rid("01:00.0"), 0x7f00000000ull).addr == 0x5000);
    CHECK(d->map(1ull << 39, 0x5000, SZ_4K, IOMMU_READ) == -EINVAL);  // outside the window
}

TEST_CASE("vtd interrupt remapping: IRTEs carry the SID set_msi_sid chooses, messages are remappable", "[host][vtd]") {
    vtd_world w;
    const auto* table = w.vtd->ir_table(*w.vtd->units().front());
    REQUIRE(table);
    auto irte_at = [&](int index) {
        return vtd::irte{w.hw.read64(table->base() + u64(index) * 16), w.hw.read64(table->base() + u64(index) * 16 + 8)};
    };
    struct expect_t { const char* dev; vtd::irte_svt svt; u16 sid; };
    const expect_t cases[] = {
        {"01:00.0", vtd::irte_svt::sid_sq, 0x0100},     // PCIe endpoint: its own ID
        {"00:02.0", vtd::irte_svt::sid_sq, 0x0010},     // RCiEP
        {"03:04.0", vtd::irte_svt::bus_range, 0x0303},  // behind a PCIe-to-PCI bridge: bus 3..3
    };
    for (const auto& c : cases) {
        INFO(c.dev);
        host::remapped_msi m;
        w.hw.hw().queued.clear();
        REQUIRE(w.core->msi_compose(w.dev(c.dev), 1, 0x41, 3, m) == 0);
        REQUIRE(m.msgs.size() == 1);
        const auto e = irte_at(m.index);
        CHECK(e.present());
        CHECK(e.vector() == 0x41);
        CHECK(e.dst() == 3);  // x2APIC mode: the APIC ID as is
        CHECK(e.rh());
        CHECK_FALSE(e.dm());
        CHECK(e.svt() == c.svt);
        CHECK(e.sq() == 0);
        CHECK(e.sid() == c.sid);
        const vtd::msi_address a{m.msgs[0].address()};
        CHECK(a.is_interrupt());
        CHECK(a.remappable());
        CHECK(a.shv());
        CHECK(a.handle() == m.index);
        CHECK(m.msgs[0].data == 0);
        auto iec = w.hw.queued_of(0, inv_type::iec);
        REQUIRE(iec.size() == 1);
        CHECK(iec[0].iec_index_selective());
        CHECK(iec[0].iec_iidx() == m.index);
    }
    // Multi-vector MSI: a naturally aligned block, one handle, sub-handles in the data.
    host::remapped_msi multi;
    REQUIRE(w.core->msi_compose(w.dev("01:00.0"), 3, 0x50, 1, multi) == 0);
    CHECK(multi.count == 4);
    CHECK(multi.index % 4 == 0);
    REQUIRE(multi.msgs.size() == 3);
    CHECK(multi.msgs[2].data == 2);
    CHECK(irte_at(multi.index + 2).vector() == 0x52);
    w.vtd->msi_free(multi);
    CHECK_FALSE(irte_at(multi.index).present());
    // The reference check of source-id verification agrees with what was written.
    CHECK(irte_at(0).source_ok(0x0100));
    CHECK_FALSE(irte_at(0).source_ok(0x0101));
}

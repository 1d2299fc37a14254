// VT-d in-memory formats (§9) and invalidation descriptors (§6.5.2): every encoder round-trips through its
// accessors, reserved-bit masks catch what the spec reserves, MSI address formats decode (§5.1.2).
#include "models/iommu/vtd/vtd_defs.h"
#include "models/iommu/vtd/vtd_inv_desc.h"
#include "models/iommu/vtd/vtd_params.h"

#include <string>

#include <catch2/catch.hpp>

using namespace iommusim;
using namespace iommusim::vtd;

TEST_CASE("vtd defs: root entry round trip and reserved bits", "[vtd][defs]") {
    auto r = root_entry::make(0x12345678000ull);
    CHECK(r.present());
    CHECK(r.ctp() == 0x12345678000ull);
    CHECK(r.reserved(46) == 0);
    CHECK(root_entry{r.lo | 0x10, 0}.reserved(46) == 0x10);
    CHECK(root_entry{r.lo, 1}.reserved(46) == 1);
    CHECK(root_entry{r.lo | (1ull << 46), 0}.reserved(46) == (1ull << 46));
    CHECK(root_entry{r.lo | (1ull << 46), 0}.reserved(48) == 0);
}

TEST_CASE("vtd defs: context entry round trip and reserved bits", "[vtd][defs]") {
    auto c = context_entry::make(0xabc000, 2, 0x1234, translation_type::device_tlb, true);
    CHECK(c.present());
    CHECK(c.fpd());
    CHECK(c.tt() == translation_type::device_tlb);
    CHECK(c.slptptr() == 0xabc000);
    CHECK(c.aw() == 2);
    CHECK(c.did() == 0x1234);
    CHECK(c.reserved(46) == 0);
    CHECK(agaw_bits(c.aw()) == 48);
    CHECK(agaw_levels(c.aw()) == 4);
    context_entry bad = c;
    bad.lo |= 1ull << 5;
    CHECK(bad.reserved(46) == (1ull << 5));
    bad = c;
    bad.hi |= 1ull << 7;
    CHECK(bad.reserved(46) == (1ull << 7));
    bad = c;
    bad.hi |= 1ull << 30;
    CHECK(bad.reserved(46) == (1ull << 30));
    bad = c;
    bad.hi |= 0x78;  // AVAIL is software's
    CHECK(bad.reserved(46) == 0);
    CHECK(bad.avail() == 0xf);
    // SLPTPTR beyond HAW is reserved, except under pass-through where it is ignored.
    auto hi_ptr = context_entry::make(1ull << 47, 1, 1, translation_type::untranslated_only);
    CHECK(hi_ptr.reserved(46) == (1ull << 47));
    auto pt = context_entry::make(1ull << 47, 1, 1, translation_type::pass_through);
    CHECK(pt.reserved(46) == 0);
}

TEST_CASE("vtd defs: second-level entries and reserved masks per level", "[vtd][defs]") {
    auto t = sl_entry::table(0x5000, true, false);
    CHECK(t.r());
    CHECK_FALSE(t.w());
    CHECK(t.present());
    CHECK(t.addr() == 0x5000);
    CHECK_FALSE(sl_entry{0}.present());
    auto p = sl_entry::page(0x40000000, true, true, true, true, true);
    CHECK(p.ps());
    CHECK(p.snp());
    CHECK(p.tm());
    CHECK(p.addr() == 0x40000000);

    sl_format f;  // haw 46, 2M + 1G, no SC, no DT
    CHECK(f.reserved(t, 4) == 0);
    CHECK(f.reserved(sl_entry{t.v | (1ull << 11)}, 3) == (1ull << 11));  // non-leaf bit 11
    CHECK(f.reserved(sl_entry{t.v | (1ull << 62)}, 2) == (1ull << 62));  // non-leaf bit 62
    CHECK(f.reserved(sl_entry{t.v | 0x78 | (1ull << 8) | (1ull << 63) | (0x3ffull << 52)}, 2) == 0);  // ignored
    CHECK(f.reserved(sl_entry{t.v | (1ull << 46)}, 1) == (1ull << 46));
    // Leaf 4K: SNP and TM reserved without SC/DT, defined with them.
    auto leaf = sl_entry::page(0x7000, true, true, false, true, true);
    CHECK(f.reserved(leaf, 1) == ((1ull << 11) | (1ull << 62)));
    sl_format fsd = f;
    fsd.sc = fsd.dt = true;
    CHECK(fsd.reserved(leaf, 1) == 0);
    // Bit 7 is ignored in an SL-PTE.
    CHECK(f.reserved(sl_entry{sl_entry::page(0x7000, true, true).v | 0x80}, 1) == 0);
    // Large pages: address bits below the page size are reserved; PS where unsupported is reserved.
    auto l2 = sl_entry::page(0x200000, true, true, true);
    CHECK(f.reserved(l2, 2) == 0);
    CHECK(f.reserved(sl_entry{l2.v | 0x1000}, 2) == 0x1000);
    auto l3 = sl_entry::page(0x40000000, true, true, true);
    CHECK(f.reserved(l3, 3) == 0);
    CHECK(f.reserved(sl_entry{l3.v | 0x200000}, 3) == 0x200000);
    CHECK(f.reserved(l3, 4) == 0x80);
    sl_format only2m = f;
    only2m.sllps = SLLPS_2M;
    CHECK(only2m.reserved(l3, 3) == 0x80);
    CHECK(only2m.reserved(l2, 2) == 0);
    CHECK(level_page_size(1) == 0x1000);
    CHECK(level_page_size(2) == 0x200000);
    CHECK(level_page_size(3) == 0x40000000);
    CHECK(level_index(0x0000123456789000ull, 1) == 0x189);
    CHECK(level_index(0x0000123456789000ull, 4) == 0x24);
}

TEST_CASE("vtd defs: IRTE remapped and posted formats, source-id verification", "[vtd][defs]") {
    auto e = irte::make_remapped(0x41, 0x0300, 1, true, true, true, true);
    e.with_source(irte_svt::sid_sq, 0, 0x0310);
    CHECK(e.present());
    CHECK(e.fpd());
    CHECK_FALSE(e.im());
    CHECK(e.vector() == 0x41);
    CHECK(e.dst() == 0x0300);
    CHECK(e.xapic_dst() == 0x03);
    CHECK(e.dlm() == 1);
    CHECK(e.dm());
    CHECK(e.tm());
    CHECK(e.rh());
    CHECK(e.sid() == 0x0310);
    CHECK(e.sq() == 0);
    CHECK(e.svt() == irte_svt::sid_sq);
    CHECK(e.reserved(false, false) == 0);
    CHECK(e.source_ok(0x0310));
    CHECK_FALSE(e.source_ok(0x0311));
    e.with_source(irte_svt::sid_sq, 3, 0x0310);  // ignore function bits
    CHECK(e.source_ok(0x0317));
    CHECK_FALSE(e.source_ok(0x0318));
    e.with_source(irte_svt::sid_sq, 1, 0x0310);  // ignore bit 2
    CHECK(e.source_ok(0x0314));
    CHECK_FALSE(e.source_ok(0x0312));
    e.with_source(irte_svt::bus_range, 0, 0x0305);  // buses 3..5
    CHECK(e.source_ok(0x0400));
    CHECK_FALSE(e.source_ok(0x0600));
    e.with_source(irte_svt::none, 0, 0);
    CHECK(e.source_ok(0xffff));
    e.with_source(irte_svt::reserved, 0, 0);
    CHECK_FALSE(e.source_ok(0));
    CHECK(e.reserved(false, false) != 0);
    // x2APIC destination is reserved in xAPIC mode beyond bits 15:8.
    auto x2 = irte::make_remapped(0x30, 0x12345678);
    CHECK(x2.reserved(true, false) == 0);
    CHECK(x2.reserved(false, false) != 0);
    auto rsv = irte::make_remapped(0x30, 0);
    rsv.lo |= 1ull << 13;
    CHECK(rsv.reserved(true, false) == (1ull << 13));
    rsv = irte::make_remapped(0x30, 0);
    rsv.hi |= 1ull << 40;
    CHECK(rsv.reserved(true, false) == (1ull << 40));
    // Posted
    auto p = irte::make_posted(0x55, 0x0000001234567840ull, true);
    CHECK(p.im());
    CHECK(p.urg());
    CHECK(p.vector() == 0x55);
    CHECK(p.pda() == 0x0000001234567840ull);
    CHECK(p.reserved(true, true) == 0);
    CHECK(p.reserved(true, false) != 0);  // posted format without CAP.PI
}

TEST_CASE("vtd defs: MSI address in compatibility and remappable format", "[vtd][defs]") {
    auto r = msi_address::make_remappable(0x8123, true);
    CHECK(r.is_interrupt());
    CHECK(r.remappable());
    CHECK(r.shv());
    CHECK(r.handle() == 0x8123);
    CHECK(r.interrupt_index(0x0005) == 0x8128);
    CHECK(msi_address::make_remappable(0x10, false).interrupt_index(0x5) == 0x10);
    auto c = msi_address::make_compat(0x2a, true, true);
    CHECK(c.is_interrupt());
    CHECK_FALSE(c.remappable());
    CHECK(c.dest_id() == 0x2a);
    CHECK(c.rh());
    CHECK(c.dm());
    CHECK(c.v == 0xfee2a00cull);
    CHECK_FALSE(msi_address{0xfed00000}.is_interrupt());
    CHECK_FALSE(msi_address{0x1fee00000ull}.is_interrupt());
}

TEST_CASE("vtd inv_desc: every descriptor encoder round-trips and has no reserved bits", "[vtd][defs][qi]") {
    auto cc = inv_desc::make_cc_device(0x22, 0x0310, 3);
    CHECK(cc.type() == 0x1);
    CHECK(cc.granularity() == inv_granularity::device_or_page);
    CHECK(cc.did() == 0x22);
    CHECK(cc.cc_sid() == 0x0310);
    CHECK(cc.cc_fm() == 3);
    CHECK(cc.reserved() == 0);
    CHECK(inv_desc::make_cc_global().granularity() == inv_granularity::global);
    CHECK(inv_desc::make_cc_domain(7).granularity() == inv_granularity::domain);
    CHECK(inv_desc::make_cc_domain(7).did() == 7);

    auto it = inv_desc::make_iotlb_page(0x33, 0x7654321000ull, 9, true, true, true);
    CHECK(it.type() == 0x2);
    CHECK(it.granularity() == inv_granularity::device_or_page);
    CHECK(it.did() == 0x33);
    CHECK(it.iotlb_addr() == 0x7654321000ull);
    CHECK(it.iotlb_am() == 9);
    CHECK(it.iotlb_ih());
    CHECK(it.iotlb_dr());
    CHECK(it.iotlb_dw());
    CHECK(it.reserved() == 0);
    CHECK(inv_desc::make_iotlb_global().granularity() == inv_granularity::global);
    CHECK(inv_desc::make_iotlb_domain(4).did() == 4);
    CHECK(inv_desc::make_iotlb_domain(4).granularity() == inv_granularity::domain);

    auto dt = inv_desc::make_dev_tlb(0x0310, 0xabcd, 0x1f, 0x12345000ull, true);
    CHECK(dt.type() == 0x3);
    CHECK(dt.dtlb_sid() == 0x0310);
    CHECK(dt.dtlb_pfsid() == 0xabcd);
    CHECK(dt.dtlb_mip() == 0x1f);
    CHECK(dt.dtlb_addr() == 0x12345000ull);
    CHECK(dt.dtlb_s());
    CHECK(dt.reserved() == 0);

    auto ie = inv_desc::make_iec_index(0x1234, 4);
    CHECK(ie.type() == 0x4);
    CHECK(ie.iec_index_selective());
    CHECK(ie.iec_iidx() == 0x1234);
    CHECK(ie.iec_im() == 4);
    CHECK(ie.reserved() == 0);
    CHECK_FALSE(inv_desc::make_iec_global().iec_index_selective());

    auto w = inv_desc::make_wait(true, true, true, 0xdead0004ull, 0xcafe);
    CHECK(w.type() == 0x5);
    CHECK(w.wait_sw());
    CHECK(w.wait_if());
    CHECK(w.wait_fn());
    CHECK_FALSE(w.wait_pd());
    CHECK(w.wait_status_addr() == 0xdead0004ull);
    CHECK(w.wait_status_data() == 0xcafe);
    CHECK(w.reserved() == 0);

    for (auto d : {cc, it, dt, ie, w}) CHECK(d.legacy_type());
    // Reserved fields are caught per type.
    auto bad = cc;
    bad.hi = 1;
    CHECK(bad.reserved() != 0);
    bad = it;
    bad.lo |= 1ull << 40;
    CHECK(bad.reserved() != 0);
    bad = w;
    bad.hi |= 1;
    CHECK(bad.reserved() != 0);
}

TEST_CASE("vtd inv_desc: PASID-based and unknown types are not legacy descriptors", "[vtd][defs][qi]") {
    for (u8 t : {0x0, 0x6, 0x7, 0x8, 0x9, 0x15, 0x7f}) {
        INFO(int(t));
        auto d = inv_desc::make_typed(t);
        CHECK(d.type() == t);
        CHECK_FALSE(d.legacy_type());
        CHECK(d.reserved() != 0);
    }
    CHECK(std::string(inv_type_name(0x6)) == "p_iotlb_inv_dsc");
    CHECK(std::string(inv_type_name(0x2)) == "iotlb_inv_dsc");
    CHECK(std::string(inv_type_name(0x40)) == "reserved");
    // Type bits 11:9 set on a legacy type make it another type.
    auto d = inv_desc::make_iotlb_global();
    d.lo |= 1ull << 9;
    CHECK(d.type() == 0x12);
    CHECK_FALSE(d.legacy_type());
}

// VT-d legacy-mode translation (§3.4 - §3.6, §9): tables built in a small sparse memory map, one check per
// fault reason the translation function can raise, 3-/4-/5-level walks, 2 MiB and 1 GiB pages, combined
// permissions, pass-through, device-TLB translation types.
#include "models/iommu/vtd/vtd_params.h"
#include "models/iommu/vtd/vtd_slpt.h"

#include <catch2/catch.hpp>

#include <map>
#include <set>

using namespace iommusim;
using namespace iommusim::vtd;

namespace {

// Sparse physical memory: untouched words read 0, "poisoned" pages fail to read.
struct sparse_memory {
    std::map<u64, u64> words;
    std::set<u64> poisoned_pages;
    u64 next_page = 0x100000;

    void w64(u64 pa, u64 v) { words[pa] = v; }
    u64 alloc() { return (next_page += 0x1000); }
    read_u64_fn reader() {
        return [this](u64 pa) -> std::optional<u64> {
            if (poisoned_pages.count(pa & ~0xfffull)) return std::nullopt;
            auto it = words.find(pa);
            return it == words.end() ? 0 : it->second;
        };
    }
};

constexpr u16 SID = 0x0310;  // 03:02.0

// A platform: root table, one context entry for SID, an empty top-level table.
struct tables {
    sparse_memory mem;
    u64 rtaddr, ctx_table, top;
    unsigned aw;

    explicit tables(unsigned aw_ = 2, translation_type tt = translation_type::untranslated_only, bool fpd = false)
        : aw(aw_) {
        rtaddr = mem.alloc();
        ctx_table = mem.alloc();
        top = mem.alloc();
        auto re = root_entry::make(ctx_table);
        mem.w64(rtaddr + (SID >> 8) * 16, re.lo);
        set_context(context_entry::make(top, aw, 42, tt, fpd));
    }
    void set_context(context_entry ce) {
        mem.w64(ctx_table + (SID & 0xff) * 16, ce.lo);
        mem.w64(ctx_table + (SID & 0xff) * 16 + 8, ce.hi);
    }
    // Map iova -> pa with a leaf at `leaf_level`, creating intermediate tables (R/W) as needed.
    u64 map(u64 iova, u64 pa, unsigned leaf_level = 1, bool r = true, bool w = true) {
        u64 table = top;
        for (unsigned level = agaw_levels(aw); level > leaf_level; --level) {
            const u64 slot = table + level_index(iova, level) * 8;
            u64 e = mem.words[slot];
            if (!sl_entry{e}.present()) {
                e = sl_entry::table(mem.alloc()).v;
                mem.w64(slot, e);
            }
            table = sl_entry{e}.addr();
        }
        const u64 slot = table + level_index(iova, leaf_level) * 8;
        mem.w64(slot, sl_entry::page(pa, r, w, leaf_level > 1).v);
        return slot;
    }
    // Address of the entry for iova at a level (tables must exist down to it).
    u64 slot(u64 iova, unsigned at_level) {
        u64 table = top;
        for (unsigned level = agaw_levels(aw); level > at_level; --level)
            table = sl_entry{mem.words[table + level_index(iova, level) * 8]}.addr();
        return table + level_index(iova, at_level) * 8;
    }
    xlate_result xlate(const slpt_translator& t, u64 iova, bool write = false,
                       address_type at = address_type::untranslated) {
        return t.translate(rtaddr, {SID, iova, write, at}, mem.reader());
    }
};

xlate_caps caps_of(const vtd_params& p) { return xlate_caps::from_registers(build_cap(p), build_ecap(p), p.haw); }

vtd_params with_5level() {
    vtd_params p;
    p.sagaw = SAGAW_39_BIT | SAGAW_48_BIT | SAGAW_57_BIT;
    p.mgaw = 57;
    return p;
}

} // namespace

TEST_CASE("vtd slpt: 3-, 4- and 5-level walks translate 4 KiB pages", "[vtd][slpt]") {
    const slpt_translator t(caps_of(with_5level()));
    for (unsigned aw : {1u, 2u, 3u}) {
        INFO("aw " << aw);
        tables tb(aw);
        const u64 iova = (aw == 1 ? 0x7fabcd000ull : aw == 2 ? 0x7fffabcd000ull : 0x1fffffabcd000ull);
        tb.map(iova, 0x3456000);
        auto x = tb.xlate(t, iova + 0x123, true);
        REQUIRE(x.ok());
        CHECK(x.addr == 0x3456123);
        CHECK(x.page_size == 0x1000);
        CHECK(x.level == 1);
        CHECK(x.r);
        CHECK(x.w);
        CHECK(x.did == 42);
        CHECK_FALSE(x.pass_through);
    }
}

TEST_CASE("vtd slpt: 2 MiB and 1 GiB pages when SLLPS allows them", "[vtd][slpt]") {
    const slpt_translator t(caps_of(vtd_params{}));
    tables tb;
    tb.map(0x40000000, 0x80000000, 3);
    tb.map(0x200000, 0x600000, 2);
    auto g = tb.xlate(t, 0x40000000 + 0x12345678);
    REQUIRE(g.ok());
    CHECK(g.page_size == 0x40000000);
    CHECK(g.addr == 0x80000000 + 0x12345678);
    CHECK(g.level == 3);
    auto m = tb.xlate(t, 0x200000 + 0x1abcd);
    REQUIRE(m.ok());
    CHECK(m.page_size == 0x200000);
    CHECK(m.addr == 0x61abcd);
    // Without 1 GiB support the PS bit at level 3 is reserved (Ch).
    vtd_params p;
    p.sllps = SLLPS_2M;
    auto x = tb.xlate(slpt_translator(caps_of(p)), 0x40000000);
    CHECK(x.fault == fault_reason::paging_entry_reserved);
    CHECK(x.level == 3);
    // Without any large pages, the 2 MiB leaf is reserved too.
    p.sllps = 0;
    CHECK(tb.xlate(slpt_translator(caps_of(p)), 0x200000).fault == fault_reason::paging_entry_reserved);
}

TEST_CASE("vtd slpt: permissions combine across levels, 5h and 6h", "[vtd][slpt][fault]") {
    const slpt_translator t(caps_of(vtd_params{}));
    tables tb;
    tb.map(0x1000, 0x9000, 1, true, false);  // read-only leaf
    CHECK(tb.xlate(t, 0x1000).ok());
    auto w = tb.xlate(t, 0x1000, true);
    CHECK(w.fault == fault_reason::write_not_allowed);
    CHECK(w.level == 1);
    tb.map(0x2000, 0xa000, 1, false, true);  // write-only leaf
    CHECK(tb.xlate(t, 0x2000, true).ok());
    CHECK(tb.xlate(t, 0x2000).fault == fault_reason::read_not_allowed);
    // A read-only non-leaf entry takes W away from everything below it.
    tb.map(0x40200000, 0xb000);
    const u64 l2 = tb.slot(0x40200000, 2);
    tb.mem.w64(l2, sl_entry::table(sl_entry{tb.mem.words[l2]}.addr(), true, false).v);
    auto x = tb.xlate(t, 0x40200000, true);
    CHECK(x.fault == fault_reason::write_not_allowed);
    CHECK(x.level == 2);
    auto rd = tb.xlate(t, 0x40200000);
    REQUIRE(rd.ok());
    CHECK(rd.r);
    CHECK_FALSE(rd.w);
    // Not present: faults as the request's missing permission.
    CHECK(tb.xlate(t, 0x700000000000ull).fault == fault_reason::read_not_allowed);
    CHECK(tb.xlate(t, 0x700000000000ull, true).fault == fault_reason::write_not_allowed);
    CHECK(tb.xlate(t, 0x700000000000ull).level == 4);
}

TEST_CASE("vtd slpt: root and context faults 1h 2h 3h 8h 9h Ah Bh", "[vtd][slpt][fault]") {
    const vtd_params p;
    const slpt_translator t(caps_of(p));
    SECTION("1h root entry not present") {
        tables tb;
        tb.mem.w64(tb.rtaddr + (SID >> 8) * 16, 0);
        auto x = tb.xlate(t, 0);
        CHECK(x.fault == fault_reason::root_entry_not_present);
        CHECK_FALSE(x.fpd);
    }
    SECTION("2h context entry not present") {
        tables tb;
        tb.set_context({});
        CHECK(tb.xlate(t, 0).fault == fault_reason::context_entry_not_present);
    }
    SECTION("3h invalid context: reserved TT, AW not in SAGAW, PT or DT unsupported") {
        tables tb;
        auto ce = context_entry::make(tb.top, 2, 1, translation_type::reserved);
        tb.set_context(ce);
        CHECK(tb.xlate(t, 0).fault == fault_reason::context_entry_invalid);
        tb.set_context(context_entry::make(tb.top, 3, 1, translation_type::untranslated_only));  // 57-bit
        CHECK(tb.xlate(t, 0).fault == fault_reason::context_entry_invalid);
        tb.set_context(context_entry::make(tb.top, 0, 1, translation_type::untranslated_only));
        CHECK(tb.xlate(t, 0).fault == fault_reason::context_entry_invalid);
        tb.set_context(context_entry::make(tb.top, 2, 1, translation_type::device_tlb));  // DT = 0
        CHECK(tb.xlate(t, 0).fault == fault_reason::context_entry_invalid);
        vtd_params np = p;
        np.pt = false;
        tb.set_context(context_entry::make(0, 2, 1, translation_type::pass_through, true));
        auto x = tb.xlate(slpt_translator(caps_of(np)), 0);
        CHECK(x.fault == fault_reason::context_entry_invalid);
        CHECK(x.fpd);  // the entry is present and well-formed: its FPD governs
    }
    SECTION("8h root table access error") {
        tables tb;
        tb.mem.poisoned_pages.insert(tb.rtaddr);
        CHECK(tb.xlate(t, 0).fault == fault_reason::root_table_access_error);
    }
    SECTION("9h context table access error") {
        tables tb;
        tb.mem.poisoned_pages.insert(tb.ctx_table);
        CHECK(tb.xlate(t, 0).fault == fault_reason::context_table_access_error);
    }
    SECTION("Ah root entry reserved") {
        tables tb;
        tb.mem.w64(tb.rtaddr + (SID >> 8) * 16 + 8, 1);
        CHECK(tb.xlate(t, 0).fault == fault_reason::root_entry_reserved);
    }
    SECTION("Bh context entry reserved") {
        tables tb;
        auto ce = context_entry::make(tb.top, 2, 1, translation_type::untranslated_only, true);
        ce.hi |= 1ull << 40;
        tb.set_context(ce);
        auto x = tb.xlate(t, 0);
        CHECK(x.fault == fault_reason::context_entry_reserved);
        CHECK_FALSE(x.fpd);  // a malformed entry's FPD is not trusted
    }
}

TEST_CASE("vtd slpt: 4h address beyond min(MGAW, AGAW), 7h and Ch in the walk", "[vtd][slpt][fault]") {
    SECTION("4h with a 39-bit AGAW context") {
        const slpt_translator t(caps_of(vtd_params{}));
        tables tb(1);
        auto x = tb.xlate(t, 1ull << 39);
        CHECK(x.fault == fault_reason::address_beyond_agaw);
        CHECK(x.did == 42);
    }
    SECTION("4h with MGAW below the context's AGAW") {
        vtd_params p;
        p.mgaw = 40;
        const slpt_translator t(caps_of(p));
        tables tb(2);
        tb.map(1ull << 40, 0x1000);
        CHECK(tb.xlate(t, 1ull << 40).fault == fault_reason::address_beyond_agaw);
        tb.map((1ull << 40) - 0x1000, 0x2000);
        CHECK(tb.xlate(t, (1ull << 40) - 0x1000).ok());
    }
    SECTION("7h paging entry access error at a lower level") {
        const slpt_translator t(caps_of(vtd_params{}));
        tables tb;
        tb.map(0x5000, 0x6000);
        const u64 leaf = tb.slot(0x5000, 1);
        tb.mem.poisoned_pages.insert(leaf & ~0xfffull);
        auto x = tb.xlate(t, 0x5000);
        CHECK(x.fault == fault_reason::paging_entry_access_error);
        CHECK(x.level == 1);
        tb.mem.poisoned_pages.insert(tb.top);
        CHECK(tb.xlate(t, 0x5000).level == 4);
    }
    SECTION("Ch reserved bits: above HAW, SNP without SC, TM without DT, PS at level 4") {
        const slpt_translator t(caps_of(vtd_params{}));
        tables tb;
        const u64 leaf = tb.map(0x5000, 0x6000);
        tb.mem.w64(leaf, sl_entry::page(1ull << 47, true, true).v);
        auto x = tb.xlate(t, 0x5000);
        CHECK(x.fault == fault_reason::paging_entry_reserved);
        CHECK(x.level == 1);
        tb.mem.w64(leaf, sl_entry::page(0x6000, true, true, false, true).v);
        CHECK(tb.xlate(t, 0x5000).fault == fault_reason::paging_entry_reserved);
        vtd_params sc;
        sc.sc = true;
        auto s = tb.xlate(slpt_translator(caps_of(sc)), 0x5000);
        REQUIRE(s.ok());
        CHECK(s.snp);
        tb.mem.w64(leaf, sl_entry::page(0x6000, true, true, false, false, true).v);
        CHECK(tb.xlate(t, 0x5000).fault == fault_reason::paging_entry_reserved);
        tb.mem.w64(tb.top, sl_entry::page(0, true, true, true).v);  // PS in an SL-PML4E
        auto y = tb.xlate(t, 0x5000);
        CHECK(y.fault == fault_reason::paging_entry_reserved);
        CHECK(y.level == 4);
    }
}

TEST_CASE("vtd slpt: pass-through, device-TLB types and Dh", "[vtd][slpt][fault]") {
    vtd_params p;
    p.dt = true;
    const slpt_translator t(caps_of(p));
    SECTION("pass-through returns the input address") {
        tables tb(2, translation_type::pass_through);
        auto x = tb.xlate(t, 0x123456789ull, true);
        REQUIRE(x.ok());
        CHECK(x.pass_through);
        CHECK(x.addr == 0x123456789ull);
        CHECK(tb.xlate(t, 0x1000, false, address_type::translation_request).fault ==
              fault_reason::translation_type_blocked);
    }
    SECTION("Dh: translation and translated requests with TT = untranslated only") {
        tables tb(2, translation_type::untranslated_only);
        CHECK(tb.xlate(t, 0x1000, false, address_type::translation_request).fault ==
              fault_reason::translation_type_blocked);
        CHECK(tb.xlate(t, 0x1000, true, address_type::translated).fault == fault_reason::translation_type_blocked);
    }
    SECTION("TT = device-TLB: translation requests report R/W, translated requests pass") {
        tables tb(2, translation_type::device_tlb);
        tb.map(0x1000, 0x8000, 1, true, false);
        auto x = tb.xlate(t, 0x1000, true, address_type::translation_request);
        REQUIRE(x.ok());  // no fault: the completion carries W = 0
        CHECK(x.r);
        CHECK_FALSE(x.w);
        CHECK(x.addr == 0x8000);
        auto np = tb.xlate(t, 0x900000, false, address_type::translation_request);
        REQUIRE(np.ok());
        CHECK_FALSE(np.r);
        CHECK_FALSE(np.w);
        auto tr = tb.xlate(t, 0xabc000, true, address_type::translated);
        REQUIRE(tr.ok());
        CHECK(tr.pass_through);
        CHECK(tr.addr == 0xabc000);
        CHECK(tb.xlate(t, 0x1000).ok());
    }
}

// AMD IOMMU DMA translation (spec #48882 §2.2.2, §2.2.3) through the pure v1_translator: tables are written
// with the spec encoders into a sparse memory, expectations computed independently from the addresses.
#include "models/iommu/amdvi/amdvi_xlate.h"

#include <map>

#include <catch2/catch.hpp>

using namespace iommusim;
using namespace iommusim::amdvi;

namespace {
struct memory {
    std::map<u64, u64> q;
    std::map<u64, bool> bad;
    void put(u64 a, u64 v) { q[a] = v; }
    void put(u64 a, const dte& d) {
        for (unsigned i = 0; i < 4; ++i) q[a + 8 * i] = d.w[i];
    }
    read_u64_fn reader() {
        return [this](u64 a) -> std::optional<u64> {
            if (bad.count(a & ~7ull)) return std::nullopt;
            auto it = q.find(a);
            return it == q.end() ? 0 : it->second;
        };
    }
};

constexpr u64 DEVTAB = 0x100000;
constexpr u64 DEVTAB_REG = DEVTAB | 0x1ff;  // 2 MiB: every DeviceID
const u64 EFR = efr::IA_SUP | place(2, 11, 10);

// A chain of tables for `levels` levels mapping iova -> pa with 4 KiB pages; tables at base + 0x1000 * n.
u64 build_chain(memory& m, unsigned levels, u64 iova, u64 pa, u64 base, bool ir = true, bool iw = true) {
    for (unsigned l = levels; l >= 2; --l) {
        const u64 table = base + 0x1000 * (levels - l), next = base + 0x1000 * (levels - l + 1);
        m.put(table + 8 * level_index(iova, l), pte::pde(next, l - 1).v);
    }
    m.put(base + 0x1000 * (levels - 1) + 8 * level_index(iova, 1), pte::page(pa, ir, iw).v);
    return base;
}
} // namespace

TEST_CASE("amdvi xlate: 1 to 6 level walks translate 4 KiB pages", "[amdvi][xlate]") {
    for (unsigned levels = 1; levels <= 6; ++levels) {
        memory m;
        const u64 iova = levels == 1 ? 0x1a3456 : (0x1ull << (12 + 9 * (levels - 1))) + 0x5a3456;
        const u64 root = build_chain(m, levels, iova, 0x7777000, 0x200000);
        m.put(DEVTAB + 32 * 0x10, dte::make_translation(root, levels, 3, true, true));
        v1_translator t(EFR);
        auto x = t.translate({DEVTAB_REG, 0, 0, EFR}, {0x10, iova, false}, m.reader());
        INFO("levels " << levels);
        REQUIRE(x.ok());
        CHECK(x.addr == 0x7777000 + (iova & 0xfff));
        CHECK(x.page_shift == 12);
        CHECK(x.reads == levels);
        CHECK(x.domain == 3);
        CHECK(x.level == 1);
    }
}

TEST_CASE("amdvi xlate: level skipping and its zero-bits check", "[amdvi][xlate]") {
    memory m;
    // Mode 4, the level-4 PDE points straight at a level-1 table (levels 3 and 2 skipped): bits 38:21
    // of the address must be zero.
    const u64 root = 0x300000, leaf = 0x301000;
    const u64 iova = (0x5ull << 39) | 0x3000;
    m.put(root + 8 * level_index(iova, 4), pte::pde(leaf, 1).v);
    m.put(leaf + 8 * level_index(iova, 1), pte::page(0xabc000, true, true).v);
    m.put(DEVTAB + 32 * 2, dte::make_translation(root, 4, 9, true, true));
    v1_translator t(EFR);
    auto x = t.translate({DEVTAB_REG, 0, 0, EFR}, {2, iova | 0x10, true}, m.reader());
    REQUIRE(x.ok());
    CHECK(x.addr == 0xabc010);
    CHECK(x.reads == 2);
    // A skipped bit set: IO_PAGE_FAULT, PR = 1, RZ = 0 (illegal level encoding).
    auto y = t.translate({DEVTAB_REG, 0, 0, EFR}, {2, iova | (1ull << 30), true}, m.reader());
    REQUIRE(!y.ok());
    CHECK(y.fault->ev.code() == 0x2);
    CHECK(y.fault->ev.flags().pr);
    CHECK(!y.fault->ev.flags().rz);
    CHECK(y.fault->ev.flags().rw);
    CHECK(y.fault->ev.address() == (iova | (1ull << 30)));
    CHECK(y.fault->ev.domain_or_pasid() == 9);
    // NextLevel not below the current level.
    m.put(root + 8 * level_index(iova, 4), pte::pde(leaf, 4).v);
    CHECK(!t.translate({DEVTAB_REG, 0, 0, EFR}, {2, iova, false}, m.reader()).ok());
}

TEST_CASE("amdvi xlate: NextLevel 0 pages of every level and NextLevel 7 sizes", "[amdvi][xlate]") {
    memory m;
    v1_translator t(EFR);
    const u64 root = 0x400000, l2 = 0x401000, l1 = 0x402000;
    m.put(DEVTAB + 32 * 1, dte::make_translation(root, 3, 1, true, true));
    // 1 GiB page at level 3 (NextLevel 0).
    m.put(root + 8 * 1, pte::page(0x80000000, true, false).v);
    auto g = t.translate({DEVTAB_REG, 0, 0, EFR}, {1, 0x40000000 + 0x123456, false}, m.reader());
    REQUIRE(g.ok());
    CHECK(g.addr == 0x80123456);
    CHECK(g.page_shift == 30);
    CHECK(!g.iw);
    // Write to it: permission (PR = 1, PE = 1).
    auto w = t.translate({DEVTAB_REG, 0, 0, EFR}, {1, 0x40000000, true}, m.reader());
    REQUIRE(!w.ok());
    CHECK(w.fault->ev.flags().pe);
    CHECK(w.fault->ev.flags().pr);
    // 2 MiB page at level 2 (NextLevel 0), and a 32 KiB page at level 1 (NextLevel 7).
    m.put(root + 8 * 0, pte::pde(l2, 2).v);
    m.put(l2 + 8 * 3, pte::page(0xa00000, true, true).v);
    auto two = t.translate({DEVTAB_REG, 0, 0, EFR}, {1, 0x600000 + 0x1234, false}, m.reader());
    REQUIRE(two.ok());
    CHECK(two.addr == 0xa01234);
    CHECK(two.page_shift == 21);
    m.put(l2 + 8 * 0, pte::pde(l1, 1).v);
    const pte big = pte::large(0x1238000, 15, true, true);
    for (unsigned i = 8; i < 16; ++i) m.put(l1 + 8 * i, big.v);  // replicated over its 8 slots
    auto k = t.translate({DEVTAB_REG, 0, 0, EFR}, {1, 0xc000 + 0x123, false}, m.reader());
    REQUIRE(k.ok());
    CHECK(k.page_shift == 15);
    CHECK(k.addr == 0x1238000 + 0x4000 + 0x123);
    // A NextLevel-7 entry whose size is not above this level's: 2 MiB at level 1.
    m.put(l1 + 8 * 20, pte::large(0x200000, 21, true, true).v);
    auto bad = t.translate({DEVTAB_REG, 0, 0, EFR}, {1, 20 * 0x1000, false}, m.reader());
    REQUIRE(!bad.ok());
    CHECK(bad.fault->ev.flags().pr);
}

TEST_CASE("amdvi xlate: faults and their events", "[amdvi][xlate]") {
    memory m;
    v1_translator t(EFR);
    const xlate_regs regs{DEVTAB_REG, 0, 0, EFR};
    const u64 root = 0x500000;
    const u64 iova = 0x7000;
    build_chain(m, 3, iova, 0x9000, root, true, false);
    m.put(DEVTAB + 32 * 4, dte::make_translation(root, 3, 6, true, true));
    // Not present.
    auto np = t.translate(regs, {4, 0x8000, false}, m.reader());
    REQUIRE(!np.ok());
    CHECK(np.fault->io_page_fault);
    CHECK(np.fault->ev.lo == event::io_page_fault(4, 6, 0x8000, event_flags{}).lo);
    // Read-only leaf written.
    auto ro = t.translate(regs, {4, iova, true}, m.reader());
    REQUIRE(!ro.ok());
    CHECK(ro.fault->ev.flags().pe);
    CHECK(ro.fault->ev.flags().rw);
    // Reserved bit in the leaf: RZ = 1.
    m.put(root + 0x2000 + 8 * 7, pte::page(0x9000, true, true).v | (1ull << 55));
    auto rz = t.translate(regs, {4, iova, false}, m.reader());
    REQUIRE(!rz.ok());
    CHECK(rz.fault->ev.flags().rz);
    // Beyond Mode 3's 39 bits.
    auto big = t.translate(regs, {4, 1ull << 39, false}, m.reader());
    REQUIRE(!big.ok());
    CHECK(big.fault->ev.code() == 0x2);
    // DTE IW = 0 blocks writes before any table read.
    m.put(DEVTAB + 32 * 5, dte::make_translation(root, 3, 6, true, false));
    auto dw = t.translate(regs, {5, iova, true}, m.reader());
    REQUIRE(!dw.ok());
    CHECK(dw.reads == 0);
    // Page-table read error: PAGE_TAB_HW_ERROR with the entry's address.
    m.bad[root + 0x1000 + 8 * 0] = true;
    auto hw = t.translate(regs, {4, iova, false}, m.reader());
    REQUIRE(!hw.ok());
    CHECK(hw.fault->ev.code() == 0x4);
    CHECK(hw.fault->ev.address() == root + 0x1000);
    CHECK(!hw.fault->io_page_fault);
    // DTE read error: DEV_TAB_HW_ERROR with the DTE's address.
    m.bad[DEVTAB + 32 * 7 + 8] = true;
    auto dh = t.translate(regs, {7, 0, false}, m.reader());
    REQUIRE(!dh.ok());
    CHECK(dh.fault->ev.code() == 0x3);
    CHECK(dh.fault->ev.address() == DEVTAB + 32 * 7);
}

TEST_CASE("amdvi xlate: DTE validity, Mode 0, TV and the exclusion range", "[amdvi][xlate]") {
    memory m;
    v1_translator t(EFR);
    xlate_regs regs{DEVTAB_REG, 0, 0, EFR};
    // V = 0 (an all-zero DTE): untranslated.
    auto v0 = t.translate(regs, {0x20, 0x1234, true}, m.reader());
    REQUIRE(v0.ok());
    CHECK(v0.pass_through);
    CHECK(v0.addr == 0x1234);
    // Mode 0 with IR/IW: identity; without: blocked with an IO_PAGE_FAULT (PR = 0), Linux's blocked entry.
    m.put(DEVTAB + 32 * 0x21, dte::make_passthrough(0, true, true));
    CHECK(t.translate(regs, {0x21, 0x5555, true}, m.reader()).addr == 0x5555);
    m.put(DEVTAB + 32 * 0x22, dte::make_passthrough(0, false, false));
    auto blocked = t.translate(regs, {0x22, 0x5555, false}, m.reader());
    REQUIRE(!blocked.ok());
    CHECK(blocked.fault->ev.code() == 0x2);
    CHECK(!blocked.fault->ev.flags().pr);
    // TV = 0: IO_PAGE_FAULT.
    dte notv = dte::make_translation(0x1000, 3, 1, true, true);
    notv.w[0] &= ~2ull;
    m.put(DEVTAB + 32 * 0x23, notv);
    CHECK(!t.translate(regs, {0x23, 0, false}, m.reader()).ok());
    // Mode 7 and reserved bits: ILLEGAL_DEV_TABLE_ENTRY with RZ = 0 / 1.
    m.put(DEVTAB + 32 * 0x24, dte::make_translation(0x1000, 7, 1, true, true));
    auto m7 = t.translate(regs, {0x24, 0x40, false}, m.reader());
    REQUIRE(!m7.ok());
    CHECK(m7.fault->ev.code() == 0x1);
    CHECK(!m7.fault->ev.flags().rz);
    CHECK(m7.fault->ev.address() == 0x40);
    dte rsv = dte::make_translation(0x1000, 3, 1, true, true);
    rsv.w[0] |= 1ull << 63;
    m.put(DEVTAB + 32 * 0x25, rsv);
    auto rr = t.translate(regs, {0x25, 0, false}, m.reader());
    REQUIRE(!rr.ok());
    CHECK(rr.fault->ev.code() == 0x1);
    CHECK(rr.fault->ev.flags().rz);
    // Mode 5 above HATS = 4 levels.
    v1_translator four(efr::IA_SUP);
    m.put(DEVTAB + 32 * 0x26, dte::make_translation(0x1000, 5, 1, true, true));
    CHECK(four.translate({DEVTAB_REG, 0, 0, efr::IA_SUP}, {0x26, 0, false}, m.reader()).fault->ev.code() == 0x1);
    // Exclusion range [0x100000, 0x1fffff] with EX in the DTE.
    m.put(DEVTAB + 32 * 0x27, dte::make_translation(0x600000, 3, 1, true, true).with_flags(false, false, false, true));
    regs.excl_base = 0x100000 | exclusion::EX_EN;
    regs.excl_limit = 0x1ff000;
    auto ex = t.translate(regs, {0x27, 0x1ff123, true}, m.reader());
    REQUIRE(ex.ok());
    CHECK(ex.pass_through);
    CHECK(!t.translate(regs, {0x27, 0x200000, true}, m.reader()).ok());  // beyond the limit: walked, not present
    // A DeviceID beyond the table's Size.
    auto far = t.translate({DEVTAB | 0, 0, 0, EFR}, {0x80, 0, false}, m.reader());  // one page: DeviceIDs 0..127
    REQUIRE(!far.ok());
}

TEST_CASE("amdvi xlate: the PDE cache shortens walks and keeps results", "[amdvi][xlate]") {
    memory m;
    v1_translator t(EFR);
    const u64 root = build_chain(m, 4, 0x1234000, 0x55000, 0x700000);
    dte d = dte::make_translation(root, 4, 2, true, true);
    std::vector<iommu::cache_geometry> g(5);
    for (unsigned l = 2; l <= 4; ++l) g[l] = {1, 4};
    iommu::paging_structure_cache psc(g);
    auto a = t.walk(d, {1, 0x1234000, false}, m.reader(), &psc);
    REQUIRE(a.ok());
    CHECK(a.reads == 4);
    auto b = t.walk(d, {1, 0x1234008, false}, m.reader(), &psc);
    REQUIRE(b.ok());
    CHECK(b.reads == 1);
    CHECK(b.psc_hit_level == 1);
    CHECK(b.addr == a.addr + 8);
    psc.invalidate_domain(2);
    CHECK(t.walk(d, {1, 0x1234000, false}, m.reader(), &psc).reads == 4);
}

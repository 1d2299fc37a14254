// Unit tests of TCE windows and tables (models/iommu/tce/tce_window, tce_xlate, tce_table): 1-, 2- and
// 3-level tables written byte by byte (big-endian) into a small fake memory, translated by the reference
// translator and by the framework's page walker with the window's walk_format; out-of-window, permission and
// invalid-entry faults; page sizes; Linux's table geometry and allocation.
#include "models/iommu/common/pure/page_walker.h"
#include "models/iommu/tce/tce_table.h"
#include "models/iommu/tce/tce_xlate.h"

#include <catch2/catch.hpp>
#include <map>

using namespace iommusim;
using namespace iommusim::tce;

namespace {

// Sparse byte memory with a bump allocator; serves the reference translator (read_be64_fn), the page
// walker (walk_memory) and Linux-style table building (table_memory). Reads of `bad` fail.
struct fake_memory : iommu::walk_memory, table_memory {
    std::map<u64, u8> bytes;
    u64 next = 0x100000;
    u64 limit = ~u64(0);
    u64 bad = ~u64(0);
    u64 freed = 0;

    void put(u64 addr, u64 v) {
        for (unsigned i = 0; i < 8; ++i) bytes[addr + i] = u8(v >> (8 * (7 - i))); // big-endian
    }
    u8 byte(u64 addr) const {
        auto it = bytes.find(addr);
        return it == bytes.end() ? 0 : it->second;
    }
    bool read(u64 address, unsigned char* data, unsigned len, u64& delay_ps) override {
        delay_ps += 1000;
        if (address == bad) return false;
        for (unsigned i = 0; i < len; ++i) data[i] = byte(address + i);
        return true;
    }
    std::optional<u64> alloc(u64 n) override {
        const u64 a = (next + n - 1) & ~(n - 1);
        if (a + n > limit) return std::nullopt;
        next = a + n;
        return a;
    }
    void free(u64, u64 n) override { freed += n; }
    std::optional<u64> read_be64(u64 pa) override {
        if (pa == bad) return std::nullopt;
        u64 v = 0;
        for (unsigned i = 0; i < 8; ++i) v = (v << 8) | byte(pa + i);
        return v;
    }
    bool write_be64(u64 pa, u64 v) override {
        put(pa, v);
        return true;
    }
    read_be64_fn reader() {
        return [this](u64 pa) { return read_be64(pa); };
    }
};

iommu::xlate_request req(u64 addr, bool write = false) {
    iommu::xlate_request r;
    r.requester_id = 0x0100;
    r.address = addr;
    r.access = write ? iommu::perm_write : iommu::perm_read;
    return r;
}

iommu::walk_outcome walk(fake_memory& m, const tce_window& w, u64 addr, bool write = false) {
    static const iommu::iommu_clock clk(iommu::timing_params{});
    iommu::page_walker pw(m, clk);
    return pw.walk(w.format(), w.root, req(addr, write));
}

// Window at bus 0: 16 entries of 4 KiB pages, one level at 0x10000.
tce_window small_window() {
    tce_window w;
    w.bus_offset = 0;
    w.size = 16 * 0x1000;
    w.page_shift = 12;
    w.levels = 1;
    w.level_shift = 4;
    w.root = 0x10000;
    return w;
}

} // namespace

TEST_CASE("tce_xlate: one-level table - translation, permissions, invalid entry, out of window", "[tce][xlate]") {
    fake_memory m;
    const tce_window w = small_window();
    REQUIRE_FALSE(w.check());
    m.put(w.root + 3 * 8, 0x123456003);  // entry 3: page 0x123456000, RW
    m.put(w.root + 5 * 8, 0x200000001);  // entry 5: page 0x200000000, read only
    // Big-endian in memory: the last byte of entry 3 holds the permission bits.
    CHECK(m.byte(w.root + 24 + 7) == 0x03);
    CHECK(m.byte(w.root + 24 + 6) == 0x60);
    CHECK(m.byte(w.root + 24 + 3) == 0x01);

    auto x = tce_translator::translate(w, 0x3abc, false, m.reader());
    REQUIRE(x.ok());
    CHECK(x.addr == 0x123456abc);
    CHECK(x.page_shift == 12);
    CHECK(x.r);
    CHECK(x.w);
    CHECK(x.entry_addr == w.root + 24);

    CHECK(tce_translator::translate(w, 0x5008, false, m.reader()).addr == 0x200000008);
    auto wd = tce_translator::translate(w, 0x5008, true, m.reader());
    CHECK(wd.fault == tce_fault::write_denied);
    CHECK(wd.level == 1);
    CHECK(tce_translator::translate(w, 0x7000, false, m.reader()).fault == tce_fault::tce_invalid);
    CHECK(tce_translator::translate(w, 0x10000, false, m.reader()).fault == tce_fault::out_of_window);

    // The framework walker with the window's format agrees.
    auto o = walk(m, w, 0x3abc);
    REQUIRE(o.result.ok());
    CHECK(o.result.value().address == 0x123456abc);
    CHECK(o.result.value().perms == iommu::perm_rw);
    CHECK(o.reads == 1);
    auto ow = walk(m, w, 0x5008, true);
    REQUIRE_FALSE(ow.result.ok());
    CHECK(ow.result.fault().kind == iommu::fault_kind::permission);
    CHECK(ow.result.fault().reason == u32(tce_fault::write_denied));
    auto oi = walk(m, w, 0x7000);
    CHECK(oi.result.fault().kind == iommu::fault_kind::not_present);
    CHECK(oi.result.fault().reason == u32(tce_fault::tce_invalid));
    auto oo = walk(m, w, 0x10000);
    CHECK(oo.result.fault().kind == iommu::fault_kind::out_of_window);
    CHECK(oo.reads == 0);
}

TEST_CASE("tce_xlate: two-level table with 64 KiB pages in the 64-bit window", "[tce][xlate]") {
    fake_memory m;
    // Window at 1 << 59, 64 KiB pages, 2 levels of 512 entries: reach 2^(9 * 2 + 16) = 16 GiB.
    tce_window w;
    w.bus_offset = DMA64_WINDOW_BASE;
    w.page_shift = 16;
    w.levels = 2;
    w.level_shift = 9;
    w.size = u64(1) << 34;
    w.root = 0x100000;
    REQUIRE_FALSE(w.check());
    // Offset 0x1_2345_6789: page index 0x12345 = top 0x91 (0x12345 >> 9), low 0x145 (0x12345 & 0x1ff).
    const u64 addr = DMA64_WINDOW_BASE + 0x123456789ull;
    m.put(0x100000 + 0x91 * 8, make_indirect(0x200000));
    m.put(0x200000 + 0x145 * 8, 0x40000000 | TCE_PCI_READ | TCE_PCI_WRITE);

    auto x = tce_translator::translate(w, addr, true, m.reader());
    REQUIRE(x.ok());
    CHECK(x.addr == 0x40006789);
    CHECK(x.entry_addr == 0x200a28);
    CHECK(x.page_shift == 16);

    auto o = walk(m, w, addr, true);
    REQUIRE(o.result.ok());
    CHECK(o.result.value().address == 0x40006789);
    CHECK(o.result.value().page_shift == 16);
    CHECK(o.reads == 2);

    // Top index 0x92 has no indirect entry.
    const u64 hole = DMA64_WINDOW_BASE + (u64(0x92) << 25);
    auto xi = tce_translator::translate(w, hole, false, m.reader());
    CHECK(xi.fault == tce_fault::indirect_invalid);
    CHECK(xi.level == 2);
    CHECK(xi.entry_addr == 0x100000 + 0x92 * 8);
    auto oi = walk(m, w, hole);
    CHECK(oi.result.fault().reason == u32(tce_fault::indirect_invalid));
    CHECK(oi.result.fault().level == 2);

    // Below the window's offset (the 32-bit space) and past its size.
    CHECK(tce_translator::translate(w, 0x1000, false, m.reader()).fault == tce_fault::out_of_window);
    CHECK(tce_translator::translate(w, DMA64_WINDOW_BASE + (u64(1) << 34), false, m.reader()).fault ==
          tce_fault::out_of_window);
}

TEST_CASE("tce_xlate: three-level table with 4 KiB pages", "[tce][xlate]") {
    fake_memory m;
    tce_window w;
    w.page_shift = 12;
    w.levels = 3;
    w.level_shift = 9;
    w.size = u64(1) << 39; // 2^(27 + 12)
    w.root = 0x1000;
    REQUIRE_FALSE(w.check());
    // 0x40201abc: indices (>> 30) & 511 = 1, (>> 21) & 511 = 1, (>> 12) & 511 = 1.
    m.put(0x1000 + 8, make_indirect(0x2000));
    m.put(0x2000 + 8, make_indirect(0x3000));
    m.put(0x3000 + 8, 0x9000 | TCE_PCI_READ);

    auto x = tce_translator::translate(w, 0x40201abc, false, m.reader());
    REQUIRE(x.ok());
    CHECK(x.addr == 0x9abc);
    CHECK_FALSE(x.w);
    auto xw = tce_translator::translate(w, 0x40201abc, true, m.reader());
    CHECK(xw.fault == tce_fault::write_denied);

    auto o = walk(m, w, 0x40201abc);
    REQUIRE(o.result.ok());
    CHECK(o.result.value().address == 0x9abc);
    CHECK(o.result.value().perms == iommu::perm_read);
    CHECK(o.reads == 3);
    CHECK(o.elapsed_ps == 3000);

    // A failed table read is a TCE fetch error at that level.
    m.bad = 0x2000 + 8;
    auto xe = tce_translator::translate(w, 0x40201abc, false, m.reader());
    CHECK(xe.fault == tce_fault::table_read_error);
    CHECK(xe.level == 2);
    auto oe = walk(m, w, 0x40201abc);
    CHECK(oe.result.fault().kind == iommu::fault_kind::walk_memory_error);
    CHECK(oe.result.fault().reason == u32(tce_fault::table_read_error));
}

TEST_CASE("tce_xlate: large IOMMU pages (16 MiB, 256 MiB, 1 GiB)", "[tce][xlate][pagesize]") {
    for (unsigned shift : {24u, 28u, 30u}) {
        fake_memory m;
        tce_window w;
        w.page_shift = shift;
        w.levels = 1;
        w.level_shift = 4;
        w.size = u64(16) << shift;
        w.root = 0x10000;
        REQUIRE_FALSE(w.check());
        const u64 page = u64(0x40) << shift;
        m.put(w.root + 2 * 8, page | TCE_PCI_READ | TCE_PCI_WRITE);
        const u64 off = (u64(1) << shift) - 0x10; // near the end of the page
        const u64 addr = (u64(2) << shift) + off;
        auto x = tce_translator::translate(w, addr, false, m.reader());
        REQUIRE(x.ok());
        CHECK(x.addr == page + off);
        auto o = walk(m, w, addr);
        REQUIRE(o.result.ok());
        CHECK(o.result.value().address == page + off);
        CHECK(o.result.value().page_shift == shift);
    }
}

TEST_CASE("tce_xlate: a PE's two windows, chosen by bit 59", "[tce][xlate]") {
    fake_memory m;
    std::array<tce_window, MAX_WINDOWS> wins{small_window(), tce_window{}};
    m.put(wins[0].root, 0x5000 | 3);
    auto x = tce_translator::translate_pe(wins, 0x123, false, m.reader());
    REQUIRE(x.ok());
    CHECK(x.window == 0);
    CHECK(x.addr == 0x5123);
    // Window 1 is disabled: everything there is out of window.
    auto y = tce_translator::translate_pe(wins, DMA64_WINDOW_BASE, false, m.reader());
    CHECK(y.fault == tce_fault::out_of_window);
    CHECK(y.window == 1);
    CHECK(tce_translator::translate_pe(wins, u64(1) << 60, false, m.reader()).fault == tce_fault::no_translation);
}

TEST_CASE("tce_xlate: window geometry checks and the TVE round trip", "[tce][xlate]") {
    tce_window w = small_window();
    w.bus_offset = 0x800;
    CHECK(w.check());
    w = small_window();
    w.size = 17 * 0x1000; // 16 entries cannot index 17 pages
    CHECK(w.check());
    w = small_window();
    w.levels = 6;
    CHECK(w.check());
    w = small_window();
    w.root = 0x10008;
    CHECK(w.check());

    // 2 levels of 8192 entries (64 KiB each), 4 KiB pages, table at 0x3000_0000.
    tce_window v;
    v.page_shift = 12;
    v.levels = 2;
    v.level_shift = 13;
    v.size = u64(1) << 30;
    v.root = 0x30000000;
    auto t = v.to_tve();
    REQUIRE(t);
    // (0x30000 << 16) | (1 << 13) | (5 << 8) | 1
    CHECK(t->v == 0x300002501ull);
    auto back = tce_window::from_tve(*t, 0);
    REQUIRE(back);
    CHECK(back->levels == 2);
    CHECK(back->level_shift == 13);
    CHECK(back->page_shift == 12);
    CHECK(back->root == 0x30000000);
    CHECK(back->size == (u64(1) << 38)); // the levels' whole reach: 2^(13 * 2 + 12)
    CHECK_FALSE(tce_window::from_tve(tve{}, 0));
}

TEST_CASE("tce_xlate: Linux's table geometry (pnv_pci_ioda2_table_alloc_pages)", "[tce][xlate][table]") {
    // 1 GiB of 4 KiB pages in 2 levels with 64 KiB host pages: 2^18 entries, 9 index bits per level rounded
    // up to a 64 KiB level = 8192 entries (level_shift 13).
    auto g = tce_window::linux_geometry(0, 12, u64(1) << 30, 2, 16);
    REQUIRE(g);
    CHECK(g->level_shift == 13);
    CHECK(g->levels == 2);
    CHECK(g->size == (u64(1) << 30));
    // A 1 MiB window still gets a whole 64 KiB table: 8192 entries = 32 MiB of bus space.
    auto s = tce_window::linux_geometry(0, 12, u64(1) << 20, 1, 16);
    REQUIRE(s);
    CHECK(s->size == (u64(32) << 20));
    CHECK(s->level_shift == 13);
    // -EINVAL cases: 6 levels, size not a power of two, (level bits * levels + page shift) >= 60.
    CHECK_FALSE(tce_window::linux_geometry(0, 12, u64(1) << 30, 6, 16));
    CHECK_FALSE(tce_window::linux_geometry(0, 12, 3u << 29, 1, 16));
    CHECK_FALSE(tce_window::linux_geometry(0, 12, u64(1) << 62, 1, 16));
}

TEST_CASE("tce_xlate: a Linux-built 2-level table, filled and translated", "[tce][xlate][table]") {
    fake_memory m;
    auto g = tce_window::linux_geometry(0, 12, u64(1) << 30, 2, 16);
    REQUIRE(g);
    auto t = tce_table::create(m, *g, 16);
    REQUIRE(t);
    // Root level + 32 leaves of 64 KiB (2^18 TCEs * 8 bytes = 2 MiB of leaves).
    CHECK(t->allocated_bytes() == 33 * 0x10000ull);
    const tce_window& w = t->window();
    CHECK((w.root & 0xffff) == 0);
    // Every used indirect entry has both permission bits; entry 32 and up stay empty.
    const auto first = m.read_be64(w.root);
    REQUIRE(first);
    CHECK((*first & 3) == 3);
    CHECK(*m.read_be64(w.root + 31 * 8) != 0);
    CHECK(*m.read_be64(w.root + 32 * 8) == 0);

    REQUIRE(t->build(5, 3, 0x80000000, dma_direction::bidirectional));
    CHECK(*t->get(5) == 0x80000003);
    CHECK(*t->get(7) == 0x80002003);
    auto x = tce_translator::translate(w, 0x5000, false, m.reader());
    REQUIRE(x.ok());
    CHECK(x.addr == 0x80000000);
    CHECK(tce_translator::translate(w, 0x7fff, true, m.reader()).addr == 0x80002fff);
    CHECK(tce_translator::translate(w, 0x8000, false, m.reader()).fault == tce_fault::tce_invalid);
    auto o = walk(m, w, 0x6abc, true);
    REQUIRE(o.result.ok());
    CHECK(o.result.value().address == 0x80001abc);

    // Entry 1 lives in the leaf root[0] points to, entry 8193 in the one root[1] points to.
    const auto a0 = t->entry_address(1), a1 = t->entry_address(8193);
    REQUIRE(a0);
    REQUIRE(a1);
    CHECK(*a0 == indirect_next(*first) + 8);
    CHECK(*a1 == indirect_next(*m.read_be64(w.root + 8)) + 8);

    // Exchange returns the old entry; clearing with direction none unmaps.
    auto old = t->exchange(5, 0x90000000, dma_direction::to_device);
    REQUIRE(old);
    CHECK(*old == 0x80000003);
    CHECK(*t->get(5) == 0x90000001);
    CHECK(*t->exchange(5, 0, dma_direction::none) == 0x90000001);
    CHECK(*t->get(5) == 0);
    REQUIRE(t->clear(6, 2));
    CHECK(*t->get(6) == 0);
    CHECK_FALSE(t->get(u64(1) << 18)); // beyond the window

    // The TVE firmware would program: 2 levels of 64 KiB, 4 KiB pages.
    auto tv = w.to_tve();
    REQUIRE(tv);
    CHECK(tv->levels() == 2);
    CHECK(tv->tts() == 5);
    CHECK(tv->io_psize() == 1);

    t->destroy();
    CHECK(m.freed == 33 * 0x10000ull);
}

TEST_CASE("tce_xlate: table allocation failure frees what it took", "[tce][xlate][table]") {
    fake_memory m;
    m.limit = m.next + 4 * 0x10000; // room for the root and 3 leaves only
    auto g = tce_window::linux_geometry(0, 12, u64(1) << 30, 2, 16);
    REQUIRE(g);
    CHECK_FALSE(tce_table::create(m, *g, 16));
    CHECK(m.freed == 4 * 0x10000ull);
}

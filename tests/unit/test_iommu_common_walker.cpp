// Unit tests of the generic page walker (models/iommu/common/pure/page_walker) over a map-backed memory:
// a toy 4-level little-endian format and a one-level big-endian TCE-like window.
#include "models/iommu/common/pure/page_walker.h"
#include "tests/support/toy_walk_format.h"

#include <catch2/catch.hpp>
#include <map>
#include <stdexcept>

using namespace iommusim;
using namespace iommusim::iommu;

namespace {

// Sparse byte memory; every 8-byte read costs `latency_ps`; reads of `bad` fail.
struct map_memory : walk_memory {
    std::map<u64, u8> bytes;
    u64 latency_ps = 1000;
    u64 bad = ~u64(0);
    unsigned reads = 0;
    void put(u64 addr, u64 v, byte_order o = byte_order::little) {
        for (unsigned i = 0; i < 8; ++i) bytes[addr + i] = u8(v >> (8 * (o == byte_order::little ? i : 7 - i)));
    }
    bool read(u64 address, unsigned char* data, unsigned len, u64& delay_ps) override {
        ++reads;
        delay_ps += latency_ps;
        if (address == bad) return false;
        for (unsigned i = 0; i < len; ++i) {
            auto it = bytes.find(address + i);
            data[i] = it == bytes.end() ? 0 : it->second;
        }
        return true;
    }
};

using toy::LEAF;
using toy::P;
using toy::R;
using toy::RSVD;
using toy::W;
walk_format toy_format() { return toy::format(0x99); }

xlate_request req(u64 addr, perm_mask a = perm_read) {
    xlate_request r;
    r.requester_id = 0x0100;
    r.address = addr;
    r.access = a;
    return r;
}

// Tables: root 0x1000 -> L3 0x2000 -> L2 0x3000 -> L1 0x4000; IOVA 0x40201000 -> 0x9000.
void build(map_memory& m) {
    const u64 iova = 0x40201000;
    m.put(0x1000 + 8 * ((iova >> 39) & 511), 0x2000 | P | R | W);
    m.put(0x2000 + 8 * ((iova >> 30) & 511), 0x3000 | P | R | W);
    m.put(0x3000 + 8 * ((iova >> 21) & 511), 0x4000 | P | R | W);
    m.put(0x4000 + 8 * ((iova >> 12) & 511), 0x9000 | P | R);       // read-only page
    m.put(0x3000 + 8 * 2, 0x40000000 | P | R | W | LEAF);          // 2 MiB page at IOVA 0x40400000
}

} // namespace

TEST_CASE("page_walker: translates through four levels - latency is the sum of reads", "[iommu][walker]") {
    map_memory m;
    build(m);
    iommu_clock clk(timing_params{});
    page_walker w(m, clk);
    auto out = w.walk(toy_format(), 0x1000, req(0x40201abc));
    REQUIRE(out.result.ok());
    CHECK(out.result.value().address == 0x9abc);
    CHECK(out.result.value().page_shift == 12);
    CHECK(out.result.value().perms == perm_read);
    CHECK(out.reads == 4);
    CHECK(out.elapsed_ps == 4000);

    auto big = w.walk(toy_format(), 0x1000, req(0x40412345, perm_write));
    REQUIRE(big.result.ok());
    CHECK(big.result.value().address == 0x40012345);
    CHECK(big.result.value().page_shift == 21);
    CHECK(big.reads == 3);
}

TEST_CASE("page_walker: faults carry kind, model reason, level and entry address", "[iommu][walker]") {
    map_memory m;
    build(m);
    iommu_clock clk(timing_params{});
    page_walker w(m, clk);
    const auto f = toy_format();

    auto np = w.walk(f, 0x1000, req(0x80000000)).result; // L3 entry 2 absent
    REQUIRE_FALSE(np.ok());
    CHECK(np.fault().kind == fault_kind::not_present);
    CHECK(np.fault().level == 3);
    CHECK(np.fault().reason == 0x13);
    CHECK(np.fault().entry_address == 0x2000 + 8 * 2);

    auto perm = w.walk(f, 0x1000, req(0x40201000, perm_write)).result;
    REQUIRE_FALSE(perm.ok());
    CHECK(perm.fault().kind == fault_kind::permission);
    CHECK(perm.fault().reason == 5);
    CHECK(perm.fault().level == 1);

    m.put(0x4000 + 8 * 3, 0x9000 | P | R | (u64(1) << 60));
    auto rsv = w.walk(f, 0x1000, req(0x40203000)).result;
    REQUIRE_FALSE(rsv.ok());
    CHECK(rsv.fault().kind == fault_kind::reserved_bit);
    CHECK(rsv.fault().level == 1);

    m.bad = 0x3000 + 8 * 1;
    auto mem = w.walk(f, 0x1000, req(0x40201000)).result;
    REQUIRE_FALSE(mem.ok());
    CHECK(mem.fault().kind == fault_kind::walk_memory_error);
    CHECK(mem.fault().reason == 0x99);
    CHECK(mem.fault().level == 2);

    auto beyond = w.walk(f, 0x1000, req(u64(1) << 48)).result;
    REQUIRE_FALSE(beyond.ok());
    CHECK(beyond.fault().kind == fault_kind::address_size);
    CHECK(w.stats().faults == 5);
    CHECK(w.stats().faults_by_kind[size_t(fault_kind::not_present)] == 1);

    walk_format broken;
    CHECK_THROWS_AS(w.walk(broken, 0, req(0)), std::invalid_argument);
}

TEST_CASE("page_walker: permissions are ANDed over the levels", "[iommu][walker]") {
    map_memory m;
    build(m);
    m.put(0x2000 + 8 * ((0x40201000 >> 30) & 511), 0x3000 | P | R); // L3 grants read only
    iommu_clock clk(timing_params{});
    page_walker w(m, clk);
    auto r = w.walk(toy_format(), 0x1000, req(0x40400000, perm_write)).result; // leaf grants RW
    REQUIRE_FALSE(r.ok());
    CHECK(r.fault().kind == fault_kind::permission);
    CHECK(r.fault().level == 2);
}

TEST_CASE("page_walker: the paging-structure cache skips upper levels and is filled by walks", "[iommu][walker][psc]") {
    map_memory m;
    build(m);
    timing_params tp;
    iommu_clock clk(tp);
    page_walker w(m, clk, 4);
    std::vector<cache_geometry> g(5);
    for (auto& x : g) x.ways = 4;
    paging_structure_cache psc(g);
    walk_context ctx;
    ctx.domain = 7;
    ctx.psc = &psc;

    auto first = w.walk(toy_format(), 0x1000, req(0x40201000), ctx);
    REQUIRE(first.result.ok());
    CHECK(first.reads == 4);
    CHECK(first.elapsed_ps == 4 * 1000 + 4 * 1000); // PSC probe (4 cycles at 1 GHz) + 4 reads

    auto second = w.walk(toy_format(), 0x1000, req(0x40201000), ctx);
    REQUIRE(second.result.ok());
    CHECK(second.reads == 1); // L2 entry cached: only the leaf table is read
    CHECK(second.start_level == 1);
    CHECK(second.elapsed_ps == 4000 + 1000);
    CHECK(w.stats().psc_hits == 1);

    // Another domain does not see domain 7's entries.
    ctx.domain = 8;
    CHECK(w.walk(toy_format(), 0x1000, req(0x40201000), ctx).reads == 4);
    // Invalidating domain 7's L2 entries leaves the L3 one: the next walk reads two entries.
    cache_selector s;
    s.domain = 7;
    s.level = 2;
    CHECK(psc.invalidate(s, inval_kind::domain) == 1);
    ctx.domain = 7;
    CHECK(w.walk(toy_format(), 0x1000, req(0x40201000), ctx).reads == 2);
}

TEST_CASE("page_walker: functional mode reports zero walk time", "[iommu][walker]") {
    map_memory m;
    build(m);
    timing_params tp;
    tp.functional = true;
    iommu_clock clk(tp);
    page_walker w(m, clk);
    auto out = w.walk(toy_format(), 0x1000, req(0x40201000));
    REQUIRE(out.result.ok());
    CHECK(out.elapsed_ps == 0);
    CHECK(out.reads == 4);
}

TEST_CASE("page_walker: a one-level big-endian TCE window", "[iommu][walker][tce]") {
    map_memory m;
    // Window at bus address 0x8000'0000, 16 entries of 64 KiB pages; TCE bits 1:0 = access (1 RO, 2 WO, 3 RW).
    walk_format f;
    f.levels = 1;
    f.page_shift = 16;
    f.bits_per_level = 4;
    f.order = byte_order::big;
    f.input_offset = 0x80000000;
    f.input_size = 16 << 16;
    f.beyond_kind = fault_kind::out_of_window;
    f.decode = [](u64 raw, unsigned, const xlate_request&) {
        const perm_mask p = perm_mask((raw & 1 ? perm_read : 0) | (raw & 2 ? perm_write : 0));
        if (!p) return pte_info::failure(fault_kind::not_present, 1);
        return pte_info::leaf(raw & ~u64(0xfff), 16, p);
    };
    m.put(0x7000 + 8 * 3, 0x123450000ull | 1, byte_order::big);
    iommu_clock clk(timing_params{});
    page_walker w(m, clk);

    auto ok = w.walk(f, 0x7000, req(0x80030042));
    REQUIRE(ok.result.ok());
    CHECK(ok.result.value().address == 0x123450042);
    CHECK(ok.result.value().page_shift == 16);
    auto wr = w.walk(f, 0x7000, req(0x80030042, perm_write)).result;
    REQUIRE_FALSE(wr.ok());
    CHECK(wr.fault().kind == fault_kind::permission);
    CHECK(w.walk(f, 0x7000, req(0x80040000)).result.fault().kind == fault_kind::not_present);
    auto out = w.walk(f, 0x7000, req(0x80100000)).result;
    REQUIRE_FALSE(out.ok());
    CHECK(out.fault().kind == fault_kind::out_of_window);
    CHECK(w.walk(f, 0x7000, req(0x7fffffff)).result.fault().kind == fault_kind::out_of_window);
}

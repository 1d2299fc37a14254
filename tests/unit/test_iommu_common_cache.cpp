// Unit tests of the IOMMU framework's caches (models/iommu/common/pure): replacement policies,
// set/way geometry, tagged invalidation by kind, statistics, and large-page entries in the TLB.
#include "models/iommu/common/pure/assoc_cache.h"
#include "models/iommu/common/pure/counted_resource.h"
#include "models/iommu/common/pure/paging_structure_cache.h"
#include "models/iommu/common/pure/timing.h"
#include "models/iommu/common/pure/tlb_cache.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <stdexcept>

using namespace iommusim;
using namespace iommusim::iommu;

namespace {

using u64_cache = assoc_cache<u64, u64>;

cache_geometry geo(unsigned sets, unsigned ways, replacement_policy p = replacement_policy::lru, u64 seed = 1) {
    cache_geometry g;
    g.sets = sets;
    g.ways = ways;
    g.policy = p;
    g.seed = seed;
    return g;
}

cache_tag tag_of(u32 domain, u16 sid, u64 addr, u8 shift = 12, u32 pasid = no_pasid) {
    cache_tag t;
    t.domain = domain;
    t.source_id = sid;
    t.address = addr;
    t.size_shift = shift;
    t.pasid = pasid;
    return t;
}

} // namespace

TEST_CASE("assoc_cache: hit, miss and fill statistics", "[iommu][cache]") {
    u64_cache c(geo(4, 2));
    CHECK(c.lookup(5) == nullptr);
    c.insert(5, 50, {});
    REQUIRE(c.lookup(5) != nullptr);
    CHECK(*c.lookup(5) == 50);
    c.insert(5, 51, {}); // same key replaces, no eviction
    CHECK(*c.lookup(5) == 51);
    CHECK(c.size() == 1);
    const auto& s = c.stats();
    CHECK(s.lookups == 4);
    CHECK(s.hits == 3);
    CHECK(s.misses == 1);
    CHECK(s.fills == 2);
    CHECK(s.evictions == 0);
}

TEST_CASE("assoc_cache: keys map to sets by index modulo sets - a full set evicts only within itself", "[iommu][cache]") {
    u64_cache c(geo(4, 2));
    // Keys 0, 4, 8 all fall into set 0; 1 into set 1.
    c.insert(0, 0, {});
    c.insert(4, 4, {});
    c.insert(1, 1, {});
    c.insert(8, 8, {}); // evicts LRU of set 0: key 0
    CHECK(c.peek(0) == nullptr);
    CHECK(c.peek(4) != nullptr);
    CHECK(c.peek(8) != nullptr);
    CHECK(c.peek(1) != nullptr);
    CHECK(c.stats().evictions == 1);
    CHECK(c.size() == 3);
}

TEST_CASE("assoc_cache: fully associative (sets = 1) holds any keys up to the way count", "[iommu][cache]") {
    u64_cache c(geo(1, 8));
    for (u64 k = 0; k < 8; ++k) c.insert(k * 1000, k, {});
    for (u64 k = 0; k < 8; ++k) CHECK(c.peek(k * 1000) != nullptr);
    c.insert(99, 99, {});
    CHECK(c.size() == 8);
    CHECK(c.stats().evictions == 1);
}

TEST_CASE("replacement: LRU evicts the least recently used, FIFO the oldest fill", "[iommu][cache]") {
    SECTION("lru") {
        u64_cache c(geo(1, 3, replacement_policy::lru));
        c.insert(1, 1, {});
        c.insert(2, 2, {});
        c.insert(3, 3, {});
        c.lookup(1); // 2 is now least recently used
        c.insert(4, 4, {});
        CHECK(c.peek(2) == nullptr);
        CHECK(c.peek(1) != nullptr);
    }
    SECTION("fifo") {
        u64_cache c(geo(1, 3, replacement_policy::fifo));
        c.insert(1, 1, {});
        c.insert(2, 2, {});
        c.insert(3, 3, {});
        c.lookup(1); // hits do not matter to FIFO
        c.insert(4, 4, {});
        CHECK(c.peek(1) == nullptr);
        CHECK(c.peek(2) != nullptr);
    }
}

TEST_CASE("replacement: tree-PLRU never evicts the most recently used way", "[iommu][cache]") {
    u64_cache c(geo(1, 4, replacement_policy::tree_plru));
    for (u64 k = 0; k < 4; ++k) c.insert(k, k, {});
    for (u64 k = 4; k < 40; ++k) {
        c.lookup(k - 1); // most recent
        c.insert(k, k, {});
        CHECK(c.peek(k - 1) != nullptr);
        CHECK(c.peek(k) != nullptr);
        CHECK(c.size() == 4);
    }
    // With 4 ways, the tree cycles through all ways when filling without hits.
    u64_cache d(geo(1, 4, replacement_policy::tree_plru));
    for (u64 k = 0; k < 4; ++k) d.insert(k, k, {});
    std::set<u64> evicted;
    for (u64 k = 4; k < 8; ++k) {
        d.insert(k, k, {});
        for (u64 old = 0; old < 4; ++old)
            if (!d.peek(old)) evicted.insert(old);
    }
    CHECK(evicted.size() == 4);
    CHECK_THROWS_AS(u64_cache(geo(1, 3, replacement_policy::tree_plru)), std::invalid_argument);
    CHECK_THROWS_AS(u64_cache(geo(0, 4)), std::invalid_argument);
}

TEST_CASE("replacement: random is reproducible for a seed and differs between seeds", "[iommu][cache]") {
    auto survivors = [](u64 seed) {
        u64_cache c(geo(1, 8, replacement_policy::random, seed));
        for (u64 k = 0; k < 64; ++k) c.insert(k, k, {});
        std::set<u64> s;
        c.for_each([&](const u64_cache::entry& e) { s.insert(e.key); });
        return s;
    };
    CHECK(survivors(7) == survivors(7));
    CHECK(survivors(7).size() == 8);
    CHECK((survivors(7) != survivors(8) || survivors(7) != survivors(9)));
}

TEST_CASE("assoc_cache: invalidation by domain, device, PASID, range and predicate removes exactly its entries", "[iommu][cache]") {
    u64_cache c(geo(4, 4));
    c.insert(1, 0, tag_of(1, 0x0100, 0x1000));
    c.insert(2, 0, tag_of(1, 0x0200, 0x2000));
    c.insert(3, 0, tag_of(2, 0x0100, 0x3000));
    c.insert(4, 0, tag_of(2, 0x0300, 0x200000, 21));
    c.insert(5, 0, tag_of(3, 0x0300, 0x5000, 12, 7));
    c.insert(6, 0, tag_of(3, 0x0300, 0x6000, 12, 8));

    CHECK(c.invalidate_pasid(3, 7) == 1);
    CHECK(c.peek(5) == nullptr);
    CHECK(c.peek(6) != nullptr);

    // Range inside the 2 MiB entry [0x200000, 0x400000) removes it; the neighbours stay.
    CHECK(c.invalidate_range(0x3ff000, 0x1000, 2u) == 1);
    CHECK(c.peek(4) == nullptr);
    CHECK(c.invalidate_range(0x1000, 0x1000, 2u) == 0); // domain 1's page, domain 2 asked
    CHECK(c.invalidate_range(0x0, 0x2000) == 1);        // any domain: the page at 0x1000
    CHECK(c.peek(1) == nullptr);

    CHECK(c.invalidate_device(0x0100) == 1); // key 3
    CHECK(c.peek(3) == nullptr);
    CHECK(c.invalidate_domain(1) == 1); // key 2
    CHECK(c.invalidate_if([](const u64_cache::entry& e) { return e.key == 6; }) == 1);
    CHECK(c.size() == 0);

    c.insert(9, 0, tag_of(9, 0, 0));
    CHECK(c.invalidate_all() == 1);

    const auto& s = c.stats();
    CHECK(s.invalidations[size_t(inval_kind::pasid)] == 1);
    CHECK(s.invalidations[size_t(inval_kind::range)] == 3);
    CHECK(s.invalidated_entries[size_t(inval_kind::range)] == 2);
    CHECK(s.invalidations[size_t(inval_kind::device)] == 1);
    CHECK(s.invalidations[size_t(inval_kind::domain)] == 1);
    CHECK(s.invalidations[size_t(inval_kind::predicate)] == 1);
    CHECK(s.invalidated_entries[size_t(inval_kind::global)] == 1);
}

TEST_CASE("masked_range: address-mask invalidations cover 2^mask pages, aligned", "[iommu][cache]") {
    auto r = masked_range(0x12345000, 0);
    CHECK(r.base == 0x12345000);
    CHECK(r.size == 0x1000);
    r = masked_range(0x12345000, 9); // 512 pages = 2 MiB
    CHECK(r.base == 0x12200000);
    CHECK(r.size == 0x200000);
}

TEST_CASE("tlb_cache: a 2 MiB and a 1 GiB entry hit for every 4 KiB page inside them", "[iommu][cache][tlb]") {
    tlb_cache t(geo(16, 4), {12, 21, 30});
    translation big;
    big.address = 0x80200000;
    big.page_shift = 21;
    big.perms = perm_rw;
    t.fill(1, no_pasid, 0x10, 0x40200000 + 0x1234, big);
    translation huge;
    huge.address = 0x1'0000'0000;
    huge.page_shift = 30;
    huge.perms = perm_read;
    t.fill(1, no_pasid, 0x10, 0x80000000, huge);

    for (u64 off = 0; off < (u64(1) << 21); off += 0x1000) {
        auto r = t.lookup(1, no_pasid, 0x40200000 + off + 8);
        REQUIRE(r);
        CHECK(r->address == 0x80200000 + off + 8);
        CHECK(r->page_shift == 21);
    }
    for (u64 off = 0; off < (u64(1) << 30); off += 0x7ff000) {
        auto r = t.lookup(1, no_pasid, 0x80000000 + off);
        REQUIRE(r);
        CHECK(r->address == 0x1'0000'0000 + off);
        CHECK(r->perms == perm_read);
    }
    CHECK_FALSE(t.lookup(1, no_pasid, 0x40400000)); // just past the 2 MiB page
    CHECK_FALSE(t.lookup(2, no_pasid, 0x40200000)); // other domain
    CHECK_FALSE(t.lookup(1, 5, 0x40200000));        // other PASID
    CHECK(t.cache().size() == 2);                   // no per-4K entries
    // One lookup counted per translation, whichever size hit.
    const auto& s = t.stats();
    CHECK(s.lookups == s.hits + s.misses);
    CHECK(s.misses == 3);

    // A 4 KiB invalidation inside the 2 MiB page removes the whole large entry.
    CHECK(t.cache().invalidate_range(0x40300000, 0x1000, 1u) == 1);
    CHECK_FALSE(t.lookup(1, no_pasid, 0x40200000));
    CHECK(t.lookup(1, no_pasid, 0x80000000));

    translation odd;
    odd.page_shift = 16;
    CHECK_THROWS_AS(t.fill(1, no_pasid, 0, 0, odd), std::invalid_argument);
}

TEST_CASE("tlb_cache: 4 KiB and large entries coexist - the capacity knee is at sets x ways pages", "[iommu][cache][tlb]") {
    tlb_cache t(geo(1, 64), {12, 21});
    translation p;
    p.page_shift = 12;
    p.perms = perm_rw;
    for (u64 i = 0; i < 64; ++i) {
        p.address = 0x100000000 + i * 0x1000;
        t.fill(3, no_pasid, 0, i * 0x1000, p);
    }
    for (u64 i = 0; i < 64; ++i) CHECK(t.lookup(3, no_pasid, i * 0x1000 + 0x10));
    p.address = 0x100000000 + 64 * 0x1000;
    t.fill(3, no_pasid, 0, 64 * 0x1000, p);
    CHECK(t.stats().evictions == 1);
    CHECK_FALSE(t.lookup(3, no_pasid, 0)); // LRU: page 0 was looked up first
}

TEST_CASE("paging_structure_cache: per-level caches, tags, and invalidation across levels", "[iommu][cache][psc]") {
    std::vector<cache_geometry> g(5, geo(1, 0));
    g[2] = geo(1, 4);
    g[3] = geo(1, 2);
    g[4] = geo(1, 1);
    paging_structure_cache psc(g);
    CHECK_FALSE(psc.caches_level(1));
    CHECK(psc.caches_level(2));
    CHECK(psc.caches_level(4));
    CHECK_FALSE(psc.caches_level(5));

    psc.fill(2, 1, no_pasid, 0x10, 0x40201000, 21, psc_entry{0xa000, perm_rw});
    psc.fill(3, 1, no_pasid, 0x10, 0x40201000, 30, psc_entry{0xb000, perm_all});
    psc.fill(2, 2, no_pasid, 0x20, 0x40201000, 21, psc_entry{0xc000, perm_all});
    auto e = psc.lookup(2, 1, no_pasid, 0x403ff000, 21);
    REQUIRE(e);
    CHECK(e->table == 0xa000);
    CHECK(e->perms == perm_rw);
    CHECK_FALSE(psc.lookup(2, 1, no_pasid, 0x40400000, 21));
    CHECK(psc.lookup(3, 1, no_pasid, 0x7fffffff, 30));

    // A 4 KiB range inside domain 1 hits both of its levels (their regions contain it), not domain 2's.
    CHECK(psc.invalidate_range(0x40300000, 0x1000, 1u) == 2);
    CHECK(psc.lookup(2, 2, no_pasid, 0x40200000, 21));
    CHECK(psc.invalidate_domain(2) == 1);
    psc.fill(4, 1, no_pasid, 0, 0, 39, psc_entry{0xd000, perm_all});
    CHECK(psc.invalidate_all() == 1);
    const auto s = psc.total_stats();
    CHECK(s.fills == 4);
    CHECK(s.invalidated_entries[size_t(inval_kind::range)] == 2);
}

TEST_CASE("counted_resource: start = max(ready, earliest slot free) - waits are counted", "[iommu][timing]") {
    counted_resource r("walk_slots", 1);
    CHECK(r.reserve(100, 50) == 100);  // busy until 150
    CHECK(r.reserve(120, 50) == 150);  // waits 30
    CHECK(r.reserve(500, 10) == 500);
    CHECK(r.stats().grants == 3);
    CHECK(r.stats().waited == 1);
    CHECK(r.stats().total_wait_ps == 30);

    counted_resource two("walk_slots", 2);
    CHECK(two.reserve(0, 100) == 0);
    CHECK(two.reserve(0, 100) == 0);  // second slot
    CHECK(two.reserve(0, 100) == 100); // both busy
    auto g = two.acquire(10);
    CHECK(g.start_ps == 100);
    two.release(g, 180);
    CHECK(two.busy_until(g.slot) == 180);
    CHECK_THROWS_AS(counted_resource("x", 0), std::invalid_argument);
}

TEST_CASE("iommu_clock and parameter descriptions", "[iommu][timing]") {
    timing_params p;
    p.clock_mhz = 2000;
    iommu_clock c(p);
    CHECK(c.period_ps() == 500);
    CHECK(c.cycles(3) == 1500);
    p.functional = true;
    CHECK(iommu_clock(p).cycles(3) == 0);
    p.clock_mhz = 0;
    CHECK_THROWS_AS(iommu_clock(p), std::invalid_argument);

    const auto info = iommu_common_model_info();
    CHECK(info.name == "iommu_common");
    std::set<std::string> names;
    for (const auto& pi : info.params) {
        names.insert(pi.name);
        CHECK_FALSE(pi.description.empty());
        CHECK_FALSE(pi.default_value.empty());
    }
    CHECK(names.count("clock_mhz"));
    CHECK(names.count("functional"));
    CHECK(names.count("walk_slots"));
    const auto cp = cache_param_infos("iotlb", "IOTLB", cache_params{});
    CHECK(cp.size() == 5);
    CHECK(cp[2].name == "iotlb_policy");
    CHECK(cp[2].default_value == "lru");
    CHECK(parse_replacement_policy("tree_plru") == replacement_policy::tree_plru);
    CHECK_FALSE(parse_replacement_policy("mru"));
}

TEST_CASE("assoc_cache: LRU matches a reference model over random traffic", "[iommu][cache]") {
    // Reference: per set, a list ordered most recent first, capped at `ways`.
    const unsigned sets = 4, ways = 4;
    u64_cache c(geo(sets, ways, replacement_policy::lru));
    std::vector<std::vector<u64>> ref(sets);
    u64 rng = 12345;
    auto next = [&] {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
    };
    for (int i = 0; i < 20000; ++i) {
        const u64 k = next() % 40;
        auto& r = ref[k % sets];
        auto it = std::find(r.begin(), r.end(), k);
        const bool in_ref = it != r.end();
        if (next() % 3) {
            const bool hit = c.lookup(k) != nullptr;
            REQUIRE(hit == in_ref);
            if (in_ref) {
                r.erase(it);
                r.insert(r.begin(), k);
            }
        } else {
            c.insert(k, k * 2, {});
            if (in_ref) r.erase(it);
            else if (r.size() == ways) r.pop_back();
            r.insert(r.begin(), k);
        }
    }
    size_t total = 0;
    for (const auto& r : ref) total += r.size();
    CHECK(c.size() == total);
    CHECK(c.stats().hits + c.stats().misses == c.stats().lookups);
}

TEST_CASE("assoc_cache: a replayed hit has the effects of the lookup it replays, until the contents change",
          "[iommu][cache]") {
    // Two identical LRU caches; one searches every time, the other replays its first hit.
    const cache_geometry g = geo(1, 4);
    u64_cache searched(g), replayed(g);
    for (u64 k = 1; k <= 4; ++k) {
        searched.insert(k, 10 * k, tag_of(1, 0, k << 12));
        replayed.insert(k, 10 * k, tag_of(1, 0, k << 12));
    }
    const u64 gen = replayed.generation();
    REQUIRE(searched.lookup(2));
    REQUIRE(replayed.lookup(2));
    const size_t slot = replayed.last_hit_slot();
    CHECK(replayed.generation() == gen); // lookups never change it
    for (int i = 0; i < 3; ++i) {
        REQUIRE(searched.lookup(2));
        CHECK(*replayed.replay_hit(slot) == 20);
    }
    searched.lookup(99);
    replayed.replay_miss();
    CHECK(searched.stats().lookups == replayed.stats().lookups);
    CHECK(searched.stats().hits == replayed.stats().hits);
    CHECK(searched.stats().misses == replayed.stats().misses);
    // The replacement state moved the same way: the same victim on the next fill.
    searched.insert(5, 50, tag_of(1, 0, 5 << 12));
    replayed.insert(5, 50, tag_of(1, 0, 5 << 12));
    CHECK(replayed.generation() != gen);
    for (u64 k = 1; k <= 5; ++k) CHECK(bool(searched.peek(k)) == bool(replayed.peek(k)));
    CHECK(replayed.peek(2)); // kept: it was used most recently
    // Invalidations that remove something change the generation; ones that remove nothing do not.
    const u64 g2 = replayed.generation();
    replayed.invalidate_range(0x100000000, 0x1000);
    CHECK(replayed.generation() == g2);
    replayed.invalidate_all();
    CHECK(replayed.generation() != g2);
}

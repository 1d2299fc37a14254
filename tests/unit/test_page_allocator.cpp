// The host page allocator: buddy blocks over one physical range, against an independent reference
// (a page bitmap) over random traffic, plus the edges.
#include "sim/memory/page_allocator.h"

#include <catch2/catch.hpp>

#include <random>
#include <set>

using iommusim::u64;
using iommusim::memory::page_allocator;

TEST_CASE("page allocator: naturally aligned runs, lowest address first, coalescing back", "[memory][page_allocator]") {
    page_allocator a(0x100000, 16 * 4096);  // 1 MiB, 16 pages
    CHECK(a.statistics().total_pages == 16);
    CHECK(a.statistics().free_blocks == 1);  // 1 MiB is 64 KiB aligned: one order-4 block
    auto p0 = a.alloc(0);
    REQUIRE(p0);
    CHECK(*p0 == 0x100000);
    auto p2 = a.alloc(2);  // 16 KiB, aligned to 16 KiB
    REQUIRE(p2);
    CHECK(*p2 % (4 * 4096) == 0);
    CHECK(*p2 == 0x104000);
    CHECK(a.statistics().free_pages == 16 - 1 - 4);
    CHECK_FALSE(a.free(*p2, 1));  // wrong order: refused, nothing changes
    CHECK(a.statistics().free_pages == 11);
    CHECK(a.free(*p2, 2));
    CHECK(a.free(*p0, 0));
    CHECK_FALSE(a.free(*p0, 0));  // double free refused
    CHECK(a.statistics().free_pages == 16);
    CHECK(a.statistics().free_blocks == 1);  // everything merged again
    CHECK_FALSE(a.alloc(5));                 // 32 pages do not exist
    CHECK(page_allocator::order_for(1) == 0);
    CHECK(page_allocator::order_for(4097) == 1);
    CHECK(page_allocator::order_for(1u << 20) == 8);
}

TEST_CASE("page allocator: unaligned range is carved into aligned blocks, huge ranges stay small", "[memory][page_allocator]") {
    page_allocator a(0x3000, 0x10000);  // pages 3..18
    CHECK(a.statistics().total_pages == 16);
    // Blocks: 3 (o0), 4-7 (o2), 8-15 (o3), 16-17 (o1), 18 (o0)
    CHECK(a.statistics().free_blocks == 5);
    auto big = a.alloc(3);
    REQUIRE(big);
    CHECK(*big == 0x8000);
    page_allocator huge(0, 1ull << 40);  // 1 TiB: one record, not 2^28
    CHECK(huge.statistics().free_blocks == 1);
    CHECK(huge.statistics().largest_free_order == 28);
    page_allocator empty(0x1000, 0x800);
    CHECK(empty.statistics().total_pages == 0);
    CHECK_FALSE(empty.alloc(0));
}

TEST_CASE("page allocator: random traffic matches a page bitmap and never overlaps", "[memory][page_allocator]") {
    const u64 base = 0x200000, pages = 1000;
    page_allocator a(base, pages * 4096);
    std::vector<bool> used(pages, false);
    std::vector<std::pair<u64, unsigned>> live;
    std::mt19937 rng(7);
    for (int step = 0; step < 20000; ++step) {
        if (live.empty() || rng() % 3 != 0) {
            const unsigned order = rng() % 5;
            auto p = a.alloc(order);
            // Reference: is there any free aligned run of that order?
            bool exists = false;
            const u64 n = 1ull << order;
            for (u64 first = 0; first + n <= pages && !exists; ++first) {
                if ((base / 4096 + first) % n) continue;
                bool all = true;
                for (u64 i = 0; i < n; ++i) all = all && !used[first + i];
                exists = all;
            }
            // With full coalescing, an aligned free run inside the range is always one free block (or
            // part of a bigger one), so the allocator fails exactly when the reference finds nothing.
            REQUIRE(bool(p) == exists);
            if (!p) continue;
            REQUIRE(*p % (4096 * n) == 0);
            REQUIRE(*p >= base);
            REQUIRE(*p + 4096 * n <= base + pages * 4096);
            for (u64 i = 0; i < n; ++i) {
                REQUIRE_FALSE(used[(*p - base) / 4096 + i]);
                used[(*p - base) / 4096 + i] = true;
            }
            live.emplace_back(*p, order);
        } else {
            const std::size_t i = rng() % live.size();
            auto [pa, order] = live[i];
            REQUIRE(a.free(pa, order));
            for (u64 j = 0; j < (1ull << order); ++j) used[(pa - base) / 4096 + j] = false;
            live.erase(live.begin() + long(i));
        }
        u64 free_ref = 0;
        for (bool u : used) free_ref += !u;
        REQUIRE(a.statistics().free_pages == free_ref);
    }
    for (auto [pa, order] : live) REQUIRE(a.free(pa, order));
    CHECK(a.statistics().free_pages == pages);
    CHECK(a.statistics().allocated_blocks == 0);
}

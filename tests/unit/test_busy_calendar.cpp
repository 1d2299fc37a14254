// memory::busy_calendar: one resource booked with out-of-order timestamps (loosely-timed initiators).
#include "sim/memory/busy_calendar.h"

#include <catch2/catch.hpp>
#include <random>
#include <vector>

using iommusim::u64;
using iommusim::memory::busy_calendar;

TEST_CASE("busy_calendar: arrivals in time order behave as busy-until", "[memory]") {
    busy_calendar c;
    u64 busy_until = 0;
    std::mt19937_64 rng(7);
    u64 t = 0;
    for (int i = 0; i < 1000; ++i) {
        t += rng() % 50;
        const u64 d = 1 + rng() % 40;
        const u64 expect = std::max(t, busy_until);
        CHECK(c.book(t, d) == expect);
        busy_until = expect + d;
        CHECK(c.busy_until() == busy_until);
    }
    CHECK(c.intervals() < 1000); // back-to-back bookings merge
}

TEST_CASE("busy_calendar: an earlier arrival uses the gap before a later booking", "[memory]") {
    busy_calendar c;
    CHECK(c.book(1000, 10) == 1000);  // [1000, 1010)
    CHECK(c.book(100, 10) == 100);    // before it: no waiting behind the later booking
    CHECK(c.book(995, 10) == 1010);   // does not fit in [110, 1000) at 995: after the busy interval
    CHECK(c.book(105, 10) == 110);    // overlaps [100, 110): right after it
    CHECK(c.book(0, 90) == 0);        // fits before 100
    CHECK(c.book(0, 20) == 120);      // [0,90) [100,120) busy: the first 20-long gap starts at 120
    CHECK(c.busy_until() == 1020);
}

TEST_CASE("busy_calendar: against a brute-force timeline", "[memory]") {
    busy_calendar c(1u << 20);
    std::vector<bool> busy(20000, false);
    std::mt19937_64 rng(3);
    for (int i = 0; i < 400; ++i) {
        const u64 a = rng() % 15000, d = 1 + rng() % 20;
        u64 expect = a;
        for (;; ++expect) {
            bool free = true;
            for (u64 k = expect; k < expect + d; ++k)
                if (busy[k]) {
                    free = false;
                    break;
                }
            if (free) break;
        }
        for (u64 k = expect; k < expect + d; ++k) busy[k] = true;
        REQUIRE(c.book(a, d) == expect);
    }
}

TEST_CASE("busy_calendar: capacity bounds the intervals kept", "[memory]") {
    busy_calendar c(4);
    for (u64 i = 0; i < 10; ++i) c.book(i * 100, 10);
    CHECK(c.intervals() <= 4);
    CHECK(c.book(0, 10) == 0); // the oldest were forgotten
}

// The IOTLB window bench (sim/bench): its PCIe link arithmetic, and the calibration of the default VT-d
// unit against pcie-bench's Haswell numbers (reference anchors §4.1). Each TEST_CASE runs in its own
// process (CTest): run_iotlb_window() elaborates a platform.
#include "sim/bench/bench_report.h"
#include "sim/bench/iotlb_window.h"
#include "sim/bench/pcie_link.h"
#include "sim/core/input_error.h"

#include <catch2/catch.hpp>
#include <map>

using namespace iommusim;
using namespace iommusim::bench;

namespace {
constexpr u64 KiB = 1024, MiB = 1024 * 1024;

std::map<u64, window_point> sweep(iotlb_window_config cfg, std::vector<u64> windows) {
    cfg.windows = windows;
    cfg.samples = 301;
    cfg.bw_requests = 4000;
    std::map<u64, window_point> m;
    for (const auto& p : run_iotlb_window(cfg).points) m[p.window_bytes] = p;
    return m;
}
} // namespace

TEST_CASE("bench pcie_link: Gen3 x8 wire times and queueing of one direction", "[bench]") {
    pcie_link l{pcie_link_params{}};
    // 8 GT/s x 8 lanes x 128/130 / 8 bits = 7.877 B/ns
    CHECK(l.bytes_per_ns() == Approx(8.0 * 8 * 128 / 130 / 8));
    // MRd: 16 B header + 8 B framing; CplD with 64 B: 64 + 12 + 8 = 84 B
    CHECK(double(l.request_ps()) == Approx(24 / l.bytes_per_ns() * 1000).margin(1));
    CHECK(double(l.completion_ps(64)) == Approx(84 / l.bytes_per_ns() * 1000).margin(1));
    const u64 w = l.completion_ps(64);
    CHECK(l.send_downstream(1000, w) == 1000 + w);
    CHECK(l.send_downstream(1000, w) == 1000 + 2 * w); // queued behind the first
    CHECK(l.send_downstream(0, 100) == 100);           // an earlier completion goes first, in the gap
    CHECK(l.send_upstream(1000, w) == 1000 + w);       // the other direction is independent
    pcie_link_params gen2;
    gen2.generation = 2;
    gen2.lanes = 4;
    CHECK(pcie_link(gen2).bytes_per_ns() == Approx(5.0 * 4 * 0.8 / 8));
    pcie_link_params bad;
    bad.lanes = 3;
    CHECK_THROWS_AS(pcie_link{bad}, input_error);
}

TEST_CASE("bench iotlb-window: defaults reproduce pcie-bench's Haswell curve with 4 KiB pages", "[bench]") {
    const auto m = sweep({}, {4 * KiB, 256 * KiB, 512 * KiB, 1 * MiB, 64 * MiB});
    // Inside the IOTLB's reach (64 entries = 256 KiB): every read hits, 533 ns, 33.6 Gb/s.
    for (u64 w : {4 * KiB, 256 * KiB}) {
        CHECK(m.at(w).iotlb_hit_rate == 1.0);
        CHECK(m.at(w).median_latency_ns == Approx(533).margin(15));
        CHECK(m.at(w).bandwidth_gbps == Approx(33.6).margin(1.5));
        CHECK(m.at(w).page_size == 4096);
    }
    // The knee between 256 KiB and 512 KiB: half the pages fit at 512 KiB.
    CHECK(m.at(512 * KiB).iotlb_hit_rate == Approx(0.5).margin(0.05));
    CHECK(m.at(512 * KiB).bandwidth_gbps == Approx(25.0).margin(2.5));
    // 1 MiB: 746..810 ns, ~16 Gb/s; 64 MiB: 826..900 ns, ~10 Gb/s.
    CHECK(m.at(1 * MiB).median_latency_ns >= 746);
    CHECK(m.at(1 * MiB).median_latency_ns <= 810);
    CHECK(m.at(1 * MiB).bandwidth_gbps == Approx(16.1).margin(1.6));
    CHECK(m.at(64 * MiB).median_latency_ns >= 826);
    CHECK(m.at(64 * MiB).median_latency_ns <= 900);
    CHECK(m.at(64 * MiB).bandwidth_gbps == Approx(10.1).margin(1.0));
    CHECK(m.at(64 * MiB).iotlb_hit_rate < 0.02);
    CHECK(m.at(64 * MiB).page_walks > 0);
}

TEST_CASE("bench iotlb-window: 128 IOTLB entries move the knee to between 512 KiB and 1 MiB", "[bench]") {
    iotlb_window_config cfg;
    cfg.sets = {{"iotlb_ways", "128"}};
    const auto m = sweep(cfg, {256 * KiB, 512 * KiB, 1 * MiB});
    CHECK(m.at(512 * KiB).iotlb_hit_rate == 1.0);
    CHECK(m.at(512 * KiB).bandwidth_gbps == Approx(33.6).margin(1.5));
    CHECK(m.at(1 * MiB).iotlb_hit_rate == Approx(0.5).margin(0.05));
    CHECK(m.at(1 * MiB).bandwidth_gbps < 28);
}

TEST_CASE("bench iotlb-window: large pages stay flat to 64 MiB, no IOMMU is flat", "[bench]") {
    iotlb_window_config cfg;
    cfg.large_pages = {true};
    const auto m = sweep(cfg, {4 * KiB, 1 * MiB, 64 * MiB});
    for (const auto& [w, p] : m) {
        CHECK(p.page_size == 2 * MiB);
        CHECK(p.median_latency_ns == Approx(533).margin(15));
        CHECK(p.median_latency_ns <= 650); // pcie-bench: ~600 at 64 MiB
        CHECK(p.bandwidth_gbps > 28);
    }
}

TEST_CASE("bench iotlb-window: without an IOMMU every window costs the same", "[bench]") {
    iotlb_window_config cfg;
    cfg.iommu = false;
    const auto m = sweep(cfg, {4 * KiB, 64 * MiB});
    CHECK(m.at(4 * KiB).median_latency_ns == Approx(m.at(64 * MiB).median_latency_ns).margin(1));
    CHECK(m.at(64 * MiB).median_latency_ns < 533); // no IOMMU lookups
    CHECK(m.at(64 * MiB).page_size == 0);
}

TEST_CASE("bench iotlb-window: walk slots bound the miss rate under load", "[bench]") {
    iotlb_window_config cfg;
    cfg.sets = {{"walk_slots", "3"}};
    const auto m = sweep(cfg, {64 * MiB});
    // Half the slots, half the walks per second (about 5 Gb/s instead of 10).
    CHECK(m.at(64 * MiB).bandwidth_gbps == Approx(5.05).margin(0.6));
}

TEST_CASE("bench iotlb-window: bad --set names and values are input errors", "[bench]") {
    iotlb_window_config cfg;
    cfg.sets = {{"iotlb_wayz", "128"}};
    CHECK_THROWS_AS(run_iotlb_window(cfg), input_error);
    cfg.sets = {{"device.tags", "0"}};
    CHECK_THROWS_AS(run_iotlb_window(cfg), input_error);
    cfg.sets = {{"device.bogus", "1"}};
    CHECK_THROWS_AS(run_iotlb_window(cfg), input_error);
    CHECK_THROWS_AS(parse_set("no-equals"), input_error);
    CHECK(parse_set("a=b=c") == std::pair<std::string, std::string>{"a", "b=c"});
    iotlb_window_config w;
    w.windows = {3000};
    CHECK_THROWS_AS(run_iotlb_window(w), input_error);
}

TEST_CASE("bench report: JSON members, table and SVG", "[bench]") {
    iotlb_window_result r;
    r.iotlb_entries = 64;
    window_point p;
    p.window_bytes = 1 << 20;
    p.page_size = 4096;
    p.median_latency_ns = 778.5;
    p.bandwidth_gbps = 16.5;
    r.points = {p};
    const auto j = to_json(r);
    REQUIRE(j.at("points").size() == 1);
    CHECK(j["points"][0]["window_bytes"] == 1 << 20);
    CHECK(j["points"][0]["page_size"] == 4096);
    CHECK(j["points"][0]["median_latency_ns"] == 778.5);
    CHECK(j["points"][0]["bandwidth_gbps"] == 16.5);
    CHECK(format_table(r).find("1 MiB") != std::string::npos);
    const std::string svg = render_svg(r);
    CHECK(svg.rfind("<svg", 0) == 0);
    CHECK(svg.find("</svg>") != std::string::npos);
    CHECK(size_text(64 << 20) == "64 MiB");
    CHECK(size_text(4096) == "4 KiB");
}

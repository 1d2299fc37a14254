// Calibration steps: parsing, the one-machine-per-scenario rules, and the knee of a latency curve.
#include "sim/core/input_error.h"
#include "sim/scenario/scenario.h"

#include <catch2/catch.hpp>

using namespace iommusim;
using namespace iommusim::scenario;
using nlohmann::json;

namespace {
std::string error_of(const json& j) {
    try {
        load_scenario_json(j, "c.json");
    } catch (const input_error& e) {
        return e.what();
    }
    return "(no error)";
}
} // namespace

TEST_CASE("calibration step: windows, sets, expectations and knee parse, without a platform", "[scenario][calibration]") {
    const scenario_desc s = load_scenario_json(json::parse(R"({"steps": [{"op": "iotlb_window",
        "set": {"iotlb_ways": 128, "functional": false}, "windows": ["1M", "4K"], "large_pages": true, "samples": 50,
        "expect": [{"window": "4K", "median_latency_ns": [500, 560]}], "knee": ["4K", "1M"]}]})"), "c.json");
    REQUIRE(s.steps.size() == 1);
    REQUIRE(s.steps[0].calibration);
    const calibration_step& c = *s.steps[0].calibration;
    CHECK(c.windows == std::vector<u64>{4096, 1 << 20});
    // JSON objects are unordered: the settings apply in name order.
    CHECK(c.sets == std::vector<std::pair<std::string, std::string>>{{"functional", "false"}, {"iotlb_ways", "128"}});
    CHECK(c.large_pages);
    CHECK(c.samples == 50);
    REQUIRE(c.expect.size() == 1);
    CHECK(c.expect[0].median_latency_ns->min == 500);
    CHECK_FALSE(c.expect[0].bandwidth_gbps);
    CHECK(c.knee == std::make_pair(u64(4096), u64(1) << 20));
    CHECK(load_scenario_json(json::parse(R"({"steps": [{"op": "iotlb_window", "knee": "none"}]})"), "c.json")
              .steps[0].calibration->no_knee);
}

TEST_CASE("calibration step: one per scenario, alone, with its errors at their JSON pointers", "[scenario][calibration]") {
    CHECK_THAT(error_of(json::parse(R"({"steps": [{"op": "iotlb_window"}, {"op": "iotlb_window"}]})")),
               Catch::Contains("c.json: /steps/1: a scenario holds one iotlb_window step"));
    CHECK_THAT(error_of(json::parse(R"({"platform": "qemu-q35", "steps": [{"op": "iotlb_window"}, {"op": "print_groups"}]})")),
               Catch::Contains("cannot share a scenario"));
    CHECK_THAT(error_of(json::parse(R"({"steps": [{"op": "print_groups"}]})")), Catch::Contains("exactly one of"));
    CHECK_THAT(error_of(json::parse(R"({"steps": [{"op": "iotlb_window", "windows": ["3K"]}]})")),
               Catch::Contains("/steps/0/windows/0: a window is a power of two"));
    CHECK_THAT(error_of(json::parse(R"({"steps": [{"op": "iotlb_window", "windows": ["4K"], "expect": [{"window": "8K"}]}]})")),
               Catch::Contains("/steps/0/expect/0/window: this window is not among"));
    CHECK_THAT(error_of(json::parse(R"({"steps": [{"op": "iotlb_window", "expect": [{"window": "4K", "bandwidth_gbps": [9, 3]}]}]})")),
               Catch::Contains("/steps/0/expect/0/bandwidth_gbps: min is above max"));
    CHECK_THAT(error_of(json::parse(R"({"steps": [{"op": "iotlb_window", "knee": ["1M", "4K"]}]})")),
               Catch::Contains("/steps/0/knee"));
    CHECK_THAT(error_of(json::parse(R"({"steps": [{"op": "iotlb_window", "set": {"iotlb_ways": [1]}}]})")),
               Catch::Contains("/steps/0/set/iotlb_ways"));
}

TEST_CASE("latency_knee: the last window within 10 % of the first, and the next", "[scenario][calibration]") {
    CHECK(latency_knee({{4096, 533}, {1 << 18, 540}, {1 << 19, 657}, {1 << 20, 713}}) ==
          std::make_pair(u64(1) << 18, u64(1) << 19));
    CHECK_FALSE(latency_knee({{4096, 533}, {1 << 20, 560}}));  // flat: no knee
    CHECK_FALSE(latency_knee({{4096, 533}}));
    CHECK(latency_knee({{4096, 533}, {8192, 900}}) == std::make_pair(u64(4096), u64(8192)));
}

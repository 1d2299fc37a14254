// A calibration step: pcie-bench's IOTLB window experiment (sim/bench/iotlb_window.h) run on its own
// machine, with expectations on the curve, so a calibration is a scenario that CI runs like any other.
//
//   { "op": "iotlb_window", "platform": "intel-xeon-server" (default: the bench's testbed),
//     "set": {"iotlb_ways": 128}, "large_pages": false, "windows": ["4K", "256K", "1M", "64M"],
//     "expect": [{"window": "256K", "median_latency_ns": [500, 566], "bandwidth_gbps": [30, 36]}],
//     "knee": ["256K", "512K"] }
//
// "knee" [a, b]: a is the largest window whose mean latency stays within 10 % of the smallest window's,
// and b the next window measured (the mean, not the median: once misses start, the mean rises at once,
// while the median only flips when half the reads miss); "knee": "none" expects no knee at all. A scenario with a calibration step has only calibration steps and may
// omit the top-level "platform" (each step builds its own machine; SystemC elaborates once per process,
// so the runner runs each such scenario in its own process, as it does every scenario).
#pragma once
#include "sim/core/types.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace iommusim::platforms {
class json_fields;
}

namespace iommusim::scenario {

struct value_range {
    double min = 0, max = 0;
    bool contains(double v) const { return v >= min && v <= max; }
};

struct calibration_point_expect {
    u64 window = 0;
    std::optional<value_range> median_latency_ns, bandwidth_gbps, iotlb_hit_rate;
};

struct calibration_step {
    std::string platform;                                  // preset or file; empty: the bench's testbed
    std::vector<std::pair<std::string, std::string>> sets; // model parameters by describe name
    bool large_pages = false;
    std::vector<u64> windows;                              // empty: 4 KiB ... 64 MiB
    unsigned samples = 1000;
    std::vector<calibration_point_expect> expect;
    std::optional<std::pair<u64, u64>> knee;
    bool no_knee = false;                                  // "knee": "none"
};

calibration_step parse_calibration_step(const platforms::json_fields& in, const nlohmann::json& j, const std::string& ptr,
                                        const std::string& dir);

// The knee of a latency curve (window, mean latency) as "knee" defines it: (a, b); nullopt with fewer than
// two points or when the curve stays flat.
std::optional<std::pair<u64, u64>> latency_knee(const std::vector<std::pair<u64, double>>& window_mean);

} // namespace iommusim::scenario

// What `iommusim bench iotlb-window` prints: a table for people, JSON for scripts
// ({"points": [{"window_bytes", "page_size", "median_latency_ns", "bandwidth_gbps", ...}]}), and an SVG
// of both curves beside pcie-bench's measurements (Haswell Xeon E5-2620v3, reference anchors §4.1).
#pragma once
#include "sim/bench/iotlb_window.h"

#include <nlohmann/json.hpp>
#include <string>

namespace iommusim::bench {

std::string format_table(const iotlb_window_result& r);
nlohmann::json to_json(const iotlb_window_result& r);
std::string render_svg(const iotlb_window_result& r);

// "4 KiB", "2 MiB", "64 MiB"
std::string size_text(u64 bytes);

} // namespace iommusim::bench

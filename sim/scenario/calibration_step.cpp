#include "sim/scenario/calibration_step.h"

#include "platforms/desc/json_fields.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

namespace iommusim::scenario {

using platforms::json_fields;
using platforms::json_ptr;

namespace {

value_range parse_range(const json_fields& in, const nlohmann::json& v, const std::string& ptr) {
    if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number())
        in.fail(ptr, "expected [min, max] with two numbers");
    value_range r{v[0].get<double>(), v[1].get<double>()};
    if (r.min > r.max) in.fail(ptr, "min is above max");
    return r;
}

std::string value_text(const nlohmann::json& v) {
    return v.is_string() ? v.get<std::string>() : v.dump();
}

} // namespace

calibration_step parse_calibration_step(const json_fields& in, const nlohmann::json& j, const std::string& ptr,
                                        const std::string& dir) {
    in.check_members(j, ptr, {"op", "name", "platform", "set", "large_pages", "windows", "samples", "expect", "knee"});
    calibration_step c;
    if (j.contains("platform")) {
        c.platform = in.get_string(j.at("platform"), json_ptr(ptr, "platform"));
        // A file is relative to the scenario, as the scenario's own "platform" is.
        if (c.platform.find('/') != std::string::npos || c.platform.find(".json") != std::string::npos) {
            std::filesystem::path p(c.platform);
            if (p.is_relative()) c.platform = (std::filesystem::path(dir) / p).string();
        }
    }
    if (j.contains("set")) {
        const auto& s = j.at("set");
        const std::string sp = json_ptr(ptr, "set");
        in.require_object(s, sp);
        for (const auto& [name, value] : s.items()) {
            if (!value.is_number() && !value.is_boolean() && !value.is_string())
                in.fail(json_ptr(sp, name), "expected a number, a boolean or a string");
            c.sets.emplace_back(name, value_text(value));
        }
    }
    if (j.contains("large_pages")) c.large_pages = in.get_bool(j.at("large_pages"), json_ptr(ptr, "large_pages"));
    if (j.contains("windows")) {
        const auto& w = j.at("windows");
        const std::string wp = json_ptr(ptr, "windows");
        if (!w.is_array() || w.empty()) in.fail(wp, "expected a non-empty array of sizes");
        for (size_t i = 0; i < w.size(); ++i) {
            const u64 v = in.get_size(w[i], json_ptr(wp, i));
            if (v < 4096 || (v & (v - 1))) in.fail(json_ptr(wp, i), "a window is a power of two of at least 4K");
            c.windows.push_back(v);
        }
        std::sort(c.windows.begin(), c.windows.end());
    }
    if (j.contains("samples")) {
        c.samples = unsigned(in.get_uint(j.at("samples"), json_ptr(ptr, "samples"), 1000000));
        if (c.samples < 10) in.fail(json_ptr(ptr, "samples"), "at least 10 samples make a median");
    }
    if (j.contains("expect")) {
        const auto& e = j.at("expect");
        const std::string ep = json_ptr(ptr, "expect");
        if (!e.is_array()) in.fail(ep, "expected an array of {\"window\", ranges}");
        for (size_t i = 0; i < e.size(); ++i) {
            const std::string p = json_ptr(ep, i);
            in.require_object(e[i], p);
            in.check_members(e[i], p, {"window", "median_latency_ns", "bandwidth_gbps", "iotlb_hit_rate"});
            if (!e[i].contains("window")) in.fail(p, "missing field \"window\"");
            calibration_point_expect pe;
            pe.window = in.get_size(e[i].at("window"), json_ptr(p, "window"));
            if (!c.windows.empty() && !std::binary_search(c.windows.begin(), c.windows.end(), pe.window))
                in.fail(json_ptr(p, "window"), "this window is not among \"windows\"");
            if (e[i].contains("median_latency_ns"))
                pe.median_latency_ns = parse_range(in, e[i].at("median_latency_ns"), json_ptr(p, "median_latency_ns"));
            if (e[i].contains("bandwidth_gbps"))
                pe.bandwidth_gbps = parse_range(in, e[i].at("bandwidth_gbps"), json_ptr(p, "bandwidth_gbps"));
            if (e[i].contains("iotlb_hit_rate"))
                pe.iotlb_hit_rate = parse_range(in, e[i].at("iotlb_hit_rate"), json_ptr(p, "iotlb_hit_rate"));
            c.expect.push_back(pe);
        }
    }
    if (j.contains("knee")) {
        const auto& k = j.at("knee");
        const std::string kp = json_ptr(ptr, "knee");
        if (k.is_string() && k.get<std::string>() == "none") {
            c.no_knee = true;
            return c;
        }
        if (!k.is_array() || k.size() != 2) in.fail(kp, "expected [last flat window, next window] or \"none\"");
        const u64 a = in.get_size(k[0], json_ptr(kp, 0)), b = in.get_size(k[1], json_ptr(kp, 1));
        if (a >= b) in.fail(kp, "the second window must be larger than the first");
        c.knee = std::make_pair(a, b);
    }
    return c;
}

std::optional<std::pair<u64, u64>> latency_knee(const std::vector<std::pair<u64, double>>& points) {
    if (points.size() < 2) return std::nullopt;
    const double flat = points.front().second * 1.10;
    size_t last = 0;
    while (last + 1 < points.size() && points[last + 1].second <= flat) ++last;
    if (last + 1 == points.size()) return std::nullopt;
    return std::make_pair(points[last].first, points[last + 1].first);
}

} // namespace iommusim::scenario

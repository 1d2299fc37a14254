#include "sim/scenario/calibration_run.h"

#include "sim/bench/iotlb_window.h"
#include "sim/core/input_error.h"

#include <fmt/format.h>

namespace iommusim::scenario {

namespace {
std::string size_text(u64 v) {
    if (v >= (u64(1) << 30) && !(v & ((u64(1) << 30) - 1))) return fmt::format("{}G", v >> 30);
    if (v >= (u64(1) << 20) && !(v & ((u64(1) << 20) - 1))) return fmt::format("{}M", v >> 20);
    if (v >= 1024 && !(v & 1023)) return fmt::format("{}K", v >> 10);
    return std::to_string(v);
}
} // namespace

step_result run_calibration(const step& s) {
    step_result out;
    out.source = &s;
    const calibration_step& c = *s.calibration;
    bench::iotlb_window_config cfg;
    cfg.platform = c.platform;
    cfg.sets = c.sets;
    cfg.large_pages = {c.large_pages};
    cfg.windows = c.windows;
    cfg.samples = c.samples;
    // A bad "set" name or value, or a bad platform, is bad input in this scenario: reported at the step's
    // member (the runner adds the scenario's file name).
    bench::iotlb_window_result r;
    try {
        r = bench::run_iotlb_window(cfg);
    } catch (const input_error& e) {
        if (e.file() == "--set") throw input_error("", s.where + "/set" + e.location(), e.message());
        throw input_error("", s.where + "/platform", e.what());
    }

    std::vector<std::pair<u64, double>> curve;
    for (const auto& p : r.points) {
        curve.emplace_back(p.window_bytes, p.mean_latency_ns);
        out.messages.push_back(fmt::format("{:>5}: median {:.0f} ns, mean {:.0f} ns, {:.1f} Gb/s, IOTLB hit rate {:.2f}",
                                           size_text(p.window_bytes), p.median_latency_ns, p.mean_latency_ns,
                                           p.bandwidth_gbps, p.iotlb_hit_rate));
    }
    auto check = [&](const char* what, u64 window, const std::optional<value_range>& want, double got) {
        if (want && !want->contains(got)) {
            out.passed = false;
            out.messages.push_back(fmt::format("window {}: {} = {:.3g}, expected {} .. {}", size_text(window), what, got,
                                               want->min, want->max));
        }
    };
    for (const auto& e : c.expect) {
        const bench::window_point* p = nullptr;
        for (const auto& q : r.points)
            if (q.window_bytes == e.window) p = &q;
        if (!p) {
            out.passed = false;
            out.messages.push_back(fmt::format("window {} was not measured", size_text(e.window)));
            continue;
        }
        check("median_latency_ns", e.window, e.median_latency_ns, p->median_latency_ns);
        check("bandwidth_gbps", e.window, e.bandwidth_gbps, p->bandwidth_gbps);
        check("iotlb_hit_rate", e.window, e.iotlb_hit_rate, p->iotlb_hit_rate);
    }
    if (c.no_knee) {
        if (const auto knee = latency_knee(curve)) {
            out.passed = false;
            out.messages.push_back(fmt::format("expected no knee, found one between {} and {}", size_text(knee->first),
                                               size_text(knee->second)));
        }
    }
    if (c.knee) {
        const auto knee = latency_knee(curve);
        if (!knee || *knee != *c.knee) {
            out.passed = false;
            out.messages.push_back(fmt::format("the knee is {}, expected between {} and {}",
                                               knee ? fmt::format("between {} and {}", size_text(knee->first),
                                                                  size_text(knee->second))
                                                    : "absent (the curve stays flat)",
                                               size_text(c.knee->first), size_text(c.knee->second)));
        } else {
            out.messages.push_back(fmt::format("knee between {} and {}", size_text(knee->first), size_text(knee->second)));
        }
    }
    return out;
}

} // namespace iommusim::scenario

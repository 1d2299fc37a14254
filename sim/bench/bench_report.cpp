#include "sim/bench/bench_report.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <vector>

namespace iommusim::bench {

namespace {

// pcie-bench, HSW Xeon E5-2620v3, 64 B reads, warm (anchors §4.1): {window, latency ns or 0, Gb/s or 0}.
struct reference_point {
    u64 window;
    double latency_ns, gbps;
};
const std::vector<reference_point> k_hsw_4k = {
    {256 << 10, 533, 33.6}, {512 << 10, 0, 25.0}, {1 << 20, 746, 16.1}, {64 << 20, 826, 10.1}};
const std::vector<reference_point> k_hsw_large = {{256 << 10, 533, 33.7}, {1 << 20, 0, 33.7}, {64 << 20, 600, 28.6}};

std::string series_name(u64 page_size) {
    return page_size ? size_text(page_size) + " pages" : std::string("no IOMMU");
}

} // namespace

std::string size_text(u64 b) {
    if (b >= (u64(1) << 30) && b % (u64(1) << 30) == 0) return fmt::format("{} GiB", b >> 30);
    if (b >= (u64(1) << 20) && b % (u64(1) << 20) == 0) return fmt::format("{} MiB", b >> 20);
    if (b >= 1024 && b % 1024 == 0) return fmt::format("{} KiB", b >> 10);
    return fmt::format("{} B", b);
}

std::string format_table(const iotlb_window_result& r) {
    std::string s;
    if (r.iommu)
        s += fmt::format("{}: IOTLB {} entries (4 KiB), {} entries (large), {} walk slots; platform {}\n",
                         r.iommu_name, r.iotlb_entries, r.iotlb_large_entries, r.walk_slots, r.platform);
    else
        s += fmt::format("no IOMMU; platform {}\n", r.platform);
    s += fmt::format("{:>9}  {:>9}  {:>10}  {:>8}  {:>8}  {:>10}  {:>9}\n", "window", "page", "median ns",
                     "p10 ns", "p90 ns", "BW Gb/s", "IOTLB hit");
    for (const auto& p : r.points)
        s += fmt::format("{:>9}  {:>9}  {:>10.1f}  {:>8.1f}  {:>8.1f}  {:>10.2f}  {:>8.1f}%\n", size_text(p.window_bytes),
                         p.page_size ? size_text(p.page_size) : "-", p.median_latency_ns, p.p10_latency_ns,
                         p.p90_latency_ns, p.bandwidth_gbps, 100 * p.iotlb_hit_rate);
    return s;
}

nlohmann::json to_json(const iotlb_window_result& r) {
    nlohmann::json pts = nlohmann::json::array();
    for (const auto& p : r.points)
        pts.push_back({{"window_bytes", p.window_bytes},
                       {"page_size", p.page_size},
                       {"median_latency_ns", p.median_latency_ns},
                       {"bandwidth_gbps", p.bandwidth_gbps},
                       {"p10_latency_ns", p.p10_latency_ns},
                       {"p90_latency_ns", p.p90_latency_ns},
                       {"mean_latency_ns", p.mean_latency_ns},
                       {"iotlb_hit_rate", p.iotlb_hit_rate},
                       {"page_walks", p.page_walks}});
    return {{"points", pts},
            {"platform", r.platform},
            {"iommu", r.iommu},
            {"iotlb_entries", r.iotlb_entries},
            {"iotlb_large_entries", r.iotlb_large_entries},
            {"walk_slots", r.walk_slots}};
}

std::string render_svg(const iotlb_window_result& r) {
    // Two panels (latency, bandwidth) over log2(window); one polyline per page size, pcie-bench's
    // Haswell measurements as hollow markers.
    const double W = 900, H = 380, pw = 360, ph = 260, top = 50, left1 = 70, left2 = 520;
    std::map<u64, std::vector<const window_point*>> series;
    u64 wmin = ~u64(0), wmax = 0;
    double lmax = 1000, bmax = 40;
    for (const auto& p : r.points) {
        series[p.page_size].push_back(&p);
        wmin = std::min(wmin, p.window_bytes);
        wmax = std::max(wmax, p.window_bytes);
        lmax = std::max(lmax, std::ceil(p.median_latency_ns / 100) * 100);
        bmax = std::max(bmax, std::ceil(p.bandwidth_gbps / 10) * 10);
    }
    if (r.points.empty()) wmin = 4096, wmax = u64(64) << 20;
    const double x0 = std::log2(double(wmin)), x1 = std::max(x0 + 1, std::log2(double(wmax)));
    auto sx = [&](double left, u64 w) { return left + (std::log2(double(w)) - x0) / (x1 - x0) * pw; };
    auto sy = [&](double v, double vmax) { return top + ph - v / vmax * ph; };
    const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};

    std::string s = fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="12">)"
                                "\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
                                W, H);
    s += fmt::format("<text x=\"{}\" y=\"20\" font-size=\"14\">iommusim bench iotlb-window: 64 B DMA reads at random "
                     "offsets of a window ({}, IOTLB {} entries)</text>\n",
                     left1, r.iommu ? r.iommu_name : "no IOMMU", r.iotlb_entries);
    auto panel = [&](double left, const char* title, double vmax, double step, bool latency) {
        s += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", left, top - 8, title);
        s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>\n", left,
                         top, pw, ph);
        for (double v = 0; v <= vmax + 1e-9; v += step) {
            const double y = sy(v, vmax);
            s += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>"
                             "<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n",
                             left, y, left + pw, y, left - 4, y + 4, v);
        }
        for (u64 w = wmin; w <= wmax; w *= 4) {
            const double x = sx(left, w);
            s += fmt::format("<line x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\" stroke=\"#eee\"/>"
                             "<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                             x, top, x, top + ph, x, top + ph + 16, size_text(w));
        }
        s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">window</text>\n", left + pw / 2, top + ph + 34);
        size_t c = 0;
        for (const auto& [page, pts] : series) {
            std::string d;
            for (const auto* p : pts)
                d += fmt::format("{:.1f},{:.1f} ", sx(left, p->window_bytes),
                                 sy(latency ? p->median_latency_ns : p->bandwidth_gbps, vmax));
            s += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n", d,
                             colours[c % 4]);
            for (const auto* p : pts)
                s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\" fill=\"{}\"/>\n", sx(left, p->window_bytes),
                                 sy(latency ? p->median_latency_ns : p->bandwidth_gbps, vmax), colours[c % 4]);
            // pcie-bench's Haswell numbers for the same kind of mapping
            const auto& ref = page == 4096 ? k_hsw_4k : k_hsw_large;
            if (page)
                for (const auto& q : ref) {
                    const double v = latency ? q.latency_ns : q.gbps;
                    if (v <= 0 || q.window < wmin || q.window > wmax) continue;
                    s += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"8\" height=\"8\" fill=\"none\" "
                                     "stroke=\"{}\" stroke-width=\"1.5\"/>\n",
                                     sx(left, q.window) - 4, sy(v, vmax) - 4, colours[c % 4]);
                }
            ++c;
        }
    };
    panel(left1, "median latency (ns)", lmax, lmax / 5, true);
    panel(left2, "bandwidth, many reads in flight (Gb/s)", bmax, bmax / 4, false);
    size_t c = 0;
    double y = H - 14;
    double x = left1;
    for (const auto& [page, pts] : series) {
        s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"/>"
                         "<text x=\"{}\" y=\"{}\">model, {}</text>\n",
                         x, y - 4, x + 20, y - 4, colours[c % 4], x + 24, y, series_name(page));
        x += 170;
        ++c;
    }
    s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"8\" height=\"8\" fill=\"none\" stroke=\"#444\"/>"
                     "<text x=\"{}\" y=\"{}\">pcie-bench, Haswell E5-2620v3 (same colour: same mapping)</text>\n",
                     x, y - 8, x + 12, y);
    s += "</svg>\n";
    return s;
}

} // namespace iommusim::bench

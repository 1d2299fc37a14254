// `iommusim bench iotlb-window`: the pcie-bench IOTLB experiment over the simulated platform
// (sim/bench/iotlb_window.h): a table, --json for scripts, --svg for the README's figure.
#include "sim/bench/bench_report.h"
#include "sim/bench/iotlb_window.h"
#include "sim/cli/commands.h"
#include "sim/core/input_error.h"

#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <unistd.h>

namespace iommusim::cli {

namespace {
struct iotlb_window_options {
    std::string platform, svg;
    std::vector<std::string> sets;
    std::vector<std::string> windows;
    bool large_pages = false, both = false, no_iommu = false, json = false;
    unsigned samples = 1000, bw_requests = 8000;
    unsigned long long seed = 1;
};

u64 parse_size(const std::string& s) {
    size_t used = 0;
    unsigned long long v = 0;
    try {
        v = std::stoull(s, &used, 0);
    } catch (const std::exception&) {
        throw input_error("--windows", "", "not a size: \"" + s + "\"");
    }
    const std::string unit = s.substr(used);
    if (unit == "K" || unit == "KiB") v <<= 10;
    else if (unit == "M" || unit == "MiB") v <<= 20;
    else if (unit == "G" || unit == "GiB") v <<= 30;
    else if (!unit.empty()) throw input_error("--windows", "", "not a size: \"" + s + "\" (e.g. 4K, 1M, 64M)");
    return v;
}
} // namespace

void add_bench_command(CLI::App& app, int& rc) {
    auto* bench = app.add_subcommand("bench", "Calibration experiments (pcie-bench's IOTLB window sweep)");
    bench->require_subcommand(1);
    auto o = std::make_shared<iotlb_window_options>();
    auto* cmd = bench->add_subcommand(
        "iotlb-window", "64 B DMA reads at random offsets of windows of 4 KiB ... 64 MiB behind the IOMMU (VT-d or AMD-Vi): "
                        "median latency, closed-loop bandwidth and IOTLB hit rate per window");
    cmd->add_option("--platform", o->platform, "preset name or platform file (default: one root port, one dma_engine)");
    cmd->add_option("--set", o->sets,
                    "name=value: an IOMMU unit parameter of the platform's kind (iommusim describe vtd_unit / amdvi_unit), timing.* / memory.* platform "
                    "parameters, device.{ns,issue_ns,tags,read_bytes}, link.{gen,lanes,latency_ns}");
    cmd->add_flag("--large-pages", o->large_pages, "map the window with 2 MiB pages (1 GiB from 1 GiB windows)");
    cmd->add_flag("--all-page-sizes", o->both, "sweep with 4 KiB pages, then with large pages");
    cmd->add_flag("--no-iommu", o->no_iommu, "no IOMMU below the host bridge (the baseline)");
    cmd->add_flag("--json", o->json, "print {\"points\": [...]} instead of the table");
    cmd->add_option("--svg", o->svg, "write the curves (and pcie-bench's Haswell numbers) as an SVG file");
    cmd->add_option("--samples", o->samples, "latency samples per window")->check(CLI::Range(1u, 10000000u));
    cmd->add_option("--bw-reads", o->bw_requests, "reads of the bandwidth loop per window")->check(CLI::Range(1u, 100000000u));
    cmd->add_option("--seed", o->seed, "random seed of the read addresses");
    cmd->add_option("--windows", o->windows, "window sizes (e.g. 4K 1M 64M; default 4K ... 64M)");
    cmd->callback([o, &rc] {
        bench::iotlb_window_config cfg;
        cfg.platform = o->platform;
        for (const auto& s : o->sets) cfg.sets.push_back(bench::parse_set(s));
        cfg.iommu = !o->no_iommu;
        if (o->both) cfg.large_pages = {false, true};
        else cfg.large_pages = {o->large_pages};
        for (const auto& w : o->windows) cfg.windows.push_back(parse_size(w));
        cfg.samples = o->samples;
        cfg.bw_requests = o->bw_requests;
        cfg.seed = o->seed;
        const bool tty = isatty(fileno(stderr));
        if (tty)
            cfg.progress = [](size_t done, size_t total) {
                std::fprintf(stderr, "\riotlb-window: %zu/%zu windows%s", done, total, done == total ? "\n" : "");
                std::fflush(stderr);
            };
        const bench::iotlb_window_result r = bench::run_iotlb_window(cfg);
        if (o->json) std::cout << bench::to_json(r).dump(2) << "\n";
        else std::cout << bench::format_table(r);
        if (!o->svg.empty()) {
            std::ofstream f(o->svg);
            if (!f) throw input_error(o->svg, "", "cannot write the SVG file");
            f << bench::render_svg(r);
        }
        rc = exit_ok;
    });
}

} // namespace iommusim::cli

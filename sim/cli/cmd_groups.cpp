// `iommusim groups`: how Linux will partition a machine into IOMMU groups, and why.
#include "sim/cli/commands.h"
#include "sim/scenario/analysis.h"
#include "sim/scenario/group_report.h"
#include "sim/scenario/partition.h"
#include "sim/scenario/platform_source.h"
#include "sim/core/input_error.h"

#include <fmt/format.h>

#include <iostream>
#include <memory>

namespace iommusim::cli {

namespace {
struct groups_args {
    std::string platform, lspci, expect, kernel = "6.1", acs_override, iommu;
    std::vector<std::string> disable_acs_redir, external_facing;
    bool json = false, explain = false, log = false, assign_busses = false, ignore_numbering = false;
};

int run_groups(const groups_args& a) {
    using namespace scenario;
    if (a.platform.empty() == a.lspci.empty())
        throw input_error("", "", "give either a platform (preset name or JSON file) or --lspci FILE");
    host::kernel_options opt;
    opt.kernel_version = a.kernel;
    opt.acs_override = a.acs_override;
    opt.assign_busses = a.assign_busses;
    for (const auto& b : a.disable_acs_redir) {
        if (!bdf::parse(b) && !host::is_pci_id_spec(b))
            throw input_error("--disable-acs-redir", b, "neither a BDF ([dddd:]bb:dd.f) nor pci:vvvv:dddd");
        opt.disable_acs_redir.push_back(b);
    }
    for (const auto& b : a.external_facing) {
        auto parsed = bdf::parse(b);
        if (!parsed) throw input_error("--external-facing", b, "not a BDF ([dddd:]bb:dd.f)");
        opt.external_facing.push_back(*parsed);
    }
    if (a.iommu == "intel") opt.iommu = host::firmware_iommu::dmar;
    if (a.iommu == "amd") opt.iommu = host::firmware_iommu::ivrs;
    if (a.iommu == "spapr") opt.iommu = host::firmware_iommu::spapr;
    if (a.iommu == "powernv") opt.iommu = host::firmware_iommu::opal;
    if (a.iommu == "none") opt.iommu = host::firmware_iommu::none;

    // Load the expectation before the (longer) simulation, so a bad file fails fast.
    std::unique_ptr<expected_groups> expected;
    if (!a.expect.empty()) expected = std::make_unique<expected_groups>(load_expected_groups(a.expect));
    if (expected && a.ignore_numbering) expected->ids.clear();

    auto desc = a.lspci.empty() ? load_platform_ref(a.platform, "") : load_lspci_ref(a.lspci, "");
    // powernv is hardware, not only firmware's word: the machine gets a PHB per root bus.
    if (a.iommu == "powernv") desc.iommu = platforms::iommu_kind::powernv;
    const group_result r = analyze_groups(desc, opt);

    if (a.json) {
        auto j = groups_to_json(r);
        if (a.log) j["log"] = r.log;
        std::cout << j.dump(1) << "\n";
    } else {
        std::cout << format_groups_text(r, a.explain);
        if (a.log)
            for (const auto& l : r.log) std::cout << l << "\n";
    }
    if (expected) {
        const auto diff = diff_expected(*expected, r);
        if (!diff.empty()) {
            std::cerr << fmt::format("groups differ from {}:\n", a.expect);
            for (const auto& d : diff) std::cerr << "  " << d << "\n";
            return exit_mismatch;
        }
        std::cerr << fmt::format("groups match {} ({} groups)\n", a.expect, r.groups.size());
    }
    return exit_ok;
}
} // namespace

void add_groups_command(CLI::App& app, int& rc) {
    auto a = std::make_shared<groups_args>();
    auto* cmd = app.add_subcommand("groups", "Boot a platform and print the IOMMU groups Linux would form");
    cmd->add_option("platform", a->platform, "preset name (see `iommusim describe presets`) or platform JSON file");
    cmd->add_option("--lspci", a->lspci, "a real machine's `lspci -xxxx` or `lspci -nnvvv` output")
        ->check(CLI::ExistingFile);
    cmd->add_flag("--json", a->json, "JSON output: {\"groups\": [{\"id\", \"devices\", \"reason\"}], ...}");
    cmd->add_flag("--explain", a->explain, "say why each group's members are together");
    cmd->add_flag("--log", a->log, "also print the simulated kernel's log");
    cmd->add_option("--kernel", a->kernel, "Linux version whose rules apply")->capture_default_str();
    cmd->add_option("--acs-override", a->acs_override,
                    "out-of-tree pcie_acs_override= value (downstream,multifunction,id:vvvv:dddd)");
    cmd->add_option("--disable-acs-redir", a->disable_acs_redir, "pci=disable_acs_redir= devices (BDF or pci:vvvv:dddd)")
        ->take_all()->allow_extra_args(false);
    cmd->add_option("--external-facing", a->external_facing, "ports firmware marks external-facing (BDFs)")
        ->allow_extra_args(false);
    cmd->add_flag("--assign-busses", a->assign_busses, "pci=assign-busses: renumber every bridge");
    cmd->add_option("--iommu", a->iommu, "override the firmware's IOMMU")
        ->check(CLI::IsMember({"intel", "amd", "spapr", "powernv", "none"}));
    cmd->add_option("--expect", a->expect,
                    "expected groups (JSON; group numbers are checked too when the file states them); "
                    "exit 1 and print the difference if they differ");
    cmd->add_flag("--ignore-numbering", a->ignore_numbering, "with --expect: compare the partition only");
    cmd->callback([a, &rc] { rc = run_groups(*a); });
}

} // namespace iommusim::cli

// `iommusim validate`: check scenario, platform, expectation and lspci files without simulating.
#include "sim/cli/commands.h"
#include "sim/core/input_error.h"
#include "sim/core/json_file.h"
#include "sim/scenario/partition.h"
#include "platforms/desc/platform_loader.h"
#include "sim/scenario/platform_source.h"
#include "sim/scenario/scenario.h"

#include <fmt/format.h>

#include <iostream>
#include <memory>

namespace iommusim::cli {

namespace {
std::string count(size_t n, const std::string& noun, const std::string& plural = "") {
    return fmt::format("{} {}", n, n == 1 ? noun : plural.empty() ? noun + "s" : plural);
}

size_t count_functions(const std::vector<platforms::function_desc>& fs) {
    size_t n = fs.size();
    for (const auto& f : fs) n += count_functions(f.children);
    return n;
}

size_t count_functions(const platforms::platform_desc& p) {
    size_t n = 0;
    for (const auto& rb : p.root_buses) n += count_functions(rb.functions);
    return n;
}

// What kind of file is this? JSON by its keys; anything that is not JSON is taken as an lspci dump.
std::string validate_one(const std::string& path) {
    const std::string text = read_text_file(path);
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) throw input_error(path, "", "file is empty");
    if (text[first] != '{' && text[first] != '[') {
        const auto p = scenario::load_lspci_ref(path, "");
        return fmt::format("lspci dump: {} on {}{}", count(count_functions(p), "function"),
                           count(p.root_buses.size(), "root bus", "root buses"), p.notes.empty() ? "" : ", " + count(p.notes.size(), "note"));
    }
    const auto j = parse_json_text(text, path);
    if (j.is_object() && (j.contains("steps") || j.contains("lspci") || j.contains("platform"))) {
        const auto s = scenario::load_scenario_json(j, path);
        return fmt::format("scenario \"{}\": {}, platform \"{}\" with {}", s.name, count(s.steps.size(), "step"),
                           s.platform.name, count(count_functions(s.platform), "function"));
    }
    if (j.is_object() && j.contains("root_buses")) {
        const auto p = platforms::load_platform_json(j, path, "");
        return fmt::format("platform \"{}\": {} on {}", p.name, count(count_functions(p), "function"),
                           count(p.root_buses.size(), "root bus", "root buses"));
    }
    if (j.is_object() && j.contains("groups")) {
        const auto e = scenario::parse_expected_groups(j, path, "");
        return fmt::format("expected groups: {}{}", count(e.groups.size(), "group"), e.ids.empty() ? "" : ", numbered");
    }
    throw input_error(path, "/", "not a scenario (steps/platform), platform (root_buses) or partition (groups)");
}
} // namespace

void add_validate_command(CLI::App& app, int& rc) {
    auto files = std::make_shared<std::vector<std::string>>();
    auto* cmd = app.add_subcommand("validate", "Check scenario, platform, expectation or lspci files");
    cmd->add_option("files", *files, "files to check")->required();
    cmd->callback([files, &rc] {
        rc = exit_ok;
        for (const auto& f : *files) {
            try {
                std::cout << fmt::format("{}: ok, {}\n", f, validate_one(f));
            } catch (const input_error& e) {
                std::cerr << e.with_file(f).what() << "\n";
                rc = exit_input;
            }
        }
    });
}

} // namespace iommusim::cli

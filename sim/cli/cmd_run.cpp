// `iommusim run`: run scenario files, report each step, exit non-zero when any expectation fails.
#include "sim/cli/commands.h"
#include "sim/scenario/runner.h"

#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <unistd.h>

namespace iommusim::cli {

namespace {
struct run_args {
    std::vector<std::string> files;
    std::string junit;
    bool verbose_steps = false;
};

int run_files(const run_args& a) {
    using namespace scenario;
    std::vector<junit_suite> suites;
    size_t passed = 0, failed = 0, errors = 0;
    const bool tty = isatty(STDERR_FILENO);
    for (size_t i = 0; i < a.files.size(); ++i) {
        if (tty && a.files.size() > 1)
            std::cerr << fmt::format("[{}/{}] {}\r", i + 1, a.files.size(), a.files[i]) << std::flush;
        const scenario_outcome o = run_scenario_isolated(a.files[i]);
        suites.push_back(to_junit(o));
        const char* verdict = o.result == outcome::passed ? "PASS" : o.result == outcome::failed ? "FAIL" : "ERROR";
        std::cout << fmt::format("{} {} ({}, {:.2f}s)\n", verdict, o.name, o.file, o.seconds);
        if (o.result == outcome::error) std::cerr << "  " << o.error << "\n";
        for (const auto& s : o.steps) {
            if (s.passed && !a.verbose_steps && s.name.rfind("print_groups", 0) != 0) continue;
            std::cout << fmt::format("  {} {} [{}]\n", s.passed ? "ok  " : "FAIL", s.name, s.where);
            for (const auto& m : s.messages) {
                std::string line;
                for (char c : m) {
                    if (c == '\n') {
                        std::cout << "      " << line << "\n";
                        line.clear();
                    } else {
                        line += c;
                    }
                }
                if (!line.empty()) std::cout << "      " << line << "\n";
            }
        }
        (o.result == outcome::passed ? passed : o.result == outcome::failed ? failed : errors)++;
    }
    if (!a.junit.empty()) write_junit_file(a.junit, suites);
    std::cout << fmt::format("{} passed, {} failed, {} errors\n", passed, failed, errors);
    if (errors) return exit_input;
    return failed ? exit_mismatch : exit_ok;
}
} // namespace

void add_run_command(CLI::App& app, int& rc) {
    auto a = std::make_shared<run_args>();
    auto* cmd = app.add_subcommand("run", "Run scenario files and check their expectations");
    cmd->add_option("scenarios", a->files, "scenario JSON files")->required()->check(CLI::ExistingFile);
    cmd->add_option("--junit", a->junit, "write JUnit XML here (one testcase per step)");
    cmd->add_flag("--steps", a->verbose_steps, "list every step, not only failures");
    cmd->callback([a, &rc] { rc = run_files(*a); });
}

} // namespace iommusim::cli

// The `iommusim` subcommands. Exit codes, the same for every command:
//   0 success, 1 an expectation did not hold, 2 bad input or usage, 3 internal error.
#pragma once
#include <CLI/CLI.hpp>

namespace iommusim::cli {

constexpr int exit_ok = 0, exit_mismatch = 1, exit_input = 2, exit_internal = 3;

// Each registers its subcommand; the callback stores the exit code in `rc`.
void add_groups_command(CLI::App& app, int& rc);
void add_run_command(CLI::App& app, int& rc);
void add_validate_command(CLI::App& app, int& rc);
void add_describe_command(CLI::App& app, int& rc);
void add_bench_command(CLI::App& app, int& rc);

} // namespace iommusim::cli

// iommusim: IOMMU and PCI topology simulator. Thin front end over sim/scenario.
// The entry point is sc_main: libsystemc's main() calls it, as in every SystemC program.
#include "sim/cli/commands.h"
#include "sim/core/input_error.h"
#include "sim/core/log.h"

#include <cstdio>
#include <cstdlib>

namespace {
// SystemC prints its banner from libsystemc's main(), before sc_main: silence it before main() runs, so
// the output is only what the user asked for.
const bool banner_off = setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0) == 0;
} // namespace

extern "C" int sc_main(int argc, char** argv) {
    using namespace iommusim;
    CLI::App app{"iommusim: simulated IOMMUs (VT-d, AMD-Vi, POWER TCE), PCI/PCIe topologies and Linux's "
                 "IOMMU groups and VFIO"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "iommusim 0.1.0");
    int verbosity = 0;
    app.add_flag("-v,--verbose", verbosity, "more log output (-v info, -vv debug)");
    bool quiet = false;
    app.add_flag("-q,--quiet", quiet, "errors only");
    app.parse_complete_callback([&] {
        log().set_level(quiet ? spdlog::level::err
                              : verbosity >= 2 ? spdlog::level::debug
                                               : verbosity == 1 ? spdlog::level::info : spdlog::level::warn);
    });

    int rc = cli::exit_ok;
    cli::add_groups_command(app, rc);
    cli::add_run_command(app, rc);
    cli::add_validate_command(app, rc);
    cli::add_describe_command(app, rc);
    cli::add_bench_command(app, rc);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? cli::exit_ok : cli::exit_input;
    } catch (const input_error& e) {
        std::fprintf(stderr, "iommusim: %s\n", e.what());
        return cli::exit_input;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "iommusim: internal error: %s\n", e.what());
        return cli::exit_internal;
    }
    return rc;
}

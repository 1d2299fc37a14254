// `iommusim describe`: the models and option sets, with every parameter's default and meaning.
#include "sim/cli/commands.h"
#include "sim/core/model_info.h"
#include "sim/scenario/describe.h"

#include <fmt/format.h>

#include <iostream>
#include <memory>

namespace iommusim::cli {

void add_describe_command(CLI::App& app, int& rc) {
    auto what = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("describe", "Describe a model's parameters (no argument: list the models)");
    cmd->add_option("model", *what, "model or option-set name, or \"presets\"");
    cmd->callback([what, &rc] {
        const auto models = scenario::all_model_info();
        if (what->empty()) {
            std::cout << "Models and option sets (iommusim describe NAME):\n";
            for (const auto& m : models) std::cout << fmt::format("  {:<20} {}\n", m.name, m.summary);
            rc = exit_ok;
            return;
        }
        for (const auto& m : models) {
            if (m.name != *what) continue;
            std::cout << fmt::format("{}: {}\n", m.name, m.summary);
            if (m.params.empty()) std::cout << "  (no parameters)\n";
            for (const auto& p : m.params) {
                if (p.default_value.empty())
                    std::cout << fmt::format("  {:<24} {}\n", p.name, p.description);
                else
                    std::cout << fmt::format("  {:<24} {:<10} default {:<12} {}\n", p.name, p.type, p.default_value,
                                             p.description);
            }
            rc = exit_ok;
            return;
        }
        std::cerr << fmt::format("iommusim describe: no model named \"{}\"; `iommusim describe` lists them\n", *what);
        rc = exit_input;
    });
}

} // namespace iommusim::cli

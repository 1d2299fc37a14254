#include "sim/scenario/describe.h"

#include "platforms/desc/platform_loader.h"
#include "sim/scenario/host_options.h"

namespace iommusim::scenario {

std::vector<model_info> all_model_info() {
    std::vector<model_info> out;
    out.push_back(host_options_info());
    model_info presets{"presets", "Bundled platforms, usable by name in `groups` and in scenarios", {}};
    for (const auto& n : platforms::preset_names())
        presets.params.push_back({n, "platform", "", platforms::load_preset(n).description});
    out.push_back(std::move(presets));
    return out;
}

} // namespace iommusim::scenario

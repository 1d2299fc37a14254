#include "sim/scenario/describe.h"

#include "platforms/desc/platform_loader.h"
#include "platforms/desc/platform_params.h"
#include "models/iommu/common/pure/timing.h"
#include "models/iommu/amdvi/tlm/amdvi_unit_params.h"
#include "models/iommu/tce/tlm/tce_unit_params.h"
#include "models/iommu/vtd/tlm/vtd_unit_params.h"
#include "models/pci/cfg/pci_timing.h"
#include "sim/host/kernel_options.h"
#include "sim/memory/memory_params.h"

namespace iommusim::scenario {

std::vector<model_info> all_model_info() {
    std::vector<model_info> out;
    out.push_back(host::kernel_options_info());
    out.push_back(platforms::platform_params_info());
    for (auto& m : pci::pci_model_infos()) out.push_back(std::move(m));
    out.push_back(iommu::iommu_common_model_info());
    out.push_back(vtd::vtd_unit_params_info());
    out.push_back(amdvi::amdvi_unit_params_info());
    out.push_back(tce::tce_unit_params_info());
    out.push_back(memory::memory_model_info());
    model_info presets{"presets", "Bundled platforms, usable by name in `groups` and in scenarios", {}};
    for (const auto& n : platforms::preset_names())
        presets.params.push_back({n, "platform", "", platforms::load_preset(n).description});
    out.push_back(std::move(presets));
    return out;
}

} // namespace iommusim::scenario

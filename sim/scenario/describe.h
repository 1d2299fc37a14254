// Everything `iommusim describe` knows: the hardware models' parameters, the kernel options, the presets.
#pragma once
#include "sim/core/model_info.h"

#include <vector>

namespace iommusim::scenario {
std::vector<model_info> all_model_info();
} // namespace iommusim::scenario

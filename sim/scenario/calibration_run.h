// Runs a calibration step (the bench's IOTLB window sweep) and checks its expectations. SystemC: builds
// and elaborates the experiment's machine, so once per process.
#pragma once
#include "sim/scenario/step_checks.h"

namespace iommusim::scenario {

step_result run_calibration(const step& s);

} // namespace iommusim::scenario

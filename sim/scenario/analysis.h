// Boots a platform: builds the SystemC models from the description, elaborates, lets the simulated kernel
// enumerate it through config cycles, enable ACS and form IOMMU groups, and returns what it found.
// SystemC allows one elaboration per process: call this once per process (the CLI forks per scenario).
#pragma once
#include "platforms/desc/platform_desc.h"
#include "sim/scenario/group_result.h"
#include "sim/host/kernel_options.h"

namespace iommusim::host {
class kernel;
class tlm_machine;
} // namespace iommusim::host

namespace iommusim::scenario {

// Boots without the IOMMU driver (options.iommu_driver is ignored): the groups are what it reports.
group_result analyze_groups(const platforms::platform_desc& platform, const host::kernel_options& options);

// The report of a machine already booted (used by analyze_groups and by the scenario machine session).
group_result collect_groups(const platforms::platform_desc& platform, host::tlm_machine& machine, host::kernel& k);

} // namespace iommusim::scenario

// Options of the simulated kernel a scenario or the command line can set: what a user would put on the
// kernel command line of a real machine.
#pragma once
#include "sim/core/model_info.h"

#include <optional>
#include <string>
#include <vector>

namespace iommusim::scenario {

struct host_options {
    std::string kernel = "6.1";                  // Linux version whose grouping rules apply
    std::string acs_override;                    // out-of-tree pcie_acs_override= value, "" = off
    std::vector<std::string> disable_acs_redir;  // pci=disable_acs_redir= device list (BDFs)
    std::optional<std::string> iommu;            // "intel", "amd", "none": overrides the platform's
};

model_info host_options_info();

} // namespace iommusim::scenario

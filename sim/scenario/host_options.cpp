#include "sim/scenario/host_options.h"

namespace iommusim::scenario {

model_info host_options_info() {
    return {"host",
            "Options of the simulated Linux kernel (the \"host\" object of a scenario; flags of `iommusim groups`).",
            {{"kernel", "string", "6.1",
              "Linux version whose PCI quirks and grouping rules are reproduced (see sim/host/README.md)"},
             {"acs_override", "string", "\"\"",
              "out-of-tree pcie_acs_override= value: downstream, multifunction, id:vvvv:dddd (comma-separated); "
              "off by default"},
             {"disable_acs_redir", "list of BDF", "[]",
              "pci=disable_acs_redir=: ports whose ACS request/completion redirect and egress control are cleared"},
             {"iommu", "string", "(from platform)",
              "\"intel\", \"amd\" or \"none\": which IOMMU the firmware describes; none means no groups"}}};
}

} // namespace iommusim::scenario

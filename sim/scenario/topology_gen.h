// Generates large, realistic PCIe topologies for benchmarks and scaling tests: per segment a set of root
// ports, each with a switch whose downstream ports carry multifunction endpoints (some with ACS, some
// without) and, now and then, a PCIe-to-PCI bridge with conventional devices behind it.
#pragma once
#include "platforms/desc/platform_desc.h"

#include <cstddef>

namespace iommusim::scenario {

struct topology_shape {
    size_t segments = 10;
    size_t root_ports_per_segment = 25;
    size_t downstream_ports = 8;    // per switch
    size_t functions = 4;           // per endpoint device
};

// About `target` functions in total (rounded up to whole segments of the shape above).
platforms::platform_desc generate_topology(size_t target_functions);
platforms::platform_desc generate_topology(const topology_shape& shape);
size_t functions_per_segment(const topology_shape& shape);

} // namespace iommusim::scenario

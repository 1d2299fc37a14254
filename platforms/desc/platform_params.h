// Platform-wide model parameters: the fabric's latencies and the physical address map the firmware sets
// up (MCFG ECAM bases, host bridge MMIO apertures). Every field has its default here and its description
// in platform_params_info(); the platform JSON's "params" object sets them.
#pragma once
#include "models/pci/cfg/pci_timing.h"
#include "sim/core/model_info.h"
#include "sim/core/types.h"

namespace iommusim::platforms {

struct platform_params {
    pci::pci_timing timing;
    u64 ecam_base_segment0 = 0xe0000000;         // 256 MiB below the 4 GiB hole's top, as on q35
    u64 ecam_base_high = 0x8000000000;           // segment s > 0: ecam_base_high + (s - 1) * 256 MiB
    u64 mmio32_base = 0x80000000;
    u64 mmio32_limit = 0xe0000000;               // exclusive
    u64 mmio64_base = 0x10000000000;             // 1 TiB
    u64 mmio64_size_per_root_bus = 0x1000000000; // 64 GiB
    double system_bus_ns = 0;                    // CPU-side router crossing
};

model_info platform_params_info();

} // namespace iommusim::platforms

// Parameters of the VT-d unit as a SystemC model: the hardware's capabilities (vtd_params: what CAP/ECAP
// advertise), the framework's timing (clock, functional mode, walk slots), and the geometry and latency
// of every cache the unit has. Each one is declared here with its default and described once in
// vtd_unit_params_info(); set_vtd_unit_param() sets one by that name (platform JSON "params.vtd",
// `iommusim bench --set name=value`).
//
// The defaults are a plausible Haswell/Broadwell server part (pcie-bench, reference anchors §4.1: a knee
// between 256 and 512 KiB windows with 4 KiB pages = about 64 IOTLB entries; superpages flat to 64 MiB);
// the exact calibration is done through these parameters, not here.
#pragma once
#include "models/iommu/common/pure/timing.h"
#include "models/iommu/vtd/vtd_params.h"
#include "sim/core/model_info.h"

#include <nlohmann/json.hpp>
#include <string>

namespace iommusim::vtd {

struct vtd_unit_params {
    vtd_params hw;                    // CAP/ECAP, register placement, HAW
    // Clock, functional mode, walk slots, invalidation slots, PSC probe. Calibrated against pcie-bench with
    // `iommusim bench iotlb-window` (vtd README, "Calibration"): 6 walks in flight and 165 cycles at 1 GHz
    // per walk before its first read (PSC probe and miss handling) give Haswell's +213..277 ns miss cost
    // at 1 MiB windows and its 16 / 10 Gb/s under load.
    iommu::timing_params timing{1000, false, 6, 1, 165};
    // Context cache: context entries keyed by source-id, tagged with the entry's DID (§6.1).
    iommu::cache_params context_cache{{1, 32}, 2};
    // IOTLB for 4 KiB translations (§6.2.2), tagged with DID; fully associative by default.
    iommu::cache_params iotlb{{1, 64}, 2};
    // IOTLB for 2 MiB / 1 GiB translations (the sizes CAP.SLLPS allows); 0 ways: large pages are cached
    // as 4 KiB fragments in `iotlb` instead.
    iommu::cache_params iotlb_large{{1, 32}, 2};
    // Paging-structure caches per level (§6.2.3): psc_l2 holds SL-PDEs (pointers to leaf tables), psc_l3
    // SL-PDPEs, psc_l4 SL-PML4Es, psc_l5 SL-PML5Es. 0 ways: the level is not cached. All levels are probed
    // in parallel in timing.psc_lookup_cycles (their own lookup_cycles are not used).
    // psc_l2: 8 SL-PDEs (16 MiB of 4 KiB pages): beyond, walks read the PDE too (pcie-bench's further rise
    // from 1 MiB to 64 MiB windows).
    iommu::cache_params psc_l2{{1, 8}, 0};
    iommu::cache_params psc_l3{{1, 8}, 0};
    iommu::cache_params psc_l4{{1, 4}, 0};
    iommu::cache_params psc_l5{{1, 2}, 0};
    // Interrupt entry cache: IRTEs keyed by interrupt_index (§6.4).
    iommu::cache_params iec{{1, 32}, 2};
    unsigned reg_access_cycles = 20;  // one MMIO access to the register window
    unsigned inval_cycles = 200;      // invalidation engine work per register command or queued descriptor
    unsigned ir_cycles = 4;           // interrupt-remapping decision after the IRTE is known

    // Throws iommusim::input_error (location "/<param>") for an unusable set (hw rules, empty caches).
    void validate() const;
};

// Every parameter with its default and description (hw, timing, caches, latencies), for `iommusim describe`.
model_info vtd_unit_params_info();

// Sets one parameter by its describe name. Throws iommusim::input_error(source, where, ...) for an unknown
// name (with "did you mean" when one is close), a value of the wrong type or out of range. Integers may be
// JSON numbers or strings ("0x1f", "31"); booleans must be JSON booleans; policies are strings.
void set_vtd_unit_param(vtd_unit_params& p, const std::string& name, const nlohmann::json& value,
                        const std::string& source, const std::string& where);

} // namespace iommusim::vtd

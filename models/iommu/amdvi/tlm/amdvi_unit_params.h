// Parameters of the AMD IOMMU unit as a SystemC model: the hardware's features (amdvi_params: EFR and
// capability block), the framework's timing (clock, functional mode, walk slots), and the geometry and
// latency of every cache. Each is declared here with its default and described once in
// amdvi_unit_params_info(); set_amdvi_unit_param() sets one by that name (platform JSON "params.amdvi").
//
// No AMD document publishes the IOMMU's cache geometry or latencies: every cache size and cycle count
// below is an assumption of the same order as the VT-d model's calibrated Haswell values (vtd README,
// "Calibration") and gem5 SMMUv3's published defaults (reference anchors §0.6), chosen so that the two
// IOMMUs are comparable until an AMD measurement (pcie-bench style IOTLB window sweep) calibrates them.
#pragma once
#include "models/iommu/amdvi/amdvi_params.h"
#include "models/iommu/common/pure/timing.h"
#include "sim/core/model_info.h"

#include <nlohmann/json.hpp>
#include <string>

namespace iommusim::amdvi {

struct amdvi_unit_params {
    amdvi_params hw;
    // Assumption: as the VT-d unit's calibrated values (6 walks in flight, 165 cycles before a walk's
    // first read), so that a miss costs the same order as on Haswell.
    iommu::timing_params timing{1000, false, 6, 1, 165};
    // DTE cache: 256-bit DTEs by DeviceID (assumption: 32 entries, 2 cycles).
    iommu::cache_params dte_cache{{1, 32}, 2};
    // IOTLB: leaf translations by DomainID with 4 KiB, 2 MiB and 1 GiB entries in one structure; other
    // NextLevel-7 sizes are cached as fragments of the largest of those not above them (assumption: 64
    // entries fully associative, 2 cycles, as the VT-d default).
    iommu::cache_params iotlb{{1, 64}, 2};
    // PDE caches, framework numbering (pde_l2 holds entries pointing at leaf tables, ..., pde_l6 the root
    // entries of a 6-level table); 0 ways: not cached. All probed at once in timing.psc_lookup_cycles.
    iommu::cache_params pde_l2{{1, 8}, 0};
    iommu::cache_params pde_l3{{1, 8}, 0};
    iommu::cache_params pde_l4{{1, 4}, 0};
    iommu::cache_params pde_l5{{1, 2}, 0};
    iommu::cache_params pde_l6{{1, 2}, 0};
    // Interrupt table cache: IRTEs by DeviceID and index (assumption: 32 entries, 2 cycles).
    iommu::cache_params irt_cache{{1, 32}, 2};
    unsigned reg_access_cycles = 20;  // one MMIO access
    unsigned inval_cycles = 200;      // invalidation-engine work per invalidation command
    unsigned cmd_cycles = 10;         // decode of one command (its 16-byte fetch is a memory read)
    unsigned ir_cycles = 4;           // interrupt-remapping decision once the IRTE is known

    void validate() const;
};

model_info amdvi_unit_params_info();

void set_amdvi_unit_param(amdvi_unit_params& p, const std::string& name, const nlohmann::json& value,
                          const std::string& source, const std::string& where);

} // namespace iommusim::amdvi

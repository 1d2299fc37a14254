// Timing parameters shared by the IOMMU models, and the clock every latency is counted in. Each
// parameter is declared once, here and in timing.cpp's param_info tables (`iommusim describe`).
// Defaults are orders of magnitude, not calibration: the VT-d model fits its own against pcie-bench.
#pragma once
#include "models/iommu/common/pure/cache_types.h"
#include "sim/core/model_info.h"

#include <string>
#include <vector>

namespace iommusim::iommu {

struct cache_params {
    cache_geometry geometry;
    unsigned lookup_cycles = 1; // charged on every lookup, hit or miss
};

struct timing_params {
    double clock_mhz = 1000;        // the IOMMU clock all cycle counts refer to
    bool functional = false;        // true: no timing bookkeeping, every delay zero (fast CI mode)
    unsigned walk_slots = 4;        // page walks in flight at once
    unsigned inval_slots = 1;       // invalidation engine: invalidations processed at once
    unsigned psc_lookup_cycles = 4; // one paging-structure-cache probe (all levels in parallel)
};

// Cycles to picoseconds of one named clock; zero everywhere in functional mode.
class iommu_clock {
public:
    // Throws std::invalid_argument unless 0 < mhz <= 1e6 (a configuration error).
    explicit iommu_clock(const timing_params& p);
    bool functional() const { return m_functional; }
    u64 period_ps() const { return m_period_ps; }
    u64 cycles(u64 n) const { return m_functional ? 0 : n * m_period_ps; }

private:
    u64 m_period_ps;
    bool m_functional;
};

// param_info rows: the timing parameters, and one cache's ("<prefix>_sets", "_ways", "_policy",
// "_seed", "_lookup_cycles") with `what` naming the cache in the descriptions.
std::vector<param_info> timing_param_infos(const timing_params& defaults = {});
std::vector<param_info> cache_param_infos(const std::string& prefix, const std::string& what,
                                          const cache_params& defaults);
// "iommu_common": the framework's own parameters, for the model registry.
model_info iommu_common_model_info();

} // namespace iommusim::iommu

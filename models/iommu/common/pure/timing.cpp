#include "models/iommu/common/pure/timing.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace iommusim::iommu {

iommu_clock::iommu_clock(const timing_params& p) : m_functional(p.functional) {
    if (!(p.clock_mhz > 0) || p.clock_mhz > 1e6) throw std::invalid_argument("clock_mhz must be in (0, 1e6]");
    // Rounded to whole picoseconds (sc_time's default resolution).
    m_period_ps = u64(std::llround(1e6 / p.clock_mhz));
    if (m_period_ps == 0) m_period_ps = 1;
}

std::vector<param_info> timing_param_infos(const timing_params& d) {
    return {
        {"clock_mhz", "MHz", fmt::format("{}", d.clock_mhz), "IOMMU clock; every latency in cycles counts this clock"},
        {"functional", "bool", d.functional ? "true" : "false",
         "functional mode: no timing bookkeeping, all IOMMU delays zero"},
        {"walk_slots", "u32", std::to_string(d.walk_slots), "page walks in flight at once (walker slots)"},
        {"inval_slots", "u32", std::to_string(d.inval_slots), "invalidations the invalidation engine processes at once"},
        {"psc_lookup_cycles", "cycles", std::to_string(d.psc_lookup_cycles),
         "one paging-structure-cache probe at the start of a walk (levels probed in parallel)"},
    };
}

std::vector<param_info> cache_param_infos(const std::string& prefix, const std::string& what,
                                          const cache_params& d) {
    return {
        {prefix + "_sets", "u32", std::to_string(d.geometry.sets), what + ": sets (1 = fully associative)"},
        {prefix + "_ways", "u32", std::to_string(d.geometry.ways), what + ": ways per set"},
        {prefix + "_policy", "string", to_string(d.geometry.policy),
         what + ": replacement, one of lru, fifo, random, tree_plru"},
        {prefix + "_seed", "u64", std::to_string(d.geometry.seed), what + ": seed of the random replacement"},
        {prefix + "_lookup_cycles", "cycles", std::to_string(d.lookup_cycles), what + ": lookup latency, hit or miss"},
    };
}

model_info iommu_common_model_info() {
    return {"iommu_common",
            "shared IOMMU framework: translation types, set-associative caches, page walker with walk slots, "
            "timing in cycles of the IOMMU clock; every IOMMU model takes these parameters",
            timing_param_infos()};
}

} // namespace iommusim::iommu

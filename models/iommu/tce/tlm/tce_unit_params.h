// Parameters of the PHB IOMMU as a SystemC unit: the PHB's own (tce_params: PEs, MMIO segmentation, window
// geometry, page sizes, framework timing, TCE cache and RID translation cache) and the latencies only the
// unit has (register window, TCE kill, RTT fetch on an RTC miss). Each one is declared here or in
// tce_params.h with its default and described once in tce_unit_params_info() (`iommusim describe tce`);
// set_tce_unit_param() sets one by that name (platform JSON "params.tce"). Plain C++: compiled into the
// pure library so platform loaders validate without SystemC.
#pragma once
#include "models/iommu/tce/tce_params.h"
#include "sim/core/model_info.h"

#include <nlohmann/json.hpp>
#include <string>

namespace iommusim::tce {

struct tce_unit_params {
    tce_params phb;                   // the PHB: PEs, windows, page sizes, timing, tce_cache, rtc
    unsigned reg_access_cycles = 20;  // one MMIO access to the PHB register window (assumption, as VT-d's)
    unsigned tce_kill_cycles = 40;    // one TCE Kill (register write or opal_pci_tce_kill per page / PE / all):
                                      // the kill queue's work (assumption)
    unsigned rtt_fetch_cycles = 100;  // RTT entry fetch on an RTC miss (the RTT lives in memory on PHB3;
                                      // here in the model: a memory-latency order of magnitude, assumption)

    // Throws iommusim::input_error (location "/<param>") for an unusable set.
    void validate() const;
};

// Every parameter with its default and description (the PHB's and the unit's), for `iommusim describe tce`.
model_info tce_unit_params_info();

// Sets one parameter by its describe name (the PHB's through set_tce_param). Throws iommusim::input_error
// (source, where, ...) for an unknown name (with "did you mean" over every name), a wrong type or range.
void set_tce_unit_param(tce_unit_params& p, const std::string& name, const nlohmann::json& value,
                        const std::string& source, const std::string& where);

} // namespace iommusim::tce

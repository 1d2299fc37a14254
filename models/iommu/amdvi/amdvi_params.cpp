#include "models/iommu/amdvi/amdvi_params.h"

#include "models/iommu/amdvi/amdvi_defs.h"
#include "sim/core/input_error.h"

#include <string>

namespace iommusim::amdvi {

namespace {
[[noreturn]] void bad(const char* param, const std::string& why) {
    throw input_error("", std::string("/") + param, why);
}
constexpr u64 b(bool v, u64 m) { return v ? m : 0; }
} // namespace

void amdvi_params::validate() const {
    if (hats > 2) bad("hats", "HATS is 0 (4 levels), 1 (5 levels) or 2 (6 levels); 3 is reserved");
    if (ppr_sup) bad("ppr_sup", "peripheral page requests are not modelled");
    if (gt_sup) bad("gt_sup", "guest translation (GCR3 tables) is not modelled");
    if (nx_sup) bad("nx_sup", "no-execute / privilege checks belong to guest translation, not modelled");
    if (pc_sup) bad("pc_sup", "performance counters are not modelled");
    if (gam_sup > 1) bad("gam_sup", "GAMSup is 0 (no vAPIC) or 1 (vAPIC advertised); guest mode IRTEs are not modelled");
    if (gam_sup && !ga_sup) bad("gam_sup", "GAMSup requires GASup");
    if (pas_max > 0x1f) bad("pas_max", "PASmax is a 5-bit field");
    if (pa_size < 32 || pa_size > 52) bad("pa_size", "PAsize must be 32..52 bits");
    if (va_size < 32 || va_size > 64) bad("va_size", "VAsize must be 32..64 bits");
    if (gva_size > 7) bad("gva_size", "GVAsize is a 3-bit field");
    if (msi_num > 31) bad("msi_num", "MsiNum is a 5-bit field");
}

// §3.4.7 Extended Feature Register.
u64 build_efr(const amdvi_params& p) {
    u64 v = 0;
    v |= b(p.pref_sup, efr::PREF_SUP);
    v |= b(p.ppr_sup, efr::PPR_SUP);
    v |= b(p.xt_sup, efr::XT_SUP);
    v |= b(p.nx_sup, efr::NX_SUP);
    v |= b(p.gt_sup, efr::GT_SUP);
    v |= b(p.ia_sup, efr::IA_SUP);
    v |= b(p.ga_sup, efr::GA_SUP);
    v |= b(p.he_sup, efr::HE_SUP);
    v |= b(p.pc_sup, efr::PC_SUP);
    v |= place(p.hats, 11, 10);
    v |= place(p.gam_sup, 23, 21);
    v |= place(p.pas_max, 36, 32);
    v |= b(p.hd_sup, efr::HD_SUP);
    return v;
}

u32 build_cap_header(const amdvi_params& p, u8 next) {
    // EFRSup: the EFR exists (always, here); CapExt: Misc 1 exists.
    return pcicap::header(next, p.iotlb_sup, p.ht_tunnel, p.np_cache, true, true);
}

u32 build_misc0(const amdvi_params& p) { return pcicap::misc0(p.msi_num, p.gva_size, p.pa_size, p.va_size); }

model_info amdvi_params_info() {
    model_info m;
    m.name = "amdvi_hw";
    m.summary = "AMD IOMMU features: Extended Feature Register (spec #48882 3.4.7) and PCI capability block (3.3)";
    auto add = [&](const char* n, const char* t, const std::string& d, const char* desc) { m.params.push_back({n, t, d, desc}); };
    const amdvi_params p;
    auto bs = [](bool v) { return std::string(v ? "true" : "false"); };
    add("pref_sup", "bool", bs(p.pref_sup), "EFR.PreFSup: PREFETCH_IOMMU_PAGES is a legal command");
    add("ppr_sup", "bool", bs(p.ppr_sup), "EFR.PPRSup: peripheral page requests (not modelled; must be false)");
    add("xt_sup", "bool", bs(p.xt_sup), "EFR.XTSup: x2APIC interrupt destinations (Control.XTEn)");
    add("nx_sup", "bool", bs(p.nx_sup), "EFR.NXSup (not modelled; must be false)");
    add("gt_sup", "bool", bs(p.gt_sup), "EFR.GTSup: guest translation (not modelled; must be false)");
    add("ia_sup", "bool", bs(p.ia_sup), "EFR.IASup: INVALIDATE_IOMMU_ALL is a legal command");
    add("ga_sup", "bool", bs(p.ga_sup), "EFR.GASup: 128-bit IRTEs with Control.GAEn");
    add("he_sup", "bool", bs(p.he_sup), "EFR.HESup: hardware error registers");
    add("pc_sup", "bool", bs(p.pc_sup), "EFR.PCSup: performance counters (not modelled; must be false)");
    add("hats", "u8", std::to_string(p.hats), "EFR.HATS: host page-table levels 0 = 4, 1 = 5, 2 = 6");
    add("gam_sup", "u8", std::to_string(p.gam_sup), "EFR.GAMSup: guest virtual-APIC modes advertised");
    add("pas_max", "u8", std::to_string(p.pas_max), "EFR.PASmax: largest PASID");
    add("hd_sup", "bool", bs(p.hd_sup), "EFR.HDSup: host dirty tracking; makes DTE.HAD defined");
    add("iotlb_sup", "bool", bs(p.iotlb_sup), "capability IotlbSup: remote IOTLBs; INVALIDATE_IOTLB_PAGES legal");
    add("ht_tunnel", "bool", bs(p.ht_tunnel), "capability HtTunnel");
    add("np_cache", "bool", bs(p.np_cache), "capability NpCache: not-present entries may be cached");
    add("pa_size", "u8", std::to_string(p.pa_size), "Misc 0 PAsize: physical address bits");
    add("va_size", "u8", std::to_string(p.va_size), "Misc 0 VAsize: DMA address bits");
    add("gva_size", "u8", std::to_string(p.gva_size), "Misc 0 GVAsize (2 = 48 bits)");
    add("msi_num", "u8", std::to_string(p.msi_num), "Misc 0 MsiNum: MSI message number of the event interrupt");
    return m;
}

} // namespace iommusim::amdvi

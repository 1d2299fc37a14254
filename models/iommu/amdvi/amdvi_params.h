// Parameters of one AMD IOMMU as hardware (AMD I/O Virtualization Technology (IOMMU) Specification #48882
// rev 3.0x): what its Extended Feature Register (§3.4.7) and its PCI capability block (§3.3) advertise.
// Every parameter is declared once, with its default and description, in amdvi_params_info().
//
// Defaults: a server part of the EPYC (Zen 2/3) class as Linux sees it — XTSup, NXSup=0, GTSup=0 here
// (guest translation is not modelled), IASup, GASup, HATS = 10b (6 levels), PAsize 48, VAsize 64. The exact
// EFR of a given part is a parameter, not a claim.
#pragma once
#include "sim/core/model_info.h"
#include "sim/core/types.h"

namespace iommusim::amdvi {

struct amdvi_params {
    // Extended Feature Register (§3.4.7)
    bool pref_sup = false;  // PreFSup: PREFETCH_IOMMU_PAGES
    bool ppr_sup = false;   // PPRSup: peripheral page requests (not modelled: must stay false)
    bool xt_sup = true;     // XTSup: x2APIC destinations (XTEn, 128-bit IRTE destination 31:0)
    bool nx_sup = false;    // NXSup: no-execute / privilege (not modelled: must stay false)
    bool gt_sup = false;    // GTSup: guest translation (not modelled: must stay false)
    bool ia_sup = true;     // IASup: INVALIDATE_IOMMU_ALL
    bool ga_sup = true;     // GASup: guest virtual APIC, i.e. the 128-bit IRTE format (GAEn)
    bool he_sup = false;    // HESup: hardware error registers
    bool pc_sup = false;    // PCSup: performance counters (not modelled: must stay false)
    u8 hats = 2;            // HATS: host page-table levels 00b 4, 01b 5, 10b 6
    u8 gam_sup = 0;         // GAMSup: 000b no vAPIC modes (GuestMode IRTEs are not modelled)
    u8 pas_max = 0;         // PASmax: largest PASID, meaningful with PPRSup/GTSup
    bool hd_sup = false;    // HDSup: host dirty tracking (HAD bits of the DTE)

    // PCI capability block (§3.3)
    bool iotlb_sup = false;  // IotlbSup: remote IOTLBs (ATS); INVALIDATE_IOTLB_PAGES is legal with it
    bool ht_tunnel = false;  // HtTunnel
    bool np_cache = false;   // NpCache: not-present entries may be cached (software must invalidate after
                             // making an entry present)
    u8 pa_size = 48;         // PAsize: physical address bits
    u8 va_size = 64;         // VAsize: virtual (DMA) address bits
    u8 gva_size = 2;         // GVAsize: 010b = 48-bit guest virtual addresses
    u8 msi_num = 0;          // MsiNum: the MSI message number of event interrupts

    // Throws iommusim::input_error (location "/<param>") on an inconsistent set.
    void validate() const;

    unsigned max_levels() const { return 4u + hats; }
};

// Extended Feature Register value (§3.4.7).
u64 build_efr(const amdvi_params& p);
// Capability block words (§3.3): header (with the next-capability pointer), Misc 0.
u32 build_cap_header(const amdvi_params& p, u8 next);
u32 build_misc0(const amdvi_params& p);

// Self-description for `iommusim describe`.
model_info amdvi_params_info();

} // namespace iommusim::amdvi

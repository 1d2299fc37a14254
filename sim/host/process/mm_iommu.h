// Memory preregistered for IOMMU use by one mm (arch/powerpc/mm/book3s64/iommu_api.c, v6.1), as the
// users that only look regions up see it: KVM's TCE hypercalls translate a guest page's userspace address
// to a host physical address through it, and count the TCEs that reference a region so that it cannot
// be unregistered under them. The sPAPR v2 VFIO backend owns the registration side
// (VFIO_IOMMU_SPAPR_REGISTER_MEMORY) and implements this interface.
#pragma once
#include "sim/core/types.h"

namespace iommusim::host {

class mm_iommu {
public:
    struct region; // struct mm_iommu_table_group_mem_t, opaque to lookups

    virtual ~mm_iommu() = default;
    // mm_iommu_lookup: the registered region containing [ua, ua + size), or nullptr.
    virtual region* lookup(u64 ua, u64 size) = 0;
    // mm_iommu_ua_to_hpa: the host physical address of ua; false (-EFAULT) when ua is outside the region
    // or the region's backing pages are smaller than 1 << page_shift (a 64 KiB IOMMU page needs a 64 KiB
    // contiguous backing).
    virtual bool ua_to_hpa(region* mem, u64 ua, unsigned page_shift, u64& hpa) = 0;
    // mm_iommu_mapped_inc: false (-ENXIO) when the region is being unregistered.
    virtual bool mapped_inc(region* mem) = 0;
    virtual void mapped_dec(region* mem) = 0;
};

} // namespace iommusim::host

#include "platforms/desc/platform_desc.h"

namespace iommusim::platforms {

const char* to_string(iommu_kind k) {
    switch (k) {
    case iommu_kind::none: return "none";
    case iommu_kind::intel_vtd: return "intel";
    case iommu_kind::amd_vi: return "amd";
    case iommu_kind::spapr: return "spapr";
    case iommu_kind::powernv: return "powernv";
    }
    return "?";
}

} // namespace iommusim::platforms

#include "models/iommu/common/tlm_request.h"

#include "sim/tlm/pci_extension.h"

namespace iommusim::iommu {

xlate_request to_xlate_request(const tlm::tlm_generic_payload& gp) {
    xlate_request r;
    r.address = gp.get_address();
    r.size = gp.get_data_length() ? gp.get_data_length() : 1;
    r.access = gp.is_write() ? perm_write : perm_read;
    if (const auto* ext = gp.get_extension<tlmx::pci_extension>()) {
        r.requester_id = ext->requester_id;
        r.pasid = ext->pasid;
        r.at = address_type(u8(ext->at));
    }
    return r;
}

} // namespace iommusim::iommu

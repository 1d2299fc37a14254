// From a TLM transaction to the framework's xlate_request: requester ID, PASID and Address Type from
// the pci_extension (absent extension: requester 0, untranslated), access from the command. The
// interrupt flag is the model's decision (an x86 model sets it for writes to 0xFEEx_xxxx), not the
// transaction's.
#pragma once
#include "models/iommu/common/pure/xlate.h"

#include <tlm>

namespace iommusim::iommu {

xlate_request to_xlate_request(const tlm::tlm_generic_payload& gp);

} // namespace iommusim::iommu

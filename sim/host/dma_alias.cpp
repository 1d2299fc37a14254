#include "sim/host/dma_alias.h"

namespace iommusim::host {

bool pci_devs_are_dma_aliases(const pci_dev& a, const pci_dev& b) {
    return (a.has_dma_alias && a.dma_alias_mask.test(b.devfn)) ||
           (b.has_dma_alias && b.dma_alias_mask.test(a.devfn));
    // pci_real_dma_dev(a) == &b || pci_real_dma_dev(b) == &a: always false without VMD.
}

} // namespace iommusim::host

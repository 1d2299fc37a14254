// pci_extension is header-only; this unit pins its vtable and typeinfo to the iommusim_tlm library.
#include "sim/tlm/pci_extension.h"

// The ACPI IVRS table a BIOS would write for an AMD-Vi platform (AMD IOMMU spec #48882 §5.2): one IVHD of
// type 10h and one of type 11h per IOMMU function (an AMD function of class 0x0806 on a root bus), each
// with start/end-of-range device entries covering the root buses it serves (its own, and every root bus
// of its segment without an IOMMU of its own), the southbridge IO-APIC as a special device (Linux 6.1
// disables interrupt remapping without it), the description's IVRS alias entries and IVMDs. The IOMMU's
// capability offset, base address and EFR image are read from the hardware, as firmware does.
#pragma once
#include "sim/host/pci_host_ops.h"

#include <functional>
#include <optional>

namespace iommusim::platforms {

class platform;

// efr_of(base): the Extended Feature Register of the IOMMU whose registers are at `base`, as firmware
// reads it (MMIO offset 0x30); nullopt when nothing answers there, which leaves the EFR image 0 and
// IVinfo.EFRSup clear.
using efr_reader = std::function<std::optional<u64>(u64 base)>;
host::ivrs_table build_ivrs(const platform& p, const efr_reader& efr_of);

} // namespace iommusim::platforms

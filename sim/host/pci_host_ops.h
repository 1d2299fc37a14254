// How the simulated kernel reaches the hardware: the equivalent of Linux's struct pci_ops (config
// accesses per segment/bus/devfn, through ECAM) plus memory-mapped I/O, and what firmware (ACPI MCFG,
// _CRS, DMAR/IVRS) tells it. The kernel learns everything else through these calls, as the real one does.
#pragma once
#include "sim/core/bdf.h"
#include "sim/core/types.h"

#include <vector>

namespace iommusim::host {

struct root_bus_info {
    u16 segment = 0;
    u8 bus_start = 0;
    u8 bus_end = 0xff;
};

enum class firmware_iommu { none, dmar, ivrs };

struct firmware_info {
    std::vector<root_bus_info> root_buses; // in the order the firmware lists the host bridges
    firmware_iommu iommu = firmware_iommu::none;
    // The IOMMUs' own PCI functions, as the IVRS IVHD entries name them (AMD-Vi; VT-d units are not PCI
    // functions). The driver does not translate for them, so they get no group.
    std::vector<bdf> iommu_functions;
};

class pci_host_ops {
public:
    virtual ~pci_host_ops() = default;
    // A read no function answers returns all ones (master abort / Unsupported Request).
    virtual u32 config_read(u16 segment, u8 bus, u8 devfn, u16 reg, unsigned len) = 0;
    virtual void config_write(u16 segment, u8 bus, u8 devfn, u16 reg, unsigned len, u32 value) = 0;
    virtual u64 mmio_read(u64 addr, unsigned len) = 0;
    virtual void mmio_write(u64 addr, unsigned len, u64 value) = 0;
    virtual firmware_info firmware() const = 0;
};

} // namespace iommusim::host

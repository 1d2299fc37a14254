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

// One DMA Remapping Hardware Unit Definition of the ACPI DMAR table (VT-d spec §8.3): where the unit's
// registers are and which root buses it translates for. include_pci_all: the segment's catch-all unit.
struct dmar_drhd {
    u16 segment = 0;
    u64 register_base = 0;
    bool include_pci_all = false;
    std::vector<root_bus_info> scope; // root buses (with everything below them) this unit serves
};

struct firmware_info {
    std::vector<root_bus_info> root_buses; // in the order the firmware lists the host bridges
    firmware_iommu iommu = firmware_iommu::none;
    // The IOMMUs' own PCI functions, as the IVRS IVHD entries name them (AMD-Vi; VT-d units are not PCI
    // functions). The driver does not translate for them, so they get no group.
    std::vector<bdf> iommu_functions;
    std::vector<dmar_drhd> dmar; // DMAR DRHDs, in table order (empty when no VT-d unit is built)
};

class pci_host_ops {
public:
    virtual ~pci_host_ops() = default;
    // A read no function answers returns all ones (master abort / Unsupported Request).
    virtual u32 config_read(u16 segment, u8 bus, u8 devfn, u16 reg, unsigned len) = 0;
    virtual void config_write(u16 segment, u8 bus, u8 devfn, u16 reg, unsigned len, u32 value) = 0;
    virtual u64 mmio_read(u64 addr, unsigned len) = 0;
    virtual void mmio_write(u64 addr, unsigned len, u64 value) = 0;
    // Ordinary (cacheable, coherent) accesses to system memory: the kernel's own data structures such as
    // IOMMU tables and queues. False when the range is not memory.
    virtual bool memory_read(u64 addr, void* data, u64 len) = 0;
    virtual bool memory_write(u64 addr, const void* data, u64 len) = 0;
    virtual firmware_info firmware() const = 0;
};

} // namespace iommusim::host

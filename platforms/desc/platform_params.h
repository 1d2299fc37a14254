// Platform-wide model parameters: the fabric's latencies and the physical address map the firmware sets
// up (MCFG ECAM bases, host bridge MMIO apertures). Every field has its default here and its description
// in platform_params_info(); the platform JSON's "params" object sets them.
#pragma once
#include "models/pci/cfg/pci_timing.h"
#include "sim/core/model_info.h"
#include "sim/core/types.h"
#include "sim/memory/memory_params.h"

#include <nlohmann/json.hpp>

namespace iommusim::platforms {

struct platform_params {
    pci::pci_timing timing;
    u64 ecam_base_segment0 = 0xe0000000;         // 256 MiB below the 4 GiB hole's top, as on q35
    u64 ecam_base_high = 0x8000000000;           // segment s > 0: ecam_base_high + (s - 1) * 256 MiB
    u64 mmio32_base = 0x80000000;
    u64 mmio32_limit = 0xe0000000;               // exclusive
    u64 mmio64_base = 0x10000000000;             // 1 TiB
    u64 mmio64_size_per_root_bus = 0x1000000000; // 64 GiB
    double system_bus_ns = 0;                    // CPU-side router crossing
    // System memory below the host bridges (upstream DMA lands here when no IOMMU is attached);
    // memory.size == 0: no memory, DMA reaching a host bridge ends in its unattached sink.
    memory::memory_params memory;
    // Root complexes route requests between their root ports (PCIe §1.3.1 leaves it optional; most Intel
    // parts do not).
    bool p2p_between_root_ports = false;
    // Intel VT-d units on "intel_vtd" platforms (one per PCI segment, as the DMAR table describes them);
    // false builds none (DMA goes straight to memory; groups are unaffected).
    bool vtd_units = true;
    // "params"."vtd": VT-d unit parameters by their describe names (vtd_unit_params_info), checked by the
    // loader, applied to every unit.
    nlohmann::json vtd = nlohmann::json::object();
    // AMD IOMMUs on "amd_vi" platforms (one per IOMMU function the description lists); false builds none.
    bool amdvi_units = true;
    // Where firmware places the first AMD IOMMU's MMIO registers (the capability block's base address; QEMU's
    // amd-iommu uses 0xFED8_0000); further units follow, each on its own register window, 16 KiB aligned.
    u64 amdvi_base = 0xfed80000;
    // "params"."amdvi": AMD IOMMU unit parameters by their describe names (amdvi_unit_params_info), checked by
    // the loader, applied to every unit.
    nlohmann::json amdvi = nlohmann::json::object();
    // "powernv" platforms: every root bus is a PHB with a TCE unit. Its register window (the TCE Kill
    // register Linux writes on PHB3) is at phb_reg_base + n MiB for the n-th PHB (assumption: an address
    // above the 64-bit MMIO apertures, as skiboot puts PHB registers high in the chip's MMIO space).
    u64 phb_reg_base = 0x3ffe00000000;
    // "params"."tce": PHB/TCE unit parameters by their describe names (tce_unit_params_info), applied to
    // every PHB.
    nlohmann::json tce = nlohmann::json::object();
};

model_info platform_params_info();

} // namespace iommusim::platforms

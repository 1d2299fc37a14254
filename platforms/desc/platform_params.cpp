#include "platforms/desc/platform_params.h"

#include <fmt/format.h>

namespace iommusim::platforms {

model_info platform_params_info() {
    const platform_params d;
    auto hex = [](u64 v) { return fmt::format("{:#x}", v); };
    return {"platform",
            "Platform-wide parameters (the \"params\" object of a platform JSON); the timing fields are the pci_* models'",
            {{"ecam_base_segment0", "address", hex(d.ecam_base_segment0), "ECAM base of segment 0 (ACPI MCFG)"},
             {"ecam_base_high", "address", hex(d.ecam_base_high),
              "ECAM of segment s > 0 at ecam_base_high + (s - 1) * 256 MiB"},
             {"mmio32_base", "address", hex(d.mmio32_base), "start of the 32-bit MMIO space shared by the root buses"},
             {"mmio32_limit", "address", hex(d.mmio32_limit), "end (exclusive) of the 32-bit MMIO space"},
             {"mmio64_base", "address", hex(d.mmio64_base), "start of the 64-bit MMIO apertures"},
             {"mmio64_size_per_root_bus", "bytes", hex(d.mmio64_size_per_root_bus), "64-bit aperture of each root bus"},
             {"system_bus_ns", "ns", fmt::format("{}", d.system_bus_ns), "CPU-side system bus crossing"},
             {"timing.config_access_ns", "ns", fmt::format("{}", d.timing.config_access_ns),
              "a function completing a configuration request"},
             {"timing.hop_ns", "ns", fmt::format("{}", d.timing.hop_ns), "one bus or bridge crossing"},
             {"timing.mmio_access_ns", "ns", fmt::format("{}", d.timing.mmio_access_ns),
              "a function's register file completing a memory request"},
             {"timing.host_bridge_ns", "ns", fmt::format("{}", d.timing.host_bridge_ns), "root complex decode"},
             {"memory.size", "bytes", fmt::format("{:#x}", d.memory.size),
              "system memory [0, size) below the host bridges; 0 = none (DMA ends in the host bridge's sink)"},
             {"memory.latency_ns", "ns", fmt::format("{}", d.memory.latency_ns), "memory access latency"},
             {"memory.bandwidth_bytes_per_ns", "bytes/ns", fmt::format("{}", d.memory.bandwidth_bytes_per_ns),
              "memory channel bandwidth"},
             {"memory.dmi", "bool", d.memory.dmi ? "true" : "false", "memory grants DMI pointers"},
             {"p2p_between_root_ports", "bool", d.p2p_between_root_ports ? "true" : "false",
              "root complexes route peer-to-peer requests between their root ports"},
             {"amdvi_base", "address", fmt::format("{:#x}", d.amdvi_base),
              "MMIO base of the first AMD IOMMU (QEMU's); further units follow, 16 KiB aligned"},
             {"phb_reg_base", "address", fmt::format("{:#x}", d.phb_reg_base),
              "powernv: register window of the first PHB (TCE Kill at +0x210); PHB n at + n MiB"}}};
}

} // namespace iommusim::platforms

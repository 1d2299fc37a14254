#include "models/pci/cfg/pci_timing.h"

#include "models/pci/cfg/function_params.h"

#include <fmt/format.h>

#include <string>

namespace iommusim::pci {

std::vector<model_info> pci_model_infos() {
    const pci_timing d;
    const std::vector<param_info> timing{
        {"config_access_ns", "ns", fmt::format("{}", d.config_access_ns), "latency of a function completing a configuration request"},
        {"hop_ns", "ns", fmt::format("{}", d.hop_ns), "latency of one bus or bridge crossing, either direction"},
        {"mmio_access_ns", "ns", fmt::format("{}", d.mmio_access_ns), "latency of a function's register file completing a memory request"},
        {"host_bridge_ns", "ns", fmt::format("{}", d.host_bridge_ns), "root complex decode of ECAM, MMIO apertures and upstream requests"},
    };
    std::vector<param_info> engine = timing; // plus the platform kind's own parameters
    for (auto& p : dma_engine_param_infos()) engine.push_back(std::move(p));
    return {
        {"pci_function", "a PCI function: configuration space with spec register semantics, BAR decode, DMA initiator", timing},
        {"pci_endpoint", "type 0 function with a sparse register file behind its BARs", timing},
        {"intel_pch_lpc", "Intel PCH LPC bridge (00:1f.0): RCBA at config 0xf0 decoding BSPR and UPDCR", timing},
        {"pci_bridge", "type 1 function: routes config by bus numbers, memory by windows, DMA upstream", timing},
        {"pci_bus", "one PCI bus: delivers type 0 by devfn, type 1 and memory to the claiming function", timing},
        {"dma_engine", "programmable DMA endpoint (BAR0 registers: memory <-> buffer, fill, compare; MSI, MSI-X, INTx); "
                       "requests in 4 KiB-safe pieces of at most max_payload (write) / max_read_request (read) bytes; "
                       "platform kind \"dma_engine\", these in its \"dma_engine\" object", engine},
        {"pci_host_bridge", "root complex: ECAM and MMIO apertures for one root bus, to_iommu_or_memory upstream", timing},
    };
}

} // namespace iommusim::pci

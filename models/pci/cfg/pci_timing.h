// Latencies of the PCI fabric models, in nanoseconds (pure data: platform descriptions carry it, the
// SystemC models turn it into sc_time). Each is declared once, here, with its default and
// description (pci_model_infos() hands them to `iommusim describe`). The defaults are plausible
// orders of magnitude for a PCIe Gen3 platform, not calibrated values.
#pragma once
#include "sim/core/model_info.h"
#include "sim/core/types.h"

#include <vector>

namespace iommusim::pci {

struct pci_timing {
    double config_access_ns = 200;  // a function completing a configuration request
    double hop_ns = 40;             // one bus or bridge crossing, either direction
    double mmio_access_ns = 100;    // a function's register file completing a memory request
    double host_bridge_ns = 30;     // root complex decode (ECAM, MMIO aperture, upstream forwarding)
};

// Descriptions of pci_function, pci_endpoint, intel_pch_lpc, pci_bridge, pci_bus and pci_host_bridge
// with the pci_timing parameters, for the model registry.
std::vector<model_info> pci_model_infos();

} // namespace iommusim::pci

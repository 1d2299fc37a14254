// Read-only look into captured config-space bytes (lspci -x/-xxx/-xxxx): the few facts the platform layer
// needs before any model exists (header type, PCIe port type, ACS, bus numbers). Capability walks are
// bounded the way Linux bounds them (48 standard, 480 extended entries), so corrupt bytes cannot loop.
#pragma once
#include "models/pci/cfg/function_params.h"
#include "sim/core/types.h"

#include <optional>
#include <vector>

namespace iommusim::platforms::captured {

u8 get8(const std::vector<u8>& cfg, unsigned off);     // 0xff past the end (as an absent register reads)
u16 get16(const std::vector<u8>& cfg, unsigned off);
u32 get32(const std::vector<u8>& cfg, unsigned off);

u8 header_type(const std::vector<u8>& cfg);            // without the multifunction bit
bool multifunction(const std::vector<u8>& cfg);
std::optional<u16> find_capability(const std::vector<u8>& cfg, u8 id);
std::optional<u16> find_ext_capability(const std::vector<u8>& cfg, u16 id);
std::optional<u8> pcie_type(const std::vector<u8>& cfg);      // PCI_EXP_FLAGS_TYPE >> 4
std::optional<pci::acs_params> acs(const std::vector<u8>& cfg);

} // namespace iommusim::platforms::captured

// Lower-case hex as lspci and Linux print bus numbers, device IDs and slot addresses in messages.
#pragma once
#include "sim/core/bdf.h"

#include <fmt/format.h>
#include <string>

namespace iommusim::platforms {

inline std::string hex2(unsigned v) { return fmt::format("{:02x}", v & 0xff); }
inline std::string hex4(unsigned v) { return fmt::format("{:04x}", v & 0xffff); }
inline std::string addr_str(u8 devfn) { return fmt::format("{:02x}.{}", pci_slot(devfn), pci_func(devfn)); }

} // namespace iommusim::platforms

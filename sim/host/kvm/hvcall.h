// PAPR hypervisor call numbers and return codes used by the TCE hypercalls (arch/powerpc/include/asm/
// hvcall.h, v6.1; PAPR 14.5.4.2 "TCE management"). H_TOO_HARD is KVM-internal: the in-kernel handler
// cannot complete the call and hands it to the hypervisor's user space (QEMU), which completes it.
#pragma once
#include "sim/core/types.h"

namespace iommusim::host {

constexpr long H_SUCCESS = 0;
constexpr long H_HARDWARE = -1;
constexpr long H_FUNCTION = -2;
constexpr long H_PRIVILEGE = -3;
constexpr long H_PARAMETER = -4;
constexpr long H_TOO_HARD = 9999;

constexpr unsigned long H_GET_TCE = 0x1c;
constexpr unsigned long H_PUT_TCE = 0x20;
constexpr unsigned long H_PUT_TCE_INDIRECT = 0x137;
constexpr unsigned long H_STUFF_TCE = 0x138;

// asm/tce.h: the permission bits of a TCE; the rest is the real (here: guest physical) page address.
constexpr u64 TCE_PCI_READ = 0x1;  // the device may read memory
constexpr u64 TCE_PCI_WRITE = 0x2; // the device may write memory

const char* hcall_return_name(long rc);

} // namespace iommusim::host

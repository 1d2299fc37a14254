// The reference DMA translation of a POWER PHB for one PE, without caches or timing: pick the TVE by PCI
// address bit 59, check the window, walk the TCE table (indirect levels, then the leaf TCE) and check the
// access against the TCE's read/write bits. It is what the cycle-approximate model and its tests are
// checked against (like vtd_slpt for VT-d). Follows QEMU pnv_phb3_translate_iommu / pnv_phb3_translate_tve,
// with the window limit Linux programs (it_size) as the out-of-window check.
#pragma once
#include "models/iommu/tce/tce_window.h"

#include <array>
#include <functional>
#include <optional>

namespace iommusim::tce {

// Reads the big-endian 8-byte entry at a physical address and returns it as a number; nullopt = the read
// failed (an aborted or unsupported access).
using read_be64_fn = std::function<std::optional<u64>(u64 pa)>;

struct tce_xlate_result {
    tce_fault fault = tce_fault::none;
    unsigned level = 0;       // level of the entry that faulted or mapped (1 = leaf TCE; 0: before the walk)
    u64 addr = 0;             // translated address
    unsigned page_shift = 0;  // IOMMU page of the mapping
    bool r = false, w = false; // the leaf TCE's permissions
    u64 entry = 0;            // the entry that faulted or mapped
    u64 entry_addr = 0;       // where it was read (0: none)
    unsigned window = 0;      // the TVE selected (0 = 32-bit window, 1 = 64-bit window)

    bool ok() const { return fault == tce_fault::none; }
};

class tce_translator {
public:
    // One window: the address must lie inside it.
    static tce_xlate_result translate(const tce_window& w, u64 pci_addr, bool write, const read_be64_fn& read);

    // A PE's two windows, selected by address bit 59; bits 63:60 set -> no_translation.
    static tce_xlate_result translate_pe(const std::array<tce_window, MAX_WINDOWS>& windows, u64 pci_addr, bool write,
                                         const read_be64_fn& read);
};

} // namespace iommusim::tce

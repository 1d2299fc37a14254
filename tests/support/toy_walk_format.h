// A toy page-table format for testing the IOMMU framework (shared by the unit tests of the walker and the
// SystemC testbench): bit 0 present, bit 1 read, bit 2 write, bit 7 leaf (a large page at levels 2 and
// 3), bits 62:52 reserved, address in bits 51:12; 4 levels of 9 bits over 4 KiB pages. Reason codes
// are arbitrary toy numbers: 0x10 + level not present, 0x20 + level reserved bit, 0x30 leaf at level 4,
// 5 / 6 write / read permission.
#pragma once
#include "models/iommu/common/pure/page_walker.h"

namespace iommusim::iommu::toy {

constexpr u64 P = 1, R = 2, W = 4, LEAF = 0x80;
constexpr u64 RSVD = u64(0x7ff) << 52;

inline walk_format format(unsigned memory_error_reason) {
    walk_format f;
    f.levels = 4;
    f.memory_error_reason = memory_error_reason;
    f.decode = [](u64 raw, unsigned level, const xlate_request&) {
        if (!(raw & P)) return pte_info::failure(fault_kind::not_present, 0x10 + level);
        if (raw & RSVD) return pte_info::failure(fault_kind::reserved_bit, 0x20 + level);
        const perm_mask p = perm_mask((raw & R ? perm_read : 0) | (raw & W ? perm_write : 0));
        const u64 addr = raw & 0x000ffffffffff000ull;
        if (level == 1 || (raw & LEAF)) {
            if (level > 3) return pte_info::failure(fault_kind::invalid_entry, 0x30);
            return pte_info::leaf(addr, 12 + 9 * (level - 1), p);
        }
        return pte_info::table(addr, p);
    };
    f.permission_reason = [](const xlate_request& r, perm_mask) { return r.is_write() ? 5u : 6u; };
    return f;
}

} // namespace iommusim::iommu::toy

#include "models/iommu/vtd/vtd_inv_desc.h"

namespace iommusim::vtd {

const char* inv_type_name(u8 type) {
    switch (type) {
    case 0x1: return "cc_inv_dsc";
    case 0x2: return "iotlb_inv_dsc";
    case 0x3: return "dev_tlb_inv_dsc";
    case 0x4: return "iec_inv_dsc";
    case 0x5: return "inv_wait_dsc";
    case 0x6: return "p_iotlb_inv_dsc";
    case 0x7: return "pc_inv_dsc";
    case 0x8: return "p_dev_tlb_inv_dsc";
    case 0x9: return "pgrp_resp_dsc";
    default: return "reserved";
    }
}

u64 inv_desc::reserved() const {
    // Type bits 11:9 must be 0 for the legacy types; each case lists the remaining reserved fields.
    const u64 type_hi = mask(11, 9);
    switch (type()) {
    case 0x1: return (lo & (mask(8, 6) | type_hi | mask(15, 12) | mask(63, 50))) | hi;
    case 0x2: return (lo & (mask(8, 8) | type_hi | mask(15, 12) | mask(63, 32))) | (hi & mask(11, 7));
    case 0x3: return (lo & (mask(8, 4) | type_hi | mask(31, 21) | mask(51, 48))) | (hi & mask(11, 1));
    case 0x4: return (lo & (mask(8, 5) | type_hi | mask(26, 12) | mask(63, 48))) | hi;
    case 0x5: return (lo & (mask(8, 8) | type_hi | mask(31, 12))) | (hi & mask(1, 0));
    default: return lo | hi | 1;  // never zero: not a legacy-mode descriptor
    }
}

namespace {
inv_desc typed(inv_type t, u64 lo, u64 hi = 0) { return {static_cast<u64>(t) | lo, hi}; }
u64 gran(inv_granularity g) { return place(static_cast<u64>(g), 5, 4); }
} // namespace

inv_desc inv_desc::make_cc_global() { return typed(inv_type::context_cache, gran(inv_granularity::global)); }

inv_desc inv_desc::make_cc_domain(u16 did) {
    return typed(inv_type::context_cache, gran(inv_granularity::domain) | place(did, 31, 16));
}

inv_desc inv_desc::make_cc_device(u16 did, u16 sid, unsigned fm) {
    return typed(inv_type::context_cache,
                 gran(inv_granularity::device_or_page) | place(did, 31, 16) | place(sid, 47, 32) | place(fm, 49, 48));
}

inv_desc inv_desc::make_iotlb_global(bool dr, bool dw) {
    return typed(inv_type::iotlb, gran(inv_granularity::global) | (dw ? 1ull << 6 : 0) | (dr ? 1ull << 7 : 0));
}

inv_desc inv_desc::make_iotlb_domain(u16 did, bool dr, bool dw) {
    return typed(inv_type::iotlb,
                 gran(inv_granularity::domain) | (dw ? 1ull << 6 : 0) | (dr ? 1ull << 7 : 0) | place(did, 31, 16));
}

inv_desc inv_desc::make_iotlb_page(u16 did, u64 addr, unsigned am, bool ih, bool dr, bool dw) {
    return typed(inv_type::iotlb,
                 gran(inv_granularity::device_or_page) | (dw ? 1ull << 6 : 0) | (dr ? 1ull << 7 : 0) |
                     place(did, 31, 16),
                 (addr & mask(63, 12)) | (ih ? 1ull << 6 : 0) | place(am, 5, 0));
}

inv_desc inv_desc::make_dev_tlb(u16 sid, u16 pfsid, unsigned mip, u64 addr, bool size) {
    return typed(inv_type::dev_tlb,
                 place(pfsid & 0xf, 15, 12) | place(mip, 20, 16) | place(sid, 47, 32) | place(pfsid >> 4, 63, 52),
                 (addr & mask(63, 12)) | (size ? 1 : 0));
}

inv_desc inv_desc::make_iec_global() { return typed(inv_type::iec, 0); }

inv_desc inv_desc::make_iec_index(u16 iidx, unsigned im) {
    return typed(inv_type::iec, (1ull << 4) | place(im, 31, 27) | place(iidx, 47, 32));
}

inv_desc inv_desc::make_wait(bool sw, bool intr, bool fence, u64 status_addr, u32 status_data) {
    return typed(inv_type::inv_wait,
                 (intr ? 1ull << 4 : 0) | (sw ? 1ull << 5 : 0) | (fence ? 1ull << 6 : 0) | place(status_data, 63, 32),
                 status_addr & mask(63, 2));
}

inv_desc inv_desc::make_typed(u8 type) { return {place(type & 0xf, 3, 0) | place(type >> 4, 11, 9), 0}; }

} // namespace iommusim::vtd

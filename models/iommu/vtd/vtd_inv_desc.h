// Invalidation descriptors of the invalidation queue (Intel VT-d Architecture Specification §6.5.2), 128-bit
// legacy layout, as two little-endian u64 words read through accessors. The type is bits 3:0 plus bits 11:9
// (type[6:4]); the PASID-based and page-request types are recognised so a legacy-mode queue can reject them
// as invalid (FSTS.IQE). The make_* encoders are what the simulated kernel writes into the queue.
#pragma once
#include "models/iommu/vtd/vtd_defs.h"

namespace iommusim::vtd {

enum class inv_type : u8 {
    context_cache = 0x1,  // §6.5.2.1 cc_inv_dsc
    iotlb = 0x2,          // §6.5.2.2 iotlb_inv_dsc
    dev_tlb = 0x3,        // §6.5.2.5 dev_tlb_inv_dsc
    iec = 0x4,            // §6.5.2.7 iec_inv_dsc
    inv_wait = 0x5,       // §6.5.2.8 inv_wait_dsc
    p_iotlb = 0x6,        // §6.5.2.4 p_iotlb_inv_dsc (scalable mode)
    pasid_cache = 0x7,    // §6.5.2.3 pc_inv_dsc (scalable mode)
    p_dev_tlb = 0x8,      // §6.5.2.6 p_dev_tlb_inv_dsc (scalable mode)
    page_group_resp = 0x9, // §7.7.1 page group response (page requests)
};

// Granularities of context-cache (CIRG/G) and IOTLB (IIRG/G) invalidation: 00b is reserved.
enum class inv_granularity : u8 { reserved = 0, global = 1, domain = 2, device_or_page = 3 };

// Printable name of a descriptor type ("iotlb_inv_dsc"), or "reserved".
const char* inv_type_name(u8 type);

struct inv_desc {
    u64 lo = 0, hi = 0;
    static constexpr u64 size = 16;

    u8 type() const { return static_cast<u8>(bits(lo, 3, 0) | (bits(lo, 11, 9) << 4)); }
    // Types 1..5 are the ones a legacy-mode (128-bit descriptor) queue executes.
    bool legacy_type() const { return type() >= 0x1 && type() <= 0x5; }
    // Reserved bits set for this descriptor's type (invalid descriptor, FSTS.IQE); all bits for other types.
    u64 reserved() const;

    inv_granularity granularity() const { return static_cast<inv_granularity>(bits(lo, 5, 4)); } // G 5:4
    u16 did() const { return static_cast<u16>(bits(lo, 31, 16)); }                            // DID 31:16
    // Context-cache invalidate
    u16 cc_sid() const { return static_cast<u16>(bits(lo, 47, 32)); }                         // SID 47:32
    unsigned cc_fm() const { return static_cast<unsigned>(bits(lo, 49, 48)); }                 // FM  49:48
    // IOTLB invalidate
    bool iotlb_dw() const { return (lo >> 6) & 1; }                                          // DW 6
    bool iotlb_dr() const { return (lo >> 7) & 1; }                                          // DR 7
    u64 iotlb_addr() const { return hi & mask(63, 12); }                                     // ADDR 127:76
    bool iotlb_ih() const { return (hi >> 6) & 1; }                                          // IH 70
    unsigned iotlb_am() const { return static_cast<unsigned>(bits(hi, 5, 0)); }               // AM 69:64
    // Device-TLB invalidate
    u16 dtlb_pfsid() const { return static_cast<u16>(bits(lo, 15, 12) | (bits(lo, 63, 52) << 4)); }
    unsigned dtlb_mip() const { return static_cast<unsigned>(bits(lo, 20, 16)); }             // MIP 20:16
    u16 dtlb_sid() const { return static_cast<u16>(bits(lo, 47, 32)); }                       // SID 47:32
    bool dtlb_s() const { return hi & 1; }                                                   // S 64
    u64 dtlb_addr() const { return hi & mask(63, 12); }                                      // ADDR 127:76
    // Interrupt entry cache invalidate
    bool iec_index_selective() const { return (lo >> 4) & 1; }                               // G 4
    unsigned iec_im() const { return static_cast<unsigned>(bits(lo, 31, 27)); }               // IM 31:27
    u16 iec_iidx() const { return static_cast<u16>(bits(lo, 47, 32)); }                       // IIDX 47:32
    // Invalidation wait
    bool wait_if() const { return (lo >> 4) & 1; }                                           // IF 4
    bool wait_sw() const { return (lo >> 5) & 1; }                                           // SW 5
    bool wait_fn() const { return (lo >> 6) & 1; }                                           // FN 6
    bool wait_pd() const { return (lo >> 7) & 1; }                                           // PD 7
    u32 wait_status_data() const { return static_cast<u32>(bits(lo, 63, 32)); }              // 63:32
    u64 wait_status_addr() const { return hi & mask(63, 2); }                                // 127:66

    static inv_desc make_cc_global();
    static inv_desc make_cc_domain(u16 did);
    static inv_desc make_cc_device(u16 did, u16 sid, unsigned fm);
    static inv_desc make_iotlb_global(bool dr = false, bool dw = false);
    static inv_desc make_iotlb_domain(u16 did, bool dr = false, bool dw = false);
    static inv_desc make_iotlb_page(u16 did, u64 addr, unsigned am, bool ih, bool dr = false, bool dw = false);
    // size: the S bit, with the address encoding the range (§6.5.2.5).
    static inv_desc make_dev_tlb(u16 sid, u16 pfsid, unsigned mip, u64 addr, bool size);
    static inv_desc make_iec_global();
    static inv_desc make_iec_index(u16 iidx, unsigned im);
    static inv_desc make_wait(bool sw, bool intr, bool fence, u64 status_addr = 0, u32 status_data = 0);
    // A descriptor of any type, for rejecting: the type split over bits 3:0 and 11:9.
    static inv_desc make_typed(u8 type);
};

} // namespace iommusim::vtd

// In-memory formats of VT-d legacy mode (Intel VT-d Architecture Specification chapter 9): root and context
// entries, second-level paging entries, the interrupt remapping table entry, and the MSI address formats
// (§5.1.2). Every structure is a pair of little-endian u64 words read through accessor functions; the make_*
// encoders are what the simulated kernel's driver writes into memory.
#pragma once
#include "sim/core/types.h"

namespace iommusim::vtd {

// Bit helpers: mask of bits hi:lo, and extraction of that field.
constexpr u64 mask(unsigned hi, unsigned lo) {
    return (hi - lo >= 63 ? ~0ull : ((1ull << (hi - lo + 1)) - 1)) << lo;
}
constexpr u64 bits(u64 v, unsigned hi, unsigned lo) { return (v & mask(hi, lo)) >> lo; }
constexpr u64 place(u64 field, unsigned hi, unsigned lo) { return (field << lo) & mask(hi, lo); }
// Bits haw..51 of a table address: reserved above the host address width (bits 63:52 are flags/ignored).
constexpr u64 above_haw(unsigned haw) { return haw >= 52 ? 0 : mask(51, haw); }

constexpr u64 PAGE_SHIFT = 12;
constexpr u64 PAGE_SIZE = 1ull << PAGE_SHIFT;

// §9.1 Root Entry (legacy mode, RTADDR.TTM = 00b), 128 bits; indexed by the request's bus number.
struct root_entry {
    u64 lo = 0, hi = 0;
    static constexpr u64 size = 16;

    bool present() const { return lo & 1; }            // P    0
    u64 ctp() const { return lo & mask(63, 12); }      // CTP  63:12 context-table pointer
    // Reserved bits set in a present entry (fault reason Ah).
    u64 reserved(unsigned haw) const { return (lo & (mask(11, 1) | above_haw(haw))) | hi; }

    static root_entry make(u64 context_table);
};

// §9.3 Context Entry TT field (legacy mode).
enum class translation_type : u8 {
    untranslated_only = 0,  // 00b: untranslated requests translated; translation/translated requests blocked
    device_tlb = 1,         // 01b: untranslated and translation requests translated, translated pass
    pass_through = 2,       // 10b: untranslated requests pass through (ECAP.PT)
    reserved = 3,
};

// §9.3 Context Entry (legacy mode), 128 bits; indexed by devfn within the context table of a bus.
struct context_entry {
    u64 lo = 0, hi = 0;
    static constexpr u64 size = 16;

    bool present() const { return lo & 1; }                                             // P       0
    bool fpd() const { return (lo >> 1) & 1; }                                          // FPD     1
    translation_type tt() const { return static_cast<translation_type>(bits(lo, 3, 2)); } // TT 3:2
    u64 slptptr() const { return lo & mask(63, 12); }                                   // SLPTPTR 63:12
    unsigned aw() const { return static_cast<unsigned>(bits(hi, 2, 0)); }                // AW      66:64
    unsigned avail() const { return static_cast<unsigned>(bits(hi, 6, 3)); }             // AVAIL   70:67 (ignored)
    u16 did() const { return static_cast<u16>(bits(hi, 23, 8)); }                       // DID     87:72
    // Reserved bits set in a present entry (fault reason Bh). SLPTPTR is ignored under pass-through.
    u64 reserved(unsigned haw) const;

    static context_entry make(u64 slptptr, unsigned aw, u16 did, translation_type tt, bool fpd = false);
};

// AW / SAGAW encodings (§9.3, §11.4.2): aw 1 = 39-bit 3-level, 2 = 48-bit 4-level, 3 = 57-bit 5-level.
constexpr unsigned agaw_bits(unsigned aw) { return 30 + 9 * aw; }
constexpr unsigned agaw_levels(unsigned aw) { return aw + 2; }

// §9.8 Second-Level Paging Entry (SL-PML5E, SL-PML4E, SL-PDPE, SL-PDE, SL-PTE), 64 bits.
struct sl_entry {
    u64 v = 0;

    bool r() const { return v & 1; }                 // R    0
    bool w() const { return (v >> 1) & 1; }          // W    1
    bool x() const { return (v >> 2) & 1; }          // X    2 (ignored in legacy mode)
    unsigned emt() const { return static_cast<unsigned>(bits(v, 5, 3)); }  // EMT 5:3 (ignored in legacy mode)
    bool ps() const { return (v >> 7) & 1; }         // PS   7 (SL-PDPE, SL-PDE)
    bool snp() const { return (v >> 11) & 1; }       // SNP  11 (leaf, ECAP.SC)
    bool tm() const { return (v >> 62) & 1; }        // TM   62 (leaf, ECAP.DT)
    bool present() const { return r() || w(); }      // an entry with R = W = 0 is not present
    u64 addr() const { return v & mask(51, 12); }    // ADDR (HAW-1):12 of the next table or page

    static sl_entry table(u64 next, bool r = true, bool w = true);
    static sl_entry page(u64 addr, bool r, bool w, bool large = false, bool snp = false, bool tm = false);
};

// What a second-level entry's reserved bits depend on (§9.8).
struct sl_format {
    unsigned haw = 46;
    u8 sllps = 0x3;   // CAP.SLLPS: bit 0 2 MiB, bit 1 1 GiB
    bool sc = false;  // ECAP.SC: SNP defined in leaf entries
    bool dt = false;  // ECAP.DT: TM defined in leaf entries

    // True when an entry with PS = 1 at this level (1 = SL-PTE ... 5 = SL-PML5E) maps a page.
    bool large_page_ok(unsigned level) const;
    // Reserved bits set in a present entry at this level (fault reason Ch). A PS = 1 entry where large
    // pages are not supported reports bit 7.
    u64 reserved(sl_entry e, unsigned level) const;
};

// Page size mapped by a leaf at a level: 4 KiB, 2 MiB, 1 GiB.
constexpr u64 level_page_size(unsigned level) { return 1ull << (PAGE_SHIFT + 9 * (level - 1)); }
// Index of an address into the table at a level.
constexpr unsigned level_index(u64 addr, unsigned level) {
    return static_cast<unsigned>((addr >> (PAGE_SHIFT + 9 * (level - 1))) & 0x1ff);
}

// §9.10 Interrupt Remapping Table Entry, 128 bits: remapped (IM = 0) and posted (IM = 1) formats.
enum class irte_svt : u8 { none = 0, sid_sq = 1, bus_range = 2, reserved = 3 };  // source validation type

struct irte {
    u64 lo = 0, hi = 0;
    static constexpr u64 size = 16;

    bool present() const { return lo & 1; }                                      // P     0
    bool fpd() const { return (lo >> 1) & 1; }                                   // FPD   1
    bool im() const { return (lo >> 15) & 1; }                                   // IM    15: 1 = posted
    unsigned avail() const { return static_cast<unsigned>(bits(lo, 11, 8)); }     // AVAIL 11:8
    u8 vector() const { return static_cast<u8>(bits(lo, 23, 16)); }              // V     23:16
    // Remapped format
    bool dm() const { return (lo >> 2) & 1; }                                    // DM    2: 1 = logical
    bool rh() const { return (lo >> 3) & 1; }                                    // RH    3
    bool tm() const { return (lo >> 4) & 1; }                                    // TM    4: 1 = level
    unsigned dlm() const { return static_cast<unsigned>(bits(lo, 7, 5)); }        // DLM   7:5
    u32 dst() const { return static_cast<u32>(bits(lo, 63, 32)); }               // DST   63:32
    // xAPIC destination (IRTA.EIME = 0): the APIC ID sits in DST 15:8.
    u8 xapic_dst() const { return static_cast<u8>(bits(lo, 47, 40)); }
    // Posted format
    bool urg() const { return (lo >> 14) & 1; }                                  // URG   14
    // PDA: posted-interrupt descriptor address, bits 31:6 in PDAL 63:38, bits 63:32 in PDAH 127:96
    u64 pda() const { return (bits(hi, 63, 32) << 32) | (bits(lo, 63, 38) << 6); }
    // Source validation
    u16 sid() const { return static_cast<u16>(bits(hi, 15, 0)); }                // SID   79:64
    unsigned sq() const { return static_cast<unsigned>(bits(hi, 17, 16)); }       // SQ    81:80
    irte_svt svt() const { return static_cast<irte_svt>(bits(hi, 19, 18)); }     // SVT   83:82

    // Reserved bits set in a present entry (fault reason 24h). eime: IRTA.EIME; pi: CAP.PI.
    u64 reserved(bool eime, bool pi) const;
    // Source-ID verification (§9.10 SVT/SQ/SID): true if a request from this requester may use the entry.
    bool source_ok(u16 requester) const;

    static irte make_remapped(u8 vector, u32 dst, unsigned dlm = 0, bool dm = false, bool tm = false,
                              bool rh = false, bool fpd = false);
    static irte make_posted(u8 vector, u64 pda, bool urg = false, bool fpd = false);
    irte& with_source(irte_svt svt, unsigned sq, u16 sid);
};

// §5.1.2 interrupt request formats: a DMA write of 4 bytes to 0xFEEx_xxxx is an interrupt request.
struct msi_address {
    u64 v = 0;

    bool is_interrupt() const { return (v >> 20) == 0xfee; }                     // 0xFEE in 31:20, 63:32 = 0
    bool remappable() const { return (v >> 4) & 1; }                             // interrupt format 4
    // Remappable format (§5.1.2.2)
    u16 handle() const { return static_cast<u16>(bits(v, 19, 5) | (bits(v, 2, 2) << 15)); } // 19:5, 15 in 2
    bool shv() const { return (v >> 3) & 1; }                                    // SHV 3
    // Compatibility format (§5.1.2.1)
    u8 dest_id() const { return static_cast<u8>(bits(v, 19, 12)); }              // 19:12
    bool rh() const { return (v >> 3) & 1; }
    bool dm() const { return (v >> 2) & 1; }

    // Interrupt index into the IRT: handle, plus the data's sub-handle when SHV is set.
    u32 interrupt_index(u32 data) const { return handle() + (shv() ? (data & 0xffff) : 0); }

    static msi_address make_remappable(u16 handle, bool shv);
    static msi_address make_compat(u8 dest_id, bool rh = false, bool dm = false);
};

} // namespace iommusim::vtd

// In-memory and register formats of the AMD I/O Virtualization Technology (IOMMU) Specification #48882
// (rev 3.0x): MMIO register offsets and fields (§3.4), the IOMMU PCI capability block (§3.3), the device
// table entry (§2.2.2), v1 host page-table entries (§2.2.3), commands (§2.4), event log entries (§2.5), and
// interrupt remapping table entries with the MSI fields that select them (§2.2.5). Linux's
// drivers/iommu/amd/amd_iommu_types.h names the same bits and is the second source for every position.
//
// Every structure is a set of little-endian u64 (or u32) words read through accessors, never bit-field
// structs; the make_* encoders are what the simulated kernel's driver writes and the tests check.
#pragma once
#include "sim/core/types.h"

namespace iommusim::amdvi {

// Bit helpers: mask of bits hi:lo, extraction of that field, and placement of a value into it.
constexpr u64 mask(unsigned hi, unsigned lo) {
    return (hi - lo >= 63 ? ~0ull : ((1ull << (hi - lo + 1)) - 1)) << lo;
}
constexpr u64 bits(u64 v, unsigned hi, unsigned lo) { return (v & mask(hi, lo)) >> lo; }
constexpr u64 place(u64 field, unsigned hi, unsigned lo) { return (field << lo) & mask(hi, lo); }
constexpr u64 bit(unsigned n) { return 1ull << n; }

constexpr unsigned PAGE_SHIFT = 12;
constexpr u64 PAGE_SIZE = 1ull << PAGE_SHIFT;
// Physical-address field of table pointers and page-table entries: bits 51:12.
constexpr u64 ADDR_51_12 = 0x000ffffffffff000ull;

// ---------------------------------------------------------------------------------------------------------
// §3.4 MMIO registers: offsets from the IOMMU's Base Address (Linux MMIO_*_OFFSET).
namespace mmio {
constexpr u32 DEV_TABLE_BASE = 0x0000;   // §3.4.1 Device Table Base Address
constexpr u32 CMD_BUF_BASE = 0x0008;     // §3.4.2 Command Buffer Base Address
constexpr u32 EVENT_LOG_BASE = 0x0010;   // §3.4.3 Event Log Base Address
constexpr u32 CONTROL = 0x0018;          // §3.4.4 IOMMU Control
constexpr u32 EXCL_BASE = 0x0020;        // §3.4.5 Exclusion Base
constexpr u32 EXCL_LIMIT = 0x0028;       // §3.4.6 Exclusion Range Limit
constexpr u32 EXT_FEATURE = 0x0030;      // §3.4.7 Extended Feature
constexpr u32 PPR_LOG_BASE = 0x0038;     // §3.4.8 PPR Log Base Address
constexpr u32 XT_GEN_INTR_CTRL = 0x0170; // §3.4.13 x2APIC general interrupt control (IntCapXTEn)
constexpr u32 XT_PPR_INTR_CTRL = 0x0178;
constexpr u32 XT_GALOG_INTR_CTRL = 0x0180;
constexpr u32 CMD_BUF_HEAD = 0x2000;     // §3.4.9 Command Buffer Head Pointer
constexpr u32 CMD_BUF_TAIL = 0x2008;     // §3.4.10 Command Buffer Tail Pointer
constexpr u32 EVENT_LOG_HEAD = 0x2010;   // §3.4.11 Event Log Head Pointer
constexpr u32 EVENT_LOG_TAIL = 0x2018;   // §3.4.12 Event Log Tail Pointer
constexpr u32 STATUS = 0x2020;           // §3.4.13 IOMMU Status
constexpr u32 PPR_LOG_HEAD = 0x2030;
constexpr u32 PPR_LOG_TAIL = 0x2038;
// Size of the register window: the second 8 KiB page holds the head/tail/status registers (Linux maps
// MMIO_REGION_LENGTH = 0x4000 with performance counters at 0x4000 and above; they are not modelled).
constexpr u32 WINDOW_SIZE = 0x4000;
} // namespace mmio

// §3.4.1 Device Table Base Address: Size 8:0 = (table size in 4 KiB pages) - 1, DevTabBase 51:12.
namespace devtab_base {
constexpr u64 SIZE = 0x1ff;
constexpr u64 BASE = ADDR_51_12;
constexpr u64 make(u64 base, u32 pages) { return (base & BASE) | ((pages - 1) & SIZE); }
constexpr u64 bytes(u64 reg) { return ((reg & SIZE) + 1) << PAGE_SHIFT; }
} // namespace devtab_base

// §3.4.2 / §3.4.3 Command Buffer and Event Log Base Address: base 51:12, ComLen / EventLen 59:56 =
// log2(number of 16-byte entries); values below 1000b (256 entries) are reserved, the largest is 1111b.
namespace ring_base {
constexpr u64 BASE = ADDR_51_12;
constexpr unsigned LEN_SHIFT = 56;
constexpr u64 LEN = mask(59, 56);
constexpr unsigned MIN_LEN = 8, MAX_LEN = 15;
constexpr u64 make(u64 base, unsigned len) { return (base & BASE) | place(len, 59, 56); }
constexpr unsigned len(u64 reg) { return static_cast<unsigned>(bits(reg, 59, 56)); }
// Entries the ring holds; 0 for a reserved length.
constexpr u64 entries(u64 reg) { return len(reg) >= MIN_LEN ? 1ull << len(reg) : 0; }
} // namespace ring_base

// §3.4.9 - §3.4.12 head and tail pointers: byte offsets into the ring, bits 18:4 (16-byte entries).
constexpr u64 RING_PTR = mask(18, 4);

// §3.4.4 IOMMU Control Register (Linux CONTROL_*).
namespace control {
constexpr u64 IOMMU_EN = bit(0), HT_TUN_EN = bit(1), EVENT_LOG_EN = bit(2), EVENT_INT_EN = bit(3),
              COM_WAIT_INT_EN = bit(4);
constexpr unsigned INV_TIMEOUT_SHIFT = 5;   // 7:5
constexpr u64 INV_TIMEOUT = mask(7, 5);
constexpr u64 PASS_PW = bit(8), RES_PASS_PW = bit(9), COHERENT = bit(10), ISOC = bit(11), CMD_BUF_EN = bit(12),
              PPR_LOG_EN = bit(13), PPR_INT_EN = bit(14), PPR_EN = bit(15), GT_EN = bit(16), GA_EN = bit(17);
constexpr u64 SMIF_EN = bit(22), SLF_WB_DIS = bit(23), SMIF_LOG_EN = bit(24);
constexpr u64 GAM_EN = mask(27, 25);        // Guest virtual-APIC mode (Linux CONTROL_GAM_EN = bit 25)
constexpr u64 GA_LOG_EN = bit(28), GA_INT_EN = bit(29);
constexpr u64 XT_EN = bit(50), INT_CAP_XT_EN = bit(51);
} // namespace control

// §3.4.13 IOMMU Status Register (Linux MMIO_STATUS_*).
namespace status {
constexpr u64 EVENT_OVERFLOW = bit(0), EVENT_LOG_INT = bit(1), COM_WAIT_INT = bit(2), EVENT_LOG_RUN = bit(3),
              CMD_BUF_RUN = bit(4), PPR_OVERFLOW = bit(5), PPR_INT = bit(6), PPR_LOG_RUN = bit(7),
              GA_LOG_RUN = bit(8), GA_OVERFLOW = bit(9), GA_INT = bit(10);
// Bits software clears by writing 1 (RW1C); the Run bits are read-only.
constexpr u64 W1C = EVENT_OVERFLOW | EVENT_LOG_INT | COM_WAIT_INT | PPR_OVERFLOW | PPR_INT | GA_OVERFLOW | GA_INT;
} // namespace status

// §3.4.5 / §3.4.6 Exclusion Base (ExEn 0, Allow 1, base 51:12) and Range Limit (51:12; 11:0 read as 1s).
namespace exclusion {
constexpr u64 EX_EN = bit(0), ALLOW = bit(1), BASE = ADDR_51_12;
constexpr u64 LIMIT = ADDR_51_12, LIMIT_LOW_ONES = 0xfff;
} // namespace exclusion

// §3.4.7 Extended Feature Register fields (Linux FEATURE_*). The value a unit advertises is built from its
// parameters (amdvi_params.h, build_efr).
namespace efr {
constexpr u64 PREF_SUP = bit(0), PPR_SUP = bit(1), XT_SUP = bit(2), NX_SUP = bit(3), GT_SUP = bit(4),
              IA_SUP = bit(6), GA_SUP = bit(7), HE_SUP = bit(8), PC_SUP = bit(9);
constexpr u64 HATS = mask(11, 10);     // host address translation size: 00b 4, 01b 5, 10b 6 levels
constexpr u64 GATS = mask(13, 12);     // guest address translation size
constexpr u64 GLX_SUP = mask(15, 14);  // guest CR3 root table levels
constexpr u64 SMIF_SUP = mask(17, 16), SMIF_RC = mask(20, 18);
constexpr u64 GAM_SUP = mask(23, 21);
constexpr u64 DUAL_PPR_LOG_SUP = mask(25, 24), DUAL_EVENT_LOG_SUP = mask(29, 28);
constexpr u64 PAS_MAX = mask(36, 32);
constexpr u64 US_SUP = bit(37);
constexpr u64 DEV_TBL_SEG_SUP = mask(39, 38);
constexpr u64 PPR_OVRFLW_EARLY_SUP = bit(40), PPR_AUTO_RSP_SUP = bit(41);
constexpr u64 MARC_SUP = mask(43, 42);
constexpr u64 BLK_STOP_MRK_SUP = bit(44), PERF_OPT_SUP = bit(45), MSI_CAP_MMIO_SUP = bit(46);
constexpr u64 GIO_SUP = bit(48), HA_SUP = bit(49), EPH_SUP = bit(50), ATTR_FW_SUP = bit(51), HD_SUP = bit(52),
              INV_IOTLB_TYPE_SUP = bit(54);

constexpr unsigned hats(u64 e) { return static_cast<unsigned>(bits(e, 11, 10)); }
// Host page-table levels the unit walks at most (HATS 11b is reserved: treated as 4 levels).
constexpr unsigned max_levels(u64 e) { return hats(e) == 3 ? 4 : 4 + hats(e); }
constexpr unsigned pas_max(u64 e) { return static_cast<unsigned>(bits(e, 36, 32)); }
} // namespace efr

// ---------------------------------------------------------------------------------------------------------
// §3.3 IOMMU Capability Block in the IOMMU's PCI function (Capability ID 0Fh, "Secure Device"); offsets
// from the capability pointer (Linux MMIO_CAP_HDR_OFFSET, MMIO_RANGE_OFFSET, MMIO_MISC_OFFSET).
namespace pcicap {
constexpr u8 CAP_ID = 0x0f;
constexpr u8 CAP_TYPE = 0x3;     // CapType 18:16 = 011b
constexpr u8 CAP_REV = 0x1;      // CapRev 23:19 = 00001b
constexpr u32 HEADER = 0x00, BASE_LO = 0x04, BASE_HI = 0x08, RANGE = 0x0c, MISC0 = 0x10, MISC1 = 0x14;
constexpr u32 LENGTH = 0x18;
// Capability header: CapId 7:0, CapPtr 15:8, CapType 18:16, CapRev 23:19, IotlbSup 24, HtTunnel 25,
// NpCache 26, EFRSup 27, CapExt 28.
constexpr u32 IOTLB_SUP = 1u << 24, HT_TUNNEL = 1u << 25, NP_CACHE = 1u << 26, EFR_SUP = 1u << 27,
              CAP_EXT = 1u << 28;
constexpr u32 header(u8 next, bool iotlb_sup, bool ht_tunnel, bool np_cache, bool efr_sup, bool cap_ext) {
    return CAP_ID | (u32(next) << 8) | (u32(CAP_TYPE) << 16) | (u32(CAP_REV) << 19) | (iotlb_sup ? IOTLB_SUP : 0) |
           (ht_tunnel ? HT_TUNNEL : 0) | (np_cache ? NP_CACHE : 0) | (efr_sup ? EFR_SUP : 0) | (cap_ext ? CAP_EXT : 0);
}
// Base Address Low: Enable 0 (RW1S; locks the base), BaseAddress[31:14] 31:14. High: BaseAddress[63:32].
constexpr u32 BASE_ENABLE = 1u;
constexpr u32 BASE_LO_ADDR = 0xffffc000u;
constexpr u64 MMIO_ALIGN = 16 * 1024;   // the base is 16 KiB aligned
// Range: UnitID 4:0, RngValid 7, BusNumber 15:8, FirstDevice 23:16, LastDevice 31:24.
constexpr u32 range(bool valid, u8 bus, u8 first_devfn, u8 last_devfn) {
    return (valid ? 0x80u : 0) | (u32(bus) << 8) | (u32(first_devfn) << 16) | (u32(last_devfn) << 24);
}
// Misc 0: MsiNum 4:0, GVAsize 7:5 (010b = 48 bits), PAsize 14:8, VAsize 21:15, HtAtsResv 22,
// MsiNumPPR 31:27. Misc 1: MsiNumGA 4:0.
constexpr u32 misc0(u8 msi_num, u8 gva_size, u8 pa_size, u8 va_size, u8 msi_num_ppr = 0) {
    return (msi_num & 0x1fu) | ((gva_size & 0x7u) << 5) | ((pa_size & 0x7fu) << 8) | ((va_size & 0x7fu) << 15) |
           ((msi_num_ppr & 0x1fu) << 27);
}
constexpr unsigned misc0_msi_num(u32 v) { return v & 0x1f; }
constexpr unsigned misc0_pa_size(u32 v) { return (v >> 8) & 0x7f; }
constexpr unsigned misc0_va_size(u32 v) { return (v >> 15) & 0x7f; }
constexpr unsigned misc0_gva_size(u32 v) { return (v >> 5) & 0x7; }
} // namespace pcicap

// ---------------------------------------------------------------------------------------------------------
// §2.2.2.2 Device Table Entry, 256 bits, indexed by DeviceID (requester ID) from DevTabBase.
enum class int_ctl : u8 { target_abort = 0, forward_unmapped = 1, remap = 2, reserved = 3 };  // IntCtl
enum class sys_mgt : u8 { blocked = 0, forward_all = 1, forward_int = 2, translated = 3 };     // SysMgt

struct dte {
    u64 w[4] = {0, 0, 0, 0};
    static constexpr u64 size = 32;

    // Qword 0
    bool v() const { return w[0] & bit(0); }                                       // V 0
    bool tv() const { return w[0] & bit(1); }                                      // TV 1
    unsigned had() const { return static_cast<unsigned>(bits(w[0], 8, 7)); }       // HAD 8:7
    unsigned mode() const { return static_cast<unsigned>(bits(w[0], 11, 9)); }     // Mode 11:9
    u64 page_table_root() const { return w[0] & ADDR_51_12; }                      // 51:12
    bool ppr() const { return w[0] & bit(52); }                                    // PPR 52
    bool gprp() const { return w[0] & bit(53); }                                   // GRPR 53
    bool giov() const { return w[0] & bit(54); }                                   // GIoV 54
    bool gv() const { return w[0] & bit(55); }                                     // GV 55
    unsigned glx() const { return static_cast<unsigned>(bits(w[0], 57, 56)); }     // GLX 57:56
    bool ir() const { return w[0] & bit(61); }                                     // IR 61
    bool iw() const { return w[0] & bit(62); }                                     // IW 62
    // GCR3 Table Root Pointer: [14:12] in 60:58, [30:15] in 95:80, [51:31] in 127:107 (decode only).
    u64 gcr3() const { return (bits(w[0], 60, 58) << 12) | (bits(w[1], 31, 16) << 15) | (bits(w[1], 63, 43) << 31); }
    // Qword 1
    u16 domain_id() const { return static_cast<u16>(bits(w[1], 15, 0)); }          // DomainID 79:64
    bool i() const { return w[1] & bit(32); }                                      // I (IOTLB enable) 96
    bool se() const { return w[1] & bit(33); }                                     // SE 97
    bool sa() const { return w[1] & bit(34); }                                     // SA 98
    unsigned ioctl() const { return static_cast<unsigned>(bits(w[1], 36, 35)); }   // IoCtl 100:99
    bool cache() const { return w[1] & bit(37); }                                  // Cache 101
    bool sd() const { return w[1] & bit(38); }                                     // SD 102
    bool ex() const { return w[1] & bit(39); }                                     // EX 103
    sys_mgt sysmgt() const { return static_cast<sys_mgt>(bits(w[1], 41, 40)); }    // SysMgt 105:104
    // Qword 2
    bool iv() const { return w[2] & bit(0); }                                      // IV 128
    unsigned int_tab_len() const { return static_cast<unsigned>(bits(w[2], 4, 1)); } // IntTabLen 132:129
    bool ig() const { return w[2] & bit(5); }                                      // IG 133
    u64 int_table_root() const { return w[2] & mask(51, 6); }                      // IntTableRootPtr 179:134
    bool init_pass() const { return w[2] & bit(56); }                              // InitPass 184
    bool eint_pass() const { return w[2] & bit(57); }                              // EIntPass 185
    bool nmi_pass() const { return w[2] & bit(58); }                               // NMIPass 186
    int_ctl intctl() const { return static_cast<int_ctl>(bits(w[2], 61, 60)); }    // IntCtl 189:188
    bool lint0_pass() const { return w[2] & bit(62); }                             // Lint0Pass 190
    bool lint1_pass() const { return w[2] & bit(63); }                             // Lint1Pass 191

    // Interrupt table entries: 2^IntTabLen; IntTabLen above 1011b (2048 entries) is reserved.
    static constexpr unsigned MAX_INT_TAB_LEN = 11;
    u32 int_table_entries() const { return 1u << int_tab_len(); }

    // Encoders. Translation: V = TV = 1, Mode, root, IR/IW, DomainID (Linux set_dte_entry).
    static dte make_translation(u64 root, unsigned mode, u16 domain, bool ir, bool iw);
    // V = TV = 1, Mode 0: no translation; IR/IW grant or block every access (Linux identity / blocked DTE).
    static dte make_passthrough(u16 domain, bool ir, bool iw);
    // Interrupt fields: IV = 1, table, IntTabLen, IntCtl, and the pass bits (Linux set_dte_irq_entry sets
    // IV, IntTabLen, IntCtl = 10b and the root; IVHD DTE settings add the pass bits).
    dte& with_interrupts(u64 table, unsigned int_tab_len, int_ctl ctl = int_ctl::remap, bool ig = false);
    dte& with_pass(bool init, bool eint, bool nmi, bool lint0 = false, bool lint1 = false);
    dte& with_sysmgt(sys_mgt s);
    dte& with_flags(bool i, bool se, bool sa, bool ex = false, bool sd = false, bool cache = false);
};

// What the reserved bits of a DTE depend on (features in the EFR).
struct dte_format {
    bool gt_sup = false;   // GTSup: GV, GLX, GCR3 defined
    bool ppr_sup = false;  // PPRSup: PPR defined
    bool hd_sup = false;   // HDSup/HASup: HAD defined
    bool gio_sup = false;  // GIoSup: GIoV defined
    bool eph_sup = false;  // EPHSup: GRPR defined

    static dte_format from_efr(u64 efr);
    // Reserved bits set in qwords 1:0 (checked when V = 1) and in qwords 3:2 (checked when IV = 1);
    // each a pair {qword 0 or 2, qword 1 or 3}.
    void reserved_translation(const dte& d, u64& r0, u64& r1) const;
    void reserved_interrupt(const dte& d, u64& r2, u64& r3) const;
};

// ---------------------------------------------------------------------------------------------------------
// §2.2.3 v1 host page tables. Levels are numbered 1 (leaf table, 4 KiB) to 6; a table holds 512 entries.
constexpr unsigned MAX_LEVELS = 6;
constexpr unsigned level_shift(unsigned level) { return PAGE_SHIFT + 9 * (level - 1); }
constexpr u64 level_page_size(unsigned level) { return 1ull << level_shift(level); }
constexpr unsigned level_index(u64 addr, unsigned level) {
    return level_shift(level) >= 64 ? 0 : static_cast<unsigned>((addr >> level_shift(level)) & 0x1ff);
}
// Input-address bits a Mode (number of levels) translates: 12 + 9 * mode, capped at 64.
constexpr unsigned mode_address_bits(unsigned mode) { return PAGE_SHIFT + 9 * mode >= 64 ? 64 : PAGE_SHIFT + 9 * mode; }

// PDE / PTE (Linux IOMMU_PTE_*): PR 0, NextLevel 11:9, Address 51:12, U 59 and FC 60 (PTE only), IR 61, IW 62.
// NextLevel 0: a PTE mapping the default page size of its level; 7: a PTE whose page size is encoded in
// the address (§2.2.3.2); 1..6: a PDE pointing at the table of that level (levels in between are skipped).
struct pte {
    u64 v = 0;

    bool pr() const { return v & bit(0); }
    unsigned next_level() const { return static_cast<unsigned>(bits(v, 11, 9)); }
    u64 addr() const { return v & ADDR_51_12; }
    bool u() const { return v & bit(59); }
    bool fc() const { return v & bit(60); }
    bool ir() const { return v & bit(61); }
    bool iw() const { return v & bit(62); }
    bool is_leaf() const { return next_level() == 0 || next_level() == 7; }
    // Reserved bits: 58:52 in a PTE, 60:52 in a PDE (U and FC are defined for PTEs only).
    u64 reserved() const { return v & (is_leaf() ? mask(58, 52) : mask(60, 52)); }

    static pte pde(u64 next_table, unsigned next_level, bool ir = true, bool iw = true);
    // NextLevel 0 at any level: a page of that level's default size.
    static pte page(u64 addr, bool ir, bool iw, bool fc = false, bool u = false);
    // NextLevel 7: page size 2^shift, 13 <= shift <= 63; the address carries ones in bits shift-2:12 and a
    // zero in bit shift-1 (Linux PAGE_SIZE_PTE).
    static pte large(u64 addr, unsigned shift, bool ir, bool iw, bool fc = false);
};

// §2.2.3.2: page shift of a NextLevel-7 PTE, from the position of the first zero in Address bits 12 and
// up (bit n zero, bits n-1:12 ones -> 2^(n+1) bytes); 0 when bits 51:12 are all ones (no encoding).
unsigned large_page_shift(u64 pte_value);

// ---------------------------------------------------------------------------------------------------------
// §2.4 Commands: 128 bits, opcode in 63:60 (Linux CMD_*).
enum class cmd_opcode : u8 {
    completion_wait = 0x1,
    invalidate_devtab_entry = 0x2,
    invalidate_iommu_pages = 0x3,
    invalidate_iotlb_pages = 0x4,
    invalidate_interrupt_table = 0x5,
    prefetch_iommu_pages = 0x6,
    complete_ppr_request = 0x7,
    invalidate_iommu_all = 0x8,
};
const char* cmd_name(u8 opcode);

// INVALIDATE_IOMMU_PAGES / INVALIDATE_IOTLB_PAGES with S = 1 and this address invalidate every page
// (Linux CMD_INV_IOMMU_ALL_PAGES_ADDRESS).
constexpr u64 INV_ALL_PAGES_ADDRESS = 0x7ffffffffffff000ull;

struct command {
    u64 lo = 0, hi = 0;
    static constexpr u64 size = 16;

    u8 opcode() const { return static_cast<u8>(bits(lo, 63, 60)); }
    // Common fields, named as each command names them.
    u16 device_id() const { return static_cast<u16>(bits(lo, 15, 0)); }
    // COMPLETION_WAIT: s 0, i 1, f 2, Store Address 51:3, Store Data 127:64.
    bool cw_s() const { return lo & bit(0); }
    bool cw_i() const { return lo & bit(1); }
    bool cw_f() const { return lo & bit(2); }
    u64 cw_store_address() const { return lo & mask(51, 3); }
    u64 cw_store_data() const { return hi; }
    // INVALIDATE_IOMMU_PAGES: PASID 19:0, DomainID 47:32, S 64, PDE 65, GN 66, Address 127:76.
    u32 pasid() const { return static_cast<u32>(bits(lo, 19, 0)); }
    u16 domain_id() const { return static_cast<u16>(bits(lo, 47, 32)); }
    bool s() const { return hi & bit(0); }
    bool pde() const { return hi & bit(1); }
    bool gn() const { return hi & bit(2); }
    u64 address() const { return hi & mask(63, 12); }
    // INVALIDATE_IOTLB_PAGES: DeviceID 15:0, PASID[15:8] 23:16, Maxpend 31:24, QueueID 47:32,
    // PASID[7:0] 55:48, S 64, GN 66, Type 69:68, Address 127:76.
    u8 maxpend() const { return static_cast<u8>(bits(lo, 31, 24)); }
    u16 queue_id() const { return static_cast<u16>(bits(lo, 47, 32)); }
    u32 iotlb_pasid() const { return static_cast<u32>((bits(lo, 23, 16) << 8) | bits(lo, 55, 48)); }
    // PREFETCH_IOMMU_PAGES: DeviceID 15:0, PFCount 31:24, PASID 51:32, S 64, GN 66, Inv 68, Address 127:76.
    u8 pf_count() const { return static_cast<u8>(bits(lo, 31, 24)); }
    // COMPLETE_PPR_REQUEST: DeviceID 15:0, PASID 51:32, GN 66, CompletionTag 104:96, Status 111:108.
    u32 ppr_pasid() const { return static_cast<u32>(bits(lo, 51, 32)); }
    u16 completion_tag() const { return static_cast<u16>(bits(hi, 40, 32)); }

    // Bits this opcode reserves that are set (an ILLEGAL_COMMAND_ERROR); all bits for an unknown opcode.
    u64 reserved_lo() const;
    u64 reserved_hi() const;

    // Encoders (Linux build_completion_wait, build_inv_dte, build_inv_iommu_pages, build_inv_iotlb_pages,
    // build_inv_irt, build_complete_ppr, build_inv_all).
    static command completion_wait(u64 store_address, u64 store_data, bool s, bool i, bool f = false);
    static command invalidate_devtab_entry(u16 device_id);
    static command invalidate_iommu_pages(u16 domain_id, u64 address, bool s, bool pde, bool gn = false, u32 pasid = 0);
    static command invalidate_iotlb_pages(u16 device_id, u8 maxpend, u64 address, bool s, bool gn = false,
                                          u32 pasid = 0);
    static command invalidate_interrupt_table(u16 device_id);
    static command prefetch_iommu_pages(u16 device_id, u8 pf_count, u64 address, bool s, bool inv = false);
    static command complete_ppr_request(u16 device_id, u32 pasid, bool gn, u16 tag, u8 status = 0);
    static command invalidate_iommu_all();
};

// S = 1 ranges (§2.4.3): the first zero bit of Address at or above bit 12 gives the size: bit n zero with
// bits n-1:12 ones covers 2^(n+1) bytes aligned down. Returns {first byte, size in bytes}; S = 0 is one
// 4 KiB page; an address with bits 62:12 all ones covers everything.
struct inv_range {
    u64 base = 0;
    u64 size = 0;  // 0 = the whole address space
    bool all() const { return size == 0; }
};
inv_range decode_inv_range(u64 address, bool s);
// The address field for a range of 2^shift bytes at base (Linux build_inv_address).
u64 encode_inv_range(u64 base, unsigned shift);

// ---------------------------------------------------------------------------------------------------------
// §2.5 Event log entries: 128 bits, EventCode in 63:60 (Linux EVENT_TYPE_*).
enum class event_code : u8 {
    illegal_dev_table_entry = 0x1,
    io_page_fault = 0x2,
    dev_tab_hw_error = 0x3,
    page_tab_hw_error = 0x4,
    illegal_command_error = 0x5,
    command_hw_error = 0x6,
    iotlb_inv_timeout = 0x7,
    invalid_device_request = 0x8,
    invalid_ppr_request = 0x9,
};
const char* event_name(u8 code);

// Flags in bits 56:48 of the first qword (Linux EVENT_FLAG_*, shifted by EVENT_FLAGS_SHIFT 16 in dword 1).
struct event_flags {
    bool gn = false;   // 48 guest (GVA) / nested
    bool nx = false;   // 49 no-execute
    bool us = false;   // 50 user / supervisor
    bool i = false;    // 51 interrupt request (1) or memory transaction (0)
    bool pr = false;   // 52 the entry was present
    bool rw = false;   // 53 write (1) or read (0)
    bool pe = false;   // 54 permission denied
    bool rz = false;   // 55 reserved bit not zero (0 with PR = 1 and PE = 0: illegal level encoding)
    bool tr = false;   // 56 translation request (ATS) (1) or transaction (0)
    u64 encode() const;
    static event_flags decode(u64 lo);
};

// Hardware error TYPE (DEV_TAB_HW_ERROR, PAGE_TAB_HW_ERROR, COMMAND_HW_ERROR, bits 58:57).
enum class hw_error_type : u8 { reserved = 0, master_abort = 1, target_abort = 2, data_error = 3 };

struct event {
    u64 lo = 0, hi = 0;
    static constexpr u64 size = 16;

    u8 code() const { return static_cast<u8>(bits(lo, 63, 60)); }
    u16 device_id() const { return static_cast<u16>(bits(lo, 15, 0)); }
    // IO_PAGE_FAULT / PAGE_TAB_HW_ERROR: DomainID (or PASID[15:0] with GN) in 47:32; PASID[19:16] in 19:16.
    u16 domain_or_pasid() const { return static_cast<u16>(bits(lo, 47, 32)); }
    u32 pasid() const { return static_cast<u32>((bits(lo, 19, 16) << 16) | bits(lo, 47, 32)); }
    event_flags flags() const { return event_flags::decode(lo); }
    unsigned type() const { return static_cast<unsigned>(bits(lo, 58, 57)); }    // hardware error TYPE
    unsigned type3() const { return static_cast<unsigned>(bits(lo, 59, 57)); }   // INVALID_DEVICE_REQUEST TYPE
    u64 address() const { return hi; }

    static event illegal_dev_table_entry(u16 device_id, u64 address, event_flags f, u32 pasid = 0);
    static event io_page_fault(u16 device_id, u16 domain_id, u64 address, event_flags f);
    static event dev_tab_hw_error(u16 device_id, u64 dte_address, event_flags f, hw_error_type t);
    static event page_tab_hw_error(u16 device_id, u16 domain_id, u64 pte_address, event_flags f, hw_error_type t);
    static event illegal_command_error(u64 command_address);
    static event command_hw_error(u64 address, hw_error_type t);
    static event iotlb_inv_timeout(u16 device_id, u64 command_address);
    static event invalid_device_request(u16 device_id, u64 address, event_flags f, unsigned type, u32 pasid = 0);
};

// ---------------------------------------------------------------------------------------------------------
// §2.2.5 Interrupt remapping. An interrupt request is a DWORD write to 0xFEEx_xxxx; its MSI data selects the
// interrupt table entry (bits 10:0) and its delivery mode (bits 10:8, the x86 MSI MT field) decides whether
// the IRTE is used (fixed, arbitrated) or a DTE pass bit governs it (SMI, NMI, INIT, ExtInt).
namespace msi {
constexpr bool is_interrupt_address(u64 a) { return (a >> 20) == 0xfee; }
constexpr u32 INDEX = 0x7ff;
constexpr u32 index(u32 data) { return data & INDEX; }
enum delivery_mode : u8 { FIXED = 0, ARBITRATED = 1, SMI = 2, NMI = 4, INIT = 5, EXTINT = 7 };
constexpr u8 delivery(u32 data) { return static_cast<u8>((data >> 8) & 7); }
// Compatibility-format fields of the (remapped or passed) message: destination 19:12, DM 2.
constexpr u64 make_address(u8 dest, bool dm) { return 0xfee00000ull | (u64(dest) << 12) | (dm ? 4 : 0); }
constexpr u32 make_data(u8 vector, u8 delivery_mode) { return vector | (u32(delivery_mode & 7) << 8); }
} // namespace msi

// 32-bit IRTE (Linux union irte): RemapEn 0, SupIOPF 1, IntType 4:2, RqEoi 5, DM 6, GuestMode 7 (reserved
// in this format), Destination 15:8, Vector 23:16, 31:24 reserved.
struct irte32 {
    u32 v = 0;
    static constexpr u64 size = 4;

    bool remap_en() const { return v & 1; }
    bool sup_iopf() const { return v & 2; }
    u8 int_type() const { return static_cast<u8>(bits(v, 4, 2)); }
    bool rq_eoi() const { return v & bit(5); }
    bool dm() const { return v & bit(6); }
    bool guest_mode() const { return v & bit(7); }
    u8 destination() const { return static_cast<u8>(bits(v, 15, 8)); }
    u8 vector() const { return static_cast<u8>(bits(v, 23, 16)); }
    u32 reserved() const { return v & 0xff000080u; }

    static irte32 make(u8 vector, u8 destination, bool dm = false, u8 int_type = msi::FIXED, bool rq_eoi = false,
                       bool sup_iopf = false);
};

// 128-bit IRTE, guest virtual APIC format with GuestMode = 0 (Linux struct irte_ga, fields_remap):
// lo: RemapEn 0, SupIOPF 1, IntType 4:2, RqEoi 5, DM 6, GuestMode 7, Destination[23:0] 31:8, 63:32 reserved;
// hi: Vector 7:0, 55:8 reserved, Destination[31:24] 63:56. Used when Control.GAEn = 1.
struct irte_ga {
    u64 lo = 0, hi = 0;
    static constexpr u64 size = 16;

    bool remap_en() const { return lo & 1; }
    bool sup_iopf() const { return lo & 2; }
    u8 int_type() const { return static_cast<u8>(bits(lo, 4, 2)); }
    bool rq_eoi() const { return lo & bit(5); }
    bool dm() const { return lo & bit(6); }
    bool guest_mode() const { return lo & bit(7); }
    u32 destination() const { return static_cast<u32>(bits(lo, 31, 8) | (bits(hi, 63, 56) << 24)); }
    u8 vector() const { return static_cast<u8>(bits(hi, 7, 0)); }
    // Reserved bits with GuestMode = 0 (guest mode, the vAPIC backing page format, is not modelled).
    u64 reserved_lo() const { return lo & mask(63, 32); }
    u64 reserved_hi() const { return hi & mask(55, 8); }

    static irte_ga make(u8 vector, u32 destination, bool dm = false, u8 int_type = msi::FIXED, bool rq_eoi = false,
                        bool sup_iopf = false);
};

} // namespace iommusim::amdvi

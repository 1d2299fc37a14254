// Parameters of one Intel VT-d remapping hardware unit, and the Capability / Extended Capability register
// values they imply (Intel VT-d Architecture Specification rev 3.x/4.x, §11.4.2 CAP_REG, §11.4.3 ECAP_REG).
// Every parameter is declared once, with its default and its description, in vtd_params_info().
#pragma once
#include "sim/core/model_info.h"
#include "sim/core/types.h"

namespace iommusim::vtd {

// Supported Adjusted Guest Address Widths (CAP.SAGAW, §11.4.2): bit n set = AGAW 30+9n bits, n+2 levels.
enum sagaw_bits : u8 {
    SAGAW_39_BIT = 1u << 1, // 3-level second-level page table
    SAGAW_48_BIT = 1u << 2, // 4-level
    SAGAW_57_BIT = 1u << 3, // 5-level
};

// Second-Level Large Page Support (CAP.SLLPS, §11.4.2).
enum sllps_bits : u8 {
    SLLPS_2M = 1u << 0, // 21-bit offset: 2 MiB pages
    SLLPS_1G = 1u << 1, // 30-bit offset: 1 GiB pages
};

struct vtd_params {
    // Identity and placement
    u8 version = 0x10;  // VER_REG: major 7:4, minor 3:0
    u32 iro = 0x200;    // byte offset of the IOTLB registers (IVA_REG, IOTLB_REG), multiple of 16
    u32 fro = 0x400;    // byte offset of the first fault recording register, multiple of 16
    u32 nfr = 8;        // number of fault recording registers, 1..256
    u32 haw = 46;       // host address width (ACPI DMAR), bounds the addresses in tables

    // CAP_REG
    u32 mgaw = 48;                           // maximum guest address width, bits
    u8 sagaw = SAGAW_39_BIT | SAGAW_48_BIT;  // supported AGAWs
    u8 sllps = SLLPS_2M | SLLPS_1G;          // second-level large pages
    u8 nd = 6;                               // number of domains: 2^(4+2*nd)
    bool cm = false;                         // caching mode
    bool rwbf = false;                       // required write-buffer flushing
    bool plmr = false;                       // protected low-memory region
    bool phmr = false;                       // protected high-memory region
    bool zlr = false;                        // zero-length read
    bool psi = true;                         // page-selective invalidation
    u8 mamv = 18;                            // maximum address mask value for PSI
    bool dwd = true;                         // write draining
    bool drd = true;                         // read draining
    bool pi = false;                         // posted interrupts

    // ECAP_REG
    bool c = true;    // page-walk coherency
    bool qi = true;   // queued invalidation
    bool dt = false;  // device-TLB (ATS)
    bool ir = true;   // interrupt remapping
    bool eim = true;  // extended interrupt mode (x2APIC destination IDs)
    bool pt = true;   // pass-through translation type
    bool sc = false;  // snoop control (SNP bit in leaf second-level entries)
    u8 mhmv = 0xf;    // maximum handle mask value for interrupt-entry-cache invalidation

    // Throws iommusim::input_error (location "/<param>") on an inconsistent set.
    void validate() const;

    // Number of domains the DID field can name (2^(4+2*ND)).
    u32 domains() const { return 1u << (4 + 2 * nd); }
};

// CAP_REG value (§11.4.2).
u64 build_cap(const vtd_params& p);
// ECAP_REG value (§11.4.3).
u64 build_ecap(const vtd_params& p);

// Self-description for `iommusim describe`.
model_info vtd_params_info();

// Field decoders of CAP_REG / ECAP_REG, as software reads them (§11.4.2, §11.4.3).
namespace cap {
constexpr u32 nd(u64 c) { return c & 0x7; }
constexpr bool afl(u64 c) { return (c >> 3) & 1; }
constexpr bool rwbf(u64 c) { return (c >> 4) & 1; }
constexpr bool plmr(u64 c) { return (c >> 5) & 1; }
constexpr bool phmr(u64 c) { return (c >> 6) & 1; }
constexpr bool cm(u64 c) { return (c >> 7) & 1; }
constexpr u32 sagaw(u64 c) { return (c >> 8) & 0x1f; }
constexpr u32 mgaw(u64 c) { return ((c >> 16) & 0x3f) + 1; }
constexpr bool zlr(u64 c) { return (c >> 22) & 1; }
constexpr u32 fro(u64 c) { return ((c >> 24) & 0x3ff) * 16; }
constexpr u32 sllps(u64 c) { return (c >> 34) & 0xf; }
constexpr bool psi(u64 c) { return (c >> 39) & 1; }
constexpr u32 nfr(u64 c) { return ((c >> 40) & 0xff) + 1; }
constexpr u32 mamv(u64 c) { return (c >> 48) & 0x3f; }
constexpr bool dwd(u64 c) { return (c >> 54) & 1; }
constexpr bool drd(u64 c) { return (c >> 55) & 1; }
constexpr bool fl1gp(u64 c) { return (c >> 56) & 1; }
constexpr bool pi(u64 c) { return (c >> 59) & 1; }
constexpr bool fl5lp(u64 c) { return (c >> 60) & 1; }
} // namespace cap

namespace ecap {
constexpr bool c(u64 e) { return e & 1; }
constexpr bool qi(u64 e) { return (e >> 1) & 1; }
constexpr bool dt(u64 e) { return (e >> 2) & 1; }
constexpr bool ir(u64 e) { return (e >> 3) & 1; }
constexpr bool eim(u64 e) { return (e >> 4) & 1; }
constexpr bool pt(u64 e) { return (e >> 6) & 1; }
constexpr bool sc(u64 e) { return (e >> 7) & 1; }
constexpr u32 iro(u64 e) { return ((e >> 8) & 0x3ff) * 16; }
constexpr u32 mhmv(u64 e) { return (e >> 20) & 0xf; }
constexpr bool mts(u64 e) { return (e >> 25) & 1; }
constexpr bool nest(u64 e) { return (e >> 26) & 1; }
constexpr bool prs(u64 e) { return (e >> 29) & 1; }
constexpr bool pasid(u64 e) { return (e >> 40) & 1; }
constexpr bool smts(u64 e) { return (e >> 43) & 1; }
constexpr bool slts(u64 e) { return (e >> 46) & 1; }
constexpr bool flts(u64 e) { return (e >> 47) & 1; }
} // namespace ecap

} // namespace iommusim::vtd

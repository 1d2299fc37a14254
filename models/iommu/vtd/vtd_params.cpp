#include "models/iommu/vtd/vtd_params.h"

#include "sim/core/input_error.h"

#include <cstdio>
#include <string>

namespace iommusim::vtd {

namespace {

[[noreturn]] void bad(const char* param, const std::string& why) {
    throw input_error("", std::string("/") + param, why);
}

constexpr u64 bit(bool v, unsigned pos) { return static_cast<u64>(v ? 1 : 0) << pos; }

} // namespace

void vtd_params::validate() const {
    if (version == 0) bad("version", "VER_REG must not be 0");
    if (haw < 32 || haw > 52) bad("haw", "host address width must be 32..52 bits");
    if (sagaw == 0 || (sagaw & ~0x0eu) != 0)
        bad("sagaw", "SAGAW must name at least one of 39-bit (0x2), 48-bit (0x4), 57-bit (0x8)");
    unsigned max_agaw = 0;
    for (unsigned n = 1; n <= 3; ++n)
        if (sagaw & (1u << n)) max_agaw = 30 + 9 * n;
    if (mgaw < 30 || mgaw > max_agaw)
        bad("mgaw", "MGAW must be 30.." + std::to_string(max_agaw) + " (the largest AGAW in SAGAW)");
    if ((sllps & ~0x3u) != 0) bad("sllps", "SLLPS may only name 2M (0x1) and 1G (0x2) pages");
    if (nd > 6) bad("nd", "ND is 0..6 (16..65536 domains)");
    if (mamv > 63) bad("mamv", "MAMV is a 6-bit field");
    if (mhmv > 15) bad("mhmv", "MHMV is a 4-bit field");
    if (nfr < 1 || nfr > 256) bad("nfr", "NFR is 1..256 fault recording registers");
    if (iro % 16 || iro / 16 > 0x3ff) bad("iro", "IRO must be a multiple of 16 below 0x4000");
    if (fro % 16 || fro / 16 > 0x3ff) bad("fro", "FRO must be a multiple of 16 below 0x4000");
    // The architectural registers end at PEUADDR_REG (0xEC); keep IOTLB and fault registers above them.
    if (iro < 0xf0) bad("iro", "IRO must not overlap the fixed registers (below 0xF0)");
    if (fro < 0xf0) bad("fro", "FRO must not overlap the fixed registers (below 0xF0)");
    const u32 fro_end = fro + 16 * nfr;
    if (iro < fro_end && fro < iro + 16) bad("fro", "fault recording registers overlap the IOTLB registers");
    if (eim && !ir) bad("eim", "EIM requires interrupt remapping (ir)");
    if (mhmv != 0 && !ir) bad("mhmv", "MHMV is reserved without interrupt remapping (ir)");
    if (pi && !ir) bad("pi", "posted interrupts require interrupt remapping (ir)");
    if (dt && !qi) bad("dt", "device-TLBs can only be invalidated through the queue (qi)");
    if (ir && !qi) bad("ir", "interrupt remapping requires queued invalidation (qi)");
}

u64 build_cap(const vtd_params& p) {
    u64 v = 0;
    v |= static_cast<u64>(p.nd & 0x7);                    // ND       2:0
    v |= bit(p.rwbf, 4);                                  // RWBF     4
    v |= bit(p.plmr, 5);                                  // PLMR     5
    v |= bit(p.phmr, 6);                                  // PHMR     6
    v |= bit(p.cm, 7);                                    // CM       7
    v |= static_cast<u64>(p.sagaw & 0x1f) << 8;           // SAGAW    12:8
    v |= static_cast<u64>((p.mgaw - 1) & 0x3f) << 16;     // MGAW     21:16
    v |= bit(p.zlr, 22);                                  // ZLR      22
    v |= static_cast<u64>((p.fro / 16) & 0x3ff) << 24;    // FRO      33:24
    v |= static_cast<u64>(p.sllps & 0xf) << 34;           // SLLPS    37:34
    v |= bit(p.psi, 39);                                  // PSI      39
    v |= static_cast<u64>((p.nfr - 1) & 0xff) << 40;      // NFR      47:40
    v |= static_cast<u64>(p.psi ? (p.mamv & 0x3f) : 0) << 48; // MAMV 53:48 (valid only with PSI)
    v |= bit(p.dwd, 54);                                  // DWD      54
    v |= bit(p.drd, 55);                                  // DRD      55
    v |= bit(p.pi, 59);                                   // PI       59
    return v;
}

u64 build_ecap(const vtd_params& p) {
    u64 v = 0;
    v |= bit(p.c, 0);                                     // C        0
    v |= bit(p.qi, 1);                                    // QI       1
    v |= bit(p.dt, 2);                                    // DT       2
    v |= bit(p.ir, 3);                                    // IR       3
    v |= bit(p.eim, 4);                                   // EIM      4
    v |= bit(p.pt, 6);                                    // PT       6
    v |= bit(p.sc, 7);                                    // SC       7
    v |= static_cast<u64>((p.iro / 16) & 0x3ff) << 8;     // IRO      17:8
    v |= static_cast<u64>(p.ir ? (p.mhmv & 0xf) : 0) << 20; // MHMV   23:20
    return v;
}

model_info vtd_params_info() {
    const vtd_params d;
    auto b = [](bool v) { return std::string(v ? "true" : "false"); };
    auto h = [](u64 v) {
        char buf[24];
        std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
        return std::string(buf);
    };
    auto n = [](u64 v) { return std::to_string(v); };
    model_info m;
    m.name = "vtd";
    m.summary = "Intel VT-d remapping hardware unit (legacy-mode DMA remapping, interrupt remapping, "
                "queued invalidation, primary fault logging)";
    m.params = {
        {"version", "u8", h(d.version), "VER_REG value: major version in bits 7:4, minor in 3:0"},
        {"iro", "u32", h(d.iro), "byte offset of IVA_REG/IOTLB_REG (ECAP.IRO), multiple of 16"},
        {"fro", "u32", h(d.fro), "byte offset of the first fault recording register (CAP.FRO), multiple of 16"},
        {"nfr", "u32", n(d.nfr), "number of fault recording registers (CAP.NFR + 1), 1..256"},
        {"haw", "u32", n(d.haw), "host address width in bits; table addresses above it are reserved"},
        {"mgaw", "u32", n(d.mgaw), "maximum guest address width in bits (CAP.MGAW + 1)"},
        {"sagaw", "u8", h(d.sagaw), "supported AGAWs (CAP.SAGAW): 0x2 39-bit/3-level, 0x4 48-bit/4-level, "
                                    "0x8 57-bit/5-level"},
        {"sllps", "u8", h(d.sllps), "second-level large pages (CAP.SLLPS): 0x1 2 MiB, 0x2 1 GiB"},
        {"nd", "u8", n(d.nd), "number of domains (CAP.ND): 2^(4+2*nd) domain IDs"},
        {"cm", "bool", b(d.cm), "caching mode (CAP.CM): not-present entries may be cached"},
        {"rwbf", "bool", b(d.rwbf), "required write-buffer flushing (CAP.RWBF)"},
        {"plmr", "bool", b(d.plmr), "protected low-memory region registers (CAP.PLMR)"},
        {"phmr", "bool", b(d.phmr), "protected high-memory region registers (CAP.PHMR)"},
        {"zlr", "bool", b(d.zlr), "zero-length DMA reads to write-only pages allowed (CAP.ZLR)"},
        {"psi", "bool", b(d.psi), "page-selective IOTLB invalidation (CAP.PSI)"},
        {"mamv", "u8", n(d.mamv), "maximum address mask value of a page-selective invalidation (CAP.MAMV)"},
        {"dwd", "bool", b(d.dwd), "write draining on IOTLB invalidation (CAP.DWD)"},
        {"drd", "bool", b(d.drd), "read draining on IOTLB invalidation (CAP.DRD)"},
        {"pi", "bool", b(d.pi), "posted interrupts (CAP.PI)"},
        {"c", "bool", b(d.c), "page-walk coherency (ECAP.C): walks snoop the CPU caches"},
        {"qi", "bool", b(d.qi), "queued invalidation (ECAP.QI)"},
        {"dt", "bool", b(d.dt), "device-TLBs / ATS (ECAP.DT)"},
        {"ir", "bool", b(d.ir), "interrupt remapping (ECAP.IR)"},
        {"eim", "bool", b(d.eim), "extended interrupt mode, 32-bit x2APIC destinations (ECAP.EIM)"},
        {"pt", "bool", b(d.pt), "pass-through translation type in context entries (ECAP.PT)"},
        {"sc", "bool", b(d.sc), "snoop control, SNP bit in leaf entries (ECAP.SC)"},
        {"mhmv", "u8", n(d.mhmv), "maximum handle mask value of interrupt-entry-cache invalidation (ECAP.MHMV)"},
    };
    return m;
}

} // namespace iommusim::vtd

// VT-d register file: reset values and write semantics checked from the register table for every register,
// CAP/ECAP layout (§11.4.2, §11.4.3) for several parameter sets, access sizes and unknown offsets.
#include "models/iommu/vtd/vtd_params.h"
#include "models/iommu/vtd/vtd_regs.h"
#include "sim/core/input_error.h"

#include <catch2/catch.hpp>

using namespace iommusim;
using namespace iommusim::vtd;

namespace {

vtd_params all_features() {
    vtd_params p;
    p.plmr = p.phmr = true;
    p.dt = p.sc = true;
    return p;
}

u64 width_mask(unsigned w) { return w == 8 ? ~0ull : 0xffffffffull; }

} // namespace

TEST_CASE("vtd regs: reset values come from the table (VER/CAP/ECAP from the parameters)", "[vtd][regs]") {
    const vtd_params p = all_features();
    register_file rf(p);
    for (const auto& d : k_regs) {
        if (!rf.present(d.id)) continue;
        INFO(d.name);
        const u32 off = rf.offset_of(d.id);
        u64 expect = d.reset & ~d.wo;
        if (d.id == reg_id::VER) expect = p.version;
        if (d.id == reg_id::CAP) expect = build_cap(p);
        if (d.id == reg_id::ECAP) expect = build_ecap(p);
        CHECK(rf.read(off, d.width) == expect);
    }
    CHECK(rf.read(rf.offset_of(reg_id::FECTL), 4) == regbits::ECTL_IM);
    CHECK(rf.read(0x00, 4) == 0x10);
}

TEST_CASE("vtd regs: every register honours its RW, RO, W1C and WO masks from the table", "[vtd][regs]") {
    const vtd_params p = all_features();
    register_file rf(p);
    for (const auto& d : k_regs) {
        if (!rf.present(d.id)) continue;
        INFO(d.name);
        const u32 off = rf.offset_of(d.id);
        const u64 all = width_mask(d.width);
        // Seed every bit so W1C has something to clear, through the hardware path.
        rf.reset();
        if (d.id != reg_id::FRCD_LO && d.id != reg_id::FRCD_HI) rf.set(d.id, all);
        else rf.set_frcd(0, all, all);
        const u64 before = rf.get(d.id);
        auto res = rf.write(off, all, d.width);
        REQUIRE(res.count == 1);
        CHECK(res.regs[0].id == d.id);
        CHECK(res.regs[0].old_value == before);
        const u64 after = rf.get(d.id);
        // RW bits take the written 1s, W1C bits are cleared by the 1s, everything else stays.
        CHECK((after & d.rw) == d.rw);
        CHECK((after & d.w1c) == 0);
        const u64 ro = all & ~d.rw & ~d.w1c;
        CHECK((after & ro) == (before & ro));
        // Write-only bits read as 0.
        CHECK(rf.read(off, d.width) == (after & ~d.wo));
        // Writing 0 clears RW bits and leaves W1C bits alone.
        rf.reset();
        if (d.id != reg_id::FRCD_LO && d.id != reg_id::FRCD_HI) rf.set(d.id, all);
        else rf.set_frcd(0, all, all);
        rf.write(off, 0, d.width);
        CHECK((rf.get(d.id) & d.rw) == 0);
        CHECK((rf.get(d.id) & d.w1c) == d.w1c);
    }
}

TEST_CASE("vtd regs: absent features make their registers reserved", "[vtd][regs]") {
    vtd_params p;
    p.ir = p.eim = false;
    p.mhmv = 0;
    p.qi = false;
    register_file rf(p);
    for (reg_id id : {reg_id::IQA, reg_id::IQT, reg_id::IRTA, reg_id::PMEN, reg_id::PQA, reg_id::AFLOG}) {
        INFO(desc_of(id).name);
        CHECK_FALSE(rf.present(id));
        const u32 off = desc_of(id).offset;
        CHECK(rf.write(off, ~0ull, desc_of(id).width).count == 0);
        CHECK(rf.read(off, desc_of(id).width) == 0);
    }
}

TEST_CASE("vtd regs: 1-, 2-, 4- and 8-byte accesses, unaligned and unknown offsets are harmless", "[vtd][regs]") {
    register_file rf(vtd_params{});
    const u32 rta = rf.offset_of(reg_id::RTADDR);
    rf.write(rta, 0x12345000ull, 4);
    rf.write(rta + 4, 0xabcd, 4);
    CHECK(rf.read(rta, 8) == 0x0000abcd12345000ull);
    CHECK(rf.read(rta + 1, 1) == 0x50);
    CHECK(rf.read(rta + 2, 2) == 0x1234);
    rf.write(rta + 6, 0x77, 1);
    CHECK(rf.read(rta + 4, 4) == 0x0077abcd);
    // Byte write into the low byte of RTADDR: bits 11:0 are reserved.
    rf.write(rta, 0xff, 1);
    CHECK(rf.read(rta, 2) == 0x5000);
    // An 8-byte access over two 4-byte registers (FEADDR, FEUADDR) touches both.
    auto r = rf.write(rf.offset_of(reg_id::FEADDR), 0x00000001fee00000ull, 8);
    CHECK(r.count == 2);
    CHECK(r.touched(reg_id::FEADDR));
    CHECK(r.touched(reg_id::FEUADDR));
    CHECK(rf.read(rf.offset_of(reg_id::FEADDR), 8) == 0x00000001fee00000ull);
    // Unaligned, odd sizes, holes, beyond the window.
    CHECK(rf.read(rta + 1, 4) == 0);
    CHECK(rf.write(rta + 2, ~0ull, 8).count == 0);
    CHECK(rf.read(rta, 3) == 0);
    CHECK(rf.read(0x30, 4) == 0);  // reserved hole before FSTS
    CHECK(rf.write(0x30, ~0ull, 4).count == 0);
    CHECK(rf.read(rf.window_size(), 4) == 0);
    CHECK(rf.read(~0ull - 3, 4) == 0);
    CHECK(rf.write(~0ull - 7, 1, 8).count == 0);
}

TEST_CASE("vtd regs: GCMD is write-only, IOTLB and fault registers sit at IRO and FRO", "[vtd][regs]") {
    vtd_params p;
    p.iro = 0x300;
    p.fro = 0x500;
    p.nfr = 4;
    register_file rf(p);
    auto r = rf.write(0x18, regbits::GCMD_SRTP, 4);
    REQUIRE(r.count == 1);
    CHECK(r.regs[0].id == reg_id::GCMD);
    CHECK(r.regs[0].new_value == regbits::GCMD_SRTP);
    CHECK(rf.read(0x18, 4) == 0);
    CHECK(rf.offset_of(reg_id::IVA) == 0x300);
    CHECK(rf.offset_of(reg_id::IOTLB) == 0x308);
    CHECK(rf.name_at(0x308) == "IOTLB");
    CHECK(rf.name_at(0x538) == "FRCD_HI[3]");
    CHECK(rf.name_at(0x540).empty());
    CHECK(ecap::iro(rf.read(0x10, 8)) == 0x300);
    CHECK(cap::fro(rf.read(0x08, 8)) == 0x500);
    CHECK(cap::nfr(rf.read(0x08, 8)) == 4);
    rf.set_frcd(3, 0x1000, regbits::FRCD_HI_F | 0x42);
    CHECK(rf.read(0x530, 8) == 0x1000);
    CHECK(rf.read(0x538, 8) == (regbits::FRCD_HI_F | 0x42));
    r = rf.write(0x53c, 0x80000000u, 4);  // upper dword: F is W1C
    REQUIRE(r.count == 1);
    CHECK(r.regs[0].id == reg_id::FRCD_HI);
    CHECK(r.regs[0].frcd == 3);
    CHECK(rf.frcd_hi(3) == 0x42);
    CHECK(rf.window_size() == 0x1000);
    // IVA keeps the written value for the invalidation, but reads back 0.
    rf.write(0x300, 0x7000 | regbits::IVA_IH | 3, 8);
    CHECK(rf.get(reg_id::IVA) == (0x7000 | regbits::IVA_IH | 3));
    CHECK(rf.read(0x300, 8) == 0);
}

TEST_CASE("vtd params: CAP bit layout (§11.4.2)", "[vtd][params]") {
    vtd_params p;
    u64 c = build_cap(p);
    CHECK(cap::nd(c) == 6);
    CHECK(cap::sagaw(c) == 0x6);
    CHECK(cap::mgaw(c) == 48);
    CHECK(cap::fro(c) == 0x400);
    CHECK(cap::nfr(c) == 8);
    CHECK(cap::sllps(c) == 0x3);
    CHECK(cap::psi(c));
    CHECK(cap::mamv(c) == 18);
    CHECK(cap::dwd(c));
    CHECK(cap::drd(c));
    CHECK_FALSE(cap::cm(c));
    CHECK_FALSE(cap::afl(c));
    CHECK_FALSE(cap::pi(c));
    // Exact value of the default: ND=6, SAGAW=6, MGAW=47, FRO=0x40, SLLPS=3, PSI, NFR=7, MAMV=18, DWD, DRD.
    CHECK(c == ((6ull) | (6ull << 8) | (47ull << 16) | (0x40ull << 24) | (3ull << 34) | (1ull << 39) |
                (7ull << 40) | (18ull << 48) | (1ull << 54) | (1ull << 55)));

    vtd_params q;
    q.nd = 2;
    q.cm = q.rwbf = q.plmr = q.phmr = q.zlr = q.pi = true;
    q.sagaw = SAGAW_39_BIT;
    q.mgaw = 39;
    q.sllps = SLLPS_2M;
    q.psi = false;
    q.dwd = q.drd = false;
    q.nfr = 256;
    q.fro = 0x3ff0;
    q.iro = 0x200;
    c = build_cap(q);
    CHECK(c == (2ull | (1ull << 4) | (1ull << 5) | (1ull << 6) | (1ull << 7) | (2ull << 8) | (38ull << 16) |
                (1ull << 22) | (0x3ffull << 24) | (1ull << 34) | (255ull << 40) | (1ull << 59)));
    CHECK(cap::nfr(c) == 256);
    CHECK(cap::mamv(c) == 0);  // MAMV only with PSI

    vtd_params r;
    r.sagaw = SAGAW_48_BIT | SAGAW_57_BIT;
    r.mgaw = 57;
    r.sllps = 0;
    c = build_cap(r);
    CHECK(cap::sagaw(c) == 0xc);
    CHECK(cap::mgaw(c) == 57);
    CHECK(cap::sllps(c) == 0);
}

TEST_CASE("vtd params: ECAP bit layout (§11.4.3)", "[vtd][params]") {
    vtd_params p;
    u64 e = build_ecap(p);
    CHECK(e == (1ull | (1ull << 1) | (1ull << 3) | (1ull << 4) | (1ull << 6) | (0x20ull << 8) | (0xfull << 20)));
    CHECK(ecap::iro(e) == 0x200);
    CHECK_FALSE(ecap::smts(e));
    p.c = false;
    p.dt = p.sc = true;
    p.pt = false;
    p.eim = false;
    p.mhmv = 3;
    p.iro = 0x3ff0;
    p.fro = 0x400;
    e = build_ecap(p);
    CHECK(e == ((1ull << 1) | (1ull << 2) | (1ull << 3) | (1ull << 7) | (0x3ffull << 8) | (3ull << 20)));
    vtd_params q;
    q.ir = q.eim = false;
    q.mhmv = 0;
    e = build_ecap(q);
    CHECK_FALSE(ecap::ir(e));
    CHECK(ecap::mhmv(e) == 0);
}

TEST_CASE("vtd params: inconsistent sets are configuration errors, with the parameter as location", "[vtd][params]") {
    auto fails_on = [](auto mutate, const char* where) {
        vtd_params p;
        mutate(p);
        try {
            p.validate();
            FAIL("accepted");
        } catch (const input_error& e) {
            CHECK(e.location() == where);
        }
    };
    fails_on([](vtd_params& p) { p.mgaw = 57; }, "/mgaw");
    fails_on([](vtd_params& p) { p.sagaw = 0x1; }, "/sagaw");
    fails_on([](vtd_params& p) { p.nfr = 0; }, "/nfr");
    fails_on([](vtd_params& p) { p.iro = 0x208; }, "/iro");
    fails_on([](vtd_params& p) { p.fro = 0x1f0; }, "/fro");
    fails_on([](vtd_params& p) { p.nd = 7; }, "/nd");
    fails_on([](vtd_params& p) { p.sllps = 0x4; }, "/sllps");
    fails_on([](vtd_params& p) { p.ir = false; }, "/eim");
    CHECK_NOTHROW(vtd_params{}.validate());
    const auto info = vtd_params_info();
    CHECK(info.name == "vtd");
    CHECK(info.params.size() >= 25);
    for (const auto& prm : info.params) CHECK_FALSE(prm.description.empty());
}

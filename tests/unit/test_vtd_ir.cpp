// VT-d interrupt remapping (§5.1.4, §9.10): pass-through when disabled, compatibility format with CFIS and
// EIME, each fault reason 20h-26h, SVT/SQ masks and bus ranges, xAPIC vs x2APIC destinations, the message
// rebuilt from the IRTE, FPD on the qualified faults. IRTEs are written as raw words here, bit by bit from
// the §9.10 layout, so the expectations do not come from the encoders under test.
#include "models/iommu/vtd/vtd_fault.h"
#include "models/iommu/vtd/vtd_ir.h"

#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <vector>

using namespace iommusim;
using namespace iommusim::vtd;

namespace {

constexpr u64 k_irt = 0x7654000;  // table base (4 KiB aligned)

// The interrupt remapping table in memory: unwritten entries read as zero; `bad` addresses fail.
struct irt_memory {
    std::map<u64, std::pair<u64, u64>> entries;
    std::set<u64> bad;
    std::vector<u64> fetched;

    void put(u32 index, u64 lo, u64 hi = 0) { entries[k_irt + 16 * index] = {lo, hi}; }
    irte_fetch_fn fn() {
        return [this](u64 a) -> std::optional<std::pair<u64, u64>> {
            fetched.push_back(a);
            if (bad.count(a)) return std::nullopt;
            auto it = entries.find(a);
            return it == entries.end() ? std::pair<u64, u64>{0, 0} : it->second;
        };
    }
};

// IRTA: base | EIME (bit 11) | S (3:0): 2^(S+1) entries.
ir_state state(bool eime, unsigned s = 7, bool cfis = false) {
    ir_state st;
    st.enabled = true;
    st.irta = k_irt | (eime ? 1ull << 11 : 0) | s;
    st.cfis = cfis;
    st.eim = true;
    st.haw = 46;
    return st;
}

// Remapped-format IRTE words by hand: P 0, FPD 1, DM 2, RH 3, TM 4, DLM 7:5, V 23:16, DST 63:32;
// SID 79:64, SQ 81:80, SVT 83:82.
u64 irte_lo(u8 vector, u32 dst, bool fpd = false) {
    return 1ull | (fpd ? 2ull : 0) | (static_cast<u64>(vector) << 16) | (static_cast<u64>(dst) << 32);
}
u64 irte_hi(unsigned svt, unsigned sq, u16 sid) {
    return static_cast<u64>(sid) | (static_cast<u64>(sq) << 16) | (static_cast<u64>(svt) << 18);
}

// Remappable address by hand (§5.1.2.2): 0xFEE 31:20, handle[14:0] 19:5, format 4, SHV 3, handle[15] 2.
u64 remap_addr(u16 handle, bool shv = false) {
    return 0xfee00000ull | (static_cast<u64>(handle & 0x7fff) << 5) | (1ull << 4) | (shv ? 8ull : 0) |
           (static_cast<u64>(handle >> 15) << 2);
}

interrupt_request req(u16 sid, u64 addr, u32 data = 0) { return {sid, addr, data}; }

} // namespace

TEST_CASE("vtd ir: disabled passes every request through untouched and reads no table", "[vtd][ir]") {
    irt_memory m;
    ir_state st = state(true);
    st.enabled = false;
    // Compatibility format: destination 0x2a, RH, logical; fixed vector 0x33, level-triggered.
    const u64 compat = 0xfee00000ull | (0x2aull << 12) | 8 | 4;
    auto r = interrupt_remapper::remap(st, req(0x100, compat, 0x8033), m.fn());
    CHECK(r.ok());
    CHECK_FALSE(r.remapped);
    CHECK(r.message.address == compat);
    CHECK(r.message.data == 0x8033);
    CHECK(r.message.destination == 0x2a);
    CHECK(r.message.vector == 0x33);
    CHECK(r.message.delivery_mode == 0);
    CHECK(r.message.level);
    CHECK(r.message.logical);
    CHECK(r.message.redirection_hint);
    // A remappable-format request is also processed as compatibility format when IR is off.
    auto r2 = interrupt_remapper::remap(st, req(0x100, remap_addr(5), 0x41), m.fn());
    CHECK(r2.ok());
    CHECK_FALSE(r2.remapped);
    CHECK(r2.message.address == remap_addr(5));
    CHECK(r2.message.data == 0x41);
    CHECK(m.fetched.empty());
}

TEST_CASE("vtd ir: compatibility format is blocked (25h) unless CFIS is set and EIME clear", "[vtd][ir]") {
    irt_memory m;
    const u64 compat = 0xfee00000ull | (0x07ull << 12);
    SECTION("CFIS clear") {
        auto r = interrupt_remapper::remap(state(false, 7, false), req(0x200, compat, 0x30), m.fn());
        CHECK(r.fault == fault_reason::ir_compat_blocked);
        CHECK(static_cast<int>(r.fault) == 0x25);
        CHECK(r.index == 0);
        CHECK_FALSE(r.fpd);
    }
    SECTION("CFIS set, xAPIC mode: passes") {
        auto r = interrupt_remapper::remap(state(false, 7, true), req(0x200, compat, 0x30), m.fn());
        CHECK(r.ok());
        CHECK_FALSE(r.remapped);
        CHECK(r.message.address == compat);
        CHECK(r.message.destination == 7);
        CHECK(r.message.vector == 0x30);
    }
    SECTION("CFIS set but EIME set: blocked") {
        auto r = interrupt_remapper::remap(state(true, 7, true), req(0x200, compat, 0x30), m.fn());
        CHECK(r.fault == fault_reason::ir_compat_blocked);
    }
    SECTION("IRTA.EIME without ECAP.EIM is ignored") {
        ir_state st = state(true, 7, true);
        st.eim = false;
        CHECK(interrupt_remapper::remap(st, req(0x200, compat, 0x30), m.fn()).ok());
    }
    CHECK(m.fetched.empty());
}

TEST_CASE("vtd ir: remapped xAPIC entry rebuilds the MSI from the IRTE", "[vtd][ir]") {
    irt_memory m;
    // vector 0x41, xAPIC destination 3 in DST 15:8, lowest priority (DLM 001), logical, level, RH.
    const u64 lo = irte_lo(0x41, 0x0300) | 4 | 8 | 16 | (1ull << 5);
    m.put(9, lo, irte_hi(1, 0, 0x0310));
    auto r = interrupt_remapper::remap(state(false), req(0x0310, remap_addr(9), 0), m.fn());
    REQUIRE(r.ok());
    CHECK(r.remapped);
    CHECK(r.index == 9);
    CHECK(m.fetched == std::vector<u64>{k_irt + 9 * 16});
    CHECK(r.irte_lo == lo);
    CHECK(r.message.destination == 3);
    CHECK(r.message.vector == 0x41);
    CHECK(r.message.delivery_mode == 1);
    CHECK(r.message.logical);
    CHECK(r.message.level);
    CHECK(r.message.redirection_hint);
    CHECK(r.message.address == 0xfee0300cull);      // dest 3 in 19:12, RH 3, DM 2
    CHECK(r.message.data == (0x41u | 0x100u | 0x4000u | 0x8000u));
}

TEST_CASE("vtd ir: x2APIC mode takes the 32-bit destination, xAPIC mode reserves DST 7:0 and 31:16", "[vtd][ir]") {
    irt_memory m;
    m.put(1, irte_lo(0x55, 0x12345678));
    auto x2 = interrupt_remapper::remap(state(true), req(0x1, remap_addr(1)), m.fn());
    REQUIRE(x2.ok());
    CHECK(x2.message.destination == 0x12345678u);
    CHECK(x2.message.address == (0xfee78000ull | (0x12345600ull << 32)));
    CHECK(x2.message.data == (0x55u | 0x4000u));
    // The same entry in xAPIC mode has reserved destination bits set.
    auto xa = interrupt_remapper::remap(state(false), req(0x1, remap_addr(1)), m.fn());
    CHECK(xa.fault == fault_reason::ir_irte_reserved);
    CHECK(static_cast<int>(xa.fault) == 0x24);
    // Only DST 15:8 in xAPIC mode: fine.
    m.put(2, irte_lo(0x55, 0x0000ff00));
    auto ok = interrupt_remapper::remap(state(false), req(0x1, remap_addr(2)), m.fn());
    REQUIRE(ok.ok());
    CHECK(ok.message.destination == 0xff);
    CHECK(ok.message.address == 0xfeeff000ull);
    m.put(3, irte_lo(0x55, 0x00010000));  // DST bit 16
    CHECK(interrupt_remapper::remap(state(false), req(0x1, remap_addr(3)), m.fn()).fault ==
          fault_reason::ir_irte_reserved);
}

TEST_CASE("vtd ir: reserved request data bits fault 20h before any table access", "[vtd][ir]") {
    irt_memory m;
    m.put(4, irte_lo(0x20, 0x0100));
    auto r = interrupt_remapper::remap(state(false), req(0x8, remap_addr(4), 0x00010000), m.fn());
    CHECK(r.fault == fault_reason::ir_request_reserved);
    CHECK(static_cast<int>(r.fault) == 0x20);
    CHECK(r.index == 0);
    CHECK_FALSE(r.fpd);
    CHECK(m.fetched.empty());
    // Sub-handle bits 15:0 are not reserved (ignored without SHV).
    CHECK(interrupt_remapper::remap(state(false), req(0x8, remap_addr(4), 0xffff), m.fn()).ok());
}

TEST_CASE("vtd ir: interrupt_index beyond IRTA.S faults 21h, counting handle and sub-handle", "[vtd][ir]") {
    irt_memory m;
    m.put(255, irte_lo(1, 0));
    // S = 7: 256 entries.
    CHECK(interrupt_remapper::remap(state(false, 7), req(0, remap_addr(255)), m.fn()).ok());
    auto r = interrupt_remapper::remap(state(false, 7), req(0, remap_addr(256)), m.fn());
    CHECK(r.fault == fault_reason::ir_index_beyond_irt);
    CHECK(static_cast<int>(r.fault) == 0x21);
    CHECK(r.index == 256);
    CHECK_FALSE(r.fpd);
    // handle 250 + sub-handle 6 (SHV) = 256
    auto s = interrupt_remapper::remap(state(false, 7), req(0, remap_addr(250, true), 6), m.fn());
    CHECK(s.fault == fault_reason::ir_index_beyond_irt);
    CHECK(s.index == 256);
    // handle 250 + sub-handle 5 = 255, and the fetch is at entry 255
    m.fetched.clear();
    CHECK(interrupt_remapper::remap(state(false, 7), req(0, remap_addr(250, true), 5), m.fn()).ok());
    CHECK(m.fetched == std::vector<u64>{k_irt + 255 * 16});
    // S = 0: two entries.
    CHECK(interrupt_remapper::remap(state(false, 0), req(0, remap_addr(2)), m.fn()).fault ==
          fault_reason::ir_index_beyond_irt);
    // S = 15: 65536 entries; handle bit 15 travels in address bit 2.
    m.put(0x8001, irte_lo(2, 0));
    m.fetched.clear();
    CHECK(interrupt_remapper::remap(state(false, 15), req(0, remap_addr(0x8001)), m.fn()).ok());
    CHECK(m.fetched == std::vector<u64>{k_irt + 0x8001ull * 16});
    // handle 0xffff + sub-handle 1 is beyond even the largest table.
    CHECK(interrupt_remapper::remap(state(false, 15), req(0, remap_addr(0xffff, true), 1), m.fn()).fault ==
          fault_reason::ir_index_beyond_irt);
}

TEST_CASE("vtd ir: a failing IRTE fetch faults 23h, FPD not consulted", "[vtd][ir]") {
    irt_memory m;
    m.bad.insert(k_irt + 16 * 7);
    auto r = interrupt_remapper::remap(state(false), req(0x10, remap_addr(7)), m.fn());
    CHECK(r.fault == fault_reason::ir_irt_access_error);
    CHECK(static_cast<int>(r.fault) == 0x23);
    CHECK(r.index == 7);
    CHECK_FALSE(r.fpd);
    // A table above the host address width cannot be fetched at all.
    ir_state st = state(false);
    st.irta = (1ull << 46) | 7;
    m.fetched.clear();
    CHECK(interrupt_remapper::remap(st, req(0x10, remap_addr(0)), m.fn()).fault == fault_reason::ir_irt_access_error);
    CHECK(m.fetched.empty());
}

TEST_CASE("vtd ir: not-present IRTE faults 22h and reports its FPD", "[vtd][ir]") {
    irt_memory m;
    m.put(3, 2);  // FPD set, P clear
    auto r = interrupt_remapper::remap(state(false), req(0x10, remap_addr(3)), m.fn());
    CHECK(r.fault == fault_reason::ir_irte_not_present);
    CHECK(static_cast<int>(r.fault) == 0x22);
    CHECK(r.fpd);
    CHECK(r.index == 3);
    auto z = interrupt_remapper::remap(state(false), req(0x10, remap_addr(4)), m.fn());  // all zero
    CHECK(z.fault == fault_reason::ir_irte_not_present);
    CHECK_FALSE(z.fpd);
}

TEST_CASE("vtd ir: reserved IRTE fields fault 24h (high bits, SVT 11b, posted without CAP.PI)", "[vtd][ir]") {
    irt_memory m;
    m.put(1, irte_lo(0x30, 0x0100, true), 1ull << 20);     // bit 84
    m.put(2, irte_lo(0x30, 0x0100), irte_hi(3, 0, 0));      // SVT = 11b
    m.put(3, irte_lo(0x30, 0x0100) | (1ull << 12));         // bit 12
    m.put(4, irte_lo(0x30, 0) | (1ull << 15));              // IM = 1: posted format
    for (u16 i : {1, 2, 3, 4}) {
        INFO(i);
        auto r = interrupt_remapper::remap(state(false), req(0x10, remap_addr(i)), m.fn());
        CHECK(r.fault == fault_reason::ir_irte_reserved);
        CHECK(r.index == i);
        CHECK(r.fpd == (i == 1));
    }
}

TEST_CASE("vtd ir: posted format with CAP.PI reports the descriptor and never raises 27h", "[vtd][ir]") {
    irt_memory m;
    // IM 15, URG 14, vector 0x66, PDA bits 31:6 in 63:38, 63:32 in hi 63:32.
    const u64 pda = 0x0000001234567840ull;
    m.put(5, 1ull | (1ull << 14) | (1ull << 15) | (0x66ull << 16) | (((pda >> 6) & 0x3ffffff) << 38),
          (pda >> 32) << 32);
    ir_state st = state(true);
    st.pi = true;
    auto r = interrupt_remapper::remap(st, req(0x10, remap_addr(5)), m.fn());
    REQUIRE(r.ok());
    CHECK(r.remapped);
    CHECK(r.posted);
    CHECK(r.pda == pda);
    CHECK(r.urgent);
    CHECK(r.message.vector == 0x66);
}

TEST_CASE("vtd ir: source-id verification with SQ masks faults 26h", "[vtd][ir]") {
    irt_memory m;
    // SID 03:02.0 = 0x0310. Requesters differing in function bit 0, bit 1, bit 2, the device, the bus.
    struct row {
        u16 requester;
        bool ok[4];  // SQ = 00, 01, 10, 11
    };
    const row rows[] = {
        {0x0310, {true, true, true, true}},
        {0x0311, {false, false, false, true}},
        {0x0312, {false, false, true, true}},
        {0x0314, {false, true, true, true}},
        {0x0316, {false, false, true, true}},
        {0x0318, {false, false, false, false}},
        {0x0410, {false, false, false, false}},
    };
    for (unsigned sq = 0; sq < 4; ++sq) {
        m.put(sq, irte_lo(0x40, 0x0100, true), irte_hi(1, sq, 0x0310));
        for (const auto& rw : rows) {
            INFO("sq " << sq << " requester " << rw.requester);
            auto r = interrupt_remapper::remap(state(false), req(rw.requester, remap_addr(static_cast<u16>(sq))), m.fn());
            if (rw.ok[sq]) {
                CHECK(r.ok());
            } else {
                CHECK(r.fault == fault_reason::ir_source_id_blocked);
                CHECK(static_cast<int>(r.fault) == 0x26);
                CHECK(r.fpd);
                CHECK(r.index == sq);
            }
        }
    }
    // SVT = 00b: no verification.
    m.put(10, irte_lo(0x40, 0x0100), irte_hi(0, 0, 0x0310));
    CHECK(interrupt_remapper::remap(state(false), req(0xffff, remap_addr(10)), m.fn()).ok());
}

TEST_CASE("vtd ir: bus-range verification (SVT 10b) accepts start..end bus inclusive", "[vtd][ir]") {
    irt_memory m;
    m.put(6, irte_lo(0x40, 0x0100), irte_hi(2, 0, 0x0305));  // buses 3..5
    const std::pair<u16, bool> cases[] = {{0x02ff, false}, {0x0300, true}, {0x0418, true}, {0x05ff, true},
                                          {0x0600, false}, {0x0000, false}};
    for (auto [rid, ok] : cases) {
        INFO(rid);
        auto r = interrupt_remapper::remap(state(false), req(rid, remap_addr(6)), m.fn());
        CHECK(r.ok() == ok);
        if (!ok) CHECK(r.fault == fault_reason::ir_source_id_blocked);
    }
}

TEST_CASE("vtd ir: faults land in the fault log as IR records with the index in FI 63:48", "[vtd][ir]") {
    irt_memory m;
    m.put(0x42, irte_lo(0x40, 0x0100), irte_hi(1, 0, 0x0310));
    auto r = interrupt_remapper::remap(state(false), req(0x0520, remap_addr(0x42)), m.fn());
    REQUIRE(r.fault == fault_reason::ir_source_id_blocked);
    vtd_params p;
    register_file rf(p);
    fault_logger log(rf);
    auto o = log.record(fault_info::ir(0x0520, r.fault, r.index), r.fpd);
    CHECK(o.what == fault_logger::outcome::kind::recorded);
    CHECK(rf.frcd_lo(0) == (0x42ull << 48));
    CHECK(((rf.frcd_hi(0) >> 32) & 0xff) == 0x26);
    CHECK((rf.frcd_hi(0) & 0xffff) == 0x0520);
}

TEST_CASE("vtd ir: address helpers", "[vtd][ir]") {
    CHECK(interrupt_remapper::is_interrupt_address(0xfee00000));
    CHECK(interrupt_remapper::is_interrupt_address(0xfeefffff));
    CHECK_FALSE(interrupt_remapper::is_interrupt_address(0xfef00000));
    CHECK_FALSE(interrupt_remapper::is_interrupt_address(0x1fee00000ull));
    CHECK(interrupt_remapper::remappable_address(0x8123, true) == remap_addr(0x8123, true));
    CHECK(interrupt_remapper::remappable_address(5, false) == 0xfee000b0ull);
}

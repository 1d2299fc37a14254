// VT-d queued invalidation (§6.5.2): descriptors fetched from IQH to IQT and handed to the unit decoded,
// wrap-around at the end of the queue, the wait descriptor's status write and completion event
// (ICS.IWC, IECTL.IM/IP), invalidation queue errors (FSTS.IQE, IQERCD.IQEI, IQH left at the bad
// descriptor) and resuming once software fixed the descriptor and cleared IQE, as Linux's qi_check_fault
// does. Descriptors are written into a byte-addressed fake memory as raw little-endian words.
#include "models/iommu/vtd/vtd_inv_queue.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace iommusim;
using namespace iommusim::vtd;
using namespace iommusim::vtd::regbits;

namespace {

constexpr u64 k_queue = 0x100000;  // IQA base
constexpr u64 k_status = 0x2000;   // wait-descriptor status address

std::string fmt(const char* f, unsigned long long a = 0, unsigned long long b = 0, unsigned long long c = 0,
                unsigned long long d = 0, unsigned long long e = 0) {
    char buf[160];
    std::snprintf(buf, sizeof buf, f, a, b, c, d, e);
    return buf;
}

// The unit side: memory as a byte map (unwritten bytes read 0), failing addresses, and a log of every
// call in order.
struct fake_sink : inv_queue_sink {
    std::map<u64, u8> mem;
    std::set<u64> bad_read, bad_write;
    std::vector<std::string> log;

    bool read_memory(u64 a, void* data, unsigned len) override {
        if (bad_read.count(a)) return false;
        auto* p = static_cast<u8*>(data);
        for (unsigned i = 0; i < len; ++i) {
            auto it = mem.find(a + i);
            p[i] = it == mem.end() ? 0 : it->second;
        }
        return true;
    }
    bool write_memory(u64 a, const void* data, unsigned len) override {
        if (bad_write.count(a)) return false;
        const auto* p = static_cast<const u8*>(data);
        for (unsigned i = 0; i < len; ++i) mem[a + i] = p[i];
        log.push_back(fmt("write %llx %llu", a, len));
        return true;
    }
    void context_cache_invalidate(inv_granularity g, u16 did, u16 sid, unsigned fm) override {
        log.push_back(fmt("cc g%llu did %llu sid %llx fm %llu", static_cast<unsigned>(g), did, sid, fm));
    }
    void iotlb_invalidate(inv_granularity g, u16 did, u64 addr, unsigned am, bool ih) override {
        log.push_back(fmt("iotlb g%llu did %llu addr %llx am %llu ih %llu", static_cast<unsigned>(g), did, addr, am, ih));
    }
    void dev_tlb_invalidate(u16 sid, u64 addr, bool size) override {
        log.push_back(fmt("devtlb sid %llx addr %llx s %llu", sid, addr, size));
    }
    void iec_invalidate(bool index_selective, u16 index, unsigned im) override {
        log.push_back(fmt("iec sel %llu index %llu im %llu", index_selective, index, im));
    }

    void put64(u64 a, u64 v) {
        for (int i = 0; i < 8; ++i) mem[a + i] = static_cast<u8>(v >> (8 * i));
    }
    u32 get32(u64 a) const {
        u32 v = 0;
        for (int i = 3; i >= 0; --i) {
            auto it = mem.find(a + i);
            v = (v << 8) | (it == mem.end() ? 0 : it->second);
        }
        return v;
    }
};

// Descriptor words by hand (§6.5.2): type 3:0, G 5:4 ...
constexpr u64 cc(unsigned g, u16 did = 0, u16 sid = 0, unsigned fm = 0) {
    return 0x1 | (static_cast<u64>(g) << 4) | (static_cast<u64>(did) << 16) | (static_cast<u64>(sid) << 32) |
           (static_cast<u64>(fm) << 48);
}
constexpr u64 iotlb_lo(unsigned g, u16 did = 0) { return 0x2 | (static_cast<u64>(g) << 4) | (static_cast<u64>(did) << 16); }
constexpr u64 iotlb_hi(u64 addr, unsigned am, bool ih) { return addr | (ih ? 1ull << 6 : 0) | am; }
// wait: IF 4, SW 5, FN 6, PD 7, status data 63:32; status address 127:66 (dword aligned).
constexpr u64 wait_lo(bool sw, bool intr, bool fn, u32 data = 0) {
    return 0x5 | (intr ? 1ull << 4 : 0) | (sw ? 1ull << 5 : 0) | (fn ? 1ull << 6 : 0) | (static_cast<u64>(data) << 32);
}

struct unit {
    vtd_params p;
    register_file rf;
    fault_logger faults;
    inv_queue q;
    fake_sink sink;
    u32 tail = 0;  // next free slot (descriptor index)

    static vtd_params params(bool dt, bool ir) {
        vtd_params p;
        p.dt = dt;
        p.ir = ir;
        p.eim = ir;
        if (!ir) p.mhmv = 0;
        return p;
    }
    explicit unit(unsigned qs = 0, bool dt = true, bool ir = true) : p(params(dt, ir)), rf(p), faults(rf), q(rf, faults) {
        sw(reg_id::IQT, 0, 8);
        sw(reg_id::IQA, k_queue | qs, 8);
        q.on_enable(true);
        sw(reg_id::IEDATA, 0x51);
        sw(reg_id::IEADDR, 0xfee01000);
        sw(reg_id::IEUADDR, 0);
        sw(reg_id::FEDATA, 0x52);
        sw(reg_id::FEADDR, 0xfee02000);
        sw(reg_id::FECTL, 0);  // fault events unmasked
    }
    // A software register write with the side effects of both owners.
    std::vector<event_message> sw(reg_id id, u64 v, unsigned size = 4) {
        auto w = rf.write(rf.offset_of(id), v, size);
        auto msgs = q.after_write(w);
        if (auto m = faults.after_write(w)) msgs.push_back(*m);
        return msgs;
    }
    u64 reg(reg_id id) const { return rf.read(rf.offset_of(id), desc_of(id).width); }
    void put(u32 slot, u64 lo, u64 hi = 0) {
        sink.put64(k_queue + 16ull * slot, lo);
        sink.put64(k_queue + 16ull * slot + 8, hi);
    }
    // Append descriptors at the tail, move IQT past them and run the queue.
    inv_queue::run_result submit(std::initializer_list<std::pair<u64, u64>> descs) {
        for (auto& d : descs) {
            put(tail, d.first, d.second);
            tail = (tail + 1) % q.entries();
        }
        sw(reg_id::IQT, 16ull * tail, 8);
        return q.process(sink);
    }
};

bool has_message(const std::vector<event_message>& v, u64 addr, u32 data) {
    for (const auto& m : v)
        if (m.address == addr && m.data == data) return true;
    return false;
}

} // namespace

TEST_CASE("vtd qi: every legacy descriptor type reaches the unit with its fields decoded", "[vtd][qi]") {
    unit u;
    CHECK(u.q.entries() == 256);
    auto r = u.submit({
        {cc(1), 0},
        {cc(2, 7), 0},
        {cc(3, 7, 0x0310, 2), 0},
        {iotlb_lo(1), 0},
        {iotlb_lo(2, 9), 0},
        {iotlb_lo(3, 9), iotlb_hi(0x12345000, 3, true)},
        {0x3 | (0x0318ull << 32), 0xabcd0000ull | 1},  // dev-TLB: SID 47:32, ADDR 127:76, S 64
        {0x4, 0},                                      // IEC global
        {0x4 | (1ull << 4) | (3ull << 27) | (0x40ull << 32), 0},  // IEC index 0x40, IM 3
        {wait_lo(true, false, true, 0x1), k_status},
    });
    CHECK_FALSE(r.error);
    CHECK(r.executed == 10);
    CHECK(r.types == std::vector<u8>{1, 1, 1, 2, 2, 2, 3, 4, 4, 5});
    CHECK(u.reg(reg_id::IQH) == 16 * 10);
    CHECK(u.reg(reg_id::IQH) == u.reg(reg_id::IQT));
    const std::vector<std::string> expect = {
        "cc g1 did 0 sid 0 fm 0",
        "cc g2 did 7 sid 0 fm 0",
        "cc g3 did 7 sid 310 fm 2",
        "iotlb g1 did 0 addr 0 am 0 ih 0",
        "iotlb g2 did 9 addr 0 am 0 ih 0",
        "iotlb g3 did 9 addr 12345000 am 3 ih 1",
        "devtlb sid 318 addr abcd0000 s 1",
        "iec sel 0 index 0 im 0",
        "iec sel 1 index 64 im 3",
        "write 2000 4",
    };
    CHECK(u.sink.log == expect);
    CHECK(u.sink.get32(k_status) == 1);
    CHECK(r.interrupts.empty());
    CHECK((u.reg(reg_id::FSTS) & FSTS_IQE) == 0);
}

TEST_CASE("vtd qi: a fenced wait writes its status only after the invalidations before it", "[vtd][qi]") {
    unit u;
    // Linux's qi_submit_sync: the request, then a wait with SW | FN whose status it polls.
    auto r = u.submit({{iotlb_lo(2, 3), 0}, {wait_lo(true, false, true, 0x1), k_status}});
    CHECK(r.executed == 2);
    REQUIRE(u.sink.log.size() == 2);
    CHECK(u.sink.log[0].rfind("iotlb", 0) == 0);
    CHECK(u.sink.log[1] == "write 2000 4");
    CHECK(u.sink.get32(k_status) == 1);
    // Status data is the full 32 bits of 63:32, little-endian at the dword-aligned address.
    u.submit({{wait_lo(true, false, false, 0xdeadbeef), k_status + 4}});
    CHECK(u.sink.get32(k_status + 4) == 0xdeadbeefu);
    CHECK(u.sink.mem[k_status + 4] == 0xef);
}

TEST_CASE("vtd qi: IF sets ICS.IWC and sends the completion event, held in IECTL.IP while masked", "[vtd][qi]") {
    unit u;
    const u64 ie_addr = 0xfee01000;
    SECTION("masked (reset state): held, delivered on unmask") {
        CHECK((u.reg(reg_id::IECTL) & ECTL_IM) != 0);
        auto r = u.submit({{wait_lo(false, true, false), 0}});
        CHECK(r.interrupts.empty());
        CHECK(u.reg(reg_id::ICS) == ICS_IWC);
        CHECK((u.reg(reg_id::IECTL) & ECTL_IP) != 0);
        auto msgs = u.sw(reg_id::IECTL, 0);
        CHECK(msgs.size() == 1);
        CHECK(has_message(msgs, ie_addr, 0x51));
        CHECK((u.reg(reg_id::IECTL) & ECTL_IP) == 0);
        // Unmasking again sends nothing more.
        CHECK(u.sw(reg_id::IECTL, 0).empty());
    }
    SECTION("masked, software services IWC: the held event is withdrawn") {
        u.submit({{wait_lo(false, true, false), 0}});
        CHECK(u.sw(reg_id::ICS, ICS_IWC).empty());
        CHECK(u.reg(reg_id::ICS) == 0);
        CHECK((u.reg(reg_id::IECTL) & ECTL_IP) == 0);
        CHECK(u.sw(reg_id::IECTL, 0).empty());
    }
    SECTION("unmasked: immediate, and no new condition while IWC stays set") {
        u.sw(reg_id::IECTL, 0);
        auto r = u.submit({{wait_lo(false, true, false), 0}});
        CHECK(r.interrupts.size() == 1);
        CHECK(has_message(r.interrupts, ie_addr, 0x51));
        CHECK((u.reg(reg_id::IECTL) & ECTL_IP) == 0);
        auto again = u.submit({{wait_lo(false, true, false), 0}});
        CHECK(again.interrupts.empty());
        u.sw(reg_id::ICS, ICS_IWC);
        auto third = u.submit({{wait_lo(false, true, false), 0}});
        CHECK(third.interrupts.size() == 1);
    }
    SECTION("IEUADDR forms the upper half of the message address") {
        u.sw(reg_id::IECTL, 0);
        u.sw(reg_id::IEUADDR, 0x1);
        auto r = u.submit({{wait_lo(false, true, false), 0}});
        CHECK(has_message(r.interrupts, 0x1fee01000ull, 0x51));
    }
}

TEST_CASE("vtd qi: an invalid type stops the queue with IQE, IQEI 3 and IQH at the bad descriptor", "[vtd][qi]") {
    unit u;
    auto r = u.submit({{cc(1), 0}, {0x6 | (1ull << 4), 0}, {wait_lo(true, false, true, 0x1), k_status}});
    CHECK(r.error);
    CHECK(r.executed == 1);
    CHECK(u.reg(reg_id::IQH) == 16);
    CHECK((u.reg(reg_id::FSTS) & FSTS_IQE) != 0);
    CHECK((u.reg(reg_id::IQERCD) & 0xf) == 3);
    CHECK(u.q.last_error() == iqe_info::invalid_type);
    CHECK(has_message(r.interrupts, 0xfee02000, 0x52));  // the fault event
    CHECK(u.sink.get32(k_status) == 0);                 // the wait behind it did not run
    // Nothing moves while IQE is set, even with a new tail.
    auto stuck = u.submit({{cc(1), 0}});
    CHECK(stuck.error);
    CHECK(stuck.executed == 0);
    CHECK(u.reg(reg_id::IQH) == 16);
    // Software does what qi_check_fault does: overwrite the bad slot with its wait descriptor, clear IQE.
    u.put(1, wait_lo(true, false, true, 0x2), k_status);
    u.sw(reg_id::FSTS, FSTS_IQE);
    CHECK((u.reg(reg_id::FSTS) & FSTS_IQE) == 0);
    auto resumed = u.q.process(u.sink);
    CHECK_FALSE(resumed.error);
    CHECK(resumed.executed == 3);
    CHECK(resumed.types == std::vector<u8>{5, 5, 1});
    CHECK(u.reg(reg_id::IQH) == u.reg(reg_id::IQT));
    CHECK(u.sink.get32(k_status) == 1);  // slot 2's wait ran last
}

TEST_CASE("vtd qi: other invalid types and types for absent caches are IQEI 3", "[vtd][qi]") {
    SECTION("reserved type 0 and scalable-mode types") {
        for (u64 lo : {0x0ull, 0x7ull, 0x8ull, 0x9ull, 0xfull, 0x1ull | (1ull << 9)}) {
            INFO(lo);
            unit u;
            auto r = u.submit({{lo, 0}});
            CHECK(r.error);
            CHECK(u.q.last_error() == iqe_info::invalid_type);
            CHECK(u.reg(reg_id::IQH) == 0);
        }
    }
    SECTION("device-TLB without ECAP.DT") {
        unit u(0, false, true);
        u.submit({{0x3 | (0x0318ull << 32), 0}});
        CHECK(u.q.last_error() == iqe_info::invalid_type);
        CHECK(u.sink.log.empty());
    }
    SECTION("interrupt entry cache without ECAP.IR") {
        unit u(0, true, false);
        u.submit({{0x4, 0}});
        CHECK(u.q.last_error() == iqe_info::invalid_type);
    }
}

TEST_CASE("vtd qi: reserved fields are IQEI 4", "[vtd][qi]") {
    const std::pair<u64, u64> bad[] = {
        {iotlb_lo(2, 1) | (1ull << 8), 0},                    // iotlb bit 8
        {iotlb_lo(3, 1), iotlb_hi(0x1000, 0, false) | (1ull << 7)},  // iotlb bit 71
        {iotlb_lo(3, 1), iotlb_hi(0, 19, false)},             // AM above CAP.MAMV (18)
        {iotlb_lo(0, 1), 0},                                  // G = 00b
        {cc(0), 0},                                           // G = 00b
        {cc(1) | (1ull << 50), 0},                            // cc bit 50
        {wait_lo(true, false, false) | (1ull << 7), k_status},  // PD without page requests
        {wait_lo(true, false, false), k_status | 1},          // status address bit 64
        {0x4 | (1ull << 4) | (16ull << 27), 0},               // IEC IM above ECAP.MHMV (15)
    };
    for (const auto& d : bad) {
        INFO(d.first << " " << d.second);
        unit u;
        auto r = u.submit({{cc(1), 0}, d});
        CHECK(r.error);
        CHECK(r.executed == 1);
        CHECK(u.q.last_error() == iqe_info::reserved_field);
        CHECK(u.reg(reg_id::IQH) == 16);
        CHECK(u.sink.log.size() == 1);
    }
}

TEST_CASE("vtd qi: a descriptor fetch error is IQEI 2 with IQH at the unreadable slot", "[vtd][qi]") {
    unit u;
    u.sink.bad_read.insert(k_queue + 16 * 2);
    auto r = u.submit({{cc(1), 0}, {cc(1), 0}, {cc(1), 0}});
    CHECK(r.executed == 2);
    CHECK(u.q.last_error() == iqe_info::fetch_error);
    CHECK(u.reg(reg_id::IQH) == 32);
    // The memory recovers: clearing IQE resumes at slot 2.
    u.sink.bad_read.clear();
    u.sw(reg_id::FSTS, FSTS_IQE);
    CHECK(u.q.process(u.sink).executed == 1);
    CHECK(u.reg(reg_id::IQH) == 48);
}

TEST_CASE("vtd qi: a failing status write stops at the wait descriptor (IQEI 0)", "[vtd][qi]") {
    unit u;
    u.sink.bad_write.insert(k_status);
    auto r = u.submit({{cc(1), 0}, {wait_lo(true, true, true, 1), k_status}});
    CHECK(r.executed == 1);
    CHECK(r.error);
    CHECK(u.q.last_error() == iqe_info::not_available);
    CHECK((u.reg(reg_id::FSTS) & FSTS_IQE) != 0);
    CHECK(u.reg(reg_id::IQH) == 16);
    CHECK(u.reg(reg_id::ICS) == 0);  // IF not signalled
}

TEST_CASE("vtd qi: IQH wraps at the end of the queue", "[vtd][qi]") {
    unit u;  // QS = 0: one page, 256 descriptors
    for (int i = 0; i < 250; ++i) u.put(static_cast<u32>(i), cc(2, static_cast<u16>(i)));
    u.tail = 250;
    u.sw(reg_id::IQT, 250 * 16, 8);
    CHECK(u.q.process(u.sink).executed == 250);
    CHECK(u.reg(reg_id::IQH) == 250 * 16);
    u.sink.log.clear();
    auto r = u.submit({{cc(2, 1000), 0}, {cc(2, 1001), 0}, {cc(2, 1002), 0}, {cc(2, 1003), 0}, {cc(2, 1004), 0},
                       {cc(2, 1005), 0}, {cc(2, 1006), 0}, {cc(2, 1007), 0}, {cc(2, 1008), 0}, {cc(2, 1009), 0}});
    CHECK(r.executed == 10);
    CHECK(u.reg(reg_id::IQT) == 4 * 16);
    CHECK(u.reg(reg_id::IQH) == 4 * 16);
    REQUIRE(u.sink.log.size() == 10);
    for (int i = 0; i < 10; ++i) CHECK(u.sink.log[i] == fmt("cc g2 did %llu sid 0 fm 0", 1000 + i));
}

TEST_CASE("vtd qi: queue size QS scales the entries and the wrap point", "[vtd][qi]") {
    unit u(2);  // four pages: 1024 descriptors
    CHECK(u.q.entries() == 1024);
    u.tail = 1023;
    u.rf.set(reg_id::IQH, 1023 * 16);  // as if 1023 descriptors had run
    auto r = u.submit({{cc(1), 0}, {cc(1), 0}});
    CHECK(r.executed == 2);
    CHECK(u.reg(reg_id::IQH) == 16);
}

TEST_CASE("vtd qi: a tail beyond the queue is IQEI 1", "[vtd][qi]") {
    unit u;  // 256 entries
    u.sw(reg_id::IQT, 256 * 16, 8);
    auto r = u.q.process(u.sink);
    CHECK(r.error);
    CHECK(u.q.last_error() == iqe_info::invalid_tail);
    CHECK(u.reg(reg_id::IQH) == 0);
}

TEST_CASE("vtd qi: 256-bit descriptors need ECAP.SMTS (IQEI 5), a tail aligned to them (IQEI 6) and a clear upper half", "[vtd][qi]") {
    unit u;
    // DW is reserved in this unit's IQA (no SMTS): software cannot even write it.
    u.sw(reg_id::IQA, k_queue | (1ull << 11), 8);
    CHECK((u.reg(reg_id::IQA) & (1ull << 11)) == 0);
    // Forced in by hardware view: invalid width.
    u.rf.set(reg_id::IQA, k_queue | (1ull << 11));
    u.sw(reg_id::IQT, 0x20, 8);
    u.q.process(u.sink);
    CHECK(u.q.last_error() == iqe_info::invalid_width);
    // A scalable-capable ECAP admits DW = 1.
    u.rf.set(reg_id::ECAP, u.rf.get(reg_id::ECAP) | (1ull << 43));
    u.sw(reg_id::FSTS, FSTS_IQE);
    CHECK(u.q.descriptor_size() == 32);
    CHECK(u.q.entries() == 128);
    u.sink.put64(k_queue, cc(1));
    u.sink.put64(k_queue + 32, cc(2, 4));
    u.sink.put64(k_queue + 64, cc(1));
    u.sink.put64(k_queue + 64 + 16, 1);  // reserved upper half of descriptor 2
    u.sw(reg_id::IQT, 0x30, 8);          // not a multiple of 32
    u.q.process(u.sink);
    CHECK(u.q.last_error() == iqe_info::tail_misaligned);
    u.sw(reg_id::FSTS, FSTS_IQE);
    u.sw(reg_id::IQT, 0x60, 8);
    auto r = u.q.process(u.sink);
    CHECK(r.executed == 2);
    CHECK(u.reg(reg_id::IQH) == 0x40);
    CHECK(u.q.last_error() == iqe_info::reserved_field);
}

TEST_CASE("vtd qi: nothing runs while QI is disabled, IQA written while disabled resets IQH", "[vtd][qi]") {
    unit u;
    u.q.on_enable(false);
    CHECK((u.reg(reg_id::GSTS) & GSTS_QIES) == 0);
    u.put(0, cc(1));
    u.sw(reg_id::IQT, 16, 8);
    auto r = u.q.process(u.sink);
    CHECK(r.executed == 0);
    CHECK_FALSE(r.error);
    CHECK(u.sink.log.empty());
    u.rf.set(reg_id::IQH, 0x30);
    u.sw(reg_id::IQA, k_queue, 8);
    CHECK(u.reg(reg_id::IQH) == 0);
    // While enabled an IQA write leaves IQH alone.
    u.q.on_enable(true);
    CHECK((u.reg(reg_id::GSTS) & GSTS_QIES) != 0);
    u.q.process(u.sink);
    CHECK(u.reg(reg_id::IQH) == 16);
    u.sw(reg_id::IQA, k_queue, 8);
    CHECK(u.reg(reg_id::IQH) == 16);
    // Disabling resets the head.
    u.q.on_enable(false);
    CHECK(u.reg(reg_id::IQH) == 0);
}

TEST_CASE("vtd qi: without CAP.PSI a page-selective IOTLB request is done at domain granularity", "[vtd][qi]") {
    unit u;
    u.rf.set(reg_id::CAP, u.rf.get(reg_id::CAP) & ~(1ull << 39));
    u.submit({{iotlb_lo(3, 5), iotlb_hi(0x4000, 2, false)}});
    REQUIRE(u.sink.log.size() == 1);
    CHECK(u.sink.log[0] == "iotlb g2 did 5 addr 4000 am 2 ih 0");
}

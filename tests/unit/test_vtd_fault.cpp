// VT-d primary fault logging (§7.3.1, §11.4.9 - §11.4.14): records, FSTS.PPF/FRI, overflow, FPD,
// FECTL.IM/IP masking, the fault event message, QI error status bits, fault reason numbering.
#include "models/iommu/vtd/vtd_defs.h"
#include "models/iommu/vtd/vtd_fault.h"

#include <catch2/catch.hpp>

#include <string>

using namespace iommusim;
using namespace iommusim::vtd;
using namespace iommusim::vtd::regbits;

namespace {

struct unit {
    vtd_params p;
    register_file rf;
    fault_logger log;
    explicit unit(unsigned nfr = 2) : p(params(nfr)), rf(p), log(rf) {
        rf.write(rf.offset_of(reg_id::FEDATA), 0x49, 4);
        rf.write(rf.offset_of(reg_id::FEADDR), 0xfee00000, 4);
        rf.write(rf.offset_of(reg_id::FEUADDR), 0x1, 4);
    }
    static vtd_params params(unsigned nfr) {
        vtd_params p;
        p.nfr = nfr;
        return p;
    }
    u32 fsts() const { return static_cast<u32>(rf.read(rf.offset_of(reg_id::FSTS), 4)); }
    u32 fectl() const { return static_cast<u32>(rf.read(rf.offset_of(reg_id::FECTL), 4)); }
    std::optional<event_message> sw_write(reg_id id, u64 v, unsigned size = 4, unsigned frcd = 0) {
        u32 off = id == reg_id::FRCD_HI ? rf.offset_of_frcd(frcd) + 8 : rf.offset_of(id);
        return log.after_write(rf.write(off, v, size));
    }
    void unmask() { sw_write(reg_id::FECTL, 0); }
};

fault_info dma_fault(u16 sid, fault_reason r, u64 addr, bool write) {
    fault_info f;
    f.sid = sid;
    f.reason = r;
    f.addr = addr;
    f.write = write;
    return f;
}

} // namespace

TEST_CASE("vtd fault: reasons carry the spec's numbers, names and meanings", "[vtd][fault]") {
    CHECK(static_cast<int>(fault_reason::root_entry_not_present) == 0x1);
    CHECK(static_cast<int>(fault_reason::translation_type_blocked) == 0xd);
    CHECK(static_cast<int>(fault_reason::ir_request_reserved) == 0x20);
    CHECK(static_cast<int>(fault_reason::ir_pid_access_error) == 0x27);
    for (int v = 0x1; v <= 0xd; ++v) {
        INFO(v);
        CHECK(std::string(fault_reason_name(static_cast<fault_reason>(v))) != "unknown");
        CHECK_FALSE(is_interrupt_remapping_fault(static_cast<fault_reason>(v)));
    }
    for (int v = 0x20; v <= 0x27; ++v) {
        INFO(v);
        CHECK(std::string(fault_reason_name(static_cast<fault_reason>(v))) != "unknown");
        CHECK(is_interrupt_remapping_fault(static_cast<fault_reason>(v)));
    }
    CHECK(std::string(fault_reason_name(static_cast<fault_reason>(0x0e))) == "unknown");
    CHECK(std::string(fault_reason_name(fault_reason::sm_pasid_entry_not_present)) == "sm_pasid_entry_not_present");
    CHECK(std::string(fault_reason_meaning(fault_reason::write_not_allowed)).find("write") != std::string::npos);
}

TEST_CASE("vtd fault: a fault is recorded with its fields, PPF and FRI set, one event sent", "[vtd][fault]") {
    unit u(4);
    u.unmask();
    fault_info f = dma_fault(0x0310, fault_reason::write_not_allowed, 0x12345678abcull, true);
    f.pasid_present = true;
    f.pasid = 0xabcde;
    f.at = 2;
    auto o = u.log.record(f);
    CHECK(o.what == fault_logger::outcome::kind::recorded);
    CHECK(o.index == 0);
    REQUIRE(o.interrupt);
    CHECK(o.interrupt->address == 0x1fee00000ull);
    CHECK(o.interrupt->data == 0x49);
    CHECK((u.fsts() & FSTS_PPF));
    CHECK(((u.fsts() >> 8) & 0xff) == 0);
    // Software reads the record through the MMIO window.
    const u32 fro = u.rf.offset_of_frcd(0);
    CHECK(u.rf.read(fro, 8) == 0x12345678000ull);
    const u64 hi = u.rf.read(fro + 8, 8);
    CHECK((hi & FRCD_HI_F));
    CHECK_FALSE((hi & FRCD_HI_T1));  // T1 = 0: write
    CHECK(bits(hi, 39, 32) == 0x05);
    CHECK(bits(hi, 15, 0) == 0x0310);
    CHECK((hi & FRCD_HI_PP));
    CHECK(bits(hi, 59, 40) == 0xabcde);
    auto back = u.log.read_record(0);
    CHECK(back.sid == 0x0310);
    CHECK(back.reason == fault_reason::write_not_allowed);
    CHECK(back.write);
    CHECK(back.addr == 0x12345678000ull);
    CHECK(back.at == 2);
    // A second fault lands in the next record without a new event (PPF already set).
    auto o2 = u.log.record(dma_fault(0x0311, fault_reason::read_not_allowed, 0x5000, false));
    CHECK(o2.index == 1);
    CHECK_FALSE(o2.interrupt);
    CHECK(u.log.read_record(1).write == false);
    CHECK(((u.fsts() >> 8) & 0xff) == 0);  // FRI still names the first pending record
}

TEST_CASE("vtd fault: overflow when the next record is still pending, PFO is W1C", "[vtd][fault]") {
    unit u(2);
    u.unmask();
    CHECK(u.log.record(dma_fault(1, fault_reason::read_not_allowed, 0x1000, false)).interrupt);
    CHECK(u.log.record(dma_fault(2, fault_reason::read_not_allowed, 0x2000, false)).index == 1);
    auto o = u.log.record(dma_fault(3, fault_reason::read_not_allowed, 0x3000, false));
    CHECK(o.what == fault_logger::outcome::kind::overflow);
    CHECK_FALSE(o.interrupt);  // PPF was pending: no new event
    CHECK((u.fsts() & FSTS_PFO));
    CHECK(u.log.read_record(0).sid == 1);  // nothing overwritten
    // Software clears record 0's F bit (W1C in the upper dword) and PFO; the next fault goes to 0.
    u.sw_write(reg_id::FRCD_HI, FRCD_HI_F, 8, 0);
    CHECK_FALSE(u.log.record_pending(0));
    CHECK((u.fsts() & FSTS_PPF));  // record 1 still pending
    u.sw_write(reg_id::FSTS, FSTS_PFO);
    CHECK_FALSE((u.fsts() & FSTS_PFO));
    auto o2 = u.log.record(dma_fault(4, fault_reason::write_not_allowed, 0x4000, true));
    CHECK(o2.what == fault_logger::outcome::kind::recorded);
    CHECK(o2.index == 0);
    // Clearing everything drops PPF.
    u.log.after_write(u.rf.write(u.rf.offset_of_frcd(0) + 12, 0x80000000u, 4));
    u.log.after_write(u.rf.write(u.rf.offset_of_frcd(1) + 12, 0x80000000u, 4));
    CHECK_FALSE((u.fsts() & FSTS_PPF));
}

TEST_CASE("vtd fault: FECTL.IM holds the event in IP, unmasking delivers it once", "[vtd][fault]") {
    unit u(2);
    CHECK((u.fectl() & ECTL_IM));  // reset: masked
    auto o = u.log.record(dma_fault(1, fault_reason::context_entry_not_present, 0x1000, false));
    CHECK_FALSE(o.interrupt);
    CHECK((u.fectl() & ECTL_IP));
    auto msg = u.sw_write(reg_id::FECTL, 0);
    REQUIRE(msg);
    CHECK(msg->data == 0x49);
    CHECK_FALSE((u.fectl() & ECTL_IP));
    CHECK_FALSE(u.sw_write(reg_id::FECTL, 0));
    // Masked again, pending condition, then software services all status: IP is withdrawn.
    u.sw_write(reg_id::FECTL, ECTL_IM);
    u.log.after_write(u.rf.write(u.rf.offset_of_frcd(0) + 12, 0x80000000u, 4));
    CHECK_FALSE((u.fsts() & FSTS_PPF));
    u.log.record(dma_fault(2, fault_reason::root_entry_not_present, 0x2000, false));
    CHECK((u.fectl() & ECTL_IP));
    u.log.after_write(u.rf.write(u.rf.offset_of_frcd(1) + 12, 0x80000000u, 4));
    CHECK_FALSE((u.fectl() & ECTL_IP));
    CHECK_FALSE(u.sw_write(reg_id::FECTL, 0));
}

TEST_CASE("vtd fault: FPD suppresses recording", "[vtd][fault]") {
    unit u(2);
    u.unmask();
    auto o = u.log.record(dma_fault(1, fault_reason::read_not_allowed, 0x1000, false), true);
    CHECK(o.what == fault_logger::outcome::kind::suppressed_fpd);
    CHECK_FALSE(o.interrupt);
    CHECK(u.fsts() == 0);
    CHECK_FALSE(u.log.record_pending(0));
    CHECK(u.log.next_index() == 0);
}

TEST_CASE("vtd fault: interrupt-remapping faults carry the interrupt index in FI 63:48", "[vtd][fault]") {
    unit u(2);
    u.log.record(fault_info::ir(0x0500, fault_reason::ir_irte_not_present, 0x1234));
    CHECK(u.rf.frcd_lo(0) == (0x1234ull << 48));
    CHECK(u.log.read_record(0).reason == fault_reason::ir_irte_not_present);
}

TEST_CASE("vtd fault: QI error bits IQE, ICE, ITE set FSTS and raise the fault event", "[vtd][fault][qi]") {
    unit u(2);
    u.unmask();
    auto m = u.log.raise_status(FSTS_IQE);
    REQUIRE(m);
    CHECK((u.fsts() & FSTS_IQE));
    CHECK_FALSE(u.log.raise_status(FSTS_IQE));  // already set
    CHECK_FALSE(u.log.raise_status(FSTS_ITE));  // another condition pending: no second event
    CHECK((u.fsts() & FSTS_ITE));
    u.sw_write(reg_id::FSTS, FSTS_IQE | FSTS_ITE);
    CHECK(u.fsts() == 0);
    CHECK(u.log.raise_status(FSTS_ICE));
}

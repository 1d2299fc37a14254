// AMD IOMMU interrupt remapping (§2.2.5), command processing (§2.4) and the event log (§2.5) as pure
// components: tables and commands written with the spec encoders, expectations from the spec's rules.
#include "models/iommu/amdvi/amdvi_cmd.h"
#include "models/iommu/amdvi/amdvi_event_log.h"
#include "models/iommu/amdvi/amdvi_ir.h"

#include <cstring>
#include <map>
#include <vector>

#include <catch2/catch.hpp>

using namespace iommusim;
using namespace iommusim::amdvi;

namespace {
struct bytes_memory {
    std::map<u64, u8> b;
    std::vector<u64> fail;
    bool read(u64 a, void* d, unsigned n) {
        for (u64 f : fail)
            if (f >= a && f < a + n) return false;
        auto* p = static_cast<u8*>(d);
        for (unsigned i = 0; i < n; ++i) p[i] = b.count(a + i) ? b[a + i] : 0;
        return true;
    }
    bool write(u64 a, const void* d, unsigned n) {
        for (u64 f : fail)
            if (f >= a && f < a + n) return false;
        auto* p = static_cast<const u8*>(d);
        for (unsigned i = 0; i < n; ++i) b[a + i] = p[i];
        return true;
    }
    void put64(u64 a, u64 v) { write(a, &v, 8); }
    void put32(u64 a, u32 v) { write(a, &v, 4); }
    u64 get64(u64 a) {
        u64 v = 0;
        read(a, &v, 8);
        return v;
    }
    irte_fetch_fn fetch() {
        return [this](u64 a, unsigned n) -> std::optional<irte_raw> {
            irte_raw r;
            if (!read(a, &r.lo, n < 8 ? n : 8)) return std::nullopt;
            if (n == 16 && !read(a + 8, &r.hi, 8)) return std::nullopt;
            return r;
        };
    }
};
} // namespace

TEST_CASE("amdvi ir: 32-bit IRTE remapping and its faults", "[amdvi][ir]") {
    bytes_memory m;
    const u64 table = 0x10000;
    dte d = dte::make_passthrough(5, true, true).with_interrupts(table, 4);  // 16 entries
    m.put32(table + 4 * 3, irte32::make(0x41, 0x07, true).v);
    auto r = interrupt_remapper::remap(d, {0x10, 0xfee00000, 3}, {}, m.fetch());
    REQUIRE(r.result == ir_result::outcome::remapped);
    CHECK(r.message.vector == 0x41);
    CHECK(r.message.destination == 7);
    CHECK(r.message.logical);
    CHECK(r.message.address == 0xfee07004ull);
    CHECK(r.message.data == 0x41u);
    CHECK(r.irte_address == table + 12);
    // Index beyond 2^IntTabLen: IO_PAGE_FAULT with I = 1.
    auto far = interrupt_remapper::remap(d, {0x10, 0xfee00000, 16}, {}, m.fetch());
    REQUIRE(!far.ok());
    CHECK(far.ev->code() == 0x2);
    CHECK(far.ev->flags().i);
    // RemapEn = 0: IO_PAGE_FAULT I = 1, logged unless SupIOPF / IG.
    m.put32(table + 4 * 4, 0);
    auto off = interrupt_remapper::remap(d, {0x10, 0xfee00000, 4}, {}, m.fetch());
    REQUIRE(!off.ok());
    CHECK(off.ev->flags().i);
    CHECK(!off.ev->flags().pr);
    CHECK(off.log);
    CHECK(off.ev->domain_or_pasid() == 5);
    m.put32(table + 4 * 4, 2);  // SupIOPF, RemapEn = 0
    CHECK(!interrupt_remapper::remap(d, {0x10, 0xfee00000, 4}, {}, m.fetch()).log);
    dte ig = d;
    ig.with_interrupts(table, 4, int_ctl::remap, true);
    m.put32(table + 4 * 4, 0);
    CHECK(!interrupt_remapper::remap(ig, {0x10, 0xfee00000, 4}, {}, m.fetch()).log);
    // Reserved IntType: IO_PAGE_FAULT with RZ.
    m.put32(table + 4 * 5, irte32::make(0x41, 1, false, msi::NMI).v);
    auto it = interrupt_remapper::remap(d, {0x10, 0xfee00000, 5}, {}, m.fetch());
    REQUIRE(!it.ok());
    CHECK(it.ev->flags().rz);
    // IRTE read error: PAGE_TAB_HW_ERROR with I = 1.
    m.fail.push_back(table + 4 * 6);
    auto hw = interrupt_remapper::remap(d, {0x10, 0xfee00000, 6}, {}, m.fetch());
    REQUIRE(!hw.ok());
    CHECK(hw.ev->code() == 0x4);
    CHECK(hw.ev->flags().i);
}

TEST_CASE("amdvi ir: IntCtl, pass bits, IV and the GA format", "[amdvi][ir]") {
    bytes_memory m;
    const u64 table = 0x20000;
    dte d = dte::make_passthrough(1, true, true).with_interrupts(table, 11);
    // IV = 0 / V = 0: everything passes unmapped.
    dte noiv = dte::make_passthrough(1, true, true);
    auto p = interrupt_remapper::remap(noiv, {1, 0xfee03000, 0x4031}, {}, m.fetch());
    CHECK(p.result == ir_result::outcome::passed);
    CHECK(p.message.destination == 3);
    CHECK(p.message.vector == 0x31);
    // NMI (data 10:8 = 100b) follows NMIPass; INIT InitPass; ExtInt EIntPass; SMI passes.
    CHECK(!interrupt_remapper::remap(d, {1, 0xfee00000, 0x400}, {}, m.fetch()).ok());
    dte pass = d;
    pass.with_pass(true, true, true);
    CHECK(interrupt_remapper::remap(pass, {1, 0xfee00000, 0x400}, {}, m.fetch()).result == ir_result::outcome::passed);
    CHECK(interrupt_remapper::remap(pass, {1, 0xfee00000, 0x500}, {}, m.fetch()).result == ir_result::outcome::passed);
    CHECK(interrupt_remapper::remap(pass, {1, 0xfee00000, 0x700}, {}, m.fetch()).result == ir_result::outcome::passed);
    CHECK(interrupt_remapper::remap(d, {1, 0xfee00000, 0x200}, {}, m.fetch()).result == ir_result::outcome::passed);
    CHECK(!interrupt_remapper::remap(d, {1, 0xfee00000, 0x300}, {}, m.fetch()).ok());  // reserved MT
    // IntCtl 00b aborts without an event, 01b passes, 11b is an illegal DTE.
    dte ta = d;
    ta.with_interrupts(table, 11, int_ctl::target_abort);
    auto a = interrupt_remapper::remap(ta, {1, 0xfee00000, 0}, {}, m.fetch());
    CHECK(!a.ok());
    CHECK(!a.ev);
    ta.with_interrupts(table, 11, int_ctl::forward_unmapped);
    CHECK(interrupt_remapper::remap(ta, {1, 0xfee00000, 0}, {}, m.fetch()).result == ir_result::outcome::passed);
    ta.with_interrupts(table, 11, int_ctl::reserved);
    CHECK(interrupt_remapper::remap(ta, {1, 0xfee00000, 0}, {}, m.fetch()).ev->code() == 0x1);
    // IntTabLen 1100b is reserved.
    ta.with_interrupts(table, 12);
    CHECK(interrupt_remapper::remap(ta, {1, 0xfee00000, 0}, {}, m.fetch()).ev->code() == 0x1);
    // GA format with an x2APIC destination: index 0x1ff (arbitrated range) at 16 bytes per entry.
    const irte_ga g = irte_ga::make(0x52, 0x12345);
    m.put64(table + 16 * 0x1ff, g.lo);
    m.put64(table + 16 * 0x1ff + 8, g.hi);
    auto x = interrupt_remapper::remap(d, {1, 0xfee00000, 0x1ff}, {true, true}, m.fetch());
    REQUIRE(x.result == ir_result::outcome::remapped);
    CHECK(x.message.destination == 0x12345u);
    CHECK(x.message.vector == 0x52);
    // Without XTEn only the low 8 bits of the destination are used.
    CHECK(interrupt_remapper::remap(d, {1, 0xfee00000, 0x1ff}, {true, false}, m.fetch()).message.destination == 0x45u);
    // GuestMode set: not modelled, a reserved-bit IO_PAGE_FAULT.
    m.put64(table + 16 * 0x1ff, g.lo | 0x80);
    CHECK(interrupt_remapper::remap(d, {1, 0xfee00000, 0x1ff}, {true, true}, m.fetch()).ev->flags().rz);
}

namespace {
struct sink : cmd_sink {
    bytes_memory& mem;
    std::vector<event> events;
    std::vector<std::string> calls;
    unsigned interrupts = 0;
    explicit sink(bytes_memory& m) : mem(m) {}
    bool read_memory(u64 a, void* d, unsigned n) override { return mem.read(a, d, n); }
    bool write_memory(u64 a, const void* d, unsigned n) override { return mem.write(a, d, n); }
    void log_event(const event& e) override { events.push_back(e); }
    void completion_interrupt() override { ++interrupts; }
    void invalidate_devtab_entry(u16 id) override { calls.push_back("dte " + std::to_string(id)); }
    void invalidate_iommu_pages(u16 dom, const inv_range& r, bool pde) override {
        calls.push_back("pages " + std::to_string(dom) + " " + std::to_string(r.base) + " " + std::to_string(r.size) +
                        (pde ? " pde" : ""));
    }
    void invalidate_iotlb_pages(u16 id, const inv_range&) override { calls.push_back("iotlb " + std::to_string(id)); }
    void invalidate_interrupt_table(u16 id) override { calls.push_back("irt " + std::to_string(id)); }
    void prefetch_iommu_pages(u16 id, u64) override { calls.push_back("prefetch " + std::to_string(id)); }
    void invalidate_iommu_all() override { calls.push_back("all"); }
};
void put_cmd(bytes_memory& m, u64 base, unsigned slot, const command& c) {
    m.put64(base + 16 * slot, c.lo);
    m.put64(base + 16 * slot + 8, c.hi);
}
} // namespace

TEST_CASE("amdvi cmd: the command buffer runs head to tail, wraps, and halts on an illegal command", "[amdvi][cmd]") {
    amdvi_params p;
    register_file regs(p);
    bytes_memory m;
    sink s(m);
    command_processor cp(regs, p);
    const u64 base = 0x40000;
    regs.write(mmio::CMD_BUF_BASE, ring_base::make(base, 8), 8);  // 256 entries
    const u64 on = control::IOMMU_EN | control::CMD_BUF_EN;
    cp.on_control(0, on);
    CHECK((regs.get(reg_id::STATUS) & status::CMD_BUF_RUN));
    put_cmd(m, base, 0, command::invalidate_devtab_entry(0x10));
    put_cmd(m, base, 1, command::invalidate_iommu_pages(3, encode_inv_range(0x200000, 21), true, true));
    put_cmd(m, base, 2, command::invalidate_interrupt_table(0x10));
    put_cmd(m, base, 3, command::invalidate_iommu_all());
    put_cmd(m, base, 4, command::completion_wait(0x50000, 0x1122334455667788ull, true, true));
    regs.write(mmio::CMD_BUF_TAIL, 5 * 16, 8);
    auto r = cp.process(s);
    CHECK(r.executed == 5);
    CHECK(!r.halted);
    CHECK(s.calls == std::vector<std::string>{"dte 16", "pages 3 2097152 2097152 pde", "irt 16", "all"});
    CHECK(m.get64(0x50000) == 0x1122334455667788ull);
    CHECK(s.interrupts == 1);
    CHECK((regs.get(reg_id::STATUS) & status::COM_WAIT_INT));
    CHECK(regs.get(reg_id::CMD_BUF_HEAD) == 5 * 16);
    // Wrap: tail at the last slot, then past the end to slot 1.
    regs.set(reg_id::CMD_BUF_HEAD, 255 * 16);
    put_cmd(m, base, 255, command::invalidate_devtab_entry(1));
    put_cmd(m, base, 0, command::invalidate_devtab_entry(2));
    regs.write(mmio::CMD_BUF_TAIL, 16, 8);
    s.calls.clear();
    CHECK(cp.process(s).executed == 2);
    CHECK(s.calls == std::vector<std::string>{"dte 1", "dte 2"});
    CHECK(regs.get(reg_id::CMD_BUF_HEAD) == 16);
    // An illegal command: ILLEGAL_COMMAND_ERROR with its address, head stays, CmdBufRun clears.
    put_cmd(m, base, 1, command{0xfull << 60, 0});
    put_cmd(m, base, 2, command::invalidate_devtab_entry(3));
    regs.write(mmio::CMD_BUF_TAIL, 3 * 16, 8);
    s.calls.clear();
    auto bad = cp.process(s);
    CHECK(bad.halted);
    CHECK(bad.executed == 0);
    REQUIRE(s.events.size() == 1);
    CHECK(s.events[0].lo == event::illegal_command_error(base + 16).lo);
    CHECK(s.events[0].address() == base + 16);
    CHECK(regs.get(reg_id::CMD_BUF_HEAD) == 16);
    CHECK(!(regs.get(reg_id::STATUS) & status::CMD_BUF_RUN));
    CHECK(cp.process(s).executed == 0);  // halted
    // Software fixes the command and restarts the buffer (CmdBufEn 0 -> 1).
    put_cmd(m, base, 1, command::invalidate_devtab_entry(4));
    cp.on_control(on, control::IOMMU_EN);
    cp.on_control(control::IOMMU_EN, on);
    CHECK(cp.process(s).executed == 2);
    // Reserved fields, absent features.
    CHECK(!cp.legal(command{command::invalidate_devtab_entry(1).lo, 1}));
    CHECK(!cp.legal(command::prefetch_iommu_pages(1, 1, 0, false)));     // PreFSup = 0
    CHECK(!cp.legal(command::invalidate_iotlb_pages(1, 0, 0, false)));  // IotlbSup = 0
    CHECK(!cp.legal(command::complete_ppr_request(1, 0, false, 0)));
    amdvi_params no_ia;
    no_ia.ia_sup = false;
    CHECK(!command_processor(regs, no_ia).legal(command::invalidate_iommu_all()));
    // A completion store that fails: COMMAND_HW_ERROR.
    m.fail.push_back(0x60000);
    put_cmd(m, base, 3, command::completion_wait(0x60000, 1, true, false));
    regs.write(mmio::CMD_BUF_TAIL, 4 * 16, 8);
    s.events.clear();
    CHECK(cp.process(s).halted);
    REQUIRE(s.events.size() == 1);
    CHECK(s.events[0].code() == 0x6);
}

TEST_CASE("amdvi event log: entries at the tail, overflow stops logging until restarted", "[amdvi][event]") {
    amdvi_params p;
    register_file regs(p);
    bytes_memory m;
    event_log log(regs);
    auto wr = [&](u64 a, const void* d, unsigned n) { return m.write(a, d, n); };
    const u64 base = 0x80000;
    regs.write(mmio::EVENT_LOG_BASE, ring_base::make(base, 8), 8);  // 256 entries
    // Disabled: dropped.
    CHECK(log.write(event::illegal_command_error(0x10), wr).st == event_log::outcome::disabled);
    const u64 on = control::IOMMU_EN | control::EVENT_LOG_EN | control::EVENT_INT_EN;
    regs.set(reg_id::CONTROL, on);
    log.on_control(0, on);
    auto r = log.write(event::io_page_fault(1, 2, 0x3000, event_flags{}), wr);
    CHECK(r.st == event_log::outcome::written);
    CHECK(r.interrupt);
    CHECK(m.get64(base) == event::io_page_fault(1, 2, 0x3000, event_flags{}).lo);
    CHECK(m.get64(base + 8) == 0x3000);
    CHECK(regs.get(reg_id::EVENT_LOG_TAIL) == 16);
    CHECK((regs.get(reg_id::STATUS) & status::EVENT_LOG_INT));
    // Until software clears EventLogInt, further entries raise no new interrupt.
    CHECK(!log.write(event::illegal_command_error(0x20), wr).interrupt);
    regs.write(mmio::STATUS, status::EVENT_LOG_INT, 8);
    CHECK(log.write(event::illegal_command_error(0x30), wr).interrupt);
    // Fill: 255 entries fit (tail may not reach head).
    unsigned written = 3;
    while (log.write(event::illegal_command_error(0x40), wr).st == event_log::outcome::written) ++written;
    CHECK(written == 255);
    CHECK((regs.get(reg_id::STATUS) & status::EVENT_OVERFLOW));
    CHECK(!(regs.get(reg_id::STATUS) & status::EVENT_LOG_RUN));
    CHECK(log.write(event::illegal_command_error(0x50), wr).st == event_log::outcome::disabled);
    // Linux's restart: consume (head = tail), clear EventOverflow, EventLogEn off and on.
    regs.write(mmio::EVENT_LOG_HEAD, regs.get(reg_id::EVENT_LOG_TAIL), 8);
    regs.write(mmio::STATUS, status::EVENT_OVERFLOW, 8);
    log.on_control(on, on & ~control::EVENT_LOG_EN);
    log.on_control(on & ~control::EVENT_LOG_EN, on);
    CHECK(log.write(event::illegal_command_error(0x60), wr).st == event_log::outcome::written);
}

// Testbench of the VT-d unit (models/iommu/vtd/tlm): vtd_unit + system_memory behind an address_router
// (for `out` and `engine.mem`), an interrupt sink at 0xFEEx_xxxx, and a test initiator that writes the
// tables into memory (poke), programs the registers through the `regs` socket and issues DMA with a
// pci_extension on `dma`. Every expectation is computed independently: from the k_regs table, from the
// tables the test wrote, or from slpt_translator (the uncached reference walk). CTest runs each TEST_CASE
// in its own process (one elaboration each); the body runs from sc_main after elaboration and advances
// time with sc_start between accesses, as a loosely-timed initiator synchronising after each one.
#include "models/iommu/vtd/tlm/vtd_unit.h"
#include "models/iommu/vtd/vtd_slpt.h"
#include "sim/core/input_error.h"
#include "sim/memory/system_memory.h"
#include "sim/tlm/address_router.h"
#include "sim/tlm/payload_data.h"
#include "sim/tlm/pci_extension.h"

#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <random>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <vector>

using namespace iommusim;
using namespace iommusim::vtd;
using namespace iommusim::vtd::regbits;
using sc_core::SC_NS;
using sc_core::sc_time;

namespace {

constexpr u64 REG_BASE = 0xfed90000;
constexpr u64 MEM_SIZE = u64(1) << 36;   // 64 GiB; addresses between it and 2^HAW answer address errors
constexpr u64 BEYOND = u64(1) << 40;     // inside HAW (46), outside memory

// Interrupt messages the unit sends towards the interrupt controller.
struct irq_sink : sc_core::sc_module {
    tlm_utils::simple_target_socket<irq_sink> socket{"socket"};
    struct message {
        u64 address;
        u32 data;
    };
    std::vector<message> got;
    explicit irq_sink(sc_core::sc_module_name n) : sc_module(n) {
        socket.register_b_transport(this, &irq_sink::b_transport);
    }
    void b_transport(tlm::tlm_generic_payload& gp, sc_time&) {
        got.push_back({gp.get_address(), u32(tlmx::get_le(gp.get_data_ptr(), std::min(4u, gp.get_data_length())))});
        gp.set_response_status(tlm::TLM_OK_RESPONSE);
    }
};

struct initiator : sc_core::sc_module {
    tlm_utils::simple_initiator_socket<initiator> regs{"regs"};
    tlm_utils::simple_initiator_socket<initiator> dma{"dma"};
    explicit initiator(sc_core::sc_module_name n) : sc_module(n) {}
};

vtd_unit_params default_params() {
    vtd_unit_params p;
    p.hw.nfr = 16;
    return p;
}

struct bench {
    std::unique_ptr<memory::system_memory> mem;
    std::unique_ptr<irq_sink> irq;
    std::unique_ptr<tlmx::address_router> router;
    std::unique_ptr<vtd_unit> unit;
    std::unique_ptr<initiator> cpu;
    u64 next_page = 0x100000;  // page allocator for tables
    u64 root = 0;
    sc_time last_delay;

    explicit bench(const vtd_unit_params& p = default_params(), double mem_latency_ns = 80) {
        build(p, mem_latency_ns);
    }
    void build(const vtd_unit_params& p, double mem_latency_ns) {
        memory::memory_params mp;
        mp.size = MEM_SIZE;
        mp.latency_ns = mem_latency_ns;
        mp.bandwidth_bytes_per_ns = 1e6;  // transfer time negligible: latency is what the timing tests see
        mp.dmi = false;
        mem = std::make_unique<memory::system_memory>("memory", mp);
        irq = std::make_unique<irq_sink>("irq");
        router = std::make_unique<tlmx::address_router>("router");
        unit = std::make_unique<vtd_unit>("vtd", REG_BASE, p);
        cpu = std::make_unique<initiator>("cpu");
        const unsigned mport = router->connect(mem->socket);
        const unsigned iport = router->connect(irq->socket);
        router->map(0, 0xfee00000, mport, "low memory");
        router->map(0xfee00000, 0x100000, iport, "interrupts");
        router->map(0xfef00000, (u64(1) << 46) - 0xfef00000, mport, "high memory");
        unit->out.bind(router->target);
        unit->engine.mem.bind(router->target);
        cpu->regs.bind(unit->regs);
        cpu->dma.bind(unit->dma);
        sc_core::sc_start(sc_core::SC_ZERO_TIME);
        root = alloc();
    }

    // Synchronises after each access: time advances by the annotated delay.
    void settle(const sc_time& d) {
        last_delay = d;
        sc_core::sc_start(d + sc_time(1, SC_NS));
    }

    // ---- registers through the socket
    u64 rd(u64 off, unsigned size = 8) {
        unsigned char b[8] = {};
        tlm::tlm_generic_payload gp;
        tlmx::init_payload(gp, tlm::TLM_READ_COMMAND, REG_BASE + off, b, size);
        sc_time d = sc_core::SC_ZERO_TIME;
        cpu->regs->b_transport(gp, d);
        settle(d);
        REQUIRE(gp.is_response_ok());
        return tlmx::get_le(b, size);
    }
    void wr(u64 off, u64 v, unsigned size = 8) {
        unsigned char b[8];
        tlmx::put_le(b, size, v);
        tlm::tlm_generic_payload gp;
        tlmx::init_payload(gp, tlm::TLM_WRITE_COMMAND, REG_BASE + off, b, size);
        sc_time d = sc_core::SC_ZERO_TIME;
        cpu->regs->b_transport(gp, d);
        settle(d);
        REQUIRE(gp.is_response_ok());
    }
    u32 off(reg_id id) const {
        if (id == reg_id::IVA) return unit->params().hw.iro;
        if (id == reg_id::IOTLB) return unit->params().hw.iro + 8;
        if (id == reg_id::FRCD_LO) return unit->params().hw.fro;
        if (id == reg_id::FRCD_HI) return unit->params().hw.fro + 8;
        return desc_of(id).offset;
    }
    u64 reg(reg_id id) { return rd(off(id), desc_of(id).width); }
    void set_reg(reg_id id, u64 v) { wr(off(id), v, desc_of(id).width); }

    // One GCMD command, the others rewritten as GSTS shows them (§10.4.4, as Linux's iommu->gcmd).
    void command(u32 bit, bool on = true) {
        const u32 persistent = GCMD_TE | GCMD_QIE | GCMD_IRE | GCMD_CFI;
        u32 v = u32(reg(reg_id::GSTS)) & persistent;
        v = on ? (v | bit) : (v & ~bit);
        wr(0x18, v, 4);
    }
    void enable_translation() {
        set_reg(reg_id::RTADDR, root);
        command(GCMD_SRTP);
        command(GCMD_TE);
    }

    // ---- DMA
    struct result {
        tlm::tlm_response_status status;
        sc_time delay;
    };
    result dma(u16 sid, u64 addr, bool write, unsigned char* data, unsigned len,
               tlmx::address_type at = tlmx::address_type::untranslated) {
        tlm::tlm_generic_payload gp;
        tlmx::init_payload(gp, write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND, addr, data, len);
        tlmx::pci_extension ext;
        ext.request = tlmx::pci_request::dma;
        ext.requester_id = sid;
        ext.at = at;
        tlmx::scoped_extension scope(gp, &ext);
        sc_time d = sc_core::SC_ZERO_TIME;
        cpu->dma->b_transport(gp, d);
        settle(d);
        return {gp.get_response_status(), d};
    }
    tlm::tlm_response_status read32(u16 sid, u64 addr, u32& v, tlmx::address_type at = tlmx::address_type::untranslated) {
        unsigned char b[4] = {};
        auto r = dma(sid, addr, false, b, 4, at);
        v = u32(tlmx::get_le(b, 4));
        return r.status;
    }
    tlm::tlm_response_status write32(u16 sid, u64 addr, u32 v, tlmx::address_type at = tlmx::address_type::untranslated) {
        unsigned char b[4];
        tlmx::put_le(b, 4, v);
        return dma(sid, addr, true, b, 4, at).status;
    }

    // ---- tables in memory
    u64 alloc() {
        const u64 a = next_page;
        next_page += 0x1000;
        return a;
    }
    void put(u64 a, u64 v) { mem->write_le(a, 8, v); }
    u64 get(u64 a) const { return mem->read_le(a, 8); }
    // Root entry for the bus (made present with a fresh context table if needed), then the context entry.
    void set_context(u16 sid, const context_entry& ce) {
        const u64 re = root + (sid >> 8) * 16;
        if (!(get(re) & 1)) put(re, root_entry::make(alloc()).lo);
        const u64 ctx = (get(re) & ~0xfffull) + (sid & 0xff) * 16;
        put(ctx, ce.lo);
        put(ctx + 8, ce.hi);
    }
    // A second-level mapping iova -> pa at leaf level `leaf` (1: 4 KiB, 2: 2 MiB, 3: 1 GiB).
    // False (nothing written) when a large page already covers the IOVA above `leaf`.
    bool map(u64 top, unsigned levels, u64 iova, u64 pa, unsigned leaf = 1, bool r = true, bool w = true) {
        u64 table = top;
        for (unsigned l = levels; l > leaf; --l) {
            const u64 e = table + level_index(iova, l) * 8;
            const sl_entry cur{get(e)};
            if (!cur.present()) put(e, sl_entry::table(alloc()).v);
            else if (cur.ps()) return false;
            table = get(e) & mask(51, 12);
        }
        put(table + level_index(iova, leaf) * 8, sl_entry::page(pa, r, w, leaf > 1).v);
        return true;
    }
    // Address of the entry at `level` that translates iova (tables must exist down to it).
    u64 entry_at(u64 top, unsigned levels, u64 iova, unsigned level) const {
        u64 table = top;
        for (unsigned l = levels; l > level; --l) table = get(table + level_index(iova, l) * 8) & mask(51, 12);
        return table + level_index(iova, level) * 8;
    }
    u64 domain(u16 sid, u16 did, unsigned aw = 2, translation_type tt = translation_type::untranslated_only,
               bool fpd = false) {
        const u64 top = alloc();
        set_context(sid, context_entry::make(top, aw, did, tt, fpd));
        return top;
    }

    // ---- faults
    std::vector<fault_info> records() const { return unit->fault_records(); }
    void clear_records() {
        for (unsigned i = 0; i < unit->params().hw.nfr; ++i)
            if (unit->peek_reg(reg_id::FSTS) & FSTS_PPF) wr(unit->params().hw.fro + 16 * i + 8, FRCD_HI_F);
        wr(0x34, 0x7d, 4);  // every RW1C status bit
    }

    // ---- the reference
    xlate_result reference(u16 sid, u64 addr, bool write, address_type at = address_type::untranslated) const {
        const auto& hw = unit->params().hw;
        slpt_translator ref(xlate_caps::from_registers(build_cap(hw), build_ecap(hw), hw.haw));
        xlate_request req;
        req.sid = sid;
        req.addr = addr;
        req.write = write;
        req.at = at;
        return ref.translate(root, req, [this](u64 pa) -> std::optional<u64> {
            if (pa + 8 > MEM_SIZE) return std::nullopt;
            return get(pa);
        });
    }
};

} // namespace

// ---------------------------------------------------------------------------------------------------------
TEST_CASE("vtd params: every described parameter is settable by name, unknown names suggest the closest",
          "[vtd]") {
    const model_info info = vtd_unit_params_info();
    REQUIRE(info.params.size() > 60);
    vtd_unit_params p;
    for (const auto& row : info.params) {
        INFO(row.name);
        nlohmann::json v;
        if (row.type == "bool") v = row.default_value == "true";
        else if (row.type == "MHz") v = std::stod(row.default_value);
        else v = row.default_value;  // numbers as describe prints them ("0x10", "64"), policies as names
        CHECK_NOTHROW(set_vtd_unit_param(p, row.name, v, "platform.json", "/params/vtd/" + row.name));
    }
    set_vtd_unit_param(p, "iotlb_ways", 128, "f", "/w");
    set_vtd_unit_param(p, "psc_l2_policy", "fifo", "f", "/w");
    set_vtd_unit_param(p, "sllps", "0x1", "f", "/w");
    set_vtd_unit_param(p, "functional", true, "f", "/w");
    CHECK(p.iotlb.geometry.ways == 128);
    CHECK(p.psc_l2.geometry.policy == iommu::replacement_policy::fifo);
    CHECK(p.hw.sllps == 1);
    CHECK(p.timing.functional);
    try {
        set_vtd_unit_param(p, "iotlb_way", 4, "plat.json", "/params/vtd/iotlb_way");
        FAIL("an unknown name was accepted");
    } catch (const input_error& e) {
        CHECK(e.file() == "plat.json");
        CHECK(e.location() == "/params/vtd/iotlb_way");
        CHECK(e.message().find("did you mean \"iotlb_ways\"") != std::string::npos);
    }
    CHECK_THROWS_AS(set_vtd_unit_param(p, "qi", 1, "f", "/qi"), input_error);          // not a boolean
    CHECK_THROWS_AS(set_vtd_unit_param(p, "nfr", 300, "f", "/nfr"), input_error);      // out of range
    CHECK_THROWS_AS(set_vtd_unit_param(p, "iotlb_ways", 0, "f", "/x"), input_error);  // an IOTLB needs ways
    CHECK_THROWS_AS(set_vtd_unit_param(p, "iec_policy", "mru", "f", "/x"), input_error);
    CHECK_THROWS_AS(set_vtd_unit_param(p, "haw", "forty", "f", "/x"), input_error);
    vtd_unit_params bad;
    bad.hw.ir = true;
    bad.hw.qi = false;
    CHECK_THROWS_AS(bad.validate(), input_error);
}

TEST_CASE("vtd registers: reset values and write masks of every k_regs row through the TLM socket", "[vtd]") {
    vtd_unit_params p = default_params();
    bench b(p);
    const u64 cap = build_cap(p.hw), ecap = build_ecap(p.hw);
    register_file shadow(p.hw);  // presence only
    for (const auto& d : k_regs) {
        const bool frcd = d.base == reg_base::fro;
        const unsigned copies = frcd ? p.hw.nfr : 1;
        for (unsigned i = 0; i < copies; ++i) {
            const u64 o = (d.base == reg_base::iro ? p.hw.iro : d.base == reg_base::fro ? p.hw.fro + 16 * i : 0) + d.offset;
            INFO(d.name << "[" << i << "] at 0x" << std::hex << o);
            const bool present = shadow.present(d.id);
            u64 reset = d.reset;
            if (d.id == reg_id::VER) reset = p.hw.version;
            if (d.id == reg_id::CAP) reset = cap;
            if (d.id == reg_id::ECAP) reset = ecap;
            const u64 visible_reset = present ? reset & ~d.wo : 0;
            CHECK(b.rd(o, d.width) == visible_reset);
            if (d.width == 8) {  // the same value as two dwords
                CHECK((b.rd(o, 4) | (b.rd(o + 4, 4) << 32)) == visible_reset);
            }
            // Write every writable bit except the command bits whose side effects would change the readback
            // (they are tested on their own below), then read back through the mask.
            if (d.id == reg_id::GCMD) continue;
            u64 ones = d.width == 8 ? ~u64(0) : 0xffffffffull;
            if (d.id == reg_id::CCMD) ones &= ~CCMD_ICC;
            if (d.id == reg_id::IOTLB) ones &= ~IOTLB_IVT;
            b.wr(o, ones, d.width);
            const u64 expect = present ? (((reset & ~d.rw) | (ones & d.rw)) & ~d.w1c & ~d.wo) : 0;
            CHECK(b.rd(o, d.width) == expect);
        }
    }
    // Outside the window: an address error; a misaligned access reads 0.
    unsigned char buf[4];
    tlm::tlm_generic_payload gp;
    tlmx::init_payload(gp, tlm::TLM_READ_COMMAND, REG_BASE + b.unit->reg_size(), buf, 4);
    sc_time d = sc_core::SC_ZERO_TIME;
    b.cpu->regs->b_transport(gp, d);
    CHECK(gp.get_response_status() == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    CHECK(b.rd(0x9, 4) == 0);
}

TEST_CASE("vtd GCMD/GSTS: SRTP latches RTADDR, TE, QIE, SIRTP, IRE, CFI, WBF, several commands in one write",
          "[vtd]") {
    bench b;
    CHECK(b.reg(reg_id::GSTS) == 0);
    b.set_reg(reg_id::RTADDR, 0x123000);
    CHECK(b.unit->active_root_table() == 0);  // not before SRTP
    b.command(GCMD_SRTP);
    CHECK(b.unit->active_root_table() == 0x123000);
    CHECK(b.reg(reg_id::GSTS) == GSTS_RTPS);
    CHECK(b.reg(reg_id::GCMD) == 0);  // write-only
    b.command(GCMD_TE);
    CHECK(b.reg(reg_id::GSTS) == (GSTS_RTPS | GSTS_TES));
    b.set_reg(reg_id::RTADDR, 0x456000);
    CHECK(b.unit->active_root_table() == 0x123000);  // RTADDR alone changes nothing
    b.command(GCMD_SRTP);
    CHECK(b.unit->active_root_table() == 0x456000);
    b.command(GCMD_QIE);
    CHECK(b.reg(reg_id::GSTS) == (GSTS_RTPS | GSTS_TES | GSTS_QIES));
    b.set_reg(reg_id::IRTA, 0x789000 | IRTA_EIME | 7);
    b.command(GCMD_SIRTP);
    CHECK(b.unit->active_irta() == (0x789000 | IRTA_EIME | 7));
    b.command(GCMD_IRE);
    b.command(GCMD_CFI);
    CHECK(b.reg(reg_id::GSTS) ==
          (GSTS_RTPS | GSTS_TES | GSTS_QIES | GSTS_IRTPS | GSTS_IRES | GSTS_CFIS));
    b.command(GCMD_WBF);
    CHECK((b.reg(reg_id::GSTS) & GSTS_WBFS) == 0);  // flushed at once
    b.command(GCMD_TE, false);
    b.command(GCMD_CFI, false);
    CHECK(b.reg(reg_id::GSTS) == (GSTS_RTPS | GSTS_QIES | GSTS_IRTPS | GSTS_IRES));
    // Several changes in one write: each is performed (QEMU's behaviour; the spec leaves it undefined).
    b.wr(0x18, GCMD_TE | GCMD_CFI, 4);  // TE on, CFI on, QIE off, IRE off
    CHECK(b.reg(reg_id::GSTS) == (GSTS_RTPS | GSTS_IRTPS | GSTS_TES | GSTS_CFIS));
}

TEST_CASE("vtd translation: 3-, 4- and 5-level tables, 2 MiB and 1 GiB pages, read and write data", "[vtd]") {
    vtd_unit_params p = default_params();
    p.hw.sagaw = SAGAW_39_BIT | SAGAW_48_BIT | SAGAW_57_BIT;
    p.hw.mgaw = 57;
    bench b(p);
    struct mapping {
        u16 sid;
        unsigned aw, leaf;
        u64 iova, pa;
    };
    const std::vector<mapping> maps = {
        {0x0100, 1, 1, 0x12345000, 0x200000000},    // 3-level, 4 KiB
        {0x0208, 2, 1, 0x7f1234567000, 0x300001000}, // 4-level, 4 KiB
        {0x0310, 3, 1, 0x1f0001234567000, 0x300002000}, // 5-level, 4 KiB (above 48 bits)
        {0x0100, 1, 2, 0x40200000, 0x400200000},    // 2 MiB
        {0x0208, 2, 3, 0x80000000, 0x840000000},    // 1 GiB
    };
    std::map<u16, u64> tops;
    u16 did = 1;
    for (const auto& m : maps) {
        if (!tops.count(m.sid)) tops[m.sid] = b.domain(m.sid, did++, m.aw);
        b.map(tops[m.sid], m.aw + 2, m.iova, m.pa, m.leaf);
    }
    b.enable_translation();
    for (const auto& m : maps) {
        INFO("iova 0x" << std::hex << m.iova);
        const u64 off = m.leaf == 1 ? 0x124 : m.leaf == 2 ? 0x1f0124 : 0x3ff00124;
        b.mem->write_le(m.pa + off, 4, 0xa5000000 | m.sid);
        u32 v = 0;
        CHECK(b.read32(m.sid, m.iova + off, v) == tlm::TLM_OK_RESPONSE);
        CHECK(v == (0xa5000000 | m.sid));
        CHECK(b.write32(m.sid, m.iova + off + 4, 0x5a5a0000 | m.sid) == tlm::TLM_OK_RESPONSE);
        CHECK(b.mem->read_le(m.pa + off + 4, 4) == (0x5a5a0000 | m.sid));
        const auto ref = b.reference(m.sid, m.iova + off, false);
        REQUIRE(ref.ok());
        CHECK(ref.addr == m.pa + off);
    }
    CHECK(b.records().empty());
    const auto& s = b.unit->stats();
    CHECK(s.translated == 2 * maps.size());
    CHECK(s.iotlb_hits == maps.size());  // every write hit the read's entry
    CHECK(s.iotlb_large.fills == 2);     // the 2 MiB and the 1 GiB page
}

TEST_CASE("vtd pass-through: TE off, TT pass-through, translated requests per TT", "[vtd]") {
    vtd_unit_params p = default_params();
    p.hw.dt = true;  // TT = 01b (device-TLB) is valid
    bench b(p);
    b.mem->write_le(0x5000000, 4, 0x11111111);
    u32 v = 0;
    // TE off: untranslated, whatever the tables say (there are none).
    CHECK(b.read32(0x0100, 0x5000000, v) == tlm::TLM_OK_RESPONSE);
    CHECK(v == 0x11111111);
    b.domain(0x0100, 1, 2, translation_type::pass_through);
    const u64 top = b.domain(0x0200, 2, 2, translation_type::device_tlb);
    b.map(top, 4, 0x1000, 0x7000000);
    b.domain(0x0300, 3, 2, translation_type::untranslated_only);
    b.enable_translation();
    CHECK(b.read32(0x0100, 0x5000000, v) == tlm::TLM_OK_RESPONSE);  // TT = 10b
    CHECK(v == 0x11111111);
    CHECK(b.read32(0x0200, 0x5000000, v, tlmx::address_type::translated) == tlm::TLM_OK_RESPONSE);  // TT = 01b
    CHECK(v == 0x11111111);
    b.mem->write_le(0x7000010, 4, 0x22222222);
    CHECK(b.read32(0x0200, 0x1010, v) == tlm::TLM_OK_RESPONSE);  // untranslated under TT = 01b: translated
    CHECK(v == 0x22222222);
    // A translation request (ATS) under TT = 01b: the completion carries the page and its rights.
    unsigned char c[8] = {};
    CHECK(b.dma(0x0200, 0x1010, false, c, 8, tlmx::address_type::translation_request).status == tlm::TLM_OK_RESPONSE);
    CHECK(tlmx::get_le(c, 8) == (0x7000000 | 3));
    CHECK(b.dma(0x0200, 0x9000, false, c, 8, tlmx::address_type::translation_request).status == tlm::TLM_OK_RESPONSE);
    CHECK((tlmx::get_le(c, 8) & 3) == 0);  // not mapped: R = W = 0, no fault
    CHECK(b.records().empty());
    // Translated requests under TT = 00b and TT = 10b are blocked (Dh).
    CHECK(b.read32(0x0300, 0x5000000, v, tlmx::address_type::translated) == tlm::TLM_COMMAND_ERROR_RESPONSE);
    CHECK(b.read32(0x0100, 0x5000000, v, tlmx::address_type::translated) == tlm::TLM_COMMAND_ERROR_RESPONSE);
    const auto r = b.records();
    REQUIRE(r.size() == 2);
    CHECK(r[0].reason == fault_reason::translation_type_blocked);
    CHECK(r[0].sid == 0x0300);
    CHECK(r[0].at == 2);
    CHECK(r[1].sid == 0x0100);
    const auto& s = b.unit->stats();
    CHECK(s.passed_through == 3);
    CHECK(s.translation_requests == 2);
}

TEST_CASE("vtd faults: every DMA fault reason 1h-Dh recorded with SID, FI, T and FR, as the reference says",
          "[vtd]") {
    bench b;
    struct scenario {
        fault_reason want;
        u16 sid;
        u64 addr;
        bool write;
        tlmx::address_type at = tlmx::address_type::untranslated;
    };
    std::vector<scenario> cases;
    // 1h: no root entry for bus 0x20.
    cases.push_back({fault_reason::root_entry_not_present, 0x2000, 0x1000, false});
    // 2h: bus 0x21 has a context table, devfn 8 has no entry.
    b.domain(0x2100, 1);
    cases.push_back({fault_reason::context_entry_not_present, 0x2108, 0x1000, true});
    // 3h: AW = 3 (57-bit) not in SAGAW (0x6).
    b.domain(0x2200, 2, 3);
    cases.push_back({fault_reason::context_entry_invalid, 0x2200, 0x1000, false});
    // 4h: 2^39 and above under AW = 1.
    b.domain(0x2300, 3, 1);
    cases.push_back({fault_reason::address_beyond_agaw, 0x2300, u64(1) << 39, false});
    // 5h / 6h: read-only and write-only pages.
    const u64 top = b.domain(0x2400, 4);
    b.map(top, 4, 0x10000, 0x900000, 1, true, false);
    b.map(top, 4, 0x11000, 0x901000, 1, false, true);
    cases.push_back({fault_reason::write_not_allowed, 0x2400, 0x10008, true});
    cases.push_back({fault_reason::read_not_allowed, 0x2400, 0x11008, false});
    // 7h: the leaf table lies beyond memory.
    b.put(b.entry_at(top, 4, 0x200000, 2) , sl_entry::table(BEYOND).v);
    cases.push_back({fault_reason::paging_entry_access_error, 0x2400, 0x200000, false});
    // 9h: the context table of bus 0x25 lies beyond memory; Ah: reserved bit in the root entry of bus 0x26.
    b.put(b.root + 0x25 * 16, root_entry::make(BEYOND).lo);
    cases.push_back({fault_reason::context_table_access_error, 0x2500, 0x1000, false});
    b.put(b.root + 0x26 * 16, root_entry::make(b.alloc()).lo | (1u << 5));
    cases.push_back({fault_reason::root_entry_reserved, 0x2600, 0x1000, false});
    // Bh: reserved bit 5 (within 11:4) of a context entry.
    auto ce = context_entry::make(b.alloc(), 2, 7, translation_type::untranslated_only);
    ce.lo |= 1u << 5;
    b.set_context(0x2700, ce);
    cases.push_back({fault_reason::context_entry_reserved, 0x2700, 0x1000, false});
    // Ch: SNP (bit 11) set in a leaf without ECAP.SC.
    b.map(top, 4, 0x12000, 0x902000);
    b.put(b.entry_at(top, 4, 0x12000, 1), b.get(b.entry_at(top, 4, 0x12000, 1)) | (1u << 11));
    cases.push_back({fault_reason::paging_entry_reserved, 0x2400, 0x12000, false});
    // Dh: a translated request under TT = 00b.
    cases.push_back({fault_reason::translation_type_blocked, 0x2400, 0x10000, false, tlmx::address_type::translated});
    b.enable_translation();
    for (const auto& c : cases) {
        INFO("fault reason 0x" << std::hex << unsigned(c.want));
        const auto ref = b.reference(c.sid, c.addr, c.write, static_cast<address_type>(c.at));
        CHECK(ref.fault == c.want);
        u32 v = 0;
        const auto st = c.write ? b.write32(c.sid, c.addr, 1, c.at) : b.read32(c.sid, c.addr, v, c.at);
        CHECK(st == tlm::TLM_COMMAND_ERROR_RESPONSE);
        const auto r = b.records();
        REQUIRE(r.size() == 1);
        CHECK(r[0].reason == c.want);
        CHECK(r[0].sid == c.sid);
        CHECK(r[0].addr == (c.addr & ~0xfffull));
        CHECK(r[0].write == c.write);
        CHECK(r[0].at == unsigned(c.at));
        b.clear_records();
        CHECK(b.records().empty());
    }
    // 8h last: the root table itself beyond memory.
    b.set_reg(reg_id::RTADDR, BEYOND);
    b.command(GCMD_SRTP);
    u32 v = 0;
    CHECK(b.read32(0x3000, 0x1000, v) == tlm::TLM_COMMAND_ERROR_RESPONSE);
    const auto r = b.records();
    REQUIRE(r.size() == 1);
    CHECK(r[0].reason == fault_reason::root_table_access_error);
    // The record as software reads it: FRCD_HI.FR and SID at the record index the logger used.
    const unsigned idx = unsigned((b.unit->peek_reg(reg_id::FSTS) & FSTS_FRI) >> FSTS_FRI_SHIFT);
    const u64 hi = b.rd(b.unit->params().hw.fro + 16 * idx + 8);
    CHECK(bits(hi, 39, 32) == 0x08);
    CHECK(bits(hi, 15, 0) == 0x3000);
    CHECK((hi & FRCD_HI_F) != 0);
    CHECK(b.unit->stats().faults_recorded == cases.size() + 1);
}

TEST_CASE("vtd fault events: message to FEADDR with FEDATA, FPD suppression, IM masking with IP, PFO overflow",
          "[vtd]") {
    vtd_unit_params p = default_params();
    p.hw.nfr = 2;
    bench b(p);
    b.domain(0x0100, 1);                                        // nothing mapped: reads fault 6h
    b.domain(0x0200, 2, 2, translation_type::untranslated_only, true);  // FPD set
    b.enable_translation();
    b.set_reg(reg_id::FEADDR, 0xfee01000);
    b.set_reg(reg_id::FEUADDR, 0);
    b.set_reg(reg_id::FEDATA, 0x41);
    b.set_reg(reg_id::FECTL, 0);  // unmask
    u32 v;
    // FPD: not recorded, no event.
    CHECK(b.read32(0x0200, 0x1000, v) == tlm::TLM_COMMAND_ERROR_RESPONSE);
    CHECK(b.records().empty());
    CHECK(b.irq->got.empty());
    CHECK(b.unit->stats().faults_suppressed_fpd == 1);
    // First fault: record 0 and one fault event.
    CHECK(b.read32(0x0100, 0x1000, v) == tlm::TLM_COMMAND_ERROR_RESPONSE);
    REQUIRE(b.irq->got.size() == 1);
    CHECK(b.irq->got[0].address == 0xfee01000);
    CHECK(b.irq->got[0].data == 0x41);
    CHECK((b.reg(reg_id::FSTS) & FSTS_PPF) != 0);
    // Second: record 1, no new event while PPF is pending.
    CHECK(b.read32(0x0100, 0x2000, v) == tlm::TLM_COMMAND_ERROR_RESPONSE);
    CHECK(b.irq->got.size() == 1);
    CHECK(b.records().size() == 2);
    // Third: the record at the hardware index is in use: PFO, nothing recorded.
    CHECK(b.read32(0x0100, 0x3000, v) == tlm::TLM_COMMAND_ERROR_RESPONSE);
    CHECK((b.reg(reg_id::FSTS) & FSTS_PFO) != 0);
    CHECK(b.records().size() == 2);
    CHECK(b.unit->stats().faults_overflow == 1);
    // Software clears both records and PFO: PPF drops.
    b.clear_records();
    CHECK((b.reg(reg_id::FSTS) & (FSTS_PPF | FSTS_PFO)) == 0);
    // Masked: IP holds the event until IM is cleared.
    b.set_reg(reg_id::FECTL, ECTL_IM);
    CHECK(b.read32(0x0100, 0x4000, v) == tlm::TLM_COMMAND_ERROR_RESPONSE);
    CHECK(b.irq->got.size() == 1);
    CHECK(b.reg(reg_id::FECTL) == (ECTL_IM | ECTL_IP));
    b.set_reg(reg_id::FECTL, 0);
    REQUIRE(b.irq->got.size() == 2);
    CHECK(b.irq->got[1].data == 0x41);
    CHECK(b.reg(reg_id::FECTL) == 0);
}

namespace {
// A domain with one 4 KiB mapping at IOVA 0x40201000 through a 4-level table, for the cache tests.
struct cache_bench : bench {
    u64 top = 0;
    static constexpr u64 IOVA = 0x40201000;
    explicit cache_bench(const vtd_unit_params& p = default_params(), double mem_latency_ns = 80)
        : bench(p, mem_latency_ns) {
        top = domain(0x0100, 5);
        // The next function shares the domain (same DID, same table).
        set_context(0x0101, context_entry::make(top, 2, 5, translation_type::untranslated_only));
        map(top, 4, IOVA, 0x1000000);
        mem->write_le(0x1000000, 4, 0xaaaa0001);
        mem->write_le(0x2000000, 4, 0xbbbb0002);
        mem->write_le(0x3000000, 4, 0xcccc0003);
        enable_translation();
    }
    u32 value(u16 sid = 0x0100) {
        u32 v = 0;
        REQUIRE(read32(sid, IOVA, v) == tlm::TLM_OK_RESPONSE);
        return v;
    }
    void remap_leaf(u64 pa) { put(entry_at(top, 4, IOVA, 1), sl_entry::page(pa, true, true).v); }
    // A new leaf table for the 2 MiB region, reached through a changed SL-PDE.
    void remap_pde(u64 pa) {
        const u64 lt = alloc();
        put(lt + level_index(IOVA, 1) * 8, sl_entry::page(pa, true, true).v);
        put(entry_at(top, 4, IOVA, 2), sl_entry::table(lt).v);
    }
    void iotlb_reg(unsigned g, u16 did, u64 addr = 0, unsigned am = 0, bool ih = false) {
        wr(unit->params().hw.iro, addr | (ih ? IVA_IH : 0) | am);
        wr(unit->params().hw.iro + 8, IOTLB_IVT | (u64(g) << IOTLB_IIRG_SHIFT) | (u64(did) << IOTLB_DID_SHIFT));
    }
    void ccmd_reg(unsigned g, u16 did, u16 sid = 0, unsigned fm = 0) {
        wr(0x28, CCMD_ICC | (u64(g) << CCMD_CIRG_SHIFT) | (u64(fm) << CCMD_FM_SHIFT) | (u64(sid) << CCMD_SID_SHIFT) | did);
    }
};
} // namespace

TEST_CASE("vtd caches (registers): IOTLB, PSC and context cache stay stale until invalidated at each granularity",
          "[vtd]") {
    cache_bench b;
    CHECK(b.value() == 0xaaaa0001);
    auto s = b.unit->stats();
    CHECK(s.iotlb.misses == 1);
    CHECK(s.context_cache.misses == 1);
    CHECK(b.value() == 0xaaaa0001);
    s = b.unit->stats();
    CHECK(s.iotlb.hits == 1);
    CHECK(s.context_cache.hits == 1);
    CHECK(s.page_walks == 1);

    // IOTLB page-selective (IIRG 11b): the stale entry is used until then; another page does not help.
    b.remap_leaf(0x2000000);
    CHECK(b.value() == 0xaaaa0001);
    b.iotlb_reg(3, 5, b.IOVA + 0x1000, 0);
    CHECK(bits(b.reg(reg_id::IOTLB), 58, 57) == 3);
    CHECK((b.reg(reg_id::IOTLB) & IOTLB_IVT) == 0);
    CHECK(b.value() == 0xaaaa0001);
    b.iotlb_reg(3, 6, b.IOVA, 0);  // the right page of another domain
    CHECK(b.value() == 0xaaaa0001);
    b.iotlb_reg(3, 5, b.IOVA & ~0xffffull, 4);  // AM = 4: 64 KiB around it
    CHECK(b.value() == 0xbbbb0002);

    // PSC: a changed SL-PDE. IH = 1 keeps the paging-structure caches: the old leaf table is still walked.
    b.remap_pde(0x3000000);
    b.iotlb_reg(3, 5, b.IOVA, 0, true);
    CHECK(b.value() == 0xbbbb0002);
    CHECK(b.unit->stats().walks.psc_hits >= 1);
    b.iotlb_reg(3, 5, b.IOVA, 0, false);
    CHECK(b.value() == 0xcccc0003);

    // Domain-selective and global.
    b.remap_leaf(0x1000000);  // in the new leaf table
    CHECK(b.value() == 0xcccc0003);
    b.iotlb_reg(2, 6);
    CHECK(b.value() == 0xcccc0003);
    b.iotlb_reg(2, 5);
    CHECK(bits(b.reg(reg_id::IOTLB), 58, 57) == 2);
    CHECK(b.value() == 0xaaaa0001);
    b.remap_leaf(0x2000000);
    b.iotlb_reg(1, 0);
    CHECK(bits(b.reg(reg_id::IOTLB), 58, 57) == 1);
    CHECK(b.value() == 0xbbbb0002);

    // Context cache: a new context entry (other table, other DID) is not seen until invalidated.
    const u64 top2 = b.alloc();
    b.map(top2, 4, b.IOVA, 0x3000000);
    b.set_context(0x0100, context_entry::make(top2, 2, 9, translation_type::untranslated_only));
    CHECK(b.value() == 0xbbbb0002);
    b.ccmd_reg(3, 5, 0x0108, 0);  // device-selective, another device
    CHECK(b.value() == 0xbbbb0002);
    b.ccmd_reg(3, 5, 0x0101, 1);  // FM = 01b ignores bit 2 only: 0x0101 does not cover 0x0100
    CHECK(b.value() == 0xbbbb0002);
    b.ccmd_reg(3, 5, 0x0107, 3);  // FM = 11b ignores the function: 0x0100..0x0107
    CHECK(bits(b.reg(reg_id::CCMD), 60, 59) == 3);
    CHECK((b.reg(reg_id::CCMD) & CCMD_ICC) == 0);
    CHECK(b.value() == 0xcccc0003);  // DID 9, its own table
    b.set_context(0x0100, context_entry::make(b.top, 2, 5, translation_type::untranslated_only));
    b.ccmd_reg(2, 7);
    CHECK(b.value() == 0xcccc0003);
    b.ccmd_reg(2, 9);
    CHECK(bits(b.reg(reg_id::CCMD), 60, 59) == 2);
    CHECK(b.value() == 0xbbbb0002);
    b.set_context(0x0100, context_entry::make(top2, 2, 9, translation_type::untranslated_only));
    b.ccmd_reg(1, 0);
    CHECK(bits(b.reg(reg_id::CCMD), 60, 59) == 1);
    CHECK(b.value() == 0xcccc0003);
    s = b.unit->stats();
    CHECK(s.context_cache.invalidations[size_t(iommu::inval_kind::global)] == 1);
    CHECK(s.context_cache.invalidations[size_t(iommu::inval_kind::domain)] == 2);
    CHECK(s.context_cache.invalidations[size_t(iommu::inval_kind::device)] == 3);
    CHECK(s.iotlb_invalidations == 8);
}

TEST_CASE("vtd PSI without CAP.PSI or beyond MAMV is performed domain-selective", "[vtd]") {
    vtd_unit_params p = default_params();
    p.hw.mamv = 2;
    cache_bench b(p);
    CHECK(b.value() == 0xaaaa0001);
    b.remap_leaf(0x2000000);
    b.iotlb_reg(3, 5, 0, 9);  // AM 9 > MAMV 2, far away from the IOVA
    CHECK(bits(b.reg(reg_id::IOTLB), 58, 57) == 2);
    CHECK(b.value() == 0xbbbb0002);
}

namespace {
// Queued invalidation: a 1-page queue at QBASE; descriptors are written at IQT and IQT advanced.
struct queue_bench : cache_bench {
    static constexpr u64 QBASE = 0x800000, STATUS = 0x810000;
    u32 tail = 0;
    explicit queue_bench(const vtd_unit_params& p = default_params()) : cache_bench(p) {
        set_reg(reg_id::IQA, QBASE);
        set_reg(reg_id::IQT, 0);
        command(GCMD_QIE);
        REQUIRE((reg(reg_id::GSTS) & GSTS_QIES) != 0);
    }
    void submit(std::initializer_list<inv_desc> ds) {
        for (const auto& d : ds) {
            put(QBASE + 16 * tail, d.lo);
            put(QBASE + 16 * tail + 8, d.hi);
            tail = (tail + 1) % 256;
        }
        set_reg(reg_id::IQT, u64(tail) << 4);
    }
};
} // namespace

TEST_CASE("vtd caches (queue): descriptors invalidate like the registers, wait status write and IWC event, IQE",
          "[vtd]") {
    queue_bench b;
    CHECK(b.value() == 0xaaaa0001);
    b.remap_leaf(0x2000000);
    b.submit({inv_desc::make_iotlb_page(5, b.IOVA + 0x1000, 0, false), inv_desc::make_wait(true, false, false, b.STATUS, 1)});
    CHECK(b.get(b.STATUS) == 1);
    CHECK(b.reg(reg_id::IQH) == b.reg(reg_id::IQT));
    CHECK(b.value() == 0xaaaa0001);
    b.submit({inv_desc::make_iotlb_page(5, b.IOVA, 0, false), inv_desc::make_wait(true, false, false, b.STATUS, 2)});
    CHECK(b.get(b.STATUS) == 2);
    CHECK(b.value() == 0xbbbb0002);
    // PSC with IH through the queue.
    b.remap_pde(0x3000000);
    b.submit({inv_desc::make_iotlb_page(5, b.IOVA, 0, true)});
    CHECK(b.value() == 0xbbbb0002);
    b.submit({inv_desc::make_iotlb_domain(5)});
    CHECK(b.value() == 0xcccc0003);
    // Context cache: device-selective with FM, domain, global.
    const u64 top2 = b.alloc();
    b.map(top2, 4, b.IOVA, 0x1000000);
    b.set_context(0x0100, context_entry::make(top2, 2, 9, translation_type::untranslated_only));
    b.submit({inv_desc::make_cc_device(5, 0x0108, 0)});
    CHECK(b.value() == 0xcccc0003);
    b.submit({inv_desc::make_cc_device(5, 0x0105, 3)});
    CHECK(b.value() == 0xaaaa0001);
    b.set_context(0x0100, context_entry::make(b.top, 2, 5, translation_type::untranslated_only));
    b.submit({inv_desc::make_cc_domain(9)});
    CHECK(b.value() == 0xcccc0003);
    b.set_context(0x0100, context_entry::make(top2, 2, 9, translation_type::untranslated_only));
    b.submit({inv_desc::make_cc_global(), inv_desc::make_iotlb_global()});
    CHECK(b.value() == 0xaaaa0001);
    // Register-based invalidation is ignored while QI is on: CAIG reads 00b and nothing is invalidated.
    b.set_context(0x0100, context_entry::make(b.top, 2, 5, translation_type::untranslated_only));
    b.ccmd_reg(1, 0);
    CHECK(bits(b.reg(reg_id::CCMD), 60, 59) == 0);
    CHECK(b.value() == 0xaaaa0001);

    // Wait with IF: ICS.IWC and the completion event to IEADDR with IEDATA.
    b.set_reg(reg_id::IEADDR, 0xfee02000);
    b.set_reg(reg_id::IEDATA, 0x52);
    b.set_reg(reg_id::IECTL, 0);
    b.submit({inv_desc::make_wait(false, true, false)});
    CHECK((b.reg(reg_id::ICS) & ICS_IWC) != 0);
    REQUIRE(b.irq->got.size() == 1);
    CHECK(b.irq->got[0].address == 0xfee02000);
    CHECK(b.irq->got[0].data == 0x52);
    b.set_reg(reg_id::ICS, ICS_IWC);
    CHECK(b.reg(reg_id::ICS) == 0);

    // A bad descriptor: IQE, IQH left on it, a fault event; fixed and IQE cleared, the queue resumes.
    b.set_reg(reg_id::FEADDR, 0xfee03000);
    b.set_reg(reg_id::FEDATA, 0x63);
    b.set_reg(reg_id::FECTL, 0);
    const u32 bad = b.tail;
    b.submit({inv_desc::make_typed(0xf), inv_desc::make_wait(true, false, false, b.STATUS, 3)});
    CHECK((b.reg(reg_id::FSTS) & FSTS_IQE) != 0);
    CHECK(b.reg(reg_id::IQH) == u64(bad) << 4);
    CHECK(b.get(b.STATUS) == 2);
    REQUIRE(b.irq->got.size() == 2);
    CHECK(b.irq->got[1].address == 0xfee03000);
    CHECK(b.irq->got[1].data == 0x63);
    const auto fixed = inv_desc::make_iotlb_global();
    b.put(b.QBASE + 16 * bad, fixed.lo);
    b.put(b.QBASE + 16 * bad + 8, fixed.hi);
    b.set_reg(reg_id::FSTS, FSTS_IQE);
    CHECK((b.reg(reg_id::FSTS) & FSTS_IQE) == 0);
    CHECK(b.get(b.STATUS) == 3);
    CHECK(b.reg(reg_id::IQH) == b.reg(reg_id::IQT));
    const auto& s = b.unit->stats();
    CHECK(s.queue_errors == 1);
    CHECK(s.wait_status_writes == 3);
    CHECK(s.iotlb.invalidations[size_t(iommu::inval_kind::range)] == 3);
}

TEST_CASE("vtd interrupt remapping: remapped, blocked with a fault record, compatibility format with CFI, IEC",
          "[vtd]") {
    vtd_unit_params p = default_params();
    bench b(p);
    const u64 irt = 0x700000;
    b.set_reg(reg_id::IRTA, irt | IRTA_EIME | 7);  // 256 entries, x2APIC destinations
    b.command(GCMD_SIRTP);
    b.set_reg(reg_id::IQA, 0x800000);
    b.command(GCMD_QIE);
    const auto e5 = irte::make_remapped(0x31, 0x12).with_source(irte_svt::sid_sq, 0, 0x0100);
    b.put(irt + 5 * 16, e5.lo);
    b.put(irt + 5 * 16 + 8, e5.hi);
    const u64 remappable = interrupt_remapper::remappable_address(5, false);
    // IR disabled: the request passes unchanged.
    CHECK(b.write32(0x0100, remappable, 0) == tlm::TLM_OK_RESPONSE);
    REQUIRE(b.irq->got.size() == 1);
    CHECK(b.irq->got[0].address == remappable);
    b.command(GCMD_IRE);
    // Remapped: the message rebuilt from the IRTE.
    CHECK(b.write32(0x0100, remappable, 0) == tlm::TLM_OK_RESPONSE);
    CHECK(b.records().empty());
    REQUIRE(b.irq->got.size() == 2);
    const auto want = interrupt_remapper::message_from_irte(e5, true);
    CHECK(b.irq->got[1].address == want.address);
    CHECK(b.irq->got[1].data == want.data);
    CHECK((want.data & 0xff) == 0x31);
    // Blocked by source-id verification (26h): dropped, acknowledged, recorded with the index in FI.
    CHECK(b.write32(0x0200, remappable, 0) == tlm::TLM_OK_RESPONSE);
    CHECK(b.irq->got.size() == 2);
    auto r = b.records();
    REQUIRE(r.size() == 1);
    CHECK(r[0].reason == fault_reason::ir_source_id_blocked);
    CHECK(r[0].sid == 0x0200);
    CHECK(r[0].addr == (u64(5) << 48));
    b.clear_records();
    // Not present (22h).
    CHECK(b.write32(0x0100, interrupt_remapper::remappable_address(6, false), 0) == tlm::TLM_OK_RESPONSE);
    r = b.records();
    REQUIRE(r.size() == 1);
    CHECK(r[0].reason == fault_reason::ir_irte_not_present);
    b.clear_records();
    // Compatibility format: blocked (25h) with CFIS clear... EIME set blocks it regardless, so use xAPIC mode.
    b.set_reg(reg_id::IRTA, irt | 7);
    b.command(GCMD_SIRTP);
    const u64 compat = msi_address::make_compat(3).v;
    CHECK(b.write32(0x0100, compat, 0x41) == tlm::TLM_OK_RESPONSE);
    r = b.records();
    REQUIRE(r.size() == 1);
    CHECK(r[0].reason == fault_reason::ir_compat_blocked);
    b.clear_records();
    b.command(GCMD_CFI);
    CHECK(b.write32(0x0100, compat, 0x41) == tlm::TLM_OK_RESPONSE);
    REQUIRE(b.irq->got.size() == 3);
    CHECK(b.irq->got[2].address == compat);
    CHECK(b.irq->got[2].data == 0x41);
    // IEC: entry 5 was cached; a new IRTE is not seen until an IEC invalidation.
    b.set_reg(reg_id::IRTA, irt | IRTA_EIME | 7);
    b.command(GCMD_SIRTP);
    const auto e5b = irte::make_remapped(0x44, 0x34).with_source(irte_svt::sid_sq, 0, 0x0100);
    b.put(irt + 5 * 16, e5b.lo);
    b.put(irt + 5 * 16 + 8, e5b.hi);
    CHECK(b.write32(0x0100, remappable, 0) == tlm::TLM_OK_RESPONSE);
    CHECK(b.irq->got.back().data == want.data);
    b.put(0x800000, inv_desc::make_iec_index(4, 2).lo);  // indexes 4..7
    b.put(0x800008, inv_desc::make_iec_index(4, 2).hi);
    b.set_reg(reg_id::IQT, 1 << 4);
    CHECK(b.write32(0x0100, remappable, 0) == tlm::TLM_OK_RESPONSE);
    CHECK(b.irq->got.back().data == interrupt_remapper::message_from_irte(e5b, true).data);
    // A read of the interrupt range is an error, not an interrupt.
    u32 v = 0;
    CHECK(b.read32(0x0100, remappable, v) == tlm::TLM_COMMAND_ERROR_RESPONSE);
    const auto& s = b.unit->stats();
    CHECK(s.interrupts_remapped == 3);
    CHECK(s.interrupts_blocked == 3);
    CHECK(s.interrupts_passed == 2);
    CHECK(s.iec.hits >= 2);
    CHECK(s.iec_invalidations == 1);
}

TEST_CASE("vtd split: a request crossing a page boundary is translated page by page", "[vtd]") {
    bench b;
    const u64 top = b.domain(0x0100, 1);
    b.map(top, 4, 0x10000, 0x5000000);
    b.map(top, 4, 0x11000, 0x6000000);  // not contiguous with the first page
    b.enable_translation();
    unsigned char data[16];
    for (unsigned i = 0; i < 16; ++i) data[i] = u8(0x10 + i);
    CHECK(b.dma(0x0100, 0x10ff8, true, data, 16).status == tlm::TLM_OK_RESPONSE);
    CHECK(b.mem->read_le(0x5000ff8, 8) == 0x1716151413121110ull);
    CHECK(b.mem->read_le(0x6000000, 8) == 0x1f1e1d1c1b1a1918ull);
    unsigned char back[16] = {};
    CHECK(b.dma(0x0100, 0x10ff8, false, back, 16).status == tlm::TLM_OK_RESPONSE);
    CHECK(std::equal(data, data + 16, back));
    // The second page unmapped: the first part is done, the request fails, the fault names the second page.
    CHECK(b.dma(0x0100, 0x11ff8, true, data, 16).status == tlm::TLM_COMMAND_ERROR_RESPONSE);
    CHECK(b.mem->read_le(0x6000ff8, 8) == 0x1716151413121110ull);
    const auto r = b.records();
    REQUIRE(r.size() == 1);
    CHECK(r[0].addr == 0x12000);
    CHECK(r[0].reason == fault_reason::write_not_allowed);
}

TEST_CASE("vtd timing: walk time is memory time, a hit costs less than a miss, PSC hits and invalidation cost",
          "[vtd]") {
    const double L = 80;  // ns, memory latency
    {
        vtd_unit_params p = default_params();
        p.timing.clock_mhz = 1000;  // 1 ns cycles
        cache_bench b(p);
        auto ns = [](const sc_time& t) { return double(iommu::xlate_engine::to_ps(t)) / 1000; };
        unsigned char buf[4];
        const auto miss = b.dma(0x0100, b.IOVA, false, buf, 4).delay;
        const auto hit = b.dma(0x0100, b.IOVA, false, buf, 4).delay;
        // Hit: context-cache lookup + IOTLB lookup + the forwarded access.
        const double cc = p.context_cache.lookup_cycles, tlb = p.iotlb.lookup_cycles;
        CHECK(ns(hit) == Approx(cc + tlb + L).margin(0.05));
        // Miss: context-cache lookup, root and context entry reads, IOTLB lookup, PSC probe, four table reads,
        // the access.
        CHECK(ns(miss) == Approx(cc + 2 * L + tlb + p.timing.psc_lookup_cycles + 4 * L + L).margin(0.05));
        CHECK(miss > hit);
        // Another device of the same domain: context miss (root + context entry reads), IOTLB hit.
        const auto ctx_miss = b.dma(0x0101, b.IOVA, false, buf, 4).delay;
        CHECK(ns(ctx_miss) == Approx(cc + 2 * L + tlb + L).margin(0.05));
        // A register access costs reg_access_cycles.
        b.reg(reg_id::GSTS);
        CHECK(ns(b.last_delay) == Approx(p.reg_access_cycles).margin(0.01));
        // The PSC: after a page-selective invalidation with IH the walk reads only the leaf.
        b.iotlb_reg(3, 5, b.IOVA, 0, true);
        const auto psc_hit = b.dma(0x0100, b.IOVA, false, buf, 4).delay;
        CHECK(ns(psc_hit) == Approx(cc + tlb + p.timing.psc_lookup_cycles + L + L).margin(0.05));
        CHECK(b.unit->stats().walks.psc_hits == 1);
        // Invalidation costs inval_cycles.
        b.iotlb_reg(1, 0);
        CHECK(ns(b.last_delay) == Approx(p.reg_access_cycles + p.inval_cycles).margin(0.05));
    }
}

TEST_CASE("vtd timing: functional mode adds zero delay", "[vtd]") {
    vtd_unit_params p = default_params();
    p.timing.functional = true;
    cache_bench b(p, 0);  // memory without latency: any delay would be the unit's
    unsigned char buf[4];
    CHECK(b.dma(0x0100, b.IOVA, false, buf, 4).delay == sc_core::SC_ZERO_TIME);
    CHECK(tlmx::get_le(buf, 4) == 0xaaaa0001);
    CHECK(b.dma(0x0100, b.IOVA, false, buf, 4).delay == sc_core::SC_ZERO_TIME);
    b.reg(reg_id::GSTS);
    CHECK(b.last_delay == sc_core::SC_ZERO_TIME);
    b.iotlb_reg(1, 0);
    CHECK(b.last_delay == sc_core::SC_ZERO_TIME);
    CHECK(b.unit->stats().iotlb.hits == 1);
}

TEST_CASE("vtd cross-check: random tables and requests give the reference's translation or fault", "[vtd]") {
    vtd_unit_params p = default_params();
    p.hw.sagaw = SAGAW_39_BIT | SAGAW_48_BIT | SAGAW_57_BIT;
    p.hw.mgaw = 57;
    p.hw.nfr = 4;
    p.iotlb.geometry.ways = 16;  // small caches: evictions and refills during the run
    p.psc_l2.geometry.ways = 4;
    p.context_cache.geometry.ways = 4;
    bench b(p);
    std::mt19937_64 rng(20240611);
    auto pick = [&](u64 n) { return rng() % n; };
    struct dev {
        u16 sid;
        unsigned levels;
        std::vector<u64> iovas;
    };
    std::vector<dev> devs;
    const u64 base_pa = 0x100000000;
    for (unsigned d = 0; d < 8; ++d) {
        const u16 sid = u16(((d + 1) << 8) | (d * 9));
        const unsigned aw = 1 + unsigned(pick(3));
        const u64 top = b.domain(sid, u16(10 + d), aw);
        dev dv{sid, aw + 2, {}};
        const unsigned bits = agaw_bits(aw);
        for (unsigned m = 0; m < 24; ++m) {
            const unsigned leaf = 1 + unsigned(pick(3));  // 4K, 2M, 1G
            const u64 size = level_page_size(leaf);
            // Clustered IOVAs so that upper-level tables are shared; outputs anywhere in [4 GiB, 36 GiB)
            // (pages may alias: each read writes its marker first).
            const u64 iova = ((pick(2) ? rng() : (rng() & 0x3fffffff) | (u64(d) << 33)) & ((u64(1) << bits) - 1)) &
                             ~(size - 1);
            const u64 pa = (base_pa + pick(u64(32) << 30)) & ~(size - 1);
            const unsigned perm = unsigned(pick(4));  // 0: not present
            if (!b.map(top, dv.levels, iova, pa, leaf, perm & 1, perm & 2)) continue;
            // Sometimes a reserved bit in the leaf.
            if (pick(10) == 0) {
                const u64 e = b.entry_at(top, dv.levels, iova, leaf);
                b.put(e, b.get(e) | (u64(1) << 62));
            }
            dv.iovas.push_back(iova);
        }
        devs.push_back(dv);
    }
    b.enable_translation();
    unsigned ok = 0, faults = 0;
    for (unsigned i = 0; i < 3000; ++i) {
        const dev& dv = devs[pick(devs.size())];
        const u16 sid = pick(20) == 0 ? u16(0x3000 + pick(4)) : dv.sid;  // sometimes an absent device
        u64 addr = dv.iovas[pick(dv.iovas.size())] + (pick(pick(3) ? 0x1000 : 1u << 21) & ~3ull);
        if (pick(20) == 0) addr = rng() & ((u64(1) << 58) - 4);
        const bool write = pick(2);
        const auto ref = b.reference(sid, addr, write);
        INFO("request " << i << " sid 0x" << std::hex << sid << " addr 0x" << addr << (write ? " write" : " read"));
        const u32 marker = u32(rng());
        if (ref.ok() && !write) b.mem->write_le(ref.addr, 4, marker);
        u32 v = 0;
        const auto st = write ? b.write32(sid, addr, marker) : b.read32(sid, addr, v);
        if (ref.ok()) {
            ++ok;
            REQUIRE(st == tlm::TLM_OK_RESPONSE);
            if (write) REQUIRE(b.mem->read_le(ref.addr, 4) == marker);
            else REQUIRE(v == marker);
            REQUIRE(b.records().empty());
        } else {
            ++faults;
            REQUIRE(st == tlm::TLM_COMMAND_ERROR_RESPONSE);
            const auto r = b.records();
            REQUIRE(r.size() == 1);
            REQUIRE(r[0].reason == ref.fault);
            REQUIRE(r[0].addr == (addr & ~0xfffull));
            b.clear_records();
        }
    }
    CHECK(ok > 500);
    CHECK(faults > 500);
    const auto& s = b.unit->stats();
    CHECK(s.iotlb.hits > 0);
    CHECK(s.iotlb.evictions > 0);
    CHECK(s.walks.psc_hits > 0);
}

// Testbench of the PHB IOMMU (models/iommu/tce/tlm): phb_iommu + system_memory behind an address_router
// (for `out` and `engine.mem`), an MSI sink, and a test initiator that builds real TCE tables in memory
// the way Linux powernv does (tce_table over the memory), programs the PHB through its firmware (OPAL)
// interface and the TCE Kill register, and issues DMA with a pci_extension on `dma`. Expectations come
// from the tables the test wrote and from tce_translator (the uncached reference), never from the unit.
// CTest runs each TEST_CASE in its own process (one elaboration each).
#include "models/iommu/tce/tce_table.h"
#include "models/iommu/tce/tce_xlate.h"
#include "models/iommu/tce/tlm/phb_iommu.h"
#include "sim/memory/system_memory.h"
#include "sim/tlm/address_router.h"
#include "sim/tlm/payload_data.h"
#include "sim/tlm/pci_extension.h"

#include <catch2/catch.hpp>
#include <memory>
#include <tlm_utils/simple_initiator_socket.h>
#include <vector>

using namespace iommusim;
using namespace iommusim::tce;
using sc_core::SC_NS;
using sc_core::sc_time;

namespace {

constexpr u64 REG_BASE = 0x3fffe40000000ull;
constexpr u64 MEM_SIZE = u64(1) << 34; // 16 GiB
constexpr double MEM_NS = 80;

constexpr u16 rid(unsigned bus, unsigned dev, unsigned fn) { return u16((bus << 8) | (dev << 3) | fn); }

struct initiator : sc_core::sc_module {
    tlm_utils::simple_initiator_socket<initiator> regs{"regs"};
    tlm_utils::simple_initiator_socket<initiator> dma{"dma"};
    explicit initiator(sc_core::sc_module_name n) : sc_module(n) {}
};

// Table memory for tce_table: a bump allocator over the simulated memory, big-endian entries.
struct sim_table_memory : table_memory {
    memory::system_memory* mem = nullptr;
    u64 next = 0x10000000;
    std::optional<u64> alloc(u64 bytes) override {
        next = (next + bytes - 1) & ~(bytes - 1);
        const u64 a = next;
        next += bytes;
        mem->fill(a, 0, bytes);
        return a;
    }
    void free(u64, u64) override {}
    std::optional<u64> read_be64(u64 pa) override {
        unsigned char b[8];
        if (!mem->peek(pa, b, 8)) return std::nullopt;
        return load_be64(b);
    }
    bool write_be64(u64 pa, u64 v) override {
        unsigned char b[8];
        store_be64(b, v);
        return mem->poke(pa, b, 8);
    }
};

tce_unit_params default_params() { return tce_unit_params{}; }

struct bench {
    std::unique_ptr<memory::system_memory> mem;
    std::unique_ptr<tlmx::address_router> router;
    std::unique_ptr<phb_iommu> unit;
    std::unique_ptr<initiator> cpu;
    sim_table_memory tm;
    std::vector<msi_message> msis;

    explicit bench(const tce_unit_params& p = default_params()) {
        memory::memory_params mp;
        mp.size = MEM_SIZE;
        mp.latency_ns = MEM_NS;
        mp.bandwidth_bytes_per_ns = 1e6;
        mp.dmi = false;
        mem = std::make_unique<memory::system_memory>("memory", mp);
        router = std::make_unique<tlmx::address_router>("router");
        unit = std::make_unique<phb_iommu>("phb", REG_BASE, p);
        cpu = std::make_unique<initiator>("cpu");
        const unsigned mport = router->connect(mem->socket);
        router->map(0, MEM_SIZE, mport, "memory");
        unit->out.bind(router->target);
        unit->engine.mem.bind(router->target);
        cpu->regs.bind(unit->regs);
        cpu->dma.bind(unit->dma);
        unit->set_msi_sink([this](const msi_message& m, sc_time&) {
            msis.push_back(m);
            return true;
        });
        tm.mem = mem.get();
        sc_core::sc_start(sc_core::SC_ZERO_TIME);
    }
    phb& fw() { return unit->firmware(); }

    void settle(const sc_time& d) { sc_core::sc_start(d + sc_time(1, SC_NS)); }

    struct result {
        tlm::tlm_response_status status;
        sc_time delay;
    };
    result dma(u16 r, u64 addr, bool write, unsigned char* data, unsigned len) {
        tlm::tlm_generic_payload gp;
        tlmx::init_payload(gp, write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND, addr, data, len);
        tlmx::pci_extension ext;
        ext.request = tlmx::pci_request::dma;
        ext.requester_id = r;
        tlmx::scoped_extension scope(gp, &ext);
        sc_time d = sc_core::SC_ZERO_TIME;
        cpu->dma->b_transport(gp, d);
        settle(d);
        return {gp.get_response_status(), d};
    }
    result write64(u16 r, u64 addr, u64 v) {
        unsigned char b[8];
        tlmx::put_le(b, 8, v);
        return dma(r, addr, true, b, 8);
    }
    result read64(u16 r, u64 addr, u64& v) {
        unsigned char b[8] = {};
        auto res = dma(r, addr, false, b, 8);
        v = tlmx::get_le(b, 8);
        return res;
    }
    void kill_register(u64 value) {
        unsigned char b[8];
        store_be64(b, value);
        tlm::tlm_generic_payload gp;
        tlmx::init_payload(gp, tlm::TLM_WRITE_COMMAND, REG_BASE + PHB_TCE_KILL, b, 8);
        sc_time d = sc_core::SC_ZERO_TIME;
        cpu->regs->b_transport(gp, d);
        settle(d);
        REQUIRE(gp.is_response_ok());
    }

    // A device PE for one function, as pnv_ioda_configure_pe does it.
    void device_pe(unsigned pe, u16 r) {
        REQUIRE(fw().set_pe(pe, r, bus_compare::all, true, true, OPAL_MAP_PE) == OPAL_SUCCESS);
    }
    // A TCE table of `levels` for window n of the PE (Linux geometry, 4 KiB host pages so tables stay
    // small), programmed into the TVE with the window size Linux would give it.
    tce_table window(unsigned pe, unsigned n, unsigned page_shift, u64 size, unsigned levels) {
        auto g = tce_window::linux_geometry(n ? DMA64_WINDOW_BASE : 0, page_shift, size, levels, 12);
        REQUIRE(g);
        auto t = tce_table::create(tm, *g, 12);
        REQUIRE(t);
        const tce_window& w = t->window();
        REQUIRE(fw().map_pe_dma_window(pe, 2 * pe + n, w.levels, w.root, u64(8) << w.level_shift, w.page_size(),
                                       w.size) == OPAL_SUCCESS);
        return *t;
    }
    tce_xlate_result reference(unsigned pe, u64 addr, bool write) {
        std::array<tce_window, MAX_WINDOWS> ws;
        for (unsigned n = 0; n < MAX_WINDOWS; ++n)
            if (fw().window(pe, n).mode == dma_window_state::kind::tce) ws[n] = fw().window(pe, n).window;
        return tce_translator::translate_pe(ws, addr, write, [this](u64 pa) { return tm.read_be64(pa); });
    }
};

} // namespace

// ---------------------------------------------------------------------------------------------------------
TEST_CASE("tce unit: DMA through 1-, 2- and 3-level tables in both windows lands where the TCEs say",
          "[tce]") {
    bench b;
    const u16 dev = rid(1, 0, 0);
    b.device_pe(5, dev);
    for (unsigned levels = 1; levels <= 3; ++levels) {
        INFO("levels " << levels);
        auto t32 = b.window(5, 0, 12, u64(1) << 28, levels);             // 256 MiB of 4 KiB pages
        auto t64 = b.window(5, 1, 16, u64(1) << 32, levels);             // 4 GiB of 64 KiB pages at 1 << 59
        REQUIRE(b.fw().window(5, 0).window.levels == levels);
        const u64 p32 = 0x40000000 + levels * 0x100000, p64 = 0x80000000 + levels * 0x1000000;
        REQUIRE(t32.build(0x1234, 1, p32, dma_direction::bidirectional));
        REQUIRE(t64.build(0x2345, 2, p64, dma_direction::bidirectional));
        const u64 a32 = 0x1234ull * 0x1000 + 0x18;
        const u64 a64 = DMA64_WINDOW_BASE + 0x2346ull * 0x10000 + 0x7f8;
        REQUIRE(b.write64(dev, a32, 0x1111000000000000ull | levels).status == tlm::TLM_OK_RESPONSE);
        REQUIRE(b.write64(dev, a64, 0x2222000000000000ull | levels).status == tlm::TLM_OK_RESPONSE);
        CHECK(b.mem->read_le(p32 + 0x18, 8) == (0x1111000000000000ull | levels));
        CHECK(b.mem->read_le(p64 + 0x10000 + 0x7f8, 8) == (0x2222000000000000ull | levels));
        // The reference agrees with the addresses the test computed.
        const auto x = b.reference(5, a64, true);
        REQUIRE(x.ok());
        CHECK(x.addr == p64 + 0x10000 + 0x7f8);
        CHECK(x.window == 1);
        u64 v = 0;
        REQUIRE(b.read64(dev, a32, v).status == tlm::TLM_OK_RESPONSE);
        CHECK(v == (0x1111000000000000ull | levels));
        REQUIRE(b.fw().tce_kill(OPAL_PCI_TCE_KILL_PE, 5, 0, 0, 0) == OPAL_SUCCESS); // before the tables change
    }
    const auto& s = b.unit->stats();
    CHECK(s.freezes == 0);
    CHECK(s.translated == 9);
    CHECK(s.faulted == 0);
    CHECK(s.walks.reads >= 1 + 1 + 2 + 2 + 3 + 3);
}

TEST_CASE("tce unit: a request crossing IOMMU pages is split and each page translated", "[tce]") {
    bench b;
    const u16 dev = rid(1, 0, 0);
    b.device_pe(2, dev);
    auto t = b.window(2, 0, 12, u64(1) << 24, 1);
    REQUIRE(t.build(0x10, 1, 0x50000000, dma_direction::bidirectional));
    REQUIRE(t.build(0x11, 1, 0x60000000, dma_direction::bidirectional));
    std::vector<unsigned char> buf(64);
    for (unsigned i = 0; i < buf.size(); ++i) buf[i] = u8(i + 1);
    REQUIRE(b.dma(dev, 0x10fe0, true, buf.data(), 64).status == tlm::TLM_OK_RESPONSE);
    CHECK(b.mem->read_le(0x50000fe0, 1) == 1);
    CHECK(b.mem->read_le(0x50000fff, 1) == 32);
    CHECK(b.mem->read_le(0x60000000, 1) == 33);
    CHECK(b.mem->read_le(0x6000001f, 1) == 64);
    CHECK(b.unit->stats().dma_pieces == 2);
    // Running off the window's end faults the rest (and freezes the PE).
    REQUIRE(t.build(0xfff, 1, 0x70000000, dma_direction::bidirectional));
    CHECK(b.dma(dev, 0xfffff0, true, buf.data(), 32).status == tlm::TLM_COMMAND_ERROR_RESPONSE);
    CHECK(b.mem->read_le(0x70000ff0, 1) == 1);
    CHECK(b.unit->stats().faults_by_reason.at(tce_fault::out_of_window) == 1);
    CHECK(b.fw().eeh(2).dma_frozen());
}

TEST_CASE("tce unit: the TCE cache serves repeats, a stale entry until TCE kill, a fresh one after", "[tce]") {
    bench b;
    const u16 dev = rid(3, 0, 0);
    b.device_pe(7, dev);
    auto t = b.window(7, 0, 12, u64(1) << 26, 2);
    REQUIRE(t.build(0x40, 1, 0x41000000, dma_direction::bidirectional));
    REQUIRE(b.write64(dev, 0x40008, 1).status == tlm::TLM_OK_RESPONSE);
    REQUIRE(b.write64(dev, 0x40010, 2).status == tlm::TLM_OK_RESPONSE);
    CHECK(b.unit->stats().tce_walks == 1);
    CHECK(b.unit->stats().tce_cache_hits == 1);
    // The OS remaps the page without a kill: the PHB still uses the cached TCE.
    REQUIRE(t.exchange(0x40, 0x42000000, dma_direction::bidirectional));
    REQUIRE(b.write64(dev, 0x40018, 3).status == tlm::TLM_OK_RESPONSE);
    CHECK(b.mem->read_le(0x41000018, 8) == 3);
    CHECK(b.mem->read_le(0x42000018, 8) == 0);
    // pnv_pci_phb3_tce_invalidate: kill one TCE of the PE through the register.
    b.kill_register(PHB3_TCE_KILL_INVAL_ONE | 7 | 0x40000);
    CHECK(b.unit->stats().tce_kill_entries == 1);
    REQUIRE(b.write64(dev, 0x40018, 4).status == tlm::TLM_OK_RESPONSE);
    CHECK(b.mem->read_le(0x42000018, 8) == 4);
    CHECK(b.unit->stats().tce_walks == 2);
    // A kill of another PE's TCE at that address changes nothing.
    b.kill_register(PHB3_TCE_KILL_INVAL_ONE | 8 | 0x40000);
    REQUIRE(b.write64(dev, 0x40020, 5).status == tlm::TLM_OK_RESPONSE);
    CHECK(b.unit->stats().tce_walks == 2);
    // Cleared without a kill: still translated; after opal_pci_tce_kill(PAGES) the invalid TCE freezes.
    REQUIRE(t.clear(0x40, 1));
    REQUIRE(b.write64(dev, 0x40028, 6).status == tlm::TLM_OK_RESPONSE);
    CHECK(b.mem->read_le(0x42000028, 8) == 6);
    sc_time d = sc_core::SC_ZERO_TIME;
    REQUIRE(b.unit->tce_kill(OPAL_PCI_TCE_KILL_PAGES, 7, 0x1000, 0x40000, 1, d) == OPAL_SUCCESS);
    CHECK(d > sc_core::SC_ZERO_TIME);
    CHECK(b.write64(dev, 0x40030, 7).status == tlm::TLM_COMMAND_ERROR_RESPONSE);
    CHECK(b.unit->stats().faults_by_reason.at(tce_fault::tce_invalid) == 1);
    CHECK(b.fw().eeh(7).stats().last_reason == freeze_reason::dma_tce_invalid);
    CHECK(b.mem->read_le(0x42000030, 8) == 0);
}

TEST_CASE("tce unit: DMA outside the window freezes the PE, MMIO reads all ones, other PEs go on", "[tce]") {
    bench b;
    const u16 a = rid(1, 0, 0), c = rid(2, 0, 0);
    b.device_pe(1, a);
    b.device_pe(2, c);
    auto ta = b.window(1, 0, 12, u64(1) << 24, 1);
    auto tc = b.window(2, 0, 12, u64(1) << 24, 1);
    REQUIRE(ta.build(0, 1, 0x51000000, dma_direction::bidirectional));
    REQUIRE(tc.build(0, 1, 0x52000000, dma_direction::bidirectional));
    REQUIRE(b.fw().map_pe_mmio_window(1, OPAL_M32_WINDOW_TYPE, 0, 0) == OPAL_SUCCESS);
    REQUIRE(b.fw().map_pe_mmio_window(2, OPAL_M32_WINDOW_TYPE, 0, 1) == OPAL_SUCCESS);
    const u64 mmio_a = 0x80000000, mmio_c = 0x80000000 + 0x800000;
    sc_time d = sc_core::SC_ZERO_TIME;
    CHECK(b.unit->mmio_check(mmio_a, 4, false, d).what == mmio_verdict::kind::forward);

    // Just past the 16 MiB window.
    CHECK(b.write64(a, 0x1000000, 1).status == tlm::TLM_COMMAND_ERROR_RESPONSE);
    CHECK(b.fw().eeh(1).dma_frozen());
    CHECK(b.fw().eeh(1).mmio_frozen());
    CHECK(b.fw().eeh(1).stats().last_reason == freeze_reason::dma_out_of_window);
    CHECK(b.fw().eeh(1).stats().last_address == 0x1000000);
    // Frozen: even a valid DMA stops, MMIO loads are all ones, stores dropped.
    CHECK(b.write64(a, 0x8, 2).status == tlm::TLM_COMMAND_ERROR_RESPONSE);
    CHECK(b.mem->read_le(0x51000008, 8) == 0);
    mmio_verdict v = b.unit->mmio_check(mmio_a + 0x10, 4, false, d);
    CHECK(v.what == mmio_verdict::kind::all_ones);
    CHECK(v.value == 0xffffffffu);
    CHECK(b.unit->mmio_check(mmio_a + 0x10, 8, false, d).value == ~u64(0));
    CHECK(b.unit->mmio_check(mmio_a + 0x10, 4, true, d).what == mmio_verdict::kind::dropped);
    // The other PE is untouched.
    CHECK(b.write64(c, 0x8, 3).status == tlm::TLM_OK_RESPONSE);
    CHECK(b.mem->read_le(0x52000008, 8) == 3);
    CHECK(b.unit->mmio_check(mmio_c, 4, false, d).what == mmio_verdict::kind::forward);
    const auto& s = b.unit->stats();
    CHECK(s.freezes == 1);
    CHECK(s.dma_blocked == 1);
    CHECK(s.faults_by_reason.at(tce_fault::out_of_window) == 1);
    CHECK(s.mmio_all_ones == 2);
    CHECK(s.mmio_dropped == 1);
    u8 st;
    u16 type, sev;
    REQUIRE(b.fw().eeh_freeze_status(1, st, type, sev) == OPAL_SUCCESS);
    CHECK(st == OPAL_EEH_STOPPED_MMIO_DMA_FREEZE);
    CHECK(type == OPAL_EEH_PE_ERROR);
}

TEST_CASE("tce unit: thaw and reset bring a frozen PE back", "[tce]") {
    bench b;
    const u16 dev = rid(4, 0, 0);
    b.device_pe(9, dev);
    auto t = b.window(9, 1, 16, u64(1) << 30, 2);
    REQUIRE(t.build(3, 1, 0x53000000, dma_direction::bidirectional));
    const u64 ok = DMA64_WINDOW_BASE + 3 * 0x10000 + 0x40;
    REQUIRE(b.write64(dev, ok, 1).status == tlm::TLM_OK_RESPONSE);
    CHECK(b.write64(dev, DMA64_WINDOW_BASE + 4 * 0x10000, 2).status == tlm::TLM_COMMAND_ERROR_RESPONSE); // TCE 4 empty
    CHECK(b.fw().eeh(9).stats().last_reason == freeze_reason::dma_tce_invalid);
    // Thaw MMIO first (what Linux's recovery does): DMA still stopped.
    REQUIRE(b.fw().eeh_freeze_clear(9, OPAL_EEH_ACTION_CLEAR_FREEZE_MMIO) == OPAL_SUCCESS);
    CHECK(b.write64(dev, ok, 3).status == tlm::TLM_COMMAND_ERROR_RESPONSE);
    REQUIRE(b.fw().eeh_freeze_clear(9, OPAL_EEH_ACTION_CLEAR_FREEZE_DMA) == OPAL_SUCCESS);
    REQUIRE(b.write64(dev, ok, 4).status == tlm::TLM_OK_RESPONSE);
    CHECK(b.mem->read_le(0x53000040, 8) == 4);
    // A reset: traffic stops while asserted; the PE comes back once released and thawed.
    REQUIRE(b.fw().eeh_freeze_set(9, OPAL_EEH_ACTION_SET_FREEZE_ALL) == OPAL_SUCCESS);
    REQUIRE(b.fw().pci_reset(9, OPAL_RESET_PCI_HOT, OPAL_ASSERT_RESET) == OPAL_SUCCESS);
    u8 st;
    u16 type, sev;
    b.fw().eeh_freeze_status(9, st, type, sev);
    CHECK(st == OPAL_EEH_STOPPED_RESET);
    CHECK(b.write64(dev, ok, 5).status == tlm::TLM_COMMAND_ERROR_RESPONSE);
    REQUIRE(b.fw().pci_reset(9, OPAL_RESET_PCI_HOT, OPAL_DEASSERT_RESET) == OPAL_SUCCESS);
    CHECK(b.write64(dev, ok, 6).status == tlm::TLM_COMMAND_ERROR_RESPONSE); // still frozen
    REQUIRE(b.fw().eeh_freeze_clear(9, OPAL_EEH_ACTION_CLEAR_FREEZE_ALL) == OPAL_SUCCESS);
    REQUIRE(b.write64(dev, ok, 7).status == tlm::TLM_OK_RESPONSE);
    CHECK(b.mem->read_le(0x53000040, 8) == 7);
    CHECK(b.unit->stats().freezes == 1); // the requested freeze is not an error
    CHECK(b.fw().eeh(9).stats().resets == 1);
}

TEST_CASE("tce unit: permission, indirect-entry and unassigned-RID errors freeze the right PE", "[tce]") {
    bench b;
    const u16 dev = rid(1, 2, 0);
    b.device_pe(4, dev);
    auto t = b.window(4, 0, 12, u64(1) << 28, 2);
    // Write-only TCE (H_PUT_TCE stores what it is given): a DMA read is refused.
    REQUIRE(t.put_raw(0x20, tce_entry::make(0x54000000, TCE_PCI_WRITE).v));
    u64 v = 0;
    CHECK(b.read64(dev, 0x20000, v).status == tlm::TLM_COMMAND_ERROR_RESPONSE);
    CHECK(b.reference(4, 0x20000, false).fault == tce_fault::read_denied);
    CHECK(b.unit->stats().faults_by_reason.at(tce_fault::read_denied) == 1);
    CHECK(b.fw().eeh(4).stats().last_reason == freeze_reason::dma_permission);
    REQUIRE(b.fw().eeh_freeze_clear(4, OPAL_EEH_ACTION_CLEAR_FREEZE_ALL) == OPAL_SUCCESS);
    // An invalid indirect entry: clear the top-level entry of the range.
    const u64 top_entry = t.window().root + 8 * ((0x20000ull >> 12) >> t.window().level_shift);
    REQUIRE(b.tm.write_be64(top_entry, 0));
    REQUIRE(b.fw().tce_kill(OPAL_PCI_TCE_KILL_ALL, 0, 0, 0, 0) == OPAL_SUCCESS);
    CHECK(b.write64(dev, 0x20000, 1).status == tlm::TLM_COMMAND_ERROR_RESPONSE);
    CHECK(b.unit->stats().faults_by_reason.at(tce_fault::indirect_invalid) == 1);
    // A requester in no PE: its DMA is refused and the reserved PE freezes.
    const unsigned reserved = b.unit->params().phb.reserved_pe;
    CHECK(b.write64(rid(9, 9, 1), 0x0, 1).status == tlm::TLM_COMMAND_ERROR_RESPONSE);
    CHECK(b.unit->stats().faults_by_reason.at(tce_fault::rid_unassigned) == 1);
    CHECK(b.fw().eeh(reserved).dma_frozen());
    CHECK(b.fw().eeh(reserved).stats().last_reason == freeze_reason::dma_no_translation);
}

TEST_CASE("tce unit: error injection fires on the matching DMA and MMIO access", "[tce]") {
    bench b;
    const u16 dev = rid(6, 0, 0);
    b.device_pe(3, dev);
    auto t = b.window(3, 0, 12, u64(1) << 24, 1);
    REQUIRE(t.build(0, 16, 0x55000000, dma_direction::bidirectional));
    REQUIRE(b.fw().err_inject(3, OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR, EEH_ERR_FUNC_DMA_WR_ADDR, 0x5000, 0xfffff000) ==
            OPAL_SUCCESS);
    u64 v;
    REQUIRE(b.read64(dev, 0x5000, v).status == tlm::TLM_OK_RESPONSE);      // a read: not the injected class
    REQUIRE(b.write64(dev, 0x4000, 1).status == tlm::TLM_OK_RESPONSE);     // another page
    CHECK(b.write64(dev, 0x5008, 2).status == tlm::TLM_COMMAND_ERROR_RESPONSE);
    CHECK(b.fw().eeh(3).stats().last_reason == freeze_reason::injected);
    CHECK(b.fw().eeh(3).stats().injections == 1);
    CHECK(b.mem->read_le(0x55005008, 8) == 0);
    REQUIRE(b.fw().eeh_freeze_clear(3, OPAL_EEH_ACTION_CLEAR_FREEZE_ALL) == OPAL_SUCCESS);
    REQUIRE(b.write64(dev, 0x5008, 3).status == tlm::TLM_OK_RESPONSE); // one-shot
    // An MMIO load injection (64-bit type) on the PE's M64 single-PE BAR.
    REQUIRE(b.fw().map_pe_mmio_window(3, OPAL_M64_WINDOW_TYPE, 0, 0) == OPAL_SUCCESS);
    REQUIRE(b.fw().set_phb_mem_window(OPAL_M64_WINDOW_TYPE, 0, u64(1) << 40, 0x4000000) == OPAL_SUCCESS);
    REQUIRE(b.fw().phb_mmio_enable(OPAL_M64_WINDOW_TYPE, 0, OPAL_ENABLE_M64_NON_SPLIT) == OPAL_SUCCESS);
    REQUIRE(b.fw().err_inject(3, OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR64, EEH_ERR_FUNC_LD_MEM_ADDR, (u64(1) << 40) + 0x100,
                              ~u64(0)) == OPAL_SUCCESS);
    sc_time d = sc_core::SC_ZERO_TIME;
    CHECK(b.unit->mmio_check((u64(1) << 40) + 0x100, 2, false, d).value == 0xffff);
    CHECK(b.fw().eeh(3).mmio_frozen());
    CHECK(b.write64(dev, 0x5008, 4).status == tlm::TLM_COMMAND_ERROR_RESPONSE);
    // A config-load injection: the config access fails.
    REQUIRE(b.fw().eeh_freeze_clear(3, OPAL_EEH_ACTION_CLEAR_FREEZE_ALL) == OPAL_SUCCESS);
    REQUIRE(b.fw().err_inject(3, OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR, EEH_ERR_FUNC_LD_CFG_ADDR, 0, 0) == OPAL_SUCCESS);
    CHECK(b.unit->cfg_check(dev, 0x600, true, d));
    CHECK_FALSE(b.unit->cfg_check(dev, 0x600, false, d));
    CHECK(b.unit->stats().cfg_blocked == 1);
}

TEST_CASE("tce unit: MSIs are validated against the interrupt source's PE", "[tce]") {
    bench b;
    const u16 a = rid(1, 0, 0), c = rid(2, 0, 0);
    b.device_pe(1, a);
    b.device_pe(2, c);
    REQUIRE(b.fw().set_xive_pe(1, 0x33) == OPAL_SUCCESS);
    REQUIRE(b.fw().set_xive_pe(2, 0x34) == OPAL_SUCCESS);
    u64 addr64;
    u32 addr32, data;
    REQUIRE(b.fw().get_msi_64(1, 0x33, 1, addr64, data) == OPAL_SUCCESS);
    unsigned char buf[4];
    tlmx::put_le(buf, 4, data);
    REQUIRE(b.dma(a, addr64, true, buf, 4).status == tlm::TLM_OK_RESPONSE);
    REQUIRE(b.msis.size() == 1);
    CHECK(b.msis[0].source == 0x33);
    CHECK(b.msis[0].pe == 1);
    CHECK(b.msis[0].rid == a);
    // The same message from a device of another PE: dropped.
    REQUIRE(b.dma(c, addr64, true, buf, 4).status == tlm::TLM_OK_RESPONSE);
    CHECK(b.msis.size() == 1);
    CHECK(b.unit->stats().msi_rejected.at(msi_check::verdict::pe_mismatch) == 1);
    // 32-bit MSI of PE 2's source.
    REQUIRE(b.fw().get_msi_32(2, 0x34, 1, addr32, data) == OPAL_SUCCESS);
    tlmx::put_le(buf, 4, data);
    REQUIRE(b.dma(c, addr32, true, buf, 4).status == tlm::TLM_OK_RESPONSE);
    REQUIRE(b.msis.size() == 2);
    CHECK(b.msis[1].source == 0x34);
    // A source nobody assigned.
    REQUIRE(b.fw().get_msi_64(1, 0x40, 1, addr64, data) == OPAL_SUCCESS);
    tlmx::put_le(buf, 4, data);
    REQUIRE(b.dma(a, addr64, true, buf, 4).status == tlm::TLM_OK_RESPONSE);
    CHECK(b.unit->stats().msi_rejected.at(msi_check::verdict::unassigned) == 1);
    // A frozen PE's MSIs stop with its DMA.
    b.fw().eeh(1).on_dma_fault(tce_fault::out_of_window, 0);
    REQUIRE(b.fw().get_msi_64(1, 0x33, 1, addr64, data) == OPAL_SUCCESS);
    tlmx::put_le(buf, 4, data);
    CHECK(b.dma(a, addr64, true, buf, 4).status == tlm::TLM_COMMAND_ERROR_RESPONSE);
    CHECK(b.msis.size() == 2);
    CHECK(b.unit->stats().msi_delivered == 2);
}

TEST_CASE("tce unit: a bypass window maps bus addresses 1:1 above bit 59", "[tce]") {
    bench b;
    const u16 dev = rid(1, 0, 0);
    b.device_pe(6, dev);
    REQUIRE(b.fw().map_pe_dma_window_real(6, 13, DMA64_WINDOW_BASE, MEM_SIZE) == OPAL_SUCCESS);
    REQUIRE(b.write64(dev, DMA64_WINDOW_BASE | 0x56000100, 9).status == tlm::TLM_OK_RESPONSE);
    CHECK(b.mem->read_le(0x56000100, 8) == 9);
    CHECK(b.unit->stats().bypassed == 1);
    CHECK(b.write64(dev, DMA64_WINDOW_BASE | MEM_SIZE, 1).status == tlm::TLM_COMMAND_ERROR_RESPONSE);
    CHECK(b.fw().eeh(6).stats().last_reason == freeze_reason::dma_out_of_window);
}

// One elaboration per process: the PEs of one bench use 1-, 2- and 3-level tables side by side.
TEST_CASE("tce unit: timing grows with table levels and TCE cache hits are cheaper", "[tce]") {
    bench b;
    sc_time miss[4], hit[4];
    for (unsigned levels = 1; levels <= 3; ++levels) {
        const u16 dev = rid(levels, 0, 0);
        b.device_pe(levels, dev);
        auto t = b.window(levels, 0, 12, u64(1) << 30, levels);
        REQUIRE(t.build(0x777, 1, 0x57000000 + levels * 0x10000, dma_direction::bidirectional));
        const auto r1 = b.write64(dev, 0x777000, 1);
        const auto r2 = b.write64(dev, 0x777008, 2);
        REQUIRE(r1.status == tlm::TLM_OK_RESPONSE);
        REQUIRE(r2.status == tlm::TLM_OK_RESPONSE);
        CHECK(b.mem->read_le(0x57000008 + levels * 0x10000, 8) == 2);
        miss[levels] = r1.delay;
        hit[levels] = r2.delay;
    }
    const sc_time mem(MEM_NS, SC_NS);
    CHECK(hit[1] > mem);                 // the write itself, plus RTC, TVT and TCE cache lookups
    CHECK(miss[1] >= hit[1] + mem);      // at least one TCE fetch more (and the RTT fetch)
    CHECK(miss[2] >= miss[1] + mem);     // one level more, one read more
    CHECK(miss[3] >= miss[2] + mem);
    CHECK(hit[1] == hit[2]);
    CHECK(hit[2] == hit[3]);
}

TEST_CASE("tce unit: functional mode adds no delay and translates the same", "[tce]") {
    tce_unit_params p;
    p.phb.timing.functional = true;
    bench b(p);
    const u16 dev = rid(1, 0, 0);
    b.device_pe(1, dev);
    auto t = b.window(1, 0, 12, u64(1) << 30, 3);
    REQUIRE(t.build(0x777, 1, 0x57000000, dma_direction::bidirectional));
    const auto r1 = b.write64(dev, 0x777000, 1);
    const auto r2 = b.write64(dev, 0x777008, 2);
    REQUIRE(r1.status == tlm::TLM_OK_RESPONSE);
    REQUIRE(r2.status == tlm::TLM_OK_RESPONSE);
    CHECK(b.mem->read_le(0x57000000, 8) == 1);
    CHECK(b.mem->read_le(0x57000008, 8) == 2);
    const sc_time mem(MEM_NS, SC_NS);
    CHECK(r1.delay == r2.delay);         // miss or hit: the memory access alone
    CHECK(r1.delay >= mem);
    CHECK(r1.delay < mem + sc_time(1, SC_NS));
    CHECK(b.unit->stats().tce_walks == 1);
    CHECK(b.unit->stats().tce_cache_hits == 1);
}

TEST_CASE("tce unit: without TCE cache or RTC every DMA walks, results unchanged", "[tce]") {
    tce_unit_params p;
    p.phb.tce_cache.geometry.ways = 0;
    p.phb.rtc.geometry.ways = 0;
    bench b(p);
    const u16 dev = rid(1, 0, 0);
    b.device_pe(1, dev);
    auto t = b.window(1, 0, 12, u64(1) << 24, 1);
    REQUIRE(t.build(1, 1, 0x58000000, dma_direction::bidirectional));
    for (int i = 0; i < 3; ++i) REQUIRE(b.write64(dev, 0x1000 + 8 * i, i).status == tlm::TLM_OK_RESPONSE);
    CHECK(b.mem->read_le(0x58000010, 8) == 2);
    CHECK(b.unit->stats().tce_walks == 3);
    CHECK(b.unit->stats().rtc_misses == 3);
}

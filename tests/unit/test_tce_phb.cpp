// Unit tests of the PHB's firmware interface (models/iommu/tce/phb): the OPAL operations with their
// return codes (set_pe, map_pe_dma_window(_real), tce_kill and the PHB3 TCE Kill register, M32/M64
// segment programming, MSI address/data, EEH freeze status/clear/set, reset, error injection) and the
// hardware-side decisions (DMA routing to PE and window, MMIO gating of frozen PEs). Expected TVE words,
// MSI addresses and segment owners are computed here from the skiboot/Linux layouts, not by the model.
#include "models/iommu/tce/phb.h"

#include <catch2/catch.hpp>
#include <vector>

using namespace iommusim;
using namespace iommusim::tce;

namespace {

constexpr u16 rid(unsigned bus, unsigned dev, unsigned fn) { return u16((bus << 8) | (dev << 3) | fn); }

struct recorder : phb_listener {
    std::vector<tce_kill_request> kills;
    unsigned rtt = 0;
    void tce_kill(const tce_kill_request& r) override { kills.push_back(r); }
    void rtt_changed() override { ++rtt; }
};

struct fixture {
    tce_params p;
    phb h{p};
    recorder rec;
    fixture() { h.set_listener(&rec); }
};

} // namespace

TEST_CASE("phb: opal_pci_set_pe maps RIDs to a PE and tells the RID cache", "[tce][phb]") {
    fixture f;
    CHECK(f.h.set_pe(7, rid(1, 0, 0), bus_compare::all, true, true, OPAL_MAP_PE) == OPAL_SUCCESS);
    CHECK(f.rec.rtt == 1);
    CHECK(f.h.pe_map().pe_of(rid(1, 0, 0)) == 7);
    CHECK(f.h.set_pe(7, rid(1, 0, 0), bus_compare::all, true, true, 2) == OPAL_PARAMETER);       // bad action
    CHECK(f.h.set_pe(256, rid(1, 0, 0), bus_compare::all, true, true, OPAL_MAP_PE) == OPAL_PARAMETER); // PE range
    CHECK(f.h.set_pe(7, rid(1, 0, 0), bus_compare::reserved, true, true, OPAL_MAP_PE) == OPAL_PARAMETER);
    CHECK(f.rec.rtt == 1);
    CHECK(f.h.set_pe(7, rid(1, 0, 0), bus_compare::all, true, true, OPAL_UNMAP_PE) == OPAL_SUCCESS);
    CHECK(f.h.pe_map().pe_of(rid(1, 0, 0)) == f.p.reserved_pe);
    // An unassigned RID's DMA faults before any window is looked at.
    const dma_route r = f.h.route(rid(1, 0, 0), 0x1000);
    CHECK(r.what == dma_route::kind::fault);
    CHECK(r.fault == tce_fault::rid_unassigned);
    CHECK(r.pe == f.p.reserved_pe);
}

TEST_CASE("phb: opal_pci_map_pe_dma_window encodes the TVE as skiboot and routes by bit 59", "[tce][phb]") {
    fixture f;
    REQUIRE(f.h.set_pe(3, rid(2, 0, 0), bus_compare::all, true, true, OPAL_MAP_PE) == OPAL_SUCCESS);
    // window_id must be 2 * PE + n.
    CHECK(f.h.map_pe_dma_window(3, 4, 1, 0x1000000, 0x2000, 0x1000) == OPAL_PARAMETER);
    CHECK(f.h.map_pe_dma_window(3, 8, 1, 0x1000000, 0x2000, 0x1000) == OPAL_PARAMETER);
    CHECK(f.h.map_pe_dma_window(3, 6, 0, 0x1000000, 0x2000, 0x1000) == OPAL_PARAMETER);  // levels
    CHECK(f.h.map_pe_dma_window(3, 6, 6, 0x1000000, 0x2000, 0x1000) == OPAL_PARAMETER);
    CHECK(f.h.map_pe_dma_window(3, 6, 1, 0x1000000, 0x800, 0x1000) == OPAL_PARAMETER);   // < 4 KiB
    CHECK(f.h.map_pe_dma_window(3, 6, 1, 0x1000000, 0x3000, 0x1000) == OPAL_PARAMETER);  // not 2^n
    CHECK(f.h.map_pe_dma_window(3, 6, 1, 0x1000000, 0x2000, 0x200000) == OPAL_PARAMETER); // 2M: not PHB3
    // 1 level of 1024 entries (8 KiB), 4 KiB pages: TABLE_ADDR = addr >> 12 at bit 16, NUM_LEVELS 0,
    // TCE_TABLE_SIZE = log2(8192) - 11 = 2 at bit 8, IO_PSIZE = 12 - 11 = 1.
    REQUIRE(f.h.map_pe_dma_window(3, 6, 1, 0x1000000, 0x2000, 0x1000, 0x400000) == OPAL_SUCCESS);
    const dma_window_state& w0 = f.h.window(3, 0);
    CHECK(w0.mode == dma_window_state::kind::tce);
    CHECK(w0.tve == ((u64(0x1000000 >> 12) << 16) | (u64(2) << 8) | 1));
    CHECK(w0.window.bus_offset == 0);
    CHECK(w0.window.size == 0x400000);
    CHECK(w0.window.level_shift == 10);
    // A window larger than 1024 entries of 4 KiB cannot be indexed.
    CHECK(f.h.map_pe_dma_window(3, 6, 1, 0x1000000, 0x2000, 0x1000, 0x800000) == OPAL_PARAMETER);
    // The 64-bit window: 3 levels of 512 entries (4 KiB), 64 KiB pages: NUM_LEVELS 2, TTS 1, IO_PSIZE 5;
    // without a window size the levels' reach (2^(9*3+16) bytes).
    REQUIRE(f.h.map_pe_dma_window(3, 7, 3, 0x2000000, 0x1000, 0x10000) == OPAL_SUCCESS);
    const dma_window_state& w1 = f.h.window(3, 1);
    CHECK(w1.tve == ((u64(0x2000000 >> 12) << 16) | (u64(2) << 13) | (u64(1) << 8) | 5));
    CHECK(w1.window.bus_offset == DMA64_WINDOW_BASE);
    CHECK(w1.window.size == (u64(1) << 43));

    dma_route r = f.h.route(rid(2, 0, 0), 0x3ff000);
    CHECK(r.what == dma_route::kind::translate);
    CHECK(r.window == 0);
    CHECK(r.tce == &w0.window);
    r = f.h.route(rid(2, 0, 0), 0x400000);
    CHECK(r.fault == tce_fault::out_of_window);
    r = f.h.route(rid(2, 0, 0), DMA64_WINDOW_BASE | 0x123456);
    CHECK(r.what == dma_route::kind::translate);
    CHECK(r.window == 1);
    r = f.h.route(rid(2, 0, 0), u64(2) << 60);
    CHECK(r.fault == tce_fault::no_translation);
    // table_size 0 disables the TVE.
    REQUIRE(f.h.map_pe_dma_window(3, 6, 0, 0, 0, 0) == OPAL_SUCCESS);
    CHECK(f.h.window(3, 0).mode == dma_window_state::kind::disabled);
    CHECK(f.h.route(rid(2, 0, 0), 0x1000).fault == tce_fault::out_of_window);
}

TEST_CASE("phb: opal_pci_map_pe_dma_window_real bypass windows with skiboot's checks", "[tce][phb]") {
    fixture f;
    REQUIRE(f.h.set_pe(1, rid(5, 0, 0), bus_compare::all, true, true, OPAL_MAP_PE) == OPAL_SUCCESS);
    CHECK(f.h.map_pe_dma_window_real(1, 3, 0, u64(1) << 40) == OPAL_PARAMETER);            // bit 59 must be set
    CHECK(f.h.map_pe_dma_window_real(1, 3, DMA64_WINDOW_BASE | 0x800000, 0x1000000) == OPAL_PARAMETER); // 16M align
    CHECK(f.h.map_pe_dma_window_real(1, 3, DMA64_WINDOW_BASE, u64(1) << 50) == OPAL_PARAMETER); // beyond 2^50 - 1
    REQUIRE(f.h.map_pe_dma_window_real(1, 3, DMA64_WINDOW_BASE, u64(1) << 40) == OPAL_SUCCESS);
    // end = 2^40: end bits 47:24 at TVE bits 39:16 -> 1 << 32; TVE[51] = LSB bit 12.
    CHECK(f.h.window(1, 1).tve == ((u64(1) << 32) | (u64(1) << 12)));
    const dma_route r = f.h.route(rid(5, 0, 0), DMA64_WINDOW_BASE | 0x12345678);
    CHECK(r.what == dma_route::kind::bypass);
    CHECK(r.address == 0x12345678);
    CHECK(f.h.route(rid(5, 0, 0), DMA64_WINDOW_BASE | (u64(1) << 40)).fault == tce_fault::out_of_window);
}

TEST_CASE("phb: opal_pci_tce_kill and the PHB3 TCE Kill register reach the cache", "[tce][phb]") {
    fixture f;
    CHECK(f.h.tce_kill(OPAL_PCI_TCE_KILL_PAGES, 4, 0x1000, 0x5000, 3) == OPAL_SUCCESS);
    REQUIRE(f.rec.kills.size() == 1);
    CHECK(f.rec.kills[0].what == tce_kill_request::scope::pages);
    CHECK(f.rec.kills[0].pe == 4);
    CHECK(f.rec.kills[0].dma_addr == 0x5000);
    CHECK(f.rec.kills[0].npages == 3);
    CHECK(f.h.tce_kill(OPAL_PCI_TCE_KILL_PAGES, 4, 0x1000, 0x5800, 1) == OPAL_PARAMETER);   // misaligned
    CHECK(f.h.tce_kill(OPAL_PCI_TCE_KILL_PAGES, 4, 0x3000, 0x6000, 1) == OPAL_PARAMETER);   // not a page size
    CHECK(f.h.tce_kill(OPAL_PCI_TCE_KILL_PAGES, 4, 0x1000, u64(1) << 60, 1) == OPAL_PARAMETER);
    CHECK(f.h.tce_kill(OPAL_PCI_TCE_KILL_PE, 300, 0, 0, 0) == OPAL_PARAMETER);
    CHECK(f.h.tce_kill(7, 0, 0, 0, 0) == OPAL_PARAMETER);
    CHECK(f.rec.kills.size() == 1);
    CHECK(f.h.tce_kill(OPAL_PCI_TCE_KILL_PE, 9, 0, 0, 0) == OPAL_SUCCESS);
    CHECK(f.h.tce_kill(OPAL_PCI_TCE_KILL_ALL, 0, 0, 0, 0) == OPAL_SUCCESS);
    REQUIRE(f.rec.kills.size() == 3);
    CHECK(f.rec.kills[1].what == tce_kill_request::scope::pe);
    CHECK(f.rec.kills[1].pe == 9);
    CHECK(f.rec.kills[2].what == tce_kill_request::scope::all);
    // pnv_pci_phb3_tce_invalidate: INVAL_ONE | PE | (index << shift), the 64-bit window's bit 59 included.
    const u64 a = DMA64_WINDOW_BASE | 0x7000;
    CHECK(f.h.tce_kill_register(PHB3_TCE_KILL_INVAL_ONE | 0x21 | a));
    REQUIRE(f.rec.kills.size() == 4);
    CHECK(f.rec.kills[3].what == tce_kill_request::scope::pages);
    CHECK(f.rec.kills[3].pe == 0x21);
    CHECK(f.rec.kills[3].dma_addr == a);
    CHECK(f.h.tce_kill_register(PHB3_TCE_KILL_INVAL_PE | 0x21));
    CHECK(f.rec.kills.back().what == tce_kill_request::scope::pe);
    CHECK(f.h.tce_kill_register(PHB3_TCE_KILL_INVAL_ALL));
    CHECK(f.rec.kills.back().what == tce_kill_request::scope::all);
    CHECK_FALSE(f.h.tce_kill_register(0x21));
}

TEST_CASE("phb: M32 segments and M64 BARs through the OPAL MMIO calls", "[tce][phb]") {
    fixture f;
    // M32: segment 2 of 8 MiB (2 GiB / 256) for PE 9.
    CHECK(f.h.map_pe_mmio_window(9, OPAL_M32_WINDOW_TYPE, 1, 2) == OPAL_PARAMETER);
    REQUIRE(f.h.map_pe_mmio_window(9, OPAL_M32_WINDOW_TYPE, 0, 2) == OPAL_SUCCESS);
    CHECK(f.h.pe_map().mmio_owner(0x80000000 + 2 * 0x800000 + 0x10) == 9u);
    CHECK_FALSE(f.h.pe_map().mmio_owner(0x80000000 + 3 * 0x800000));
    CHECK(f.h.set_phb_mem_window(OPAL_M32_WINDOW_TYPE, 0, 0, 0x1000000) == OPAL_UNSUPPORTED);
    CHECK(f.h.phb_mmio_enable(OPAL_IO_WINDOW_TYPE, 0, OPAL_ENABLE_M64_SPLIT) == OPAL_UNSUPPORTED);
    // A split M64 BAR: 1 GiB at 2^40 in 256 segments of 4 MiB, segment i = PE i.
    CHECK(f.h.phb_mmio_enable(OPAL_M64_WINDOW_TYPE, 0, OPAL_ENABLE_M64_SPLIT) == OPAL_PARTIAL); // no window yet
    CHECK(f.h.set_phb_mem_window(OPAL_M64_WINDOW_TYPE, 0, (u64(1) << 40) + 0x80000, u64(1) << 30) == OPAL_PARAMETER);
    CHECK(f.h.set_phb_mem_window(OPAL_M64_WINDOW_TYPE, 0, u64(1) << 40, 0x3000000) == OPAL_PARAMETER);
    CHECK(f.h.set_phb_mem_window(OPAL_M64_WINDOW_TYPE, 16, u64(1) << 40, u64(1) << 30) == OPAL_PARAMETER);
    REQUIRE(f.h.set_phb_mem_window(OPAL_M64_WINDOW_TYPE, 0, u64(1) << 40, u64(1) << 30) == OPAL_SUCCESS);
    CHECK(f.h.phb_mmio_enable(OPAL_M64_WINDOW_TYPE, 0, OPAL_ENABLE_M64_NON_SPLIT) == OPAL_PARAMETER);
    REQUIRE(f.h.phb_mmio_enable(OPAL_M64_WINDOW_TYPE, 0, OPAL_ENABLE_M64_SPLIT) == OPAL_SUCCESS);
    CHECK(f.h.pe_map().mmio_owner((u64(1) << 40) + 7 * 0x400000 + 0x100) == 7u);
    // A single-PE BAR: claimed by PE 3 while disabled, 32 MiB aligned, enabled non-split.
    REQUIRE(f.h.map_pe_mmio_window(3, OPAL_M64_WINDOW_TYPE, 1, 0) == OPAL_SUCCESS);
    CHECK(f.h.set_phb_mem_window(OPAL_M64_WINDOW_TYPE, 1, (u64(1) << 41) + 0x1000000, 0x1000000) == OPAL_PARAMETER);
    REQUIRE(f.h.set_phb_mem_window(OPAL_M64_WINDOW_TYPE, 1, u64(1) << 41, 0x4000000) == OPAL_SUCCESS);
    CHECK(f.h.phb_mmio_enable(OPAL_M64_WINDOW_TYPE, 1, OPAL_ENABLE_M64_SPLIT) == OPAL_PARAMETER);
    REQUIRE(f.h.phb_mmio_enable(OPAL_M64_WINDOW_TYPE, 1, OPAL_ENABLE_M64_NON_SPLIT) == OPAL_SUCCESS);
    CHECK(f.h.pe_map().mmio_owner((u64(1) << 41) + 0x3ffffff) == 3u);
    CHECK(f.h.map_pe_mmio_window(4, OPAL_M64_WINDOW_TYPE, 1, 0) == OPAL_PARTIAL); // enabled: no re-claim
    REQUIRE(f.h.phb_mmio_enable(OPAL_M64_WINDOW_TYPE, 1, OPAL_DISABLE_M64) == OPAL_SUCCESS);
    CHECK_FALSE(f.h.pe_map().mmio_owner(u64(1) << 41));
}

TEST_CASE("phb: MSI addresses and data as skiboot's get_msi_32/64, IVE PE checked", "[tce][phb]") {
    fixture f;
    u32 a32 = 0, d = 0;
    u64 a64 = 0;
    for (u32 ive : {0u, 1u, 0x1fu, 0x20u, 0x7ffu}) {
        REQUIRE(f.h.get_msi_32(4, ive, 1, a32, d) == OPAL_SUCCESS);
        CHECK(a32 == (0xFFFF0000u | ((ive << 4) & 0xFFFFFE0Fu)));
        CHECK(d == (ive & 0x1f));
        REQUIRE(f.h.get_msi_64(4, ive, 1, a64, d) == OPAL_SUCCESS);
        CHECK(a64 == ((u64(1) << 60) | ((u64(ive) << 4) & 0xFFFFFFFFFFFFFE0Full)));
    }
    CHECK(f.h.get_msi_32(4, 1, 2, a32, d) == OPAL_PARAMETER);     // msi_range must be 1
    CHECK(f.h.get_msi_64(4, 2048, 1, a64, d) == OPAL_PARAMETER);  // beyond the IVT
    CHECK(f.h.set_xive_pe(256, 5) == OPAL_PARAMETER);
    REQUIRE(f.h.set_pe(4, rid(6, 0, 0), bus_compare::all, true, true, OPAL_MAP_PE) == OPAL_SUCCESS);
    REQUIRE(f.h.set_xive_pe(4, 0x45) == OPAL_SUCCESS);
    REQUIRE(f.h.get_msi_64(4, 0x45, 1, a64, d) == OPAL_SUCCESS);
    CHECK(f.h.route(rid(6, 0, 0), a64).what == dma_route::kind::msi);
    CHECK(f.h.pe_map().check_msi(rid(6, 0, 0), a64, d).ok());
    CHECK(f.h.pe_map().check_msi(rid(7, 0, 0), a64, d).result == msi_check::verdict::pe_mismatch);
}

TEST_CASE("phb: EEH freeze status, clear, set, reset and injection in OPAL's terms", "[tce][phb]") {
    fixture f;
    u8 st = 0xff;
    u16 type = 0xff, sev = 0xff;
    REQUIRE(f.h.eeh_freeze_status(2, st, type, sev) == OPAL_SUCCESS);
    CHECK(st == OPAL_EEH_STOPPED_NOT_FROZEN);
    CHECK(type == OPAL_EEH_NO_ERROR);
    CHECK(f.h.eeh_freeze_status(256, st, type, sev) == OPAL_PARAMETER);
    f.h.eeh(2).on_dma_fault(tce_fault::out_of_window, 0x1234);
    f.h.eeh_freeze_status(2, st, type, sev);
    CHECK(st == OPAL_EEH_STOPPED_MMIO_DMA_FREEZE);
    CHECK(type == OPAL_EEH_PE_ERROR);
    CHECK(sev == OPAL_EEH_SEV_PE_ER);
    CHECK(f.h.eeh_freeze_clear(2, 4) == OPAL_PARAMETER);
    REQUIRE(f.h.eeh_freeze_clear(2, OPAL_EEH_ACTION_CLEAR_FREEZE_MMIO) == OPAL_SUCCESS);
    f.h.eeh_freeze_status(2, st, type, sev);
    CHECK(st == OPAL_EEH_STOPPED_DMA_FREEZE);
    REQUIRE(f.h.eeh_freeze_clear(2, OPAL_EEH_ACTION_CLEAR_FREEZE_DMA) == OPAL_SUCCESS);
    f.h.eeh_freeze_status(2, st, type, sev);
    CHECK(st == OPAL_EEH_STOPPED_NOT_FROZEN);
    REQUIRE(f.h.eeh_freeze_set(2, OPAL_EEH_ACTION_SET_FREEZE_ALL) == OPAL_SUCCESS);
    f.h.eeh_freeze_status(2, st, type, sev);
    CHECK(st == OPAL_EEH_STOPPED_MMIO_DMA_FREEZE);
    CHECK(f.h.eeh(2).stats().freezes == 1); // a requested freeze is not an error
    REQUIRE(f.h.eeh_freeze_clear(2, OPAL_EEH_ACTION_CLEAR_FREEZE_ALL) == OPAL_SUCCESS);
    // Reset: asserted -> STOPPED_RESET, released -> back to normal.
    CHECK(f.h.pci_reset(2, OPAL_RESET_PCI_HOT, 7) == OPAL_PARAMETER);
    CHECK(f.h.pci_reset(2, 9, OPAL_ASSERT_RESET) == OPAL_PARAMETER);
    REQUIRE(f.h.pci_reset(2, OPAL_RESET_PCI_FUNDAMENTAL, OPAL_ASSERT_RESET) == OPAL_SUCCESS);
    f.h.eeh_freeze_status(2, st, type, sev);
    CHECK(st == OPAL_EEH_STOPPED_RESET);
    CHECK(f.h.eeh(2).configure() == RTAS_OUT_BUSY);
    REQUIRE(f.h.pci_reset(2, OPAL_RESET_PCI_FUNDAMENTAL, OPAL_DEASSERT_RESET) == OPAL_SUCCESS);
    f.h.eeh_freeze_status(2, st, type, sev);
    CHECK(st == OPAL_EEH_STOPPED_NOT_FROZEN);
    // Injection: bad type / function rejected; a 32-bit MMIO load injection fires on the matching load.
    CHECK(f.h.err_inject(2, 2, EEH_ERR_FUNC_LD_MEM_ADDR, 0, 0) == OPAL_PARAMETER);
    CHECK(f.h.err_inject(2, OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR, 20, 0, 0) == OPAL_PARAMETER);
    REQUIRE(f.h.map_pe_mmio_window(2, OPAL_M32_WINDOW_TYPE, 0, 0) == OPAL_SUCCESS);
    REQUIRE(f.h.err_inject(2, OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR, EEH_ERR_FUNC_LD_MEM_ADDR, 0x80000100, 0xffffffff) ==
            OPAL_SUCCESS);
    mmio_verdict v = f.h.mmio_access(0x80000200, 4, false); // no match: forwarded
    CHECK(v.what == mmio_verdict::kind::forward);
    v = f.h.mmio_access(0x80000100, 4, false);
    CHECK(v.what == mmio_verdict::kind::all_ones);
    CHECK(v.value == 0xffffffffu);
    CHECK(v.pe == 2u);
    CHECK(f.h.eeh(2).stats().last_reason == freeze_reason::injected);
    CHECK(f.h.mmio_access(0x80000100, 2, true).what == mmio_verdict::kind::dropped);
    CHECK(f.h.mmio_access(0x80000000 + 5 * 0x800000, 4, false).what == mmio_verdict::kind::unowned);
}

TEST_CASE("phb: an IODA table reset clears every table and kills the whole TCE cache", "[tce][phb]") {
    fixture f;
    REQUIRE(f.h.set_pe(3, rid(2, 0, 0), bus_compare::all, true, true, OPAL_MAP_PE) == OPAL_SUCCESS);
    REQUIRE(f.h.map_pe_dma_window(3, 6, 1, 0x1000000, 0x2000, 0x1000) == OPAL_SUCCESS);
    f.h.eeh(3).on_mmio_error(0x80000000);
    REQUIRE(f.h.pci_reset(0, OPAL_RESET_PCI_IODA_TABLE, OPAL_ASSERT_RESET) == OPAL_SUCCESS);
    CHECK(f.h.pe_map().pe_of(rid(2, 0, 0)) == f.p.reserved_pe);
    CHECK(f.h.window(3, 0).mode == dma_window_state::kind::disabled);
    CHECK_FALSE(f.h.eeh(3).mmio_frozen());
    REQUIRE_FALSE(f.rec.kills.empty());
    CHECK(f.rec.kills.back().what == tce_kill_request::scope::all);
    CHECK(f.rec.rtt == 2);
}

TEST_CASE("phb: an error freezes the erring PE's PELT-V, not a requested freeze nor a domain one", "[tce][phb][eeh]") {
    fixture f;
    CHECK(f.h.set_peltv(256, 1, OPAL_ADD_PE_TO_DOMAIN) == OPAL_PARAMETER);
    CHECK(f.h.set_peltv(1, 2, 7) == OPAL_PARAMETER);
    // PE 1 (a switch's bus) holds 2 and 3 (the buses below) in its PELT-V; PE 2 holds 4.
    REQUIRE(f.h.set_peltv(1, 1, OPAL_ADD_PE_TO_DOMAIN) == OPAL_SUCCESS);
    REQUIRE(f.h.set_peltv(1, 2, OPAL_ADD_PE_TO_DOMAIN) == OPAL_SUCCESS);
    REQUIRE(f.h.set_peltv(1, 3, OPAL_ADD_PE_TO_DOMAIN) == OPAL_SUCCESS);
    REQUIRE(f.h.set_peltv(2, 4, OPAL_ADD_PE_TO_DOMAIN) == OPAL_SUCCESS);
    CHECK(f.h.in_peltv(1, 3));
    // A child's error stays with the child.
    f.h.eeh(3).on_dma_fault(tce_fault::out_of_window, 0x1000);
    CHECK(f.h.eeh(3).dma_frozen());
    CHECK_FALSE(f.h.eeh(1).dma_frozen());
    REQUIRE(f.h.eeh_freeze_clear(3, OPAL_EEH_ACTION_CLEAR_FREEZE_ALL) == OPAL_SUCCESS);
    // A requested freeze of the parent does not spread.
    REQUIRE(f.h.eeh_freeze_set(1, OPAL_EEH_ACTION_SET_FREEZE_ALL) == OPAL_SUCCESS);
    CHECK_FALSE(f.h.eeh(2).mmio_frozen());
    REQUIRE(f.h.eeh_freeze_clear(1, OPAL_EEH_ACTION_CLEAR_FREEZE_ALL) == OPAL_SUCCESS);
    // The parent's error freezes its PELT-V, one level: PE 4 is in 2's vector, not 1's.
    f.h.eeh(1).on_mmio_error(0x80000000);
    CHECK(f.h.eeh(1).mmio_frozen());
    CHECK(f.h.eeh(2).mmio_frozen());
    CHECK(f.h.eeh(3).dma_frozen());
    CHECK(f.h.eeh(3).stats().last_reason == freeze_reason::domain);
    CHECK_FALSE(f.h.eeh(4).mmio_frozen());
    // Removing a PE from the domain stops it following.
    for (unsigned pe = 1; pe <= 3; ++pe) REQUIRE(f.h.eeh_freeze_clear(pe, OPAL_EEH_ACTION_CLEAR_FREEZE_ALL) == OPAL_SUCCESS);
    REQUIRE(f.h.set_peltv(1, 3, OPAL_REMOVE_PE_FROM_DOMAIN) == OPAL_SUCCESS);
    f.h.eeh(1).on_mmio_error(0x80000000);
    CHECK(f.h.eeh(2).mmio_frozen());
    CHECK_FALSE(f.h.eeh(3).mmio_frozen());
    // An IODA table reset empties every vector.
    REQUIRE(f.h.pci_reset(0, OPAL_RESET_PCI_IODA_TABLE, OPAL_ASSERT_RESET) == OPAL_SUCCESS);
    CHECK_FALSE(f.h.in_peltv(1, 2));
}

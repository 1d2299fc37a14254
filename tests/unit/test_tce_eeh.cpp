// Unit tests of the per-PE EEH state (models/iommu/tce/eeh_pe_state): freeze on DMA and MMIO errors, what a
// frozen PE returns, separate MMIO / DMA thaw, reset assert / deassert, configure, error injection, and the
// statistics; the PE state numbers are the ones VFIO_EEH_PE_GET_STATE returns.
#include "models/iommu/tce/eeh_pe_state.h"

#include <catch2/catch.hpp>

using namespace iommusim;
using namespace iommusim::tce;

TEST_CASE("eeh_pe_state: a fresh PE is normal and passes traffic", "[tce][eeh]") {
    eeh_pe_state pe;
    CHECK(pe.pe_state() == VFIO_EEH_PE_STATE_NORMAL);
    CHECK(pe.state_bits() == 0x78); // MMIO_ACTIVE 0x8 | DMA_ACTIVE 0x10 | MMIO_ENABLED 0x20 | DMA_ENABLED 0x40
    u64 v = 0x1234;
    CHECK(pe.mmio_read(0x80000000, 4, v));
    CHECK(v == 0x1234); // untouched: the load goes to the device
    CHECK(pe.mmio_write(0x80000000));
    CHECK(pe.dma_allowed(0x1000, true));
    CHECK(pe.stats().freezes == 0);
}

TEST_CASE("eeh_pe_state: a DMA fault freezes MMIO and DMA - loads return all ones, stores drop", "[tce][eeh]") {
    eeh_pe_state pe;
    pe.on_dma_fault(tce_fault::out_of_window, 0x90000000);
    CHECK(pe.mmio_frozen());
    CHECK(pe.dma_frozen());
    CHECK(pe.pe_state() == VFIO_EEH_PE_STATE_STOPPED);
    CHECK(pe.state_bits() == 0);

    u64 v = 0;
    CHECK_FALSE(pe.mmio_read(0x80000000, 4, v));
    CHECK(v == 0xffffffffull);
    CHECK_FALSE(pe.mmio_read(0x80000000, 2, v));
    CHECK(v == 0xffff);
    CHECK_FALSE(pe.mmio_read(0x80000000, 8, v));
    CHECK(v == ~u64(0));
    CHECK_FALSE(pe.mmio_write(0x80000000));
    CHECK_FALSE(pe.dma_allowed(0x1000, false));

    const auto& s = pe.stats();
    CHECK(s.freezes == 1);
    CHECK(s.last_reason == freeze_reason::dma_out_of_window);
    CHECK(s.last_address == 0x90000000);
    CHECK(s.mmio_reads_failed == 3);
    CHECK(s.mmio_writes_dropped == 1);
    CHECK(s.dma_blocked == 1);

    // A further error while frozen changes neither the count nor the reason.
    pe.on_dma_fault(tce_fault::write_denied, 0x2000);
    CHECK(pe.stats().freezes == 1);
    CHECK(pe.stats().last_reason == freeze_reason::dma_out_of_window);
}

TEST_CASE("eeh_pe_state: MMIO and DMA thaw separately", "[tce][eeh]") {
    eeh_pe_state pe;
    pe.on_mmio_error(0x80001000);
    CHECK(pe.stats().last_reason == freeze_reason::mmio_error);
    REQUIRE(pe.set_option(EEH_OPT_THAW_MMIO) == RTAS_OUT_SUCCESS);
    CHECK(pe.pe_state() == VFIO_EEH_PE_STATE_STOPPED_DMA);
    u64 v = 7;
    CHECK(pe.mmio_read(0x80000000, 4, v));
    CHECK_FALSE(pe.dma_allowed(0x1000, false));
    REQUIRE(pe.set_option(EEH_OPT_THAW_DMA) == RTAS_OUT_SUCCESS);
    CHECK(pe.pe_state() == VFIO_EEH_PE_STATE_NORMAL);
    CHECK(pe.dma_allowed(0x1000, false));

    // DMA thawed while MMIO stays frozen: eeh_pe_get_state calls that UNAVAIL.
    pe.on_dma_fault(tce_fault::tce_invalid, 0x3000);
    REQUIRE(pe.set_option(EEH_OPT_THAW_DMA) == RTAS_OUT_SUCCESS);
    CHECK(pe.pe_state() == VFIO_EEH_PE_STATE_UNAVAIL);
    CHECK(pe.stats().freezes == 2);
    CHECK(pe.stats().last_reason == freeze_reason::dma_tce_invalid);

    CHECK(pe.set_option(7) == RTAS_OUT_PARAM_ERROR);
    REQUIRE(pe.set_option(EEH_OPT_DISABLE) == RTAS_OUT_SUCCESS);
    CHECK_FALSE(pe.eeh_enabled());
    REQUIRE(pe.set_option(EEH_OPT_ENABLE) == RTAS_OUT_SUCCESS);
    CHECK(pe.eeh_enabled());
}

TEST_CASE("eeh_pe_state: freeze, hot reset, deactivate, configure, thaw (Linux's recovery order)", "[tce][eeh]") {
    eeh_pe_state pe;
    pe.on_dma_fault(tce_fault::read_denied, 0x4000);
    // eeh_pe_reset freezes first (EEH_OPT_FREEZE_PE), not counted as an error.
    REQUIRE(pe.set_option(EEH_OPT_FREEZE_PE) == RTAS_OUT_SUCCESS);
    CHECK(pe.stats().freezes == 1);
    REQUIRE(pe.reset(EEH_RESET_HOT) == RTAS_OUT_SUCCESS);
    CHECK(pe.reset_active());
    CHECK(pe.pe_state() == VFIO_EEH_PE_STATE_RESET);
    CHECK(pe.state_bits() == EEH_STATE_RESET_ACTIVE);
    CHECK(pe.configure() == RTAS_OUT_BUSY);
    REQUIRE(pe.reset(EEH_RESET_DEACTIVATE) == RTAS_OUT_SUCCESS);
    CHECK_FALSE(pe.reset_active());
    CHECK(pe.pe_state() == VFIO_EEH_PE_STATE_STOPPED); // still frozen until thawed
    CHECK(pe.configure() == RTAS_OUT_SUCCESS);
    pe.set_option(EEH_OPT_THAW_MMIO);
    pe.set_option(EEH_OPT_THAW_DMA);
    CHECK(pe.pe_state() == VFIO_EEH_PE_STATE_NORMAL);
    CHECK(pe.stats().resets == 1);

    // A fundamental reset of an unfrozen PE stops traffic only while asserted.
    REQUIRE(pe.reset(EEH_RESET_FUNDAMENTAL) == RTAS_OUT_SUCCESS);
    CHECK_FALSE(pe.dma_allowed(0x1000, false));
    u64 v = 0;
    CHECK_FALSE(pe.mmio_read(0x80000000, 1, v));
    CHECK(v == 0xff);
    REQUIRE(pe.reset(EEH_RESET_DEACTIVATE) == RTAS_OUT_SUCCESS);
    CHECK(pe.pe_state() == VFIO_EEH_PE_STATE_NORMAL);
    CHECK(pe.stats().resets == 2);
    CHECK(pe.stats().freezes == 1); // resets are not errors
    CHECK(pe.reset(2) == RTAS_OUT_PARAM_ERROR);
}

TEST_CASE("eeh_pe_state: error injection fires once on the matching access", "[tce][eeh][inject]") {
    eeh_pe_state pe;
    CHECK(pe.inject_error(2, EEH_ERR_FUNC_DMA_WR_ADDR, 0, 0) == RTAS_OUT_PARAM_ERROR);
    CHECK(pe.inject_error(EEH_ERR_TYPE_32, 20, 0, 0) == RTAS_OUT_PARAM_ERROR);
    CHECK(pe.inject_error(EEH_ERR_TYPE_32, -1, 0, 0) == RTAS_OUT_PARAM_ERROR);
    CHECK_FALSE(pe.injection_armed());

    REQUIRE(pe.inject_error(EEH_ERR_TYPE_32, EEH_ERR_FUNC_DMA_WR_ADDR, 0x1000, 0xfffff000) == RTAS_OUT_SUCCESS);
    CHECK(pe.injection_armed());
    CHECK(pe.dma_allowed(0x1000, false)); // a DMA read: another function
    CHECK(pe.dma_allowed(0x2000, true));  // a write elsewhere
    CHECK(pe.pe_state() == VFIO_EEH_PE_STATE_NORMAL);
    CHECK_FALSE(pe.dma_allowed(0x1abc, true)); // fires: frozen, this DMA already stopped
    CHECK(pe.pe_state() == VFIO_EEH_PE_STATE_STOPPED);
    CHECK(pe.stats().last_reason == freeze_reason::injected);
    CHECK(pe.stats().last_address == 0x1abc);
    CHECK(pe.stats().injections == 1);
    CHECK_FALSE(pe.injection_armed());

    // One-shot: after thawing, the same access passes.
    pe.set_option(EEH_OPT_THAW_MMIO);
    pe.set_option(EEH_OPT_THAW_DMA);
    CHECK(pe.dma_allowed(0x1abc, true));

    // A 32-bit injection compares the low 32 bits of the address.
    REQUIRE(pe.inject_error(EEH_ERR_TYPE_32, EEH_ERR_FUNC_LD_MEM_ADDR, 0x80001000, 0xfffff000) == RTAS_OUT_SUCCESS);
    u64 v = 0;
    CHECK_FALSE(pe.mmio_read(0x1'80001008ull, 4, v));
    CHECK(v == 0xffffffffull);
    CHECK(pe.stats().freezes == 2);
    pe.set_option(EEH_OPT_THAW_MMIO);
    pe.set_option(EEH_OPT_THAW_DMA);

    // ... a 64-bit one all of them.
    REQUIRE(pe.inject_error(EEH_ERR_TYPE_64, EEH_ERR_FUNC_ST_MEM_DATA, 0x80001000, ~u64(0xfff)) == RTAS_OUT_SUCCESS);
    CHECK(pe.mmio_write(0x1'80001000ull));
    CHECK_FALSE(pe.mmio_write(0x80001ff8));
    CHECK(pe.stats().freezes == 3);
    pe.set_option(EEH_OPT_THAW_MMIO);
    pe.set_option(EEH_OPT_THAW_DMA);

    // Config-space injection stops that config access; config space is not blocked by a freeze otherwise.
    REQUIRE(pe.inject_error(EEH_ERR_TYPE_32, EEH_ERR_FUNC_LD_CFG_ADDR, 0, 0) == RTAS_OUT_SUCCESS);
    CHECK(pe.cfg_access(0x10, true)); // a store: not the function
    CHECK_FALSE(pe.cfg_access(0x10, false));
    CHECK(pe.cfg_access(0x10, false)); // frozen, but config stays reachable
    CHECK(pe.mmio_frozen());

    // A reset drops an armed injection.
    REQUIRE(pe.inject_error(EEH_ERR_TYPE_64, EEH_ERR_FUNC_DMA_RD_TARGET, 0, 0) == RTAS_OUT_SUCCESS);
    pe.reset(EEH_RESET_HOT);
    CHECK_FALSE(pe.injection_armed());
}

TEST_CASE("eeh_pe_state: every TCE fault maps to a freeze reason", "[tce][eeh]") {
    CHECK(freeze_reason_of(tce_fault::out_of_window) == freeze_reason::dma_out_of_window);
    CHECK(freeze_reason_of(tce_fault::tce_invalid) == freeze_reason::dma_tce_invalid);
    CHECK(freeze_reason_of(tce_fault::read_denied) == freeze_reason::dma_permission);
    CHECK(freeze_reason_of(tce_fault::write_denied) == freeze_reason::dma_permission);
    CHECK(freeze_reason_of(tce_fault::indirect_invalid) == freeze_reason::dma_indirect_invalid);
    CHECK(freeze_reason_of(tce_fault::table_read_error) == freeze_reason::dma_table_error);
    CHECK(freeze_reason_of(tce_fault::no_translation) == freeze_reason::dma_no_translation);
    CHECK(freeze_reason_of(tce_fault::none) == freeze_reason::none);
    eeh_pe_state pe;
    pe.on_dma_fault(tce_fault::none, 0);
    CHECK_FALSE(pe.dma_frozen());
    CHECK(std::string(to_string(freeze_reason::injected)) == "injected");
    CHECK(eeh_pe_state::class_of(EEH_ERR_FUNC_ST_IO_DATA) == access_class::mmio_write);
    CHECK(eeh_pe_state::class_of(EEH_ERR_FUNC_DMA_RD_MASTER) == access_class::dma_read);
    CHECK(eeh_pe_state::class_of(EEH_ERR_FUNC_ST_CFG_DATA) == access_class::cfg_write);
}

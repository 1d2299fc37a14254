// Unit tests of the POWER TCE formats and numbers (models/iommu/tce/tce_defs): TCE encodings, big-endian
// storage, TVE encoding, window selection by address bit 59, MSI address/source arithmetic, page-size masks,
// EEH state derivation and OPAL bus compare. Expected values are worked out by hand in the comments.
#include "models/iommu/tce/tce_defs.h"

#include <catch2/catch.hpp>

using namespace iommusim;
using namespace iommusim::tce;

TEST_CASE("tce_defs: TCE encodings and direction decoding", "[tce][defs]") {
    // Page 0x12345000 read+write: the permission bits sit in bits 1:0 of the page address.
    CHECK(tce_entry::make(0x12345000, TCE_PCI_READ | TCE_PCI_WRITE).v == 0x12345003);
    CHECK(tce_entry::make(0x12345000, TCE_PCI_READ).v == 0x12345001);
    // Linux builds from a direction; a from-device (write) mapping also gets READ (pnv_tce_build).
    CHECK(tce_entry::make_linux(0x12345000, dma_direction::from_device).v == 0x12345003);
    CHECK(tce_entry::make_linux(0x12345000, dma_direction::to_device).v == 0x12345001);
    CHECK(tce_entry::make_linux(0x12345000, dma_direction::none).v == 0x12345000);
    CHECK(direction_to_tce_perm(dma_direction::from_device) == TCE_PCI_WRITE);

    CHECK(tce_direction(0x3) == dma_direction::bidirectional);
    CHECK(tce_direction(0x1) == dma_direction::to_device);
    CHECK(tce_direction(0x2) == dma_direction::from_device);
    CHECK(tce_direction(0x12345000) == dma_direction::none);

    // The page address at the table's page size: 0xabcde1003 at 64 KiB pages -> 0xabcde0000.
    const tce_entry e{0xabcde1003};
    CHECK(e.page(16) == 0xabcde0000);
    CHECK(e.page(12) == 0xabcde1000);
    CHECK(e.address() == 0xabcde1000);
    CHECK(e.read());
    CHECK(e.write());
    CHECK_FALSE(tce_entry{0xabcde1000}.valid());
    // RPN field of the 4 KiB base encoding: 40 bits at bit 12.
    CHECK(((0x000000fedcba9001ull >> TCE_RPN_SHIFT) & TCE_RPN_MASK) == 0xfedcba9);

    // Indirect entries carry both permission bits; the next table is bits 63:12.
    CHECK(make_indirect(0x200000) == 0x200003);
    CHECK(indirect_valid(0x200001));
    CHECK_FALSE(indirect_valid(0x200000));
    CHECK(indirect_next(0x200ff3) == 0x200000);
}

TEST_CASE("tce_defs: entries are big-endian in memory", "[tce][defs]") {
    unsigned char b[8];
    store_be64(b, 0x0102030405060708ull);
    for (unsigned i = 0; i < 8; ++i) CHECK(b[i] == i + 1);
    CHECK(load_be64(b) == 0x0102030405060708ull);
}

TEST_CASE("tce_defs: TVE encoding as skiboot writes it", "[tce][defs]") {
    // Table at 0x2000_0000, 2 levels of 64 KiB (8192 entries), 64 KiB pages:
    // TABLE_ADDR = 0x20000 at bit 16 -> 0x2_0000_0000; NUM_LEVELS 1 at bit 13 -> 0x2000;
    // TCE_TABLE_SIZE = log2(0x10000) - 11 = 5 at bit 8 -> 0x500; IO_PSIZE = 16 - 11 = 5.
    auto t = tve::make(0x20000000, 2, 0x10000, 16);
    REQUIRE(t);
    CHECK(t->v == 0x200002505ull);
    CHECK(t->table_addr() == 0x20000000);
    CHECK(t->levels() == 2);
    CHECK(t->tts() == 5);
    CHECK(t->level_entries_shift() == 13);
    CHECK(t->page_shift() == 16);
    CHECK(t->enabled());
    // PHB3's encodings of 4K / 16M / 256M pages are 1 / 13 / 17 (phb3_map_pe_dma_window).
    CHECK(tve::make(0, 1, 0x1000, 12)->io_psize() == 1);
    CHECK(tve::make(0, 1, 0x1000, 24)->io_psize() == 13);
    CHECK(tve::make(0, 1, 0x1000, 28)->io_psize() == 17);
    // What OPAL rejects.
    CHECK_FALSE(tve::make(0, 6, 0x10000, 12));
    CHECK_FALSE(tve::make(0, 0, 0x10000, 12));
    CHECK_FALSE(tve::make(0, 1, 0x800, 12));
    CHECK_FALSE(tve::make(0, 1, 0x3000, 12));
    CHECK_FALSE(tve{}.enabled());
}

TEST_CASE("tce_defs: address bit 59 selects the PE's TVE", "[tce][defs]") {
    CHECK(tve_index(5, 0x1000) == 10u);
    CHECK(tve_index(5, DMA64_WINDOW_BASE | 0x1000) == 11u);
    CHECK(tve_index(0, 0x07ffffffffffffffull) == 0u);
    CHECK_FALSE(tve_index(5, u64(1) << 60));
    CHECK(DMA64_WINDOW_BASE == 0x0800000000000000ull);
    CHECK(window_of(0x0800000000000000ull) == 1);
}

TEST_CASE("tce_defs: MSI addresses and source numbers", "[tce][defs][msi]") {
    // IVE 0x213: address 0xFFFF0000 | (0x2130 & ~0x1f0) = 0xFFFF2000, data 0x13; the PHB recovers
    // ((0x2000 >> 4) & 0xffff) | 0x13 = 0x213.
    CHECK(msi_address(0x213, false) == 0xffff2000ull);
    CHECK(msi_data(0x213) == 0x13);
    CHECK(msi_source(0xffff2000, 0x13) == 0x213);
    CHECK(msi_address(0x213, true) == ((u64(1) << 60) | 0x2000));
    CHECK(msi_source((u64(1) << 60) | 0x2000, 0x13) == 0x213);
    CHECK(is_msi_address(0xffff0010));
    CHECK(is_msi_address(MSI64_BASE + 0xfffff));
    CHECK_FALSE(is_msi_address(MSI64_BASE + 0x100000));
    CHECK_FALSE(is_msi_address(0xfffeffff));
}

TEST_CASE("tce_defs: page-size bitmaps and the PAPR query mask", "[tce][defs]") {
    // PHB3: 4K 0x01 | 64K 0x02 | 16M 0x04 | 256M 0x40.
    CHECK(pgsizes_to_ddw_mask(PHB3_PGSIZES) == 0x47);
    // PHB4's 2M and 1G have no query-mask bit.
    CHECK(pgsizes_to_ddw_mask(PHB4_PGSIZES) == 0x03);
    CHECK(ddw_mask_to_pgsizes(0x81) == (PGSIZE_4K | PGSIZE_16G));
    CHECK(PHB3_PGSIZES == 0x11011000ull);
    CHECK(largest_page_shift(PHB3_PGSIZES) == 28);
    CHECK(largest_page_shift(PHB3_PGSIZES, 20) == 16);
    CHECK(largest_page_shift(0) == 0);
}

TEST_CASE("tce_defs: PE state from EEH state bits as eeh_pe_get_state derives it", "[tce][defs][eeh]") {
    const int mmio = EEH_STATE_MMIO_ACTIVE | EEH_STATE_MMIO_ENABLED;
    const int dma = EEH_STATE_DMA_ACTIVE | EEH_STATE_DMA_ENABLED;
    CHECK(eeh_pe_state_from_bits(mmio | dma) == VFIO_EEH_PE_STATE_NORMAL);
    CHECK(eeh_pe_state_from_bits(0) == VFIO_EEH_PE_STATE_STOPPED);
    CHECK(eeh_pe_state_from_bits(mmio) == VFIO_EEH_PE_STATE_STOPPED_DMA);
    CHECK(eeh_pe_state_from_bits(dma) == VFIO_EEH_PE_STATE_UNAVAIL);
    CHECK(eeh_pe_state_from_bits(EEH_STATE_RESET_ACTIVE | mmio | dma) == VFIO_EEH_PE_STATE_RESET);
    // The numbers VFIO_EEH_PE_GET_STATE returns (uapi): 0, 1, 2, 4, 5.
    CHECK(VFIO_EEH_PE_STATE_RESET == 1);
    CHECK(VFIO_EEH_PE_STATE_STOPPED == 2);
    CHECK(VFIO_EEH_PE_STATE_STOPPED_DMA == 4);
    CHECK(VFIO_EEH_PE_STATE_UNAVAIL == 5);
    CHECK(VFIO_EEH_PE_INJECT_ERR == 9);
    CHECK(eeh_io_error_value(1) == 0xff);
    CHECK(eeh_io_error_value(4) == 0xffffffffull);
    CHECK(eeh_io_error_value(8) == ~u64(0));
}

TEST_CASE("tce_defs: hcall numbers and OPAL bus compare", "[tce][defs]") {
    CHECK(H_PUT_TCE == 0x20);
    CHECK(H_GET_TCE == 0x1c);
    CHECK(H_STUFF_TCE == 0x138);
    CHECK(H_PUT_TCE_INDIRECT == 0x13c);
    CHECK(H_PARAMETER == -4);
    CHECK(H_TOO_HARD == 9999);
    CHECK(bus_compare_for_count(1) == bus_compare::all);
    CHECK(bus_compare_for_count(4) == bus_compare::bits6);
    CHECK(bus_compare_for_count(32) == bus_compare::bits3);
    CHECK_FALSE(bus_compare_for_count(3));
    CHECK(bus_compare_mask(bus_compare::bits6) == 0xfc);
    CHECK(bus_compare_mask(bus_compare::bits3) == 0xe0);
    CHECK(bus_compare_mask(bus_compare::any) == 0);
}

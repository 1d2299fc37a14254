// Unit tests of the PHB's PE bookkeeping (models/iommu/tce/phb_pe_map): requester ID -> PE at function,
// device and bus-range granularity as opal_pci_set_pe programs the RTT, M32 segments, M64 BARs (split and
// single-PE), the MMIO owner lookup, and MSI validation against the IVE's PE.
#include "models/iommu/tce/phb_pe_map.h"

#include <catch2/catch.hpp>

using namespace iommusim;
using namespace iommusim::tce;

namespace {
phb_pe_map phb3() { return phb_pe_map(256, 255, 2048); }
constexpr u16 rid(unsigned bus, unsigned dev, unsigned fn) { return u16((bus << 8) | (dev << 3) | fn); }
} // namespace

TEST_CASE("phb_pe_map: unassigned RIDs belong to the reserved PE", "[tce][pe]") {
    auto m = phb3();
    CHECK(m.pe_of(0x0000) == 255);
    CHECK(m.pe_of(0xffff) == 255);
    CHECK_FALSE(m.assigned(0x0310));
}

TEST_CASE("phb_pe_map: RID -> PE at function, device and bus granularity", "[tce][pe]") {
    auto m = phb3();
    // One function (a device PE: BusAll, compare device and function).
    REQUIRE(m.set_pe(5, rid(3, 2, 0), bus_compare::all, true, true) == opal_status::success);
    CHECK(m.pe_of(rid(3, 2, 0)) == 5);
    CHECK(m.pe_of(rid(3, 2, 1)) == 255);
    CHECK(m.pe_of(rid(4, 2, 0)) == 255);
    CHECK(m.rids_of(5).size() == 1);

    // A whole device: the function number ignored.
    REQUIRE(m.set_pe(6, rid(3, 3, 0), bus_compare::all, true, false) == opal_status::success);
    for (unsigned fn = 0; fn < 8; ++fn) CHECK(m.pe_of(rid(3, 3, fn)) == 6);
    CHECK(m.pe_of(rid(3, 4, 0)) == 255);
    CHECK(m.pe_of(rid(3, 2, 0)) == 5); // untouched

    // A bus range of 4 buses (8..11): Bus6Bits, device and function ignored (a bus PE).
    const auto bc = bus_compare_for_count(4);
    REQUIRE(bc);
    REQUIRE(m.set_pe(7, rid(8, 0, 0), *bc, false, false) == opal_status::success);
    CHECK(m.pe_of(rid(8, 0, 0)) == 7);
    CHECK(m.pe_of(rid(11, 31, 7)) == 7);
    CHECK(m.pe_of(rid(12, 0, 0)) == 255);
    CHECK(m.pe_of(rid(7, 31, 7)) == 255);
    CHECK(m.rids_of(7).size() == 4 * 256);

    // Unmapping returns the RIDs of that PE to the reserved PE.
    REQUIRE(m.set_pe(7, rid(8, 0, 0), *bc, false, false, false) == opal_status::success);
    CHECK(m.pe_of(rid(9, 1, 0)) == 255);
    CHECK(m.rids_of(7).empty());

    CHECK(m.set_pe(256, 0, bus_compare::all, true, true) == opal_status::parameter);
    CHECK(m.set_pe(1, 0, bus_compare::reserved, true, true) == opal_status::parameter);
}

TEST_CASE("phb_pe_map: M32 segments owned by PEs", "[tce][pe][mmio]") {
    auto m = phb3();
    // 2 GiB at 0x8000_0000 in 256 segments of 8 MiB.
    REQUIRE(m.configure_m32(0x80000000, 0x80000000, 256) == opal_status::success);
    CHECK(m.m32_segment_size() == 0x800000);
    REQUIRE(m.map_m32_segment(3, 9) == opal_status::success);
    CHECK(m.mmio_owner(0x80000000 + 3 * 0x800000) == 9u);
    CHECK(m.mmio_owner(0x80000000 + 4 * 0x800000 - 1) == 9u);
    CHECK_FALSE(m.mmio_owner(0x80000000 + 4 * 0x800000)); // segment 4 unmapped
    CHECK_FALSE(m.mmio_owner(0x7fffffff));                 // below M32
    CHECK(m.map_m32_segment(256, 1) == opal_status::parameter);
    CHECK(m.map_m32_segment(1, 256) == opal_status::parameter);
    CHECK(m.configure_m32(0, 1000, 256) == opal_status::parameter);
    CHECK(m.configure_m32(0, 0x1000, 512) == opal_status::parameter);
}

TEST_CASE("phb_pe_map: M64 BARs split per PE or owned by one PE", "[tce][pe][mmio]") {
    auto m = phb3();
    // Split BAR: 64 GiB in 256 segments of 256 MiB, segment i = PE i.
    const u64 base = 0x200000000000ull;
    REQUIRE(m.set_m64_bar(0, base, u64(64) << 30, m64_mode::split) == opal_status::success);
    CHECK(m.mmio_owner(base) == 0u);
    CHECK(m.mmio_owner(base + 5 * (u64(256) << 20) + 1) == 5u);
    CHECK(m.mmio_owner(base + (u64(64) << 30) - 1) == 255u);
    // Single-PE BAR.
    REQUIRE(m.set_m64_bar(1, 0x300000000000ull, 0x100000, m64_mode::single_pe, 42) == opal_status::success);
    CHECK(m.mmio_owner(0x300000000000ull + 0xfffff) == 42u);
    CHECK_FALSE(m.mmio_owner(0x300000100000ull));
    // Disabling a BAR removes its ownership.
    REQUIRE(m.set_m64_bar(1, 0, 0, m64_mode::disabled) == opal_status::success);
    CHECK_FALSE(m.mmio_owner(0x300000000000ull));

    CHECK(m.set_m64_bar(16, base, 0x100000, m64_mode::single_pe, 1) == opal_status::parameter);
    CHECK(m.set_m64_bar(2, base, 0x300000, m64_mode::single_pe, 1) == opal_status::parameter);  // not 2^n
    CHECK(m.set_m64_bar(2, base + 0x1000, 0x100000, m64_mode::single_pe, 1) == opal_status::parameter);
    CHECK(m.set_m64_bar(2, base, 0x100000, m64_mode::single_pe, 256) == opal_status::parameter);
    CHECK(m.set_m64_bar(2, base, 0x80, m64_mode::split) == opal_status::parameter); // < one byte per PE
}

TEST_CASE("phb_pe_map: MSI validation against the IVE's PE", "[tce][pe][msi]") {
    auto m = phb3();
    REQUIRE(m.set_pe(5, rid(3, 2, 0), bus_compare::all, true, true) == opal_status::success);
    REQUIRE(m.set_ive_pe(0x213, 5) == opal_status::success);

    auto ok = m.check_msi(rid(3, 2, 0), msi_address(0x213, false), msi_data(0x213));
    CHECK(ok.ok());
    CHECK(ok.source == 0x213);
    CHECK(ok.rid_pe == 5);
    CHECK(m.check_msi(rid(3, 2, 0), msi_address(0x213, true), msi_data(0x213)).ok());

    // Another requester (PE 255) forging the same message is rejected.
    auto forged = m.check_msi(rid(3, 2, 1), msi_address(0x213, false), msi_data(0x213));
    CHECK(forged.result == msi_check::verdict::pe_mismatch);
    CHECK(forged.ive_pe == 5);
    CHECK(forged.rid_pe == 255);

    CHECK(m.check_msi(rid(3, 2, 0), msi_address(0x214, false), msi_data(0x214)).result ==
          msi_check::verdict::unassigned);
    CHECK(m.check_msi(rid(3, 2, 0), 0x1000, 0).result == msi_check::verdict::not_msi);
    // Source 0x800 is beyond the 2048-entry IVT.
    CHECK(m.check_msi(rid(3, 2, 0), msi_address(0x800, false), msi_data(0x800)).result ==
          msi_check::verdict::out_of_range);
    CHECK(m.set_ive_pe(2048, 1) == opal_status::parameter);
    CHECK(m.set_ive_pe(1, 256) == opal_status::parameter);
    CHECK(m.ive_pe(0x213) == 5u);
    CHECK_FALSE(m.ive_pe(0x214));
}

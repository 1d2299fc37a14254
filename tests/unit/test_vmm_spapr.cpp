// The pseries guest's hypervisor side (sim/vmm/spapr_vmm: QEMU's sPAPR DMA code with KVM's in-kernel TCE
// tables) over the real VFIO core and sPAPR v2 backend, a real process address space and fake PEs: a guest
// PHB comes up with its default 32-bit window, H_PUT_TCE is mirrored into the PE's hardware table through
// preregistered memory, and the DDW RTAS calls create, remove and reset a 64-bit window at 2^59.
#include "sim/host/process/process_mm.h"
#include "sim/vfio/vfio_process_mm.h"
#include "sim/vmm/spapr_vmm.h"
#include "support/power_host.h"

#include <catch2/catch.hpp>

#include <cstring>

using namespace iommusim;
using namespace iommusim::test;
using vmm::spapr_vmm;

namespace {


struct guest_world {
    static constexpr u64 MiB = 1ull << 20, RAM = 64 * MiB;
    vtd_world w;
    power_host host{w};
    memory::page_allocator phys{0x100000000ull, 512 * MiB};
    host::process_mm mm{phys, 1ull << 40};
    vfio::process_vfio_mm vmm_mm{mm};
    vfio::vfio_core v{host, vmm_mm};
    u64 ram = 0;
    int group = -1;
    std::unique_ptr<spapr_vmm> vm;
    guest_world() {
        host.vfio_bound.insert("0000:01:00.0");
        group = w.group("0000:01:00.0");
        host.pes[group] = std::make_unique<fake_table_group>(group);
        ram = mm.mmap_anon(RAM, /*huge=*/true);
        REQUIRE(ram);
        vm = std::make_unique<spapr_vmm>(v, mm, &v.mm_iommu(), [this](int g) { return host.table_group(g); }, ram, RAM);
    }
    fake_table_group& pe() { return *host.pes.at(group); }
    u64 hpa(u64 gpa) { return *mm.translate(ram + gpa); }
};


} // namespace

TEST_CASE("spapr vmm: a guest PHB comes up with its default window and H_PUT_TCE reaches the PE") {
    guest_world g;
    REQUIRE(g.vm->add_phb(0, {g.group}) == 0);
    CHECK(g.vm->add_phb(0, {g.group}) == -EEXIST);
    const auto win = g.vm->windows(0);
    REQUIRE(win.size() == 2);
    CHECK(win[0].enabled);
    CHECK(win[0].liobn == 0x80000000u);
    CHECK(win[0].bus_offset == 0);
    CHECK(win[0].size == (1ull << 30));
    CHECK(win[0].page_shift == 12);
    CHECK_FALSE(win[1].enabled);
    CHECK(g.pe().owned);
    REQUIRE(g.pe().tables[0]);
    CHECK(g.vm->kvm().linked_tables(spapr_vmm::liobn(0, 0)) == 1);

    // In-kernel: the guest page's userspace address is preregistered, so KVM writes the hardware entry.
    const u64 liobn = spapr_vmm::liobn(0, 0);
    CHECK(g.vm->h_put_tce(liobn, 0x3000, 0x5000 | tce::TCE_PCI_READ | tce::TCE_PCI_WRITE) == tce::H_SUCCESS);
    auto& t = as_fake(g.pe().tables[0]);
    REQUIRE(t.entries.count(3));
    CHECK(t.entries[3].first == g.hpa(0x5000));
    CHECK(t.entries[3].second == host::dma_direction::bidirectional);
    CHECK(g.vm->user_space_hcalls() == 0);
    u64 tce = 0;
    CHECK(g.vm->h_get_tce(liobn, 0x3000, tce) == tce::H_SUCCESS);
    CHECK(tce == (0x5000 | 3));
    CHECK(g.vm->h_get_tce(0x80001234, 0x3000, tce) == tce::H_PARAMETER);  // no such LIOBN: QEMU answers
    CHECK(g.vm->user_space_hcalls() == 1);

    // A TCE for memory outside guest RAM: KVM gives up, QEMU's handler stores it and maps nothing.
    CHECK(g.vm->h_put_tce(liobn, 0x4000, (1ull << 40) | tce::TCE_PCI_READ) == tce::H_SUCCESS);
    CHECK(g.vm->user_space_hcalls() == 2);
    CHECK(t.entries.count(4) == 0);
    CHECK(g.vm->h_put_tce(liobn, 1ull << 30, 0x5000 | 1) == tce::H_PARAMETER);  // beyond the window

    // Clearing goes through KVM as well.
    CHECK(g.vm->h_put_tce(liobn, 0x3000, 0) == tce::H_SUCCESS);
    CHECK(t.entries.count(3) == 0);
}

TEST_CASE("spapr vmm: the DDW RTAS calls create, remove and reset a 64-bit window") {
    guest_world g;
    REQUIRE(g.vm->add_phb(0, {g.group}) == 0);
    const u64 buid = spapr_vmm::buid(0);
    auto q = g.vm->rtas_query_pe_dma_window(0, buid);
    CHECK(q.status == vmm::RTAS_OUT_SUCCESS);
    CHECK(q.windows_available == 1);
    CHECK(q.page_sizes == 0x07);  // 4K | 64K | 16M
    CHECK(q.largest_block == 0x80000000u);
    CHECK(g.vm->rtas_query_pe_dma_window(0, buid + 1).status == vmm::RTAS_OUT_PARAM_ERROR);

    CHECK(g.vm->rtas_create_pe_dma_window(0, buid, 13, 30).status == vmm::RTAS_OUT_PARAM_ERROR);  // 8K pages
    CHECK(g.vm->rtas_create_pe_dma_window(0, buid, 16, 15).status == vmm::RTAS_OUT_PARAM_ERROR);  // window < page
    auto c = g.vm->rtas_create_pe_dma_window(0, buid, 16, 30);
    REQUIRE(c.status == vmm::RTAS_OUT_SUCCESS);
    CHECK(c.liobn == spapr_vmm::liobn(0, 1));
    CHECK(c.bus_offset == (1ull << 59));
    REQUIRE(g.pe().tables[1]);
    CHECK(g.pe().tables[1]->page_shift() == 16);
    CHECK(g.vm->rtas_query_pe_dma_window(0, buid).windows_available == 0);
    CHECK(g.vm->rtas_create_pe_dma_window(0, buid, 16, 30).status == vmm::RTAS_OUT_HW_ERROR);

    // A 64 KiB TCE in the new window: guest RAM is backed by 2 MiB pages, so the region's page size allows it.
    const u64 ioba = (1ull << 59) + 0x20000;
    CHECK(g.vm->h_put_tce(c.liobn, ioba, 0x200000 | tce::TCE_PCI_WRITE) == tce::H_SUCCESS);
    auto& t = as_fake(g.pe().tables[1]);
    REQUIRE(t.entries.count(ioba >> 16));
    CHECK(t.entries[ioba >> 16].first == g.hpa(0x200000));
    CHECK(t.entries[ioba >> 16].second == host::dma_direction::from_device);

    CHECK(g.vm->rtas_remove_pe_dma_window(c.liobn) == vmm::RTAS_OUT_SUCCESS);
    CHECK_FALSE(g.pe().tables[1]);
    CHECK(g.vm->rtas_remove_pe_dma_window(c.liobn) == vmm::RTAS_OUT_PARAM_ERROR);  // not enabled any more
    CHECK(g.vm->rtas_remove_pe_dma_window(spapr_vmm::liobn(0, 0)) == vmm::RTAS_OUT_SUCCESS);
    CHECK(g.vm->rtas_query_pe_dma_window(0, buid).windows_available == 2);
    CHECK(g.vm->rtas_reset_pe_dma_window(0, buid) == vmm::RTAS_OUT_SUCCESS);
    const auto win = g.vm->windows(0);
    CHECK(win[0].enabled);
    CHECK(win[0].size == (1ull << 30));
    CHECK_FALSE(win[1].enabled);
}

// KVM's sPAPR TCE tables and hypercalls (arch/powerpc/kvm/book3s_64_vio.c, v6.1) against a fake hardware
// table and fake preregistered memory: table creation and its locked_vm charge, the hypercalls' argument
// checks and return codes, mirroring a guest entry into linked hardware tables as whole hardware pages,
// region mapping counts, and what stays untouched when a call fails.
#include "sim/host/kvm/kvm_spapr_tce.h"
#include "support/fake_tce.h"
#include "sim/host/process/process_mm.h"

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstring>
#include <map>
#include <vector>

using namespace iommusim;
using namespace iommusim::host;

namespace {
constexpr u64 KiB = 1024, MiB = 1024 * KiB;
constexpr u64 LIOBN = 0x80000001;

using fake_table = iommusim::test::fake_tce_table;

// A PE with no window of its own: each test programs the tables it needs.
struct fake_group : iommusim::test::fake_table_group {
    fake_group() : fake_table_group(1) { tables = {}; }
};

// Preregistered memory: regions [ua, ua + size) backed contiguously from hpa with pages of 1 << backing.
struct fake_prereg : mm_iommu {
    struct region_state {
        u64 ua, size, hpa;
        unsigned backing_shift;
        long mapped = 0;
    };
    std::vector<region_state> regions;
    region* lookup(u64 ua, u64 size) override {
        for (auto& r : regions)
            if (ua >= r.ua && ua + size <= r.ua + r.size) return reinterpret_cast<region*>(&r);
        return nullptr;
    }
    bool ua_to_hpa(region* mem, u64 ua, unsigned page_shift, u64& hpa) override {
        auto* r = reinterpret_cast<region_state*>(mem);
        if (page_shift > r->backing_shift || ua < r->ua || ua >= r->ua + r->size) return false;
        hpa = r->hpa + (ua - r->ua);
        return true;
    }
    bool mapped_inc(region* mem) override { return ++reinterpret_cast<region_state*>(mem)->mapped > 0; }
    void mapped_dec(region* mem) override { --reinterpret_cast<region_state*>(mem)->mapped; }
};

struct vm_fixture {
    memory::page_allocator phys{0, 64 * MiB};
    std::vector<u8> ram = std::vector<u8>(64 * MiB);
    process_mm mm{phys, 8 * MiB};
    fake_prereg prereg;
    kvm_spapr_tce kvm{mm, &prereg};
    u64 guest_ram = 0; // the VMM's mapping of guest RAM, gpa 0
    vm_fixture() {
        mm.set_memory(
            [this](u64 pa, void* d, u64 n) { return pa + n <= ram.size() && (std::memcpy(d, &ram[pa], n), true); },
            [this](u64 pa, const void* d, u64 n) { return pa + n <= ram.size() && (std::memcpy(&ram[pa], d, n), true); });
        guest_ram = mm.mmap_anon(16 * MiB);
        REQUIRE(guest_ram);
        REQUIRE(kvm.set_user_memory_region(0, 0, 16 * MiB, guest_ram) == 0);
    }
    // A 64 KiB-page guest table over a 1 GiB window at bus address 0.
    int table64k() {
        kvm_create_spapr_tce_64 a;
        a.liobn = LIOBN;
        a.page_shift = 16;
        a.size = 16384;
        return kvm.create_spapr_tce(a);
    }
};
} // namespace

TEST_CASE("kvm spapr tce: KVM_CREATE_SPAPR_TCE_64 checks its arguments and charges the table to locked_vm") {
    vm_fixture f;
    kvm_create_spapr_tce_64 a;
    a.liobn = LIOBN;
    a.page_shift = 16;
    a.size = 0;
    CHECK(f.kvm.create_spapr_tce(a) == -EINVAL);
    a.size = 16384;
    a.page_shift = 11;
    CHECK(f.kvm.create_spapr_tce(a) == -EINVAL);
    a.page_shift = 35;
    CHECK(f.kvm.create_spapr_tce(a) == -EINVAL);
    a.page_shift = 16;
    a.offset = ~u64(0) >> 16;
    CHECK(f.kvm.create_spapr_tce(a) == -EINVAL);
    a.offset = 0;
    CHECK(f.mm.locked_vm() == 0);
    const int t = f.kvm.create_spapr_tce(a);
    REQUIRE(t > 0);
    // kvmppc_stt_pages: 16384 TCEs are 32 pages, plus one page for the table struct and its page array.
    CHECK(f.mm.locked_vm() == 33 * 4 * KiB);
    CHECK(f.kvm.create_spapr_tce(a) == -EBUSY);  // the LIOBN is taken
    CHECK(f.mm.locked_vm() == 33 * 4 * KiB);     // and the failed charge was returned
    CHECK(f.kvm.release_spapr_tce(t) == 0);
    CHECK(f.mm.locked_vm() == 0);
    CHECK(f.kvm.release_spapr_tce(t) == -EBADF);

    // A 1 TiB window of 4 KiB TCEs would need 2 GiB of table: over RLIMIT_MEMLOCK (8 MiB).
    a.page_shift = 12;
    a.size = u64(1) << 28;
    CHECK(f.kvm.create_spapr_tce(a) == -ENOMEM);
    f.mm.set_cap_ipc_lock(true);
    CHECK(f.kvm.create_spapr_tce(a) > 0);
}

TEST_CASE("kvm spapr tce: H_PUT_TCE and H_GET_TCE without hardware tables keep the guest's copy") {
    vm_fixture f;
    REQUIRE(f.table64k() > 0);
    u64 tce = 1;
    CHECK(f.kvm.h_put_tce(LIOBN + 1, 0, 0x10000 | TCE_PCI_READ) == H_TOO_HARD);  // not KVM's: user space
    CHECK(f.kvm.h_put_tce(LIOBN, 0x1000, 0x10000 | TCE_PCI_READ) == H_PARAMETER); // ioba not page aligned
    CHECK(f.kvm.h_put_tce(LIOBN, u64(1) << 30, 0x10000 | TCE_PCI_READ) == H_PARAMETER); // past the window
    CHECK(f.kvm.h_put_tce(LIOBN, 0x20000, 0x11000 | TCE_PCI_READ) == H_TOO_HARD); // gpa not 64 KiB aligned
    CHECK(f.kvm.h_put_tce(LIOBN, 0x20000, (32 * MiB) | TCE_PCI_READ) == H_TOO_HARD); // no memslot
    CHECK(f.kvm.h_get_tce(LIOBN, 0x20000, tce) == H_SUCCESS);
    CHECK(tce == 0);
    CHECK(f.kvm.h_put_tce(LIOBN, 0x20000, 0x30000 | TCE_PCI_READ | TCE_PCI_WRITE) == H_SUCCESS);
    CHECK(f.kvm.h_get_tce(LIOBN, 0x20000, tce) == H_SUCCESS);
    CHECK(tce == (0x30000 | TCE_PCI_READ | TCE_PCI_WRITE));
    CHECK(f.kvm.h_get_tce(LIOBN, 0x20001, tce) == H_PARAMETER);
    // A clearing TCE is accepted whatever its address bits (user space may poison entries).
    CHECK(f.kvm.h_put_tce(LIOBN, 0x20000, 0xdead0000) == H_SUCCESS);
    CHECK(f.kvm.h_get_tce(LIOBN, 0x20000, tce) == H_SUCCESS);
    CHECK(tce == 0xdead0000);
}

TEST_CASE("kvm spapr tce: a guest entry is mirrored into a linked hardware table as whole hardware pages") {
    vm_fixture f;
    const int t = f.table64k();
    fake_group g;
    auto hw = std::make_shared<fake_table>(0, 1 << 18, 12);  // 4 KiB hardware pages over the same 1 GiB
    g.tables[0] = hw;
    CHECK(f.kvm.attach_iommu_group(t + 100, g) == -EBADF);
    REQUIRE(f.kvm.attach_iommu_group(t, g) == 0);
    CHECK(f.kvm.linked_tables(LIOBN) == 1);

    // Guest RAM at gpa 0 is preregistered and backed by 64 KiB pages at hpa 0x40000000.
    f.prereg.regions.push_back({f.guest_ram, 16 * MiB, 0x40000000, 16});
    CHECK(f.kvm.h_put_tce(LIOBN, 0x50000, 0x70000 | TCE_PCI_WRITE) == H_SUCCESS);
    // Guest entry 5 is hardware entries 80..95, each its 4 KiB piece of gpa 0x70000.
    REQUIRE(hw->entries.size() == 16);
    for (u64 i = 0; i < 16; ++i) {
        REQUIRE(hw->entries.count(80 + i));
        CHECK(hw->entries[80 + i].first == 0x40070000 + i * 4 * KiB);
        CHECK(hw->entries[80 + i].second == dma_direction::from_device);
        CHECK(hw->userspace(80 + i) == f.guest_ram + 0x70000 + i * 4 * KiB);
    }
    CHECK(f.prereg.regions[0].mapped == 16);
    REQUIRE(hw->kills.size() == 1);
    CHECK(hw->kills[0] == std::make_pair(u64(80), u64(16)));

    // Replacing the entry keeps one mapping per hardware entry; clearing drops them.
    CHECK(f.kvm.h_put_tce(LIOBN, 0x50000, 0x80000 | TCE_PCI_READ) == H_SUCCESS);
    CHECK(f.prereg.regions[0].mapped == 16);
    CHECK(hw->entries[80].first == 0x40080000);
    CHECK(hw->entries[80].second == dma_direction::to_device);
    CHECK(f.kvm.h_put_tce(LIOBN, 0x50000, 0) == H_SUCCESS);
    CHECK(hw->entries.empty());
    CHECK(f.prereg.regions[0].mapped == 0);
    CHECK(hw->userspace(80) == 0);
}

TEST_CASE("kvm spapr tce: memory that is not preregistered is left to user space and nothing changes") {
    vm_fixture f;
    const int t = f.table64k();
    fake_group g;
    auto hw = std::make_shared<fake_table>(0, 1 << 18, 12);
    g.tables[0] = hw;
    REQUIRE(f.kvm.attach_iommu_group(t, g) == 0);
    u64 tce = 0;
    CHECK(f.kvm.h_put_tce(LIOBN, 0x50000, 0x70000 | TCE_PCI_READ) == H_TOO_HARD);
    CHECK(hw->entries.empty());
    CHECK(f.kvm.h_get_tce(LIOBN, 0x50000, tce) == H_SUCCESS);
    CHECK(tce == 0);
    // Registered with 4 KiB backing: still fine for 4 KiB hardware pages.
    f.prereg.regions.push_back({f.guest_ram, 16 * MiB, 0x40000000, 12});
    CHECK(f.kvm.h_put_tce(LIOBN, 0x50000, 0x70000 | TCE_PCI_READ) == H_SUCCESS);
    CHECK(hw->entries.size() == 16);
}

TEST_CASE("kvm spapr tce: a hardware table must match the guest window to be linked") {
    vm_fixture f;
    const int t = f.table64k();
    fake_group g;
    g.tables[0] = std::make_shared<fake_table>(1, 1 << 18, 12);        // starts one page later
    CHECK(f.kvm.attach_iommu_group(t, g) == -EINVAL);
    g.tables[0] = std::make_shared<fake_table>(0, 1 << 17, 12);        // half the window
    CHECK(f.kvm.attach_iommu_group(t, g) == -EINVAL);
    g.tables[0] = std::make_shared<fake_table>(0, 1 << 6, 24);         // 16 MiB pages: larger than the guest's
    CHECK(f.kvm.attach_iommu_group(t, g) == -EINVAL);
    g.tables[1] = std::make_shared<fake_table>(0, 1 << 14, 16);        // the second table fits exactly
    CHECK(f.kvm.attach_iommu_group(t, g) == 0);
    CHECK(f.kvm.attach_iommu_group(t, g) == 0);                        // a reference, not a second link
    CHECK(f.kvm.linked_tables(LIOBN) == 1);
    f.kvm.release_iommu_group(g);
    CHECK(f.kvm.linked_tables(LIOBN) == 1);
    f.kvm.release_iommu_group(g);
    CHECK(f.kvm.linked_tables(LIOBN) == 0);
}

TEST_CASE("kvm spapr tce: H_PUT_TCE_INDIRECT reads a big-endian list from guest memory") {
    vm_fixture f;
    const int t = f.table64k();
    fake_group g;
    auto hw = std::make_shared<fake_table>(0, 1 << 14, 16);
    g.tables[0] = hw;
    REQUIRE(f.kvm.attach_iommu_group(t, g) == 0);
    f.prereg.regions.push_back({f.guest_ram, 16 * MiB, 0x40000000, 16});

    // The list at gpa 0x100000: four TCEs for gpa 0x200000, 0x210000, ...
    const u64 list_gpa = 0x100000;
    for (u64 i = 0; i < 4; ++i) {
        const u64 tce = (0x200000 + i * 0x10000) | TCE_PCI_READ | TCE_PCI_WRITE;
        u8 be[8];
        for (int b = 0; b < 8; ++b) be[b] = u8(tce >> (56 - 8 * b));
        REQUIRE(f.mm.write(f.guest_ram + list_gpa + i * 8, be, 8) == 0);
    }
    CHECK(f.kvm.h_put_tce_indirect(LIOBN, 0x40000, list_gpa, 513) == H_PARAMETER);
    CHECK(f.kvm.h_put_tce_indirect(LIOBN, 0x40000, list_gpa + 8, 4) == H_PARAMETER);
    CHECK(f.kvm.h_put_tce_indirect(LIOBN, (u64(1) << 30) - 0x20000, list_gpa, 4) == H_PARAMETER);
    CHECK(f.kvm.h_put_tce_indirect(LIOBN, 0x40000, 32 * MiB, 4) == H_TOO_HARD);  // list outside RAM
    CHECK(f.kvm.h_put_tce_indirect(LIOBN, 0x40000, list_gpa, 4) == H_SUCCESS);
    REQUIRE(hw->entries.size() == 4);
    for (u64 i = 0; i < 4; ++i) {
        CHECK(hw->entries[4 + i].first == 0x40200000 + i * 0x10000);
        u64 tce = 0;
        CHECK(f.kvm.h_get_tce(LIOBN, 0x40000 + i * 0x10000, tce) == H_SUCCESS);
        CHECK(tce == ((0x200000 + i * 0x10000) | 3));
    }

    // H_STUFF_TCE clears (a value with permission bits is refused).
    CHECK(f.kvm.h_stuff_tce(LIOBN, 0x40000, 0x200000 | TCE_PCI_READ, 4) == H_PARAMETER);
    CHECK(f.kvm.h_stuff_tce(LIOBN, 0x40000, 0, 4) == H_SUCCESS);
    CHECK(hw->entries.empty());
    CHECK(f.prereg.regions[0].mapped == 0);
}

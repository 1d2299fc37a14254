// The sPAPR TCE backend (drivers/vfio/vfio_iommu_spapr_tce.c and vfio_spapr_eeh.c, Linux 6.1) over fake PEs
// (support/fake_tce.h) and the fake kernel's groups: backend selection on a POWER host, v1's ENABLE and its
// window charge, v2's preregistration, default window and DDW, MAP/UNMAP as TCE exchanges with the
// kernel's checks and errno, two groups in one container, VFIO_EEH_PE_OP. Each expectation names the
// kernel function it comes from.
#include "support/power_host.h"

#include <catch2/catch.hpp>

#include <cstddef>

using namespace iommusim;
using namespace iommusim::test;

namespace {


struct spapr_world {
    static constexpr u64 VA = 0x7f0000000000ull, PA = 0x100000000ull, LEN = 64ull << 20;
    vtd_world w;
    power_host host{w};
    fake_vfio_mm mm;
    vfio::vfio_core v{host, mm};
    explicit spapr_world(bool ops = true) {
        mm.add(VA, PA, LEN);
        for (const char* d : {"0000:01:00.0", "0000:00:02.0"}) {
            host.vfio_bound.insert(d);
            const int g = w.group(d);
            host.pes[g] = std::make_unique<fake_table_group>(g, ops);
        }
    }
    fake_table_group& pe(const char* bdf) { return *host.pes.at(w.group(bdf)); }
    long io(int fd, unsigned long req, const void* arg) { return v.ioctl(fd, req, reinterpret_cast<unsigned long>(arg)); }
    long io(int fd, unsigned long req, unsigned long arg = 0) { return v.ioctl(fd, req, arg); }
    int container() { return v.open("/dev/vfio/vfio", O_RDWR); }
    int join(int c, const char* bdf) {
        const int g = v.open("/dev/vfio/" + std::to_string(w.group(bdf)), O_RDWR);
        REQUIRE(g >= 0);
        REQUIRE(io(g, VFIO_GROUP_SET_CONTAINER, &c) == 0);
        return g;
    }
    long reg(int c, u64 vaddr, u64 size, unsigned long req = VFIO_IOMMU_SPAPR_REGISTER_MEMORY) {
        vfio_iommu_spapr_register_memory r{};
        r.argsz = sizeof(r);
        r.vaddr = vaddr;
        r.size = size;
        return io(c, req, &r);
    }
    long map(int c, u64 vaddr, u64 iova, u64 size, u32 flags = 3) {
        vfio_iommu_type1_dma_map m{sizeof(m), flags, vaddr, iova, size};
        return io(c, VFIO_IOMMU_MAP_DMA, &m);
    }
    long unmap(int c, u64 iova, u64 size, u32 flags = 0) {
        vfio_iommu_type1_dma_unmap u{};
        u.argsz = sizeof(u);
        u.flags = flags;
        u.iova = iova;
        u.size = size;
        return io(c, VFIO_IOMMU_UNMAP_DMA, &u);
    }
    long create(int c, u32 page_shift, u64 size, u32 levels, u64* start = nullptr) {
        vfio_iommu_spapr_tce_create t{};
        t.argsz = sizeof(t);
        t.page_shift = page_shift;
        t.window_size = size;
        t.levels = levels;
        const long rc = io(c, VFIO_IOMMU_SPAPR_TCE_CREATE, &t);
        if (start) *start = t.start_addr;
        return rc;
    }
    long remove(int c, u64 start) {
        vfio_iommu_spapr_tce_remove r{};
        r.argsz = sizeof(r);
        r.start_addr = start;
        return io(c, VFIO_IOMMU_SPAPR_TCE_REMOVE, &r);
    }
    vfio::vfio_iommu_spapr_tce& backend(int c) { return *v.container_of_fd(c)->spapr(); }
};


} // namespace

TEST_CASE("spapr tce: a POWER host registers the sPAPR backend, not type1 (container.c, tce_iommu_open)") {
    spapr_world x;
    const int c = x.container();
    CHECK(x.io(c, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_IOMMU) == 1);
    CHECK(x.io(c, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_v2_IOMMU) == 1);
    CHECK(x.io(c, VFIO_CHECK_EXTENSION, VFIO_EEH) == 1);
    CHECK(x.io(c, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) == 0);
    x.host.eeh = false;
    CHECK(x.io(c, VFIO_CHECK_EXTENSION, VFIO_EEH) == 0);
    x.join(c, "01:00.0");
    CHECK(x.io(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == -ENODEV);
    CHECK(x.io(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU) == 0);
    CHECK(x.backend(c).v2());
    CHECK(x.pe("01:00.0").owned);              // tce_iommu_take_ownership_ddw
    CHECK(x.backend(c).default_window_pending());
    CHECK(x.io(c, VFIO_IOMMU_ENABLE) == -ENOTTY);  // v1 only
}

TEST_CASE("spapr tce: v1 ENABLE charges the whole 32-bit window to locked_vm (tce_iommu_enable)") {
    spapr_world x(false);  // legacy PEs: v1 only
    const int c = x.container();
    x.join(c, "01:00.0");
    REQUIRE(x.io(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU) == 0);
    CHECK(x.map(c, x.VA, 0x10000, 0x1000) == -EPERM);  // not enabled
    x.mm.limit = 512ull << 20;                          // below the 1 GiB window
    CHECK(x.io(c, VFIO_IOMMU_ENABLE) == -ENOMEM);
    CHECK(x.mm.locked == 0);
    x.mm.limit = ~u64(0);
    CHECK(x.io(c, VFIO_IOMMU_ENABLE) == 0);
    CHECK(x.mm.locked == (1ull << 30));
    CHECK(x.io(c, VFIO_IOMMU_ENABLE) == -EBUSY);
    CHECK(x.io(c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY) == -ENOTTY);  // v2 only

    // MAP pins each 4 KiB page without further charge and writes the legacy table the container adopted.
    CHECK(x.map(c, x.VA + 0x3000, 0x10000, 0x2000) == 0);
    auto& t = as_fake(x.backend(c).tables()[0]);
    REQUIRE(t.entries.size() == 2);
    CHECK(t.entries[0x10].first == x.PA + 0x3000);
    CHECK(t.entries[0x10].second == host::dma_direction::bidirectional);
    CHECK(x.mm.locked == (1ull << 30));
    CHECK(x.mm.pins == 2);
    // A second map of the same IOVA exchanges the entry (no -EEXIST) and unpins the old page.
    CHECK(x.map(c, x.VA + 0x8000, 0x10000, 0x1000, VFIO_DMA_MAP_FLAG_READ) == 0);
    CHECK(t.entries[0x10].first == x.PA + 0x8000);
    CHECK(t.entries[0x10].second == host::dma_direction::to_device);
    CHECK(x.mm.pins == 2);
    CHECK(x.unmap(c, 0x10000, 0x2000) == 0);
    CHECK(t.entries.empty());
    CHECK(x.mm.pins == 0);
    CHECK(x.io(c, VFIO_IOMMU_DISABLE) == 0);
    CHECK(x.mm.locked == 0);

    // A v2 container cannot take a legacy PE (tce_iommu_attach_group: -EPERM).
    const int c2 = x.container();
    x.join(c2, "00:02.0");
    CHECK(x.io(c2, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU) == -EPERM);
}

TEST_CASE("spapr tce: GET_INFO reports the 32-bit window and, for v2 with argsz 32, the DDW part") {
    spapr_world x;
    const int c = x.container();
    vfio_iommu_spapr_tce_info info{};
    info.argsz = sizeof(info);
    x.join(c, "01:00.0");
    REQUIRE(x.io(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU) == 0);
    CHECK(x.io(c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info) == 0);
    CHECK(info.dma32_window_start == 0);
    CHECK(info.dma32_window_size == (1u << 30));
    CHECK(info.flags == VFIO_IOMMU_SPAPR_INFO_DDW);
    CHECK(info.ddw.pgsizes == ((1ull << 12) | (1ull << 16) | (1ull << 24)));
    CHECK(info.ddw.max_dynamic_windows_supported == 2);
    CHECK(info.ddw.levels == 5);
    // argsz 16: the ddw part is not copied back (offsetofend(dma32_window_size) is the minimum).
    vfio_iommu_spapr_tce_info small{};
    std::memset(&small, 0xee, sizeof(small));
    small.argsz = 16;
    CHECK(x.io(c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &small) == 0);
    CHECK(small.ddw.levels == 0xeeeeeeeeu);
    small.argsz = 15;
    CHECK(x.io(c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &small) == -EINVAL);
}

TEST_CASE("spapr tce: v2 maps preregistered memory only, through the deferred default window") {
    spapr_world x;
    const int c = x.container();
    x.join(c, "01:00.0");
    REQUIRE(x.io(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU) == 0);
    CHECK(x.map(c, x.VA, 0, 0x1000) == -EPERM);            // not enabled before REGISTER_MEMORY
    CHECK(x.reg(c, x.VA + 1, 0x1000) == -EINVAL);           // not page aligned
    x.mm.limit = 8ull << 20;
    CHECK(x.reg(c, x.VA, 16ull << 20) == -ENOMEM);          // the whole region is charged at once
    x.mm.limit = ~u64(0);
    REQUIRE(x.reg(c, x.VA, 16ull << 20) == 0);
    CHECK(x.mm.locked == (16ull << 20));
    CHECK(x.reg(c, x.VA, 16ull << 20) == -EBUSY);           // this container registered it already
    CHECK(x.reg(c, x.VA + 0x1000, 0x1000) == -EINVAL);      // overlaps a registered region
    CHECK(x.backend(c).enabled());

    // The first MAP creates the default window (4 KiB TCEs over tce32) and charges its table memory.
    CHECK(x.backend(c).default_window_pending());
    const u64 before = x.mm.locked;
    CHECK(x.map(c, x.VA + 0x5000, 0x20000, 0x3000, VFIO_DMA_MAP_FLAG_WRITE) == 0);
    CHECK_FALSE(x.backend(c).default_window_pending());
    auto& t = as_fake(x.backend(c).tables()[0]);
    CHECK(x.mm.locked == before + ((1ull << 30) >> 12) * 8);
    CHECK(x.pe("01:00.0").tables[0] == x.backend(c).tables()[0]);  // programmed into the PE
    REQUIRE(t.entries.size() == 3);
    CHECK(t.entries[0x20].first == x.PA + 0x5000);
    CHECK(t.entries[0x20].second == host::dma_direction::from_device);
    CHECK(t.userspace(0x21) == x.VA + 0x6000);
    REQUIRE_FALSE(t.kills.empty());
    CHECK(t.kills.back() == std::make_pair(u64(0x20), u64(3)));

    // The checks of tce_iommu_ioctl(MAP_DMA) in order.
    CHECK(x.map(c, x.VA, 0x20000, 0x1000, 0) == -EINVAL);               // neither read nor write
    CHECK(x.map(c, x.VA, 0x20000, 0x1000, 4) == -EINVAL);               // an unknown flag
    CHECK(x.map(c, x.VA, 1ull << 30, 0x1000) == -ENXIO);                // no window holds the IOVA
    CHECK(x.map(c, x.VA, 0x20000, 0x800) == -EINVAL);                   // size not a multiple of the TCE page
    CHECK(x.map(c, x.VA + (32ull << 20), 0x20000, 0x1000) == -EINVAL);  // not preregistered
    CHECK(x.map(c, x.VA, (1ull << 30) - 0x1000, 0x2000) == -EINVAL);    // runs past the window: unwound
    CHECK(t.entries.count(((1ull << 30) - 0x1000) >> 12) == 0);

    // UNREGISTER while TCEs point into the region: tce_iommu_unregister_pages holds its own reference
    // (mm_iommu_get), so tce_iommu_prereg_free's mm_iommu_put succeeds and the container forgets the
    // region, and the final mm_iommu_put's -EBUSY is dropped: the call returns 0 and the region stays
    // registered (and charged) with no container owning it.
    CHECK(x.reg(c, x.VA, 16ull << 20, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY) == 0);
    CHECK(x.v.mm_iommu().size() == 1);
    CHECK(x.reg(c, x.VA, 16ull << 20, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY) == -ENOENT);
    CHECK(x.mm.locked == before + ((1ull << 30) >> 12) * 8 + 0);
    CHECK(x.unmap(c, 0x20000, 0x3000, 1) == -EINVAL);  // no flags
    CHECK(x.unmap(c, 0x20000, 0x3000) == 0);
    CHECK(t.entries.empty());
    // Registering it again adopts the lingering region (mm_iommu_get); unregistering then drops only this
    // container's use: the orphaned reference keeps the region pinned and charged until the process exits.
    CHECK(x.reg(c, x.VA, 16ull << 20) == 0);
    CHECK(x.reg(c, x.VA, 16ull << 20, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY) == 0);
    CHECK(x.v.mm_iommu().size() == 1);
    CHECK(x.mm.locked == before + ((1ull << 30) >> 12) * 8);
}

TEST_CASE("spapr tce: TCE_CREATE and TCE_REMOVE manage two windows and their table memory") {
    spapr_world x;
    const int c = x.container();
    x.join(c, "01:00.0");
    REQUIRE(x.io(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU) == 0);
    // Removing the pending default window at 0 just cancels it.
    CHECK(x.remove(c, 0) == 0);
    CHECK_FALSE(x.backend(c).default_window_pending());
    REQUIRE(x.reg(c, x.VA, 16ull << 20) == 0);
    CHECK(x.map(c, x.VA, 0, 0x1000) == -ENXIO);  // no window any more
    u64 start = 1;
    CHECK(x.create(c, 13, 1ull << 30, 1) == -EINVAL);  // 8 KiB pages are not the platform's
    const u64 base = x.mm.locked;
    REQUIRE(x.create(c, 16, 1ull << 30, 1, &start) == 0);
    CHECK(start == 0);  // the first free slot is window 0
    REQUIRE(x.create(c, 24, 1ull << 40, 2, &start) == 0);
    CHECK(start == (1ull << 59));
    CHECK(x.create(c, 16, 1ull << 30, 1) == -ENOSPC);
    CHECK(x.mm.locked > base);
    CHECK(x.map(c, x.VA + 0x10000, (1ull << 59), 0x1000000) == -EINVAL);  // 64 KiB backing, 16 MiB TCE
    CHECK(x.map(c, x.VA, 0x10000, 0x20000) == 0);                       // 64 KiB TCEs
    CHECK(x.remove(c, 0x80000000) == -EINVAL);                          // no window holds it
    CHECK(x.remove(c, 0) == 0);
    CHECK(x.remove(c, 1ull << 59) == 0);
    CHECK(x.mm.locked == base);
    CHECK_FALSE(x.pe("01:00.0").tables[0]);
    CHECK_FALSE(x.pe("01:00.0").tables[1]);
}

TEST_CASE("spapr tce: two groups in one container get the same windows (tce_iommu_take_ownership_ddw)") {
    spapr_world x;
    const int c = x.container();
    x.join(c, "01:00.0");
    REQUIRE(x.io(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU) == 0);
    REQUIRE(x.reg(c, x.VA, 16ull << 20) == 0);
    REQUIRE(x.map(c, x.VA, 0x1000, 0x1000) == 0);  // the default window now exists
    x.join(c, "00:02.0");                            // joins the container's backend
    CHECK(x.pe("00:02.0").owned);
    CHECK(x.pe("00:02.0").tables[0] == x.pe("01:00.0").tables[0]);
    CHECK(as_fake(x.pe("00:02.0").tables[0]).entries.count(1) == 1);
    CHECK(x.create(c, 16, 1ull << 32, 1) == 0);
    CHECK(x.pe("00:02.0").tables[1] == x.pe("01:00.0").tables[1]);
    CHECK(x.pe("00:02.0").set_windows == 2);
}

TEST_CASE("spapr eeh: VFIO_EEH_PE_OP reaches the PE of every group (vfio_spapr_iommu_eeh_ioctl)") {
    spapr_world x;
    const int c = x.container();
    vfio_eeh_pe_op op{};
    op.argsz = 12;
    op.op = VFIO_EEH_PE_GET_STATE;
    CHECK(x.io(c, VFIO_EEH_PE_OP, &op) == -EINVAL);  // no backend yet: the container answers -EINVAL
    x.join(c, "01:00.0");
    REQUIRE(x.io(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU) == 0);
    CHECK(x.io(c, VFIO_EEH_PE_OP, &op) == 0);  // EEH_PE_STATE_NORMAL
    op.op = VFIO_EEH_PE_INJECT_ERR;
    CHECK(x.io(c, VFIO_EEH_PE_OP, &op) == -EINVAL);  // argsz must cover err.mask
    op.argsz = sizeof(op);
    op.err.type = 0;
    op.err.func = 4;
    op.err.addr = 0x1000;
    op.err.mask = 0xfff;
    CHECK(x.io(c, VFIO_EEH_PE_OP, &op) == 0);
    CHECK(x.pe("01:00.0").pe.calls.back() == "inject 0 4 4096 4095");
    op.op = VFIO_EEH_PE_GET_STATE;
    CHECK(x.io(c, VFIO_EEH_PE_OP, &op) == 2);  // the state is the ioctl's result
    op.op = VFIO_EEH_PE_UNFREEZE_DMA;
    CHECK(x.io(c, VFIO_EEH_PE_OP, &op) == 0);
    CHECK(x.pe("01:00.0").pe.calls.back() == "set_option 3");
    for (auto [o, call] : {std::pair<u32, const char*>{VFIO_EEH_PE_RESET_HOT, "reset 1"},
                           {VFIO_EEH_PE_RESET_FUNDAMENTAL, "reset 3"},
                           {VFIO_EEH_PE_RESET_DEACTIVATE, "reset 0"},
                           {VFIO_EEH_PE_CONFIGURE, "configure"},
                           {VFIO_EEH_PE_DISABLE, "set_option 0"}}) {
        op.op = o;
        CHECK(x.io(c, VFIO_EEH_PE_OP, &op) == 0);
        CHECK(x.pe("01:00.0").pe.calls.back() == call);
    }
    op.op = 10;
    CHECK(x.io(c, VFIO_EEH_PE_OP, &op) == -EINVAL);
    op.op = VFIO_EEH_PE_GET_STATE;
    op.flags = 1;
    CHECK(x.io(c, VFIO_EEH_PE_OP, &op) == -EINVAL);
}

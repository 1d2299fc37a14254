// type1 over the real process address space (host::process_mm through vfio::process_vfio_mm): pins
// charged to locked_vm per mapping, RLIMIT_MEMLOCK refusing with -ENOMEM and leaving nothing pinned,
// CAP_IPC_LOCK bypassing it, unmap and teardown uncharging, and large maps costing records per run.
#include "support/vfio_fixture.h"
#include "sim/host/process/process_mm.h"
#include "sim/vfio/vfio_process_mm.h"

using namespace iommusim;
using namespace iommusim::test;

namespace {
struct pin_world {
    vtd_world w;
    fake_vfio_host host{w};
    memory::page_allocator user{u64(1) << 32, u64(4) << 30};
    host::process_mm pm;
    vfio::process_vfio_mm mm{pm};
    std::unique_ptr<vfio::vfio_core> v = std::make_unique<vfio::vfio_core>(host, mm);
    explicit pin_world(u64 memlock, bool cap = false) : pm(user, memlock, cap) { host.vfio_bound.insert("0000:01:00.0"); }
    int c = -1;
    void ready() {
        c = v->open("/dev/vfio/vfio", 0);
        const int g = v->open("/dev/vfio/" + std::to_string(w.group("01:00.0")), 0);
        REQUIRE(v->ioctl(g, VFIO_GROUP_SET_CONTAINER, reinterpret_cast<unsigned long>(&c)) == 0);
        REQUIRE(v->ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == 0);
    }
    long map(u64 va, u64 iova, u64 size) {
        vfio_iommu_type1_dma_map m{32, 3, va, iova, size};
        return v->ioctl(c, VFIO_IOMMU_MAP_DMA, reinterpret_cast<unsigned long>(&m));
    }
    long unmap(u64 iova, u64 size) {
        vfio_iommu_type1_dma_unmap u{};
        u.argsz = 24;
        u.iova = iova;
        u.size = size;
        return v->ioctl(c, VFIO_IOMMU_UNMAP_DMA, reinterpret_cast<unsigned long>(&u));
    }
};
} // namespace

TEST_CASE("vfio pinning: RLIMIT_MEMLOCK, per-mapping charges, unmap and teardown uncharge", "[vfio][type1]") {
    pin_world x(8 << 20);
    x.ready();
    const u64 va = x.pm.mmap_anon(16 << 20);
    REQUIRE(va);
    REQUIRE(x.map(va, 0x100000, 4 << 20) == 0);
    CHECK(x.pm.locked_vm() == (4u << 20));
    // The same pages mapped again at another IOVA are charged again (type1 accounts per vfio_dma).
    REQUIRE(x.map(va, 0x10000000, 4 << 20) == 0);
    CHECK(x.pm.locked_vm() == (8u << 20));
    // One page more is over the limit: -ENOMEM, nothing stays pinned or charged.
    CHECK(x.map(va + (8 << 20), 0x20000000, 0x1000) == -ENOMEM);
    CHECK(x.pm.locked_vm() == (8u << 20));
    CHECK(x.v->container_of_fd(x.c)->backend()->find_mapping(0x20000000) == nullptr);
    // The translation is the process's page.
    host::iommu_domain* d = x.v->container_of_fd(x.c)->backend()->domain_of(x.w.group("01:00.0"));
    CHECK(d->iova_to_phys(0x100000 + 0x3000) == *x.pm.translate(va + 0x3000));
    REQUIRE(x.unmap(0x100000, 4 << 20) == 0);
    CHECK(x.pm.locked_vm() == (4u << 20));
    CHECK(x.map(va + (8 << 20), 0x20000000, 0x1000) == 0);
    // Process exit: every fd closed, every pin dropped.
    x.v.reset();
    CHECK(x.pm.locked_vm() == 0);
}

TEST_CASE("vfio pinning: CAP_IPC_LOCK bypasses the limit and unmapped memory is -EFAULT", "[vfio][type1]") {
    pin_world x(8 << 20, /*cap_ipc_lock=*/true);
    x.ready();
    const u64 va = x.pm.mmap_anon(u64(64) << 20, /*huge=*/true);
    REQUIRE(va);
    CHECK(x.map(va, 0x40000000, u64(64) << 20) == 0);
    CHECK(x.map(va + (u64(64) << 20), 0x80000000, 0x200000) == -EFAULT);  // past the mapping
    // 2 MiB-backed memory: a handful of runs, not 16384 pages.
    const auto* m = x.v->container_of_fd(x.c)->backend()->find_mapping(0x40000000);
    REQUIRE(m);
    CHECK(m->runs.size() <= 32);
}

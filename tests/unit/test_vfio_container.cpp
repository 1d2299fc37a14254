// VFIO containers, groups and devices (sim/vfio) over the fake-VT-d kernel: every errno rule of Linux 6.1's
// container.c / group.c that the vfio-oracle recorded or the source defines, in the kernel's order.
#include "support/vfio_fixture.h"

using namespace iommusim;
using namespace iommusim::test;

TEST_CASE("vfio container: API version, extensions without a backend, ioctls before SET_IOMMU", "[vfio]") {
    vfio_world x;
    const int c = x.v.open("/dev/vfio/vfio", O_RDWR);
    CHECK(c == 3);  // the lowest free fd after stdio, as the oracle's traces show
    CHECK(x.io(c, VFIO_GET_API_VERSION) == VFIO_API_VERSION);
    // Linux 6.1 on x86 (oracle probe-intel): TYPE1, TYPE1v2, NESTING and UNMAP_ALL; UPDATE_VADDR only with
    // an instance; no sPAPR, EEH or noiommu backend.
    const std::map<unsigned long, long> empty = {{1, 1}, {2, 0}, {3, 1}, {4, 0}, {5, 0}, {6, 1}, {7, 0}, {8, 0}, {9, 1}, {10, 0}};
    for (auto [ext, want] : empty) CHECK(x.io(c, VFIO_CHECK_EXTENSION, ext) == want);
    CHECK(x.io(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == -EINVAL);  // no group yet
    vfio_iommu_type1_info info{sizeof info, 0, 0, 0};
    CHECK(x.io(c, VFIO_IOMMU_GET_INFO, &info) == -EINVAL);         // no backend: -EINVAL, not -ENOTTY
    CHECK(x.io(c, VFIO_IOMMU_UNMAP_DMA + 20) == -EINVAL);
    CHECK(x.io(99, VFIO_GET_API_VERSION) == -EBADF);
    CHECK(x.v.open("/dev/vfio/nope", O_RDWR) == -ENOENT);
    CHECK(x.v.close(c) == 0);
    CHECK(x.v.close(c) == -EBADF);
}

TEST_CASE("vfio group: node existence, exclusive open, status, SET_CONTAINER errors", "[vfio]") {
    vfio_world x;
    const int c = x.v.open("/dev/vfio/vfio", O_RDWR);
    // 00:1c.0's group has no device bound to vfio-pci: no /dev/vfio node.
    x.host.vfio_bound.erase("0000:01:00.0");
    CHECK(x.v.open(x.node("01:00.0"), O_RDWR) == -ENOENT);
    x.host.vfio_bound.insert("0000:01:00.0");
    const int g = x.v.open(x.node("01:00.0"), O_RDWR);
    REQUIRE(g == 4);
    CHECK(x.v.open(x.node("01:00.0"), O_RDWR) == -EBUSY);
    vfio_group_status st{4, 0};
    CHECK(x.io(g, VFIO_GROUP_GET_STATUS, &st) == -EINVAL);  // argsz below 8
    st.argsz = sizeof st;
    REQUIRE(x.io(g, VFIO_GROUP_GET_STATUS, &st) == 0);
    CHECK(st.flags == VFIO_GROUP_FLAGS_VIABLE);
    CHECK(x.io(g, VFIO_GROUP_GET_DEVICE_FD, "0000:01:00.0") == -EINVAL);  // no container
    CHECK(x.io(g, VFIO_GROUP_UNSET_CONTAINER) == -EINVAL);
    int bad = 77;
    CHECK(x.io(g, VFIO_GROUP_SET_CONTAINER, &bad) == -EBADF);
    CHECK(x.io(g, VFIO_GROUP_SET_CONTAINER, &g) == -EINVAL);  // a group fd is not a container
    REQUIRE(x.io(g, VFIO_GROUP_SET_CONTAINER, &c) == 0);
    REQUIRE(x.io(g, VFIO_GROUP_GET_STATUS, &st) == 0);
    CHECK(st.flags == (VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET));
    CHECK(x.host.owners.count(x.w.group("01:00.0")) == 1);  // DMA ownership claimed
    CHECK(x.io(g, VFIO_GROUP_SET_CONTAINER, &c) == -EINVAL);
    CHECK(x.io(g, VFIO_GROUP_GET_DEVICE_FD, "0000:01:00.0") == -EINVAL);  // container without backend
    CHECK(x.io(g, VFIO_GROUP_GET_DEVICE_FD + 20) == -ENOTTY);
}

TEST_CASE("vfio group: a kernel DMA driver in the group makes it non-viable and SET_CONTAINER -EPERM", "[vfio]") {
    vfio_world x;
    const int c = x.v.open("/dev/vfio/vfio", O_RDWR);
    const int gid = x.w.group("03:04.0");
    REQUIRE(gid == x.w.group("03:05.0"));
    x.host.kernel_dma.insert(gid);  // 03:05.0 stays on its host driver
    const int g = x.v.open(x.node("03:04.0"), O_RDWR);
    vfio_group_status st{sizeof st, 0xff};
    REQUIRE(x.io(g, VFIO_GROUP_GET_STATUS, &st) == 0);
    CHECK(st.flags == 0);
    CHECK(x.io(g, VFIO_GROUP_SET_CONTAINER, &c) == -EPERM);
    CHECK(x.host.owners.empty());
    x.host.kernel_dma.erase(gid);  // unbound: viable
    REQUIRE(x.io(g, VFIO_GROUP_GET_STATUS, &st) == 0);
    CHECK(st.flags == VFIO_GROUP_FLAGS_VIABLE);
    CHECK(x.io(g, VFIO_GROUP_SET_CONTAINER, &c) == 0);
    REQUIRE(x.io(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == 0);
    // The member that is not a VFIO device cannot be opened through the group.
    x.host.vfio_bound.erase("0000:03:05.0");
    CHECK(x.io(g, VFIO_GROUP_GET_DEVICE_FD, "0000:03:05.0") == -ENODEV);
    CHECK(x.io(g, VFIO_GROUP_GET_DEVICE_FD, "0000:ff:1f.7") == -ENODEV);
    CHECK(x.io(g, VFIO_GROUP_GET_DEVICE_FD, "0000:03:04.0") >= 0);
}

TEST_CASE("vfio container: SET_IOMMU types, once only, extensions with a backend", "[vfio]") {
    vfio_world x;
    const int c = x.v.open("/dev/vfio/vfio", O_RDWR);
    const int g = x.v.open(x.node("01:00.0"), O_RDWR);
    REQUIRE(x.io(g, VFIO_GROUP_SET_CONTAINER, &c) == 0);
    CHECK(x.io(c, VFIO_SET_IOMMU, 99) == -ENODEV);
    CHECK(x.io(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU) == -ENODEV);
    CHECK(x.io(c, VFIO_SET_IOMMU, VFIO_NOIOMMU_IOMMU) == -ENODEV);
    REQUIRE(x.io(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == 0);
    CHECK(x.io(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == -EINVAL);
    CHECK(x.io(c, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) == -EINVAL);
    CHECK(x.io(c, VFIO_CHECK_EXTENSION, VFIO_UPDATE_VADDR) == 1);
    CHECK(x.io(c, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_IOMMU) == 0);
    // DMA_CC_IOMMU: the domain enforces coherency exactly when the unit has snoop control.
    host::iommu_domain* d = x.type1(c).domain_of(x.w.group("01:00.0"));
    REQUIRE(d);
    CHECK(x.io(c, VFIO_CHECK_EXTENSION, VFIO_DMA_CC_IOMMU) == (d->enforce_cache_coherency() ? 1 : 0));
    CHECK(x.io(c, VFIO_IOMMU_UNMAP_DMA + 20) == -ENOTTY);  // the backend's answer now
    CHECK(x.type1(c).v2());
}

TEST_CASE("vfio type1: attach refuses an IOMMU without interrupt remapping unless allow_unsafe_interrupts", "[vfio]") {
    host::vtd_options noir;
    noir.intremap = false;
    {
        vfio_world x(noir);
        const int c = x.v.open("/dev/vfio/vfio", O_RDWR);
        const int g = x.v.open(x.node("01:00.0"), O_RDWR);
        CHECK(x.io(g, VFIO_GROUP_SET_CONTAINER, &c) == 0);  // SET_CONTAINER still succeeds (oracle)
        CHECK(x.io(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == -EPERM);
        CHECK(x.io(c, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) == -EPERM);
        CHECK(x.v.container_of_fd(c)->backend() == nullptr);
        // The failed attach left the group on its default domain.
        CHECK(x.w.core->group_domain(x.w.group("01:00.0")) == x.w.core->default_domain(x.w.group("01:00.0")));
    }
    vfio::vfio_options unsafe;
    unsafe.type1.allow_unsafe_interrupts = true;
    vfio_world x(noir, unsafe);
    auto [c, g] = x.ready();
    CHECK(x.io(g, VFIO_GROUP_GET_DEVICE_FD, "0000:01:00.0") >= 0);
}

TEST_CASE("vfio lifecycle: unset with a device open, container fd closed first, group released last", "[vfio]") {
    vfio_world x;
    auto [c, g] = x.ready();
    const int d = int(x.io(g, VFIO_GROUP_GET_DEVICE_FD, "0000:01:00.0"));
    REQUIRE(d == 5);
    const int d2 = int(x.io(g, VFIO_GROUP_GET_DEVICE_FD, "0000:01:00.0"));  // a second open is allowed
    CHECK(d2 == 6);
    vfio_device_info di{8, 0, 0, 0, 0};
    CHECK(x.io(d, VFIO_DEVICE_GET_INFO, &di) == -EINVAL);
    di.argsz = sizeof di;
    REQUIRE(x.io(d, VFIO_DEVICE_GET_INFO, &di) == 0);
    CHECK(di.argsz == 20);  // 6.1 reports what it wrote (oracle)
    CHECK(di.flags == (VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET));
    CHECK(di.num_regions == 9);
    CHECK(di.num_irqs == 5);
    CHECK(x.io(d, VFIO_GROUP_GET_STATUS) == -ENOTTY);
    REQUIRE(x.map(c, vfio_world::VA, 0x100000, 0x4000) == 0);
    CHECK(x.io(g, VFIO_GROUP_UNSET_CONTAINER) == -EBUSY);
    // Closing the container fd: the group keeps the container, its backend and mappings.
    REQUIRE(x.v.close(c) == 0);
    vfio_group_status st{sizeof st, 0};
    REQUIRE(x.io(g, VFIO_GROUP_GET_STATUS, &st) == 0);
    CHECK(st.flags == 3);
    CHECK(x.mm.locked == 0x4000);
    // Closing the group fd while devices are open does not release the group: no second opener.
    REQUIRE(x.v.close(g) == 0);
    CHECK(x.v.open(x.node("01:00.0"), O_RDWR) == -EBUSY);
    CHECK(x.v.close(d) == 0);
    CHECK(x.v.open(x.node("01:00.0"), O_RDWR) == -EBUSY);
    CHECK(x.v.close(d2) == 0);  // the last file: the group leaves the container, mappings unpinned
    CHECK(x.mm.locked == 0);
    CHECK(x.mm.pins == 0);
    CHECK(x.host.owners.empty());
    CHECK(x.w.core->group_domain(x.w.group("01:00.0")) == x.w.core->default_domain(x.w.group("01:00.0")));
    CHECK(x.v.open(x.node("01:00.0"), O_RDWR) >= 0);
}

TEST_CASE("vfio lifecycle: unsetting the last group releases the backend and its mappings", "[vfio]") {
    vfio_world x;
    auto [c, g] = x.ready();
    REQUIRE(x.map(c, vfio_world::VA, 0x100000, 0x2000) == 0);
    REQUIRE(x.io(g, VFIO_GROUP_UNSET_CONTAINER) == 0);
    CHECK(x.io(g, VFIO_GROUP_UNSET_CONTAINER) == -EINVAL);
    CHECK(x.mm.locked == 0);
    vfio_iommu_type1_info info{sizeof info, 0, 0, 0};
    CHECK(x.io(c, VFIO_IOMMU_GET_INFO, &info) == -EINVAL);
    CHECK(x.io(c, VFIO_CHECK_EXTENSION, VFIO_UPDATE_VADDR) == 0);
    // The container is reusable, now as v1.
    REQUIRE(x.io(g, VFIO_GROUP_SET_CONTAINER, &c) == 0);
    REQUIRE(x.io(c, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) == 0);
    CHECK_FALSE(x.type1(c).v2());
    CHECK(x.type1(c).mappings().empty());
}

TEST_CASE("vfio type1: two groups behind one IOMMU share one domain and every mapping", "[vfio]") {
    vfio_world x;
    auto [c, g] = x.ready("01:00.0");
    REQUIRE(x.map(c, vfio_world::VA, 0x100000, 0x4000) == 0);
    const int g2 = x.v.open(x.node("00:02.0"), O_RDWR);
    REQUIRE(x.io(g2, VFIO_GROUP_SET_CONTAINER, &c) == 0);  // attached at once: the backend exists
    auto& t = x.type1(c);
    CHECK(t.domain_count() == 1);
    host::iommu_domain* d1 = t.domain_of(x.w.group("01:00.0"));
    CHECK(d1 == t.domain_of(x.w.group("00:02.0")));
    CHECK(x.w.core->group_domain(x.w.group("00:02.0")) == d1);
    CHECK(d1->iova_to_phys(0x101234) == vfio_world::PA + 0x1234);
    // A later map reaches both groups (one domain); pinned once.
    REQUIRE(x.map(c, vfio_world::VA + 0x10000, 0x200000, 0x1000) == 0);
    CHECK(x.mm.locked == 0x5000);
    const int d = int(x.io(g2, VFIO_GROUP_GET_DEVICE_FD, "0000:00:02.0"));
    CHECK(d >= 0);
    x.v.close(d);
    // The first group leaves: the domain stays for the second with the mappings.
    REQUIRE(x.io(g, VFIO_GROUP_UNSET_CONTAINER) == 0);
    CHECK(t.domain_count() == 1);
    CHECK(t.mappings().size() == 2);
    CHECK(x.w.core->group_domain(x.w.group("01:00.0")) == x.w.core->default_domain(x.w.group("01:00.0")));
    REQUIRE(x.io(g2, VFIO_GROUP_UNSET_CONTAINER) == 0);
    CHECK(x.mm.locked == 0);
}

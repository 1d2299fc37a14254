// vfio_pin_pages / vfio_unpin_pages for emulated-IOMMU (vendor) drivers over type1 (Linux 6.1
// vfio_pin_pages, vfio_iommu_type1_pin_pages / _unpin_pages): the front end's checks (open device, npage,
// E2BIG, the singleton-group rule of 5.8-6.1, a backend that pins), the backend's (v1, a registered
// device, IOVA inside a mapping, prot), reference counts, unwinding, accounting only without an IOMMU
// domain, and unmapping a range with vendor pins calling the driver's dma_unmap.
#include "support/vfio_fixture.h"
#include "sim/vfio/vfio_pin_pages.h"

using namespace iommusim;
using namespace iommusim::test;

namespace {
constexpr u64 VA = vfio_world::VA, PA = vfio_world::PA;
constexpr int RW = host::IOMMU_READ | host::IOMMU_WRITE;
} // namespace

TEST_CASE("vfio pin_pages: the front end's checks", "[vfio][pin]") {
    vfio_world x;
    auto [c, g] = x.ready();
    REQUIRE(x.map(c, VA, 0x100000, 0x200000) == 0);
    host::pci_dev& d = x.w.dev("01:00.0");
    std::vector<u64> pages;
    CHECK(vfio::vfio_pin_pages(x.v, x.host, d, 0x100000, 1, RW, &pages) == -EINVAL);  // device not open
    REQUIRE(x.io(g, VFIO_GROUP_GET_DEVICE_FD, "0000:01:00.0") >= 0);
    CHECK(vfio::vfio_pin_pages(x.v, x.host, d, 0x100000, 1, RW, nullptr) == -EINVAL);
    CHECK(vfio::vfio_pin_pages(x.v, x.host, d, 0x100000, 0, RW, &pages) == -EINVAL);
    CHECK(vfio::vfio_pin_pages(x.v, x.host, d, 0x100000, 513, RW, &pages) == -E2BIG);
    CHECK(vfio::vfio_pin_pages(x.v, x.host, d, 0x100000, 1, RW, &pages) == -EINVAL);  // no device registered
    x.type1(c).register_device(&d, [](u64, u64) {});
    CHECK(vfio::vfio_pin_pages(x.v, x.host, d, 0x100000, 512, RW, &pages) == 512);
    CHECK(pages.size() == 512);
    CHECK(pages[511] == PA + 511 * 0x1000);
    CHECK(x.mm.locked == 0x200000);  // MAP_DMA's charge only: the IOMMU mapping already pinned them
}

TEST_CASE("vfio pin_pages: a group with two VFIO devices may not pin (5.8-6.1)", "[vfio][pin]") {
    vfio_world x;
    auto [c, g] = x.ready("03:04.0");
    REQUIRE(x.map(c, VA, 0x100000, 0x1000) == 0);
    REQUIRE(x.io(g, VFIO_GROUP_GET_DEVICE_FD, "0000:03:04.0") >= 0);
    vfio::vendor_pinning vendor(x.v, x.host, x.w.dev("03:04.0"));
    REQUIRE(vendor.open() == 0);
    CHECK(vendor.pin(0x100000, 1, RW) == -EINVAL);  // 03:05.0 is a VFIO device of the same group
    x.host.vfio_bound.erase("0000:03:05.0");
    CHECK(vendor.pin(0x100000, 1, RW) == 1);
}

TEST_CASE("vfio pin_pages: v1 is -EACCES, a container without backend -ENOTTY", "[vfio][pin]") {
    vfio_world x;
    auto [c, g] = x.ready("01:00.0", VFIO_TYPE1_IOMMU);
    REQUIRE(x.map(c, VA, 0x100000, 0x1000) == 0);
    REQUIRE(x.io(g, VFIO_GROUP_GET_DEVICE_FD, "0000:01:00.0") >= 0);
    host::pci_dev& d = x.w.dev("01:00.0");
    x.type1(c).register_device(&d, [](u64, u64) {});
    std::vector<u64> pages;
    CHECK(vfio::vfio_pin_pages(x.v, x.host, d, 0x100000, 1, RW, &pages) == -EACCES);
    vfio::vfio_iommu_type1 v2(x.host, x.mm, true);
    CHECK(v2.pin_pages(1, 0x100000, 1, RW, nullptr) == -EINVAL);  // pages array first
}

TEST_CASE("vfio pin_pages: per-page checks unwind the whole call, references count", "[vfio][pin]") {
    vfio_world x;
    auto [c, g] = x.ready();
    REQUIRE(x.map(c, VA, 0x100000, 0x2000) == 0);
    REQUIRE(x.map(c, VA + 0x10000, 0x200000, 0x1000, VFIO_DMA_MAP_FLAG_READ) == 0);
    REQUIRE(x.io(g, VFIO_GROUP_GET_DEVICE_FD, "0000:01:00.0") >= 0);
    vfio::vendor_pinning vendor(x.v, x.host, x.w.dev("01:00.0"));
    REQUIRE(vendor.open() == 0);
    auto& t = x.type1(c);
    std::vector<u64> pages;
    CHECK(vendor.pin(0x101000, 2, RW, &pages) == -EINVAL);  // the second page lies outside every mapping
    CHECK(pages.empty());
    CHECK(t.find_mapping(0x101000)->pfn_list.empty());    // the first one was unwound
    CHECK(vendor.pin(0x200000, 1, RW) == -EPERM);         // write to a read-only mapping
    CHECK(vendor.pin(0x200000, 1, host::IOMMU_READ) == 1);
    CHECK_FALSE(t.pinned_page_dirty_scope(x.w.group("01:00.0")) == false);
    CHECK(vendor.pin(0x100000, 1, RW) == 1);
    CHECK(vendor.pin(0x100000, 1, RW) == 1);
    CHECK(t.find_mapping(0x100000)->pfn_list.at(0x100000).ref_count == 2);
    vendor.unpin(0x100000, 1);
    CHECK(t.find_mapping(0x100000)->pfn_list.at(0x100000).ref_count == 1);
    vendor.unpin(0x100000, 1);
    CHECK(t.find_mapping(0x100000)->pfn_list.empty());
    // An invalidated vaddr: 6.1 would wait for the update; here the pin is refused.
    REQUIRE(x.unmap(c, 0x100000, 0x2000, VFIO_DMA_UNMAP_FLAG_VADDR) == 0);
    CHECK(vendor.pin(0x200000, 1, host::IOMMU_READ) == -EBUSY);
}

TEST_CASE("vfio pin_pages: unmapping vendor-pinned pages calls the driver's dma_unmap", "[vfio][pin]") {
    vfio_world x;
    auto [c, g] = x.ready();
    REQUIRE(x.map(c, VA, 0x100000, 0x4000) == 0);
    REQUIRE(x.io(g, VFIO_GROUP_GET_DEVICE_FD, "0000:01:00.0") >= 0);
    vfio::vendor_pinning vendor(x.v, x.host, x.w.dev("01:00.0"));
    REQUIRE(vendor.open() == 0);
    REQUIRE(vendor.pin(0x101000, 2, RW) == 2);
    u64 unmapped = 0;
    REQUIRE(x.unmap(c, 0x100000, 0x4000, 0, &unmapped) == 0);
    CHECK(unmapped == 0x4000);
    CHECK(vendor.dma_unmap_calls() == 1);
    CHECK(vendor.pinned().empty());
    CHECK(x.mm.locked == 0);
}

TEST_CASE("vfio pin_pages: an emulated-IOMMU group charges its own pins against RLIMIT_MEMLOCK", "[vfio][pin]") {
    vfio_world x;
    vfio::vfio_iommu_type1 t(x.host, x.mm, true);
    const int gid = 42;  // an emulated group: no IOMMU behind it, no domain
    REQUIRE(t.attach_group(gid, true) == 0);
    CHECK(t.pinned_page_dirty_scope(gid));
    CHECK(t.num_non_pinned_groups() == 0);
    CHECK(t.domain_count() == 0);
    vfio_iommu_type1_dma_map m{32, 3, VA, 0x100000, 0x4000};
    REQUIRE(t.ioctl(VFIO_IOMMU_MAP_DMA, reinterpret_cast<unsigned long>(&m)) == 0);
    CHECK(x.mm.locked == 0);  // nothing pinned without a domain
    int dummy = 0;
    t.register_device(&dummy, [&](u64 iova, u64 size) { t.unpin_pages(iova, int(size / 0x1000)); });
    std::vector<u64> pages;
    x.mm.limit = 0x2000;
    REQUIRE(t.pin_pages(gid, 0x100000, 2, RW, &pages) == 2);
    CHECK(pages == std::vector<u64>{PA, PA + 0x1000});
    CHECK(x.mm.locked == 0x2000);
    CHECK(t.pin_pages(gid, 0x102000, 1, RW, &pages) == -ENOMEM);  // over the limit
    CHECK(pages.size() == 2);
    t.unpin_pages(0x100000, 1);
    CHECK(x.mm.locked == 0x1000);
    // Dirty tracking with only emulated groups: only pinned pages.
    vfio_iommu_type1_dirty_bitmap start{8, VFIO_IOMMU_DIRTY_PAGES_FLAG_START};
    REQUIRE(t.ioctl(VFIO_IOMMU_DIRTY_PAGES, reinterpret_cast<unsigned long>(&start)) == 0);
    CHECK(t.find_mapping(0x100000)->bitmap.count() == 1);
    CHECK(t.find_mapping(0x100000)->bitmap.test(1));
    // The last emulated group leaving a container without domains takes the mappings and pins.
    t.detach_group(gid);
    CHECK(t.mappings().empty());
    CHECK(x.mm.locked == 0);
}

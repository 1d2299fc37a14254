// type1 dirty page tracking (VFIO_IOMMU_DIRTY_PAGES and UNMAP_DMA with GET_DIRTY_BITMAP, Linux 6.1
// vfio_iommu_type1_dirty_pages / vfio_iova_dirty_bitmap / update_user_bitmap): the validation order and
// errno, the whole-word copy into the user's bitmap, and the pinned-page dirty scope rule (every mapped
// page dirty while an IOMMU-backed group has not pinned through vfio_pin_pages, else only pinned pages).
#include "support/vfio_fixture.h"
#include "sim/vfio/vfio_pin_pages.h"

#include <cstring>

using namespace iommusim;
using namespace iommusim::test;

namespace {
constexpr u64 VA = vfio_world::VA, PA = vfio_world::PA;

long dirty_op(vfio_world& x, int c, u32 flags, u32 argsz = 8) {
    vfio_iommu_type1_dirty_bitmap d{};
    d.argsz = argsz;
    d.flags = flags;
    return x.io(c, VFIO_IOMMU_DIRTY_PAGES, &d);
}

// GET_BITMAP of [iova, iova + size) into `bits` (pgsize and bitmap size given explicitly).
long get_bitmap(vfio_world& x, int c, u64 iova, u64 size, std::vector<u64>& bits, u64 pgsize = 4096,
                u64 bitmap_size = 0, u32 argsz = 48) {
    // The uapi structs end in flexible arrays: build the argument in a buffer, as user space does.
    alignas(8) unsigned char a[sizeof(vfio_iommu_type1_dirty_bitmap) + sizeof(vfio_iommu_type1_dirty_bitmap_get)] = {};
    vfio_iommu_type1_dirty_bitmap head{};
    head.argsz = argsz;
    head.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
    vfio_iommu_type1_dirty_bitmap_get get{};
    get.iova = iova;
    get.size = size;
    get.bitmap.pgsize = pgsize;
    get.bitmap.size = bitmap_size ? bitmap_size : bits.size() * 8;
    get.bitmap.data = reinterpret_cast<__u64*>(bits.data());
    std::memcpy(a, &head, sizeof head);
    std::memcpy(a + sizeof head, &get, sizeof get);
    return x.io(c, VFIO_IOMMU_DIRTY_PAGES, a);
}

long unmap_dirty(vfio_world& x, int c, u64 iova, u64 size, std::vector<u64>& bits, u64* unmapped = nullptr,
                 u64 pgsize = 4096, u64 bitmap_size = 0) {
    alignas(8) unsigned char a[sizeof(vfio_iommu_type1_dma_unmap) + sizeof(vfio_bitmap)] = {};
    vfio_iommu_type1_dma_unmap u{};
    u.argsz = sizeof a;
    u.flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
    u.iova = iova;
    u.size = size;
    vfio_bitmap b{};
    b.pgsize = pgsize;
    b.size = bitmap_size ? bitmap_size : bits.size() * 8;
    b.data = reinterpret_cast<__u64*>(bits.data());
    std::memcpy(a, &u, sizeof u);
    std::memcpy(a + sizeof u, &b, sizeof b);
    const long r = x.io(c, VFIO_IOMMU_UNMAP_DMA, a);
    std::memcpy(&u, a, sizeof u);
    if (unmapped) *unmapped = u.size;
    return r;
}
} // namespace

TEST_CASE("vfio dirty: DIRTY_PAGES argument checks and START/STOP idempotence", "[vfio][dirty]") {
    vfio_world x;
    auto [c, g] = x.ready("01:00.0", VFIO_TYPE1_IOMMU);
    CHECK(dirty_op(x, c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START) == -EACCES);  // v1 refuses before anything
    vfio_world y;
    auto [c2, g2] = y.ready();
    CHECK(dirty_op(y, c2, VFIO_IOMMU_DIRTY_PAGES_FLAG_START, 7) == -EINVAL);   // argsz
    CHECK(dirty_op(y, c2, 8) == -EINVAL);                                       // unknown flag
    CHECK(dirty_op(y, c2, 0) == -EINVAL);                                       // no operation
    CHECK(dirty_op(y, c2, VFIO_IOMMU_DIRTY_PAGES_FLAG_START | VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP) == -EINVAL);
    CHECK(dirty_op(y, c2, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP) == 0);              // stop when off
    CHECK_FALSE(y.type1(c2).dirty_tracking());
    CHECK(dirty_op(y, c2, VFIO_IOMMU_DIRTY_PAGES_FLAG_START) == 0);
    CHECK(dirty_op(y, c2, VFIO_IOMMU_DIRTY_PAGES_FLAG_START) == 0);             // already on
    CHECK(y.type1(c2).dirty_tracking());
    CHECK(dirty_op(y, c2, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP) == 0);
    CHECK_FALSE(y.type1(c2).dirty_tracking());
}

TEST_CASE("vfio dirty: GET_BITMAP validation in the kernel's order", "[vfio][dirty]") {
    vfio_world x;
    auto [c, g] = x.ready();
    REQUIRE(x.map(c, VA, 0x100000, 0x4000) == 0);
    std::vector<u64> bits(1, 0);
    CHECK(get_bitmap(x, c, 0x100000, 0x4000, bits) == -EINVAL);                  // tracking off (last check)
    REQUIRE(dirty_op(x, c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START) == 0);
    CHECK(get_bitmap(x, c, 0x100000, 0x4000, bits, 4096, 0, 47) == -EINVAL);     // argsz < 8 + 40
    CHECK(get_bitmap(x, c, ~u64(0) - 0xfff, 0x2000, bits) == -EINVAL);           // iova + size wraps
    CHECK(get_bitmap(x, c, 0x100000, 0x4000, bits, 4096, 0x10000008) == -EINVAL); // bitmap > 256 MiB
    CHECK(get_bitmap(x, c, 0x100000, 0x4000, bits, 0x2000) == -EINVAL);          // not the smallest page
    CHECK(get_bitmap(x, c, 0x100000, 0x4000, bits, 4096, 4) == -EINVAL);         // under one u64 word
    CHECK(get_bitmap(x, c, 0x100000, 0, bits) == -EINVAL);                       // 0 pages
    CHECK(get_bitmap(x, c, 0x100800, 0x4000, bits) == -EINVAL);                  // iova alignment
    CHECK(get_bitmap(x, c, 0x101000, 0x3000, bits) == -EINVAL);                  // bisects at the start
    CHECK(get_bitmap(x, c, 0x0ff000, 0x3000, bits) == -EINVAL);                  // bisects at the end
    std::vector<u64> big(2, 0);
    CHECK(get_bitmap(x, c, 0x100000, 65 * 0x1000, bits) == -EINVAL);             // 65 pages need 16 bytes
    CHECK(get_bitmap(x, c, 0x100000, 65 * 0x1000, big) == 0);                    // holes around are fine
    CHECK(big[0] == 0xf);
}

TEST_CASE("vfio dirty: an IOMMU-backed group outside the pinned scope makes every mapped page dirty",
          "[vfio][dirty]") {
    vfio_world x;
    auto [c, g] = x.ready();
    REQUIRE(x.map(c, VA, 0x100000, 0x4000) == 0);           // pages 0-3 of the range
    REQUIRE(x.map(c, VA + 0x8000, 0x108000, 0x2000) == 0);  // pages 8-9; 4-7 a hole
    REQUIRE(dirty_op(x, c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START) == 0);
    CHECK(x.type1(c).num_non_pinned_groups() == 1);
    std::vector<u64> bits(1, ~u64(0));
    REQUIRE(get_bitmap(x, c, 0x100000, 0xa000, bits) == 0);
    CHECK(bits[0] == 0x30f);  // whole words written: the hole and the bits past the last mapping are 0
    bits[0] = 0;
    REQUIRE(get_bitmap(x, c, 0x100000, 0xa000, bits) == 0);
    CHECK(bits[0] == 0x30f);  // again: a device that may DMA anywhere dirties everything, every time
    // A mapping made while tracking gets its bitmap too.
    REQUIRE(x.map(c, VA + 0x20000, 0x120000, 0x1000) == 0);
    std::vector<u64> one(1, 0);
    REQUIRE(get_bitmap(x, c, 0x120000, 0x1000, one) == 0);
    CHECK(one[0] == 1);
}

TEST_CASE("vfio dirty: the first user word is OR-ed, later words are overwritten", "[vfio][dirty]") {
    vfio_world x;
    auto [c, g] = x.ready();
    REQUIRE(x.map(c, VA, 0x102000, 0x2000) == 0);  // bits 2-3 of a range starting at 0x100000
    REQUIRE(dirty_op(x, c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START) == 0);
    std::vector<u64> bits(1, 0x8000000000000001ull);
    REQUIRE(get_bitmap(x, c, 0x100000, 0x4000, bits) == 0);
    CHECK(bits[0] == 0x800000000000000dull);
}

TEST_CASE("vfio dirty: UNMAP_DMA with GET_DIRTY_BITMAP", "[vfio][dirty]") {
    vfio_world x;
    auto [c, g] = x.ready();
    REQUIRE(x.map(c, VA, 0x100000, 0x3000) == 0);
    std::vector<u64> bits(1, 0);
    CHECK(unmap_dirty(x, c, 0x100000, 0x3000, bits) == -EINVAL);               // tracking off
    REQUIRE(dirty_op(x, c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START) == 0);
    CHECK(unmap_dirty(x, c, 0x100000, 0x3000, bits, nullptr, 0x2000) == -EINVAL); // pgsize
    CHECK(unmap_dirty(x, c, 0x100000, 0x3000, bits, nullptr, 4096, 4) == -EINVAL); // bitmap too small
    {
        vfio_iommu_type1_dma_unmap u{24, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, 0x100000, 0x3000};
        CHECK(x.io(c, VFIO_IOMMU_UNMAP_DMA, &u) == -EINVAL);                    // argsz without the bitmap
        u.flags |= VFIO_DMA_UNMAP_FLAG_ALL;
        CHECK(x.io(c, VFIO_IOMMU_UNMAP_DMA, &u) == -EINVAL);                    // with ALL
    }
    CHECK(x.type1(c).find_mapping(0x100000));
    u64 unmapped = 0;
    REQUIRE(unmap_dirty(x, c, 0x100000, 0x3000, bits, &unmapped) == 0);
    CHECK(bits[0] == 0x7);
    CHECK(unmapped == 0x3000);
    CHECK(x.type1(c).mappings().empty());
    CHECK(x.mm.locked == 0);
}

TEST_CASE("vfio dirty: with every group in the pinned scope only vendor-pinned pages are dirty",
          "[vfio][dirty][pin]") {
    vfio_world x;
    auto [c, g] = x.ready();
    const int dev = static_cast<int>(x.io(g, VFIO_GROUP_GET_DEVICE_FD, "0000:01:00.0"));
    REQUIRE(dev >= 0);
    REQUIRE(x.map(c, VA, 0x100000, 0x8000) == 0);
    vfio::vendor_pinning vendor(x.v, x.host, x.w.dev("01:00.0"));
    REQUIRE(vendor.open() == 0);
    REQUIRE(dirty_op(x, c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START) == 0);
    std::vector<u64> pfns;
    REQUIRE(vendor.pin(0x102000, 2, host::IOMMU_READ | host::IOMMU_WRITE, &pfns) == 2);
    CHECK(pfns == std::vector<u64>{PA + 0x2000, PA + 0x3000});
    CHECK(x.type1(c).num_non_pinned_groups() == 0);
    CHECK(x.type1(c).pinned_page_dirty_scope(x.w.group("01:00.0")));
    std::vector<u64> bits(1, 0);
    REQUIRE(get_bitmap(x, c, 0x100000, 0x8000, bits) == 0);
    CHECK(bits[0] == 0xc);
    vendor.unpin(0x103000, 1);
    bits[0] = 0;
    REQUIRE(get_bitmap(x, c, 0x100000, 0x8000, bits) == 0);
    CHECK(bits[0] == 0xc);  // page 3 was dirty since the last query; page 2 is still pinned
    bits[0] = 0;
    REQUIRE(get_bitmap(x, c, 0x100000, 0x8000, bits) == 0);
    CHECK(bits[0] == 0x4);  // only the pinned page stays dirty
}

TEST_CASE("vfio dirty: a non-pinning group leaving reports everything once, then the scope narrows",
          "[vfio][dirty][pin]") {
    vfio_world x;
    auto [c, g] = x.ready();
    const int g2 = x.v.open(x.node("00:02.0"), O_RDWR);
    REQUIRE(x.io(g2, VFIO_GROUP_SET_CONTAINER, &c) == 0);
    CHECK(x.type1(c).domain_count() == 1);  // shared domain, two groups
    CHECK(x.type1(c).num_non_pinned_groups() == 2);
    REQUIRE(x.io(g, VFIO_GROUP_GET_DEVICE_FD, "0000:01:00.0") >= 0);
    REQUIRE(x.map(c, VA, 0x100000, 0x4000) == 0);
    vfio::vendor_pinning vendor(x.v, x.host, x.w.dev("01:00.0"));
    REQUIRE(vendor.open() == 0);
    REQUIRE(dirty_op(x, c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START) == 0);
    REQUIRE(vendor.pin(0x101000, 1, host::IOMMU_READ) == 1);
    CHECK(x.type1(c).num_non_pinned_groups() == 1);
    std::vector<u64> bits(1, 0);
    REQUIRE(get_bitmap(x, c, 0x100000, 0x4000, bits) == 0);
    CHECK(bits[0] == 0xf);  // 00:02.0 may have written anything
    REQUIRE(x.io(g2, VFIO_GROUP_UNSET_CONTAINER) == 0);
    CHECK(x.type1(c).num_non_pinned_groups() == 0);
    bits[0] = 0;
    REQUIRE(get_bitmap(x, c, 0x100000, 0x4000, bits) == 0);
    CHECK(bits[0] == 0xf);  // what it wrote before leaving is reported once
    bits[0] = 0;
    REQUIRE(get_bitmap(x, c, 0x100000, 0x4000, bits) == 0);
    CHECK(bits[0] == 0x2);
}

// The generic host IOMMU API (sim/host/iommu/) with the VT-d driver behind it, and a tiny windowed
// domain defined here that shows a TCE-style IOMMU fits the same interface.
#include "support/vtd_fixture.h"

#include <map>

using namespace iommusim;
using namespace iommusim::test;
using namespace iommusim::host;

namespace {
constexpr u64 K4 = 1ull << 12, M2 = 1ull << 21, G1 = 1ull << 30;

// Two windows as a POWER PE has them: 32-bit default window of 4 KiB TCEs at 0, and a 64 KiB-page
// window high up. Entries are kept in a map (a TCE table would be an array in memory).
class windowed_domain : public iommu_domain {
public:
    windowed_domain() : iommu_domain(iommu_domain_type::unmanaged, nullptr) {
        set_geometry({dma_window{0, 1ull << 31, K4, 1, true},
                      dma_window{1ull << 59, 1ull << 32, 1ull << 16, 1, true}});
    }
    std::map<u64, std::pair<u64, u64>> tces;  // iova -> (pa, page size)
    std::vector<std::pair<u64, u64>> calls;   // map_pages(pgsize, count) as the core split them

    bool dynamic_windows() const override { return true; }
    int create_window(const window_request& r, u64& start) override {
        if (geometry().size() >= 2) return -ENOSPC;
        start = 1ull << 59;
        auto g = geometry();
        g.push_back(dma_window{start, r.size, 1ull << r.page_shift, r.levels, true});
        set_geometry(g);
        return 0;
    }
    int remove_window(u64 start) override {
        auto g = geometry();
        for (auto it = g.begin(); it != g.end(); ++it)
            if (it->start == start) {
                g.erase(it);
                set_geometry(g);
                return 0;
            }
        return -EINVAL;
    }
    int attach_dev(pci_dev&) override { return 0; }
    void detach_dev(pci_dev&) override {}

protected:
    int map_pages(u64 iova, u64 pa, u64 pgsize, u64 count, int, u64& mapped) override {
        calls.emplace_back(pgsize, count);
        for (u64 i = 0; i < count; ++i) tces[iova + i * pgsize] = {pa + i * pgsize, pgsize};  // exchanged, no -EEXIST
        mapped = pgsize * count;
        return 0;
    }
    u64 unmap_pages(u64 iova, u64 pgsize, u64 count, iommu_iotlb_gather& g) override {
        for (u64 i = 0; i < count; ++i) tces.erase(iova + i * pgsize);
        g.add_page(iova, pgsize * count);
        return pgsize * count;
    }
    u64 do_iova_to_phys(u64 iova) override {
        for (auto& [io, e] : tces)
            if (iova >= io && iova < io + e.second) return e.first + (iova - io);
        return 0;
    }
};
} // namespace

TEST_CASE("iommu API: a windowed domain fits, map outside every window is -EINVAL", "[host][iommu]") {
    windowed_domain d;
    REQUIRE(d.geometry().size() == 2);
    CHECK(d.map(1ull << 31, 0x1000, K4, IOMMU_READ) == -EINVAL);           // between the windows
    CHECK(d.map((1ull << 31) - K4, 0x1000, 2 * K4, IOMMU_READ) == -EINVAL); // straddles the end of window 0
    CHECK(d.map(0x1000, 0x1800, K4, IOMMU_READ) == -EINVAL);                // misaligned paddr
    CHECK(d.map(0x1000, 0x2000, 0, IOMMU_READ) == -EINVAL);                 // empty
    REQUIRE(d.map(0x1000, 0x2000, 3 * K4, IOMMU_READ | IOMMU_WRITE) == 0);
    CHECK(d.iova_to_phys(0x2abc) == 0x3abc);
    // Window 1 maps 64 KiB pages only: a 4 KiB-aligned request there is still checked against the
    // domain's smallest size, then split in that window's page size.
    REQUIRE(d.map((1ull << 59) + 0x10000, 0x100000, 0x20000, IOMMU_READ) == 0);
    CHECK(d.calls.back() == std::make_pair(u64(0x10000), u64(2)));
    CHECK(d.iova_to_phys((1ull << 59) + 0x1fff0) == 0x10fff0);
    CHECK(d.unmap(0x1000, 3 * K4) == 3 * K4);
    CHECK(d.iova_to_phys(0x2abc) == 0);
    CHECK(d.unmap(1ull << 31, K4) == 0);  // outside: nothing
    // Windows come and go at run time.
    u64 start = 0;
    CHECK(d.create_window(window_request{16, 1ull << 30, 2}, start) == -ENOSPC);
    CHECK(d.remove_window(1ull << 59) == 0);
    CHECK(d.map((1ull << 59) + 0x10000, 0x100000, 0x10000, IOMMU_READ) == -EINVAL);
    REQUIRE(d.create_window(window_request{24, 1ull << 34, 2}, start) == 0);
    CHECK(start == (1ull << 59));
    CHECK(d.geometry()[1].pgsize_bitmap == (1ull << 24));
}

TEST_CASE("iommu API: iommu_pgsize splits by alignment and stops before a usable bigger page", "[host][iommu]") {
    const u64 bitmap = K4 | M2 | G1;
    u64 count = 0;
    CHECK(iommu_domain::pgsize(bitmap, 0x200000, 0x40200000, 4 * M2, count) == M2);
    CHECK(count == 4);
    // iova 1 MiB: 4 KiB pages up to the 2 MiB boundary, then the caller comes back for 2 MiB pages.
    CHECK(iommu_domain::pgsize(bitmap, 0x100000, 0x100000, 0x300000, count) == K4);
    CHECK(count == 256);
    // iova and paddr offset differently inside 2 MiB: 4 KiB pages all the way.
    CHECK(iommu_domain::pgsize(bitmap, 0x100000, 0x101000, 0x300000, count) == K4);
    CHECK(count == 0x300);
}

TEST_CASE("iommu API over VT-d: geometry, errno values, unmap sizes", "[host][iommu][vtd]") {
    vtd_world w;
    auto d = w.core->domain_alloc(iommu_domain_type::unmanaged, w.dev("01:00.0"));
    REQUIRE(d);
    // Before attach: the whole default width (57 bits), 4 KiB pages only (the ops' pgsize_bitmap).
    REQUIRE(d->geometry().size() == 1);
    CHECK(d->geometry()[0].start == 0);
    CHECK(d->geometry()[0].size == (1ull << 57));
    CHECK(d->geometry()[0].pgsize_bitmap == K4);
    REQUIRE(w.core->attach_group(d, w.group("01:00.0")) == 0);
    // Attached to a 48-bit unit with 2M/1G pages.
    CHECK(d->geometry()[0].size == (1ull << 48));
    CHECK(d->geometry()[0].pgsize_bitmap == (K4 | M2 | G1));
    CHECK(d->geometry()[0].levels == 4);
    CHECK_FALSE(d->dynamic_windows());
    u64 start = 0;
    CHECK(d->create_window(window_request{}, start) == -EPERM);

    CHECK(d->map(0x1000, 0x2000, 0x800, IOMMU_READ) == -EINVAL);            // size not a page multiple
    CHECK(d->map(0x1800, 0x2000, K4, IOMMU_READ) == -EINVAL);               // iova misaligned
    CHECK(d->map(1ull << 48, 0x2000, K4, IOMMU_READ) == -EINVAL);           // outside the window
    CHECK(d->map(0x1000, 0x2000, K4, 0) == -EINVAL);                        // neither read nor write
    CHECK(static_cast<dmar_domain&>(*d).intel_map(1ull << 48, 0x2000, K4, IOMMU_READ) == -EFAULT);  // Linux's own check
    REQUIRE(d->map(0x1000, 0x2000, K4, IOMMU_READ) == 0);
    // Mapping over a present entry: v6.1 keeps the old entry, logs, and returns success.
    CHECK(d->map(0x1000, 0x9000, K4, IOMMU_READ) == 0);
    CHECK(w.log.contains("DMAR: ERROR: DMA PTE for vPFN 0x1 already set (to 2001 not 9001)"));
    CHECK(d->iova_to_phys(0x1000) == 0x2000);
    CHECK(d->unmap(0x1000, 0x800) == 0);  // misaligned unmap: nothing
    CHECK(d->unmap(0x1000, K4) == K4);
    // The default DMA domain and identity/blocked types.
    CHECK(w.core->default_domain(w.group("01:00.0"))->type() == iommu_domain_type::dma);
    auto blocked = w.core->domain_alloc(iommu_domain_type::blocked, w.dev("01:00.0"));
    REQUIRE(blocked);
    CHECK(blocked->map(0x1000, 0x2000, K4, IOMMU_READ) == -EINVAL);
    CHECK(blocked->iova_to_phys(0x1000) == 0);
    auto ident = w.core->domain_alloc(iommu_domain_type::identity, w.dev("01:00.0"));
    REQUIRE(ident);
    CHECK(ident->iova_to_phys(0x1234) == 0x1234);
    CHECK(ident->map(0x1000, 0x1000, K4, IOMMU_READ) == -EINVAL);
}

TEST_CASE("iommu API: attach_group is -EBUSY while the group is on a non-default domain", "[host][iommu]") {
    vtd_world w;
    const int g = w.group("01:00.0");
    auto d1 = w.core->domain_alloc(iommu_domain_type::unmanaged, w.dev("01:00.0"));
    auto d2 = w.core->domain_alloc(iommu_domain_type::unmanaged, w.dev("01:00.0"));
    REQUIRE(w.core->attach_group(d1, g) == 0);
    CHECK(w.core->group_domain(g) == d1.get());
    CHECK(w.core->attach_group(d2, g) == -EBUSY);
    CHECK(w.core->attach_group(d1, g) == -EBUSY);  // even the same domain (Linux's rule)
    w.core->detach_group(d2, g);                   // not attached there: ignored
    CHECK(w.core->group_domain(g) == d1.get());
    w.core->detach_group(d1, g);
    CHECK(w.core->group_domain(g) == w.core->default_domain(g));
    CHECK(w.core->attach_group(d2, g) == 0);
    CHECK(w.core->attach_group(d2, 999) == -EINVAL);
}

TEST_CASE("iommu API: reserved regions, capabilities, pass-through default domains", "[host][iommu]") {
    {
        vtd_world w;
        const auto r = w.core->resv_regions(w.dev("01:00.0"));
        REQUIRE(r.size() == 1);
        CHECK(r[0] == iommu_resv_region{0xfee00000, 0x100000, 0, iommu_resv_type::msi});
        const auto gr = w.core->group_resv_regions(w.group("03:04.0"));  // three members, merged
        REQUIRE(gr.size() == 1);
        CHECK(gr[0].length == 0x100000);
        CHECK(w.core->capable(w.dev("01:00.0"), iommu_cap::cache_coherency));
        CHECK(w.core->capable(w.dev("01:00.0"), iommu_cap::intr_remap));
        CHECK_FALSE(w.core->capable(w.dev("01:00.0"), iommu_cap::enforce_cache_coherency));
        auto d = w.core->domain_alloc(iommu_domain_type::unmanaged, w.dev("01:00.0"));
        REQUIRE(w.core->attach_group(d, w.group("01:00.0")) == 0);
        CHECK_FALSE(d->enforce_cache_coherency());
    }
    {
        vtd::vtd_params p;
        p.sc = true;
        host::vtd_options o;
        o.intremap = false;
        vtd_world w(p, o);
        CHECK_FALSE(w.core->capable(w.dev("01:00.0"), iommu_cap::intr_remap));
        CHECK(w.core->capable(w.dev("01:00.0"), iommu_cap::enforce_cache_coherency));
        auto d = w.core->domain_alloc(iommu_domain_type::unmanaged, w.dev("01:00.0"));
        REQUIRE(w.core->attach_group(d, w.group("01:00.0")) == 0);
        CHECK(d->enforce_cache_coherency());
        REQUIRE(d->map(0x1000, 0x2000, K4, IOMMU_READ) == 0);
        CHECK(w.hw.translate(0, w.rid("01:00.0"), 0x1000).snp);  // SNP in the leaf
        // Without IR, MSIs are composed in compatibility format.
        host::remapped_msi m;
        REQUIRE(w.core->msi_compose(w.dev("01:00.0"), 1, 0x30, 2, m) == 0);
        CHECK(m.index == -1);
        CHECK(m.msgs[0].address_lo == 0xfee02000u);
        CHECK(m.msgs[0].data == 0x30);
    }
    {
        host::iommu_core_options co;
        co.passthrough = true;
        vtd_world w({}, {}, co);
        CHECK(w.log.contains("iommu: Default domain type: Passthrough (set via kernel command line)"));
        const int g = w.group("01:00.0");
        CHECK(w.core->default_domain(g)->type() == iommu_domain_type::identity);
        auto r = w.hw.translate(0, w.rid("01:00.0"), 0x12345678);
        REQUIRE(r.ok());
        CHECK(r.pass_through);
        CHECK(r.addr == 0x12345678);
        // Moving the group to an unmanaged domain and back restores pass-through.
        auto d = w.core->domain_alloc(iommu_domain_type::unmanaged, w.dev("01:00.0"));
        REQUIRE(w.core->attach_group(d, g) == 0);
        CHECK_FALSE(w.hw.translate(0, w.rid("01:00.0"), 0x12345678).ok());
        w.core->detach_group(d, g);
        CHECK(w.hw.translate(0, w.rid("01:00.0"), 0x12345678).pass_through);
    }
}

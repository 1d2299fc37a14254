// The simulated process address space: mappings, first-touch backing, pinning with vfio_pin_pages_remote's
// runs and errors, locked_vm against RLIMIT_MEMLOCK (type1 v6.1 rules), MMIO never counted, no partial
// pins on failure, CPU access through callbacks, and the scale requirement (1 TiB in a few records).
#include "sim/host/process/process_mm.h"

#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <set>

using namespace iommusim;
using host::pinned_run;
using host::process_mm;
using memory::page_allocator;

namespace {
constexpr u64 KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB, TiB = 1024 * GiB;
constexpr u64 PG = 4 * KiB;

u64 total(const std::vector<pinned_run>& runs, bool reserved) {
    u64 n = 0;
    for (const auto& r : runs)
        if (r.reserved == reserved) n += r.len;
    return n;
}

// Independent check of a run list: in vaddr order, covering [va, va+len) exactly, every page's physical
// address agreeing with translate(), neighbours not mergeable.
void check_runs(process_mm& mm, const std::vector<pinned_run>& runs, u64 va, u64 len) {
    u64 expect = va;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const auto& r = runs[i];
        CHECK(r.vaddr == expect);
        CHECK(r.len % PG == 0);
        CHECK(r.len > 0);
        for (u64 off = 0; off < r.len; off += std::max<u64>(PG, r.len / 8)) {
            auto pa = mm.translate(r.vaddr + off);
            REQUIRE(pa);
            CHECK(*pa == r.phys + off);
        }
        if (i) {
            const auto& p = runs[i - 1];
            CHECK_FALSE((p.reserved == r.reserved && p.phys + p.len == r.phys));
        }
        expect += r.len;
    }
    CHECK(expect == va + len);
}
} // namespace

TEST_CASE("process_mm: anonymous mappings are backed on first touch, one extent per contiguous run", "[host][process_mm]") {
    page_allocator phys(0x100000000, 1 * GiB);
    process_mm mm(phys);
    const u64 va = mm.mmap_anon(64 * KiB);
    REQUIRE(va != 0);
    CHECK(va % PG == 0);
    CHECK(mm.resident_bytes() == 0);  // nothing touched yet
    CHECK(mm.extent_count() == 0);
    auto pa = mm.translate(va + 0x1234);
    REQUIRE(pa);
    CHECK(*pa % PG == 0x234);
    CHECK(*pa >= 0x100000000);
    CHECK(mm.resident_bytes() == PG);  // one 4 KiB page, not the mapping
    CHECK(mm.translate(va + 0x1234) == pa);  // stable
    CHECK(*mm.translate(va + 0x1000) == *pa - 0x234);
    CHECK(phys.statistics().free_pages == phys.statistics().total_pages - 1);
    CHECK_FALSE(mm.translate(va + 64 * KiB));  // the guard page after it
    CHECK_FALSE(mm.translate(0x1000));
    CHECK(mm.mmap_anon(0) == 0);
    CHECK(mm.mmap_anon(100) == 0);
    // Mappings do not overlap.
    const u64 vb = mm.mmap_anon(8 * KiB);
    CHECK((vb >= va + 64 * KiB || vb + 8 * KiB <= va));
}

TEST_CASE("process_mm: pin returns physically contiguous runs and charges locked_vm per call", "[host][process_mm]") {
    page_allocator phys(0, 1 * GiB);
    process_mm mm(phys, 8 * MiB);
    const u64 va = mm.mmap_anon(1 * MiB);
    std::vector<pinned_run> runs;
    REQUIRE(mm.pin(va, 1 * MiB, true, runs) == 0);
    check_runs(mm, runs, va, 1 * MiB);
    CHECK(total(runs, false) == 1 * MiB);
    CHECK(mm.locked_vm() == 1 * MiB);
    CHECK(mm.pinned_bytes() == 1 * MiB);
    // The same pages pinned again (a second MAP_DMA of the same vaddr): type1 charges per vfio_dma.
    std::vector<pinned_run> again;
    REQUIRE(mm.pin(va, 1 * MiB, true, again) == 0);
    CHECK(mm.locked_vm() == 2 * MiB);
    CHECK(again.size() == runs.size());
    CHECK(again.front().phys == runs.front().phys);  // the same pages, not new ones
    mm.unpin(again);
    CHECK(mm.locked_vm() == 1 * MiB);
    mm.unpin(runs);
    CHECK(mm.locked_vm() == 0);
    CHECK(mm.pinned_bytes() == 0);
    CHECK(mm.resident_bytes() == 1 * MiB);  // unpin does not unmap
}

TEST_CASE("process_mm: RLIMIT_MEMLOCK in pages, -ENOMEM leaves nothing pinned or charged", "[host][process_mm]") {
    page_allocator phys(0, 1 * GiB);
    process_mm mm(phys, 8 * MiB);
    const u64 va = mm.mmap_anon(16 * MiB);
    std::vector<pinned_run> a, b;
    REQUIRE(mm.pin(va, 6 * MiB, true, a) == 0);
    CHECK(mm.locked_vm() == 6 * MiB);
    // 6 + 4 > 8: refused as a whole.
    CHECK(mm.pin(va + 6 * MiB, 4 * MiB, true, b) == -ENOMEM);
    CHECK(b.empty());
    CHECK(mm.locked_vm() == 6 * MiB);
    CHECK(mm.pinned_bytes() == 6 * MiB);
    // Exactly up to the limit is fine (locked + n > limit fails, == does not).
    REQUIRE(mm.pin(va + 6 * MiB, 2 * MiB, true, b) == 0);
    CHECK(mm.locked_vm() == 8 * MiB);
    std::vector<pinned_run> c;
    CHECK(mm.pin(va + 8 * MiB, PG, true, c) == -ENOMEM);
    // A limit that is not a page multiple is truncated (rlimit >> PAGE_SHIFT).
    mm.unpin(a);
    mm.unpin(b);
    mm.set_memlock_limit(2 * PG - 1);
    CHECK(mm.pin(va, 2 * PG, true, c) == -ENOMEM);
    CHECK(mm.pin(va, PG, true, c) == 0);
    mm.unpin(c);
    // RLIMIT_MEMLOCK 0 refuses everything; CAP_IPC_LOCK bypasses the limit but the pages still count
    // (__account_locked_vm with bypass_rlim only skips the check).
    mm.set_memlock_limit(0);
    CHECK(mm.pin(va, PG, true, c) == -ENOMEM);
    mm.set_cap_ipc_lock(true);
    CHECK(mm.cap_ipc_lock());
    REQUIRE(mm.pin(va, 16 * MiB, true, c) == 0);
    CHECK(mm.locked_vm() == 16 * MiB);
    mm.unpin(c);
    CHECK(mm.locked_vm() == 0);
    // RLIM_INFINITY.
    mm.set_cap_ipc_lock(false);
    mm.set_memlock_limit(process_mm::rlim_infinity);
    REQUIRE(mm.pin(va, 16 * MiB, false, c) == 0);
    mm.unpin(c);
}

TEST_CASE("process_mm: -EFAULT for holes and write pins of read-only memory, first error by address", "[host][process_mm]") {
    page_allocator phys(0, 1 * GiB);
    process_mm mm(phys, 8 * MiB);
    const u64 va = mm.mmap_anon(64 * KiB);
    std::vector<pinned_run> r;
    CHECK(mm.pin(va, 128 * KiB, true, r) == -EFAULT);  // runs into the guard page
    CHECK(r.empty());
    CHECK(mm.locked_vm() == 0);
    CHECK(mm.pinned_bytes() == 0);
    CHECK(mm.pin(0x1000, PG, false, r) == -EFAULT);
    CHECK(mm.pin(va + 1, PG, false, r) == -EINVAL);
    CHECK(mm.pin(va, 0, false, r) == -EINVAL);
    const u64 ro = mm.mmap_anon(64 * KiB, false, false);
    CHECK(mm.pin(ro, 64 * KiB, true, r) == -EFAULT);
    REQUIRE(mm.pin(ro, 64 * KiB, false, r) == 0);  // a read-only pin is fine
    CHECK(mm.locked_vm() == 64 * KiB);
    mm.unpin(r);
    // A hole at 3 MiB with the limit crossed at 8 MiB: the hole comes first, -EFAULT.
    const u64 big = mm.mmap_anon(12 * MiB);
    REQUIRE(mm.munmap(big + 3 * MiB, PG) == 0);
    CHECK(mm.pin(big, 12 * MiB, true, r) == -EFAULT);
    // [4 MiB, 10 MiB + 4 KiB) with a hole at 10 MiB: 6 MiB fit the 8 MiB limit, so the hole decides;
    // with a 4 MiB limit the limit is crossed at 8 MiB, before the hole: -ENOMEM.
    REQUIRE(mm.munmap(big + 10 * MiB, PG) == 0);
    CHECK(mm.pin(big + 4 * MiB, 6 * MiB + PG, true, r) == -EFAULT);
    mm.set_memlock_limit(4 * MiB);
    CHECK(mm.pin(big + 4 * MiB, 6 * MiB + PG, true, r) == -ENOMEM);
    CHECK(mm.locked_vm() == 0);
    CHECK(mm.pinned_bytes() == 0);
}

TEST_CASE("process_mm: MMIO mappings pin as reserved runs and are never charged", "[host][process_mm]") {
    page_allocator phys(0, 1 * GiB);
    process_mm mm(phys, 0);  // even with RLIMIT_MEMLOCK 0
    const u64 bar = 0xfe000000;
    const u64 va = mm.mmap_io(bar, 64 * KiB);
    REQUIRE(va != 0);
    CHECK(mm.mmap_io(bar + 1, PG) == 0);
    CHECK(mm.translate(va + 0x10) == bar + 0x10);
    std::vector<pinned_run> r;
    REQUIRE(mm.pin(va, 64 * KiB, true, r) == 0);
    REQUIRE(r.size() == 1);
    CHECK(r[0].reserved);
    CHECK(r[0].phys == bar);
    CHECK(r[0].len == 64 * KiB);
    CHECK(mm.locked_vm() == 0);
    CHECK(mm.pinned_bytes() == 0);
    CHECK(mm.resident_bytes() == 0);
    mm.unpin(r);
    CHECK(mm.locked_vm() == 0);
    CHECK(phys.statistics().free_pages == phys.statistics().total_pages);
    // Partial munmap of a PFNMAP keeps the pfn offsets of what remains.
    REQUIRE(mm.munmap(va, 16 * KiB) == 0);
    CHECK_FALSE(mm.translate(va));
    CHECK(mm.translate(va + 16 * KiB) == bar + 16 * KiB);
}

TEST_CASE("process_mm: huge mappings use 2 MiB-aligned contiguous blocks, runs split reserved from normal", "[host][process_mm]") {
    page_allocator phys(0, 1 * GiB);
    process_mm mm(phys, process_mm::rlim_infinity);
    const u64 va = mm.mmap_anon(8 * MiB, true);
    REQUIRE(va != 0);
    CHECK(va % (2 * MiB) == 0);
    auto pa = mm.translate(va + 3 * MiB + 5);
    REQUIRE(pa);
    // A whole 2 MiB chunk came in at once, physically 2 MiB aligned with the same offset.
    CHECK(mm.resident_bytes() == 2 * MiB);
    CHECK(*pa % (2 * MiB) == 1 * MiB + 5);
    std::vector<pinned_run> r;
    REQUIRE(mm.pin(va, 8 * MiB, true, r) == 0);
    check_runs(mm, r, va, 8 * MiB);
    for (const auto& x : r) CHECK(x.phys % (2 * MiB) == 0);
    CHECK(mm.extent_count() <= 4);
    mm.unpin(r);
    // A huge mapping whose length is not a multiple of 2 MiB gets small pages in the tail.
    const u64 vb = mm.mmap_anon(2 * MiB + 8 * KiB, true);
    REQUIRE(mm.pin(vb, 2 * MiB + 8 * KiB, true, r) == 0);
    check_runs(mm, r, vb, 2 * MiB + 8 * KiB);
    CHECK(mm.locked_vm() == 2 * MiB + 8 * KiB);
    mm.unpin(r);
    CHECK(mm.locked_vm() == 0);
}

TEST_CASE("process_mm: huge mappings fall back to small pages when no 2 MiB block is free", "[host][process_mm]") {
    page_allocator phys(0, 4 * MiB);
    // Fragment: take every other 4 KiB page, so no order-9 block remains.
    std::vector<u64> held;
    std::vector<u64> all;
    while (auto p = phys.alloc(0)) all.push_back(*p);
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (i % 2) held.push_back(all[i]);
        else phys.free(all[i], 0);
    }
    process_mm mm(phys, process_mm::rlim_infinity);
    const u64 va = mm.mmap_anon(2 * MiB, true);
    std::vector<pinned_run> r;
    REQUIRE(mm.pin(va, 2 * MiB, true, r) == 0);
    check_runs(mm, r, va, 2 * MiB);
    CHECK(r.size() == 512);  // no two free pages are adjacent
    mm.unpin(r);
    // Out of physical memory: -ENOMEM and nothing pinned.
    const u64 vb = mm.mmap_anon(4 * MiB);
    CHECK(mm.pin(vb, 4 * MiB, true, r) == -ENOMEM);
    CHECK(mm.pinned_bytes() == 0);
    CHECK(mm.locked_vm() == 0);
}

TEST_CASE("process_mm: munmap frees unpinned pages at once and pinned ones at the last unpin", "[host][process_mm]") {
    page_allocator phys(0, 64 * MiB);
    const u64 all = phys.statistics().free_pages;
    {
        process_mm mm(phys, process_mm::rlim_infinity);
        const u64 va = mm.mmap_anon(4 * MiB, true);
        std::vector<pinned_run> r;
        REQUIRE(mm.pin(va + 2 * MiB, 2 * MiB, true, r) == 0);
        REQUIRE(mm.translate(va));  // first chunk resident, unpinned
        CHECK(phys.statistics().free_pages == all - 1024);
        CHECK(mm.munmap(va + 1, PG) == -EINVAL);
        CHECK(mm.munmap(va, 0) == -EINVAL);
        REQUIRE(mm.munmap(va, 4 * MiB) == 0);
        CHECK(mm.vma_count() == 0);
        CHECK(mm.resident_bytes() == 0);
        // The pinned chunk is still held by the pin (a DMA could still reach it), the other one is free.
        CHECK(phys.statistics().free_pages == all - 512);
        CHECK_FALSE(mm.translate(va + 2 * MiB));
        CHECK(mm.locked_vm() == 2 * MiB);
        mm.unpin(r);
        CHECK(phys.statistics().free_pages == all);
        CHECK(mm.block_count() == 0);
        // Partial munmap inside a huge block: the block lives until its last part goes.
        const u64 vb = mm.mmap_anon(2 * MiB, true);
        REQUIRE(mm.translate(vb));
        REQUIRE(mm.munmap(vb + 1 * MiB, PG) == 0);
        CHECK(mm.vma_count() == 2);
        CHECK(phys.statistics().free_pages == all - 512);
        CHECK(mm.translate(vb + 1 * MiB + PG));
        CHECK_FALSE(mm.translate(vb + 1 * MiB));
        REQUIRE(mm.munmap(vb, 2 * MiB) == 0);
        CHECK(phys.statistics().free_pages == all);
        // Teardown with pages still resident gives them back.
        const u64 vc = mm.mmap_anon(1 * MiB);
        REQUIRE(mm.pin(vc, 1 * MiB, true, r) == 0);
    }
    CHECK(phys.statistics().free_pages == all);
}

TEST_CASE("process_mm: CPU reads and writes go to the backing pages", "[host][process_mm]") {
    page_allocator phys(0, 16 * MiB);
    std::map<u64, unsigned char> ram;  // sparse byte store standing in for system memory
    process_mm mm(phys);
    const u64 va = mm.mmap_anon(3 * PG);
    const char msg[] = "hello, dma";
    CHECK(mm.write(va, msg, sizeof msg) == -EFAULT);  // no memory callbacks yet
    mm.set_memory(
        [&](u64 pa, void* d, u64 n) {
            for (u64 i = 0; i < n; ++i) static_cast<unsigned char*>(d)[i] = ram.count(pa + i) ? ram[pa + i] : 0;
            return true;
        },
        [&](u64 pa, const void* d, u64 n) {
            for (u64 i = 0; i < n; ++i) ram[pa + i] = static_cast<const unsigned char*>(d)[i];
            return true;
        });
    // Straddling a page boundary: two physical pages.
    const u64 at = va + PG - 4;
    REQUIRE(mm.write(at, msg, sizeof msg) == 0);
    auto p0 = mm.translate(at), p1 = mm.translate(va + PG);
    REQUIRE(p0);
    REQUIRE(p1);
    CHECK(ram[*p0] == 'h');
    CHECK(ram[*p1] == 'o');  // "hell" in the first page, "o, dma" in the second
    char back[sizeof msg] = {};
    REQUIRE(mm.read(at, back, sizeof msg) == 0);
    CHECK(std::memcmp(back, msg, sizeof msg) == 0);
    CHECK(mm.read(va + 3 * PG - 2, back, 4) == -EFAULT);  // runs off the mapping
    const u64 ro = mm.mmap_anon(PG, false, false);
    CHECK(mm.write(ro, msg, 1) == -EFAULT);
    CHECK(mm.read(ro, back, 1) == 0);
}

TEST_CASE("process_mm: 1 TiB of huge-page memory maps, pins and unpins in a few records", "[host][process_mm][scale]") {
    const auto t0 = std::chrono::steady_clock::now();
    // 2 TiB of RAM starting at 4 GiB: the buddy allocator carves it into a few dozen blocks.
    page_allocator phys(4 * GiB, 2 * TiB);
    const u64 free0 = phys.statistics().free_pages;
    process_mm mm(phys, 8 * MiB, /*cap_ipc_lock=*/true);
    const u64 va = mm.mmap_anon(1 * TiB, true);
    REQUIRE(va != 0);
    std::vector<pinned_run> runs;
    REQUIRE(mm.pin(va, 1 * TiB, true, runs) == 0);
    CHECK(mm.locked_vm() == 1 * TiB);
    CHECK(mm.resident_bytes() == 1 * TiB);
    CHECK(total(runs, false) == 1 * TiB);
    CHECK(runs.size() <= 64);
    CHECK(mm.extent_count() <= 64);
    CHECK(mm.block_count() <= 64);
    CHECK(phys.statistics().free_pages == free0 - (1 * TiB) / PG);
    u64 expect = va;
    for (const auto& r : runs) {
        CHECK(r.vaddr == expect);
        CHECK(r.phys % (2 * MiB) == 0);
        expect += r.len;
    }
    auto mid = mm.translate(va + 512 * GiB + 12345);
    REQUIRE(mid);
    mm.unpin(runs);
    CHECK(mm.locked_vm() == 0);
    REQUIRE(mm.munmap(va, 1 * TiB) == 0);
    CHECK(mm.block_count() == 0);
    CHECK(phys.statistics().free_pages == free0);
    // Without CAP_IPC_LOCK the 8 MiB limit stops it, faulting in no more than the limit.
    mm.set_cap_ipc_lock(false);
    const u64 vb = mm.mmap_anon(1 * TiB, true);
    CHECK(mm.pin(vb, 1 * TiB, true, runs) == -ENOMEM);
    CHECK(mm.resident_bytes() <= 8 * MiB);
    CHECK(mm.locked_vm() == 0);
    const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(secs < 5.0);
}

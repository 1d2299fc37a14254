// A user process's address space as the simulated kernel sees it when VFIO pins memory for DMA:
// virtual memory areas (anonymous, optionally THP-like huge; PFNMAP windows onto device MMIO), the
// physical pages behind them allocated on first touch, long-term pins, and mm->locked_vm charged
// against RLIMIT_MEMLOCK the way drivers/vfio/vfio_iommu_type1.c (v6.1) does it.
//
// Everything is kept as ranges, never per 4 KiB page: VMAs, backing extents (a virtually and
// physically contiguous piece of an anonymous VMA) and allocated physical blocks. Mapping and pinning
// 1 TiB of 2 MiB-aligned memory therefore costs a handful of records (extent_count(), block_count()).
//
//   host::process_mm mm(phys_pages);                  // RLIMIT_MEMLOCK 8 MiB, no CAP_IPC_LOCK
//   u64 va = mm.mmap_anon(64 << 20, /*huge=*/true);
//   std::vector<host::pinned_run> runs;
//   int err = mm.pin(va, 64 << 20, /*write=*/true, runs);   // -ENOMEM: over the limit
//   mm.unpin(runs);
#pragma once
#include "sim/core/types.h"
#include "sim/memory/page_allocator.h"

#include <functional>
#include <map>
#include <optional>
#include <vector>

namespace iommusim::host {

// One physically contiguous, homogeneous piece of a pinned range (what vfio_pin_pages_remote returns
// per call). reserved: the pfn has no struct page (MMIO behind a PFNMAP VMA): mapped for DMA but never
// pinned, refcounted or charged (is_invalid_reserved_pfn).
struct pinned_run {
    u64 vaddr = 0, phys = 0, len = 0;
    bool reserved = false;
};

class process_mm {
public:
    static constexpr u64 page_size = memory::page_allocator::page_size;
    static constexpr u64 huge_page_size = u64(1) << 21;  // HPAGE_PMD_SIZE on x86-64
    static constexpr u64 rlim_infinity = ~u64(0);        // RLIM_INFINITY

    // CPU access to physical memory, for read()/write(): return false when the address is not backed.
    using phys_read_fn = std::function<bool(u64 phys, void* data, u64 len)>;
    using phys_write_fn = std::function<bool(u64 phys, const void* data, u64 len)>;

    // Physical pages come from `phys` (the kernel's allocator for user memory), which must outlive this
    // object. memlock_limit: RLIMIT_MEMLOCK in bytes (Debian 12's default is 8 MiB); cap_ipc_lock
    // bypasses the limit as capable(CAP_IPC_LOCK) does (the pages are still counted in locked_vm).
    process_mm(memory::page_allocator& phys, u64 memlock_limit = 8 << 20, bool cap_ipc_lock = false);
    ~process_mm();  // exit_mmap: every page and block goes back to the allocator
    process_mm(const process_mm&) = delete;
    process_mm& operator=(const process_mm&) = delete;

    // Anonymous private mapping of a page-aligned length (0 when len is 0, not page aligned, or the
    // address space is exhausted: ENOMEM). Backed on first touch or pin. huge: a THP-like mapping,
    // 2 MiB aligned, whose 2 MiB-aligned chunks are backed by physically contiguous 2 MiB (or larger)
    // blocks when the allocator has them, 4 KiB pages otherwise. writable=false: PROT_READ only.
    u64 mmap_anon(u64 len, bool huge = false, bool writable = true);
    // A VM_PFNMAP mapping of MMIO (a device BAR mmapped through vfio-pci); 0 on a bad length/alignment.
    u64 mmap_io(u64 phys, u64 len);
    // 0, or -EINVAL for an unaligned address or a zero length. Holes in the range are fine. Pinned
    // pages outlive the unmap (their blocks are freed at the last unpin), as GUP pins do.
    int munmap(u64 vaddr, u64 len);

    // Pin [vaddr, vaddr+len) for DMA with vfio_pin_pages_remote's semantics: pages are faulted in, the
    // result is the physically contiguous runs in address order (reserved and normal pages never share
    // a run), and locked_vm grows by the non-reserved pages. Errors, in address order of where Linux
    // would meet them: -EFAULT (a hole, or write to a read-only VMA), -ENOMEM (locked_vm + new pages >
    // RLIMIT_MEMLOCK >> PAGE_SHIFT without CAP_IPC_LOCK, or no physical memory left); -EINVAL for an
    // unaligned or empty range. On failure nothing stays pinned or charged and `out` is left empty.
    // Every call charges again: the same pages pinned twice are counted twice (type1 accounts per
    // vfio_dma).
    // charge = false: a FOLL_LONGTERM pin whose caller accounts locked_vm itself (sPAPR): no limit check,
    // nothing charged; unpin it with charge = false too.
    int pin(u64 vaddr, u64 len, bool write, std::vector<pinned_run>& out, bool charge = true);
    // put_pfn + vfio_lock_acct(-n): drops the pins of runs a pin() returned and uncharges them.
    void unpin(const std::vector<pinned_run>& runs, bool charge = true);

    // __account_locked_vm(mm, bytes/PAGE_SIZE, inc, task, cap_ipc_lock): for callers that charge without
    // pinning (type1's vfio_pin_page_external, moving a charge to another mm on VADDR update).
    // -ENOMEM when an increment would pass the limit (nothing changes); a decrement below zero is
    // clamped, as the kernel's WARN_ON_ONCE path does.
    int account_locked_vm(u64 bytes, bool inc);

    u64 locked_vm() const { return m_locked_pages * page_size; }   // mm->locked_vm * PAGE_SIZE
    u64 memlock_limit() const { return m_memlock_limit; }
    void set_memlock_limit(u64 bytes) { m_memlock_limit = bytes; }
    bool cap_ipc_lock() const { return m_cap_ipc_lock; }
    void set_cap_ipc_lock(bool cap) { m_cap_ipc_lock = cap; }

    // Physical address backing vaddr, faulting the page in (a whole 2 MiB chunk in a huge VMA);
    // nullopt if vaddr is not mapped or no memory is left.
    std::optional<u64> translate(u64 vaddr);

    // The CPU touching process memory: pages are faulted in and the bytes go through the callbacks.
    // 0, or -EFAULT (unmapped, write to a read-only VMA, no callbacks, the callback failed).
    void set_memory(phys_read_fn read, phys_write_fn write);
    int read(u64 vaddr, void* data, u64 len);
    int write(u64 vaddr, const void* data, u64 len);

    // Bookkeeping sizes (tests check that they follow runs, not pages).
    std::size_t vma_count() const { return m_vmas.size(); }
    std::size_t extent_count() const { return m_backing.size(); }
    std::size_t block_count() const { return m_blocks.size(); }
    u64 resident_bytes() const { return m_resident; }      // anonymous bytes with a page behind them
    u64 pinned_bytes() const { return m_pinned; }          // non-reserved bytes pinned, with multiplicity

private:
    struct vma {
        u64 len = 0;
        bool io = false;       // VM_PFNMAP onto io_phys
        bool huge = false;
        bool writable = true;
        u64 io_phys = 0;
    };
    struct extent {            // [vaddr, vaddr+len) -> [phys, phys+len), anonymous only
        u64 len = 0, phys = 0;
    };
    struct block {             // one page_allocator block
        unsigned order = 0;
        u64 refs = 0;          // mapped bytes + pinned bytes (per pin) inside the block
    };

    u64 alloc_vaddr(u64 len, u64 align);
    const std::pair<const u64, vma>* find_vma(u64 vaddr) const;
    // Populate [a, b) of the VMA starting at vstart: 0 or -ENOMEM (pages faulted so far stay).
    int fault_in(u64 vstart, const vma& v, u64 a, u64 b);
    int fill_hole(const vma& v, u64 vstart, u64 a, u64 b);
    void add_extent(u64 vaddr, u64 len, u64 phys);
    // Add / drop `delta` bytes of references on every block overlapping [phys, phys+len).
    void ref_blocks(u64 phys, u64 len);
    void unref_blocks(u64 phys, u64 len);
    void drop_backing(u64 a, u64 b);
    // Walks [a, b) in address order: fn(vaddr, len, phys, reserved) per contiguous piece; stops at the
    // first hole (returns its address) and returns b when the range is fully mapped and backed.
    u64 walk(u64 a, u64 b, const std::function<void(u64, u64, u64, bool)>& fn) const;
    int access(u64 vaddr, u64 len, bool write, const std::function<bool(u64 phys, u64 off, u64 n)>& fn);

    memory::page_allocator& m_phys;
    u64 m_memlock_limit;
    bool m_cap_ipc_lock;
    u64 m_locked_pages = 0;
    u64 m_next_vaddr;
    std::map<u64, vma> m_vmas;          // by start address, disjoint
    std::map<u64, extent> m_backing;    // by start address, disjoint, merged when contiguous
    std::map<u64, block> m_blocks;      // by physical start
    u64 m_resident = 0, m_pinned = 0;
    phys_read_fn m_read;
    phys_write_fn m_write;
};

} // namespace iommusim::host

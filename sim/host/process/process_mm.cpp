#include "sim/host/process/process_mm.h"

#include "sim/core/bits.h"

#include <algorithm>
#include <cerrno>

namespace iommusim::host {

namespace {
// Where the simulated process's mappings go: above 16 TiB, below TASK_SIZE of a 4-level x86-64
// address space ((1 << 47) - PAGE_SIZE), so a 1 TiB mapping fits many times.
constexpr u64 mmap_base = u64(1) << 44;
constexpr u64 task_size = (u64(1) << 47) - process_mm::page_size;
constexpr unsigned huge_order = 9;  // 2 MiB in 4 KiB pages

u64 align_down(u64 v, u64 a) { return v & ~(a - 1); }
u64 align_up(u64 v, u64 a) { return (v + a - 1) & ~(a - 1); }
bool page_aligned(u64 v) { return (v & (process_mm::page_size - 1)) == 0; }
} // namespace

process_mm::process_mm(memory::page_allocator& phys, u64 memlock_limit, bool cap_ipc_lock)
    : m_phys(phys), m_memlock_limit(memlock_limit), m_cap_ipc_lock(cap_ipc_lock), m_next_vaddr(mmap_base) {}

process_mm::~process_mm() {
    for (const auto& [addr, b] : m_blocks) m_phys.free(addr, b.order);
}

u64 process_mm::alloc_vaddr(u64 len, u64 align) {
    const u64 start = align_up(m_next_vaddr, align);
    if (start < m_next_vaddr || len > task_size || start > task_size - len) return 0;
    m_next_vaddr = start + len + page_size;  // one unmapped guard page between mappings
    return start;
}

u64 process_mm::mmap_anon(u64 len, bool huge, bool writable) {
    if (len == 0 || !page_aligned(len)) return 0;
    const u64 va = alloc_vaddr(len, huge ? huge_page_size : page_size);
    if (!va) return 0;
    vma v;
    v.len = len;
    v.huge = huge;
    v.writable = writable;
    m_vmas.emplace(va, v);
    return va;
}

u64 process_mm::mmap_io(u64 phys, u64 len) {
    if (len == 0 || !page_aligned(len) || !page_aligned(phys) || phys + len < phys) return 0;
    const u64 va = alloc_vaddr(len, page_size);
    if (!va) return 0;
    vma v;
    v.len = len;
    v.io = true;
    v.io_phys = phys;
    m_vmas.emplace(va, v);
    return va;
}

const std::pair<const u64, process_mm::vma>* process_mm::find_vma(u64 vaddr) const {
    auto it = m_vmas.upper_bound(vaddr);
    if (it == m_vmas.begin()) return nullptr;
    --it;
    return vaddr - it->first < it->second.len ? &*it : nullptr;
}

int process_mm::munmap(u64 vaddr, u64 len) {
    if (len == 0 || !page_aligned(vaddr)) return -EINVAL;
    len = align_up(len, page_size);  // do_munmap rounds the length up
    const u64 end = vaddr + len;
    if (end < vaddr) return -EINVAL;
    drop_backing(vaddr, end);
    auto it = m_vmas.upper_bound(vaddr);
    if (it != m_vmas.begin()) --it;
    while (it != m_vmas.end() && it->first < end) {
        const u64 vs = it->first, ve = vs + it->second.len;
        if (ve <= vaddr) { ++it; continue; }
        const vma v = it->second;
        it = m_vmas.erase(it);
        if (vs < vaddr) {  // the part before the hole keeps the start
            vma left = v;
            left.len = vaddr - vs;
            m_vmas.emplace(vs, left);
        }
        if (ve > end) {    // the part after: a PFNMAP's pfn offset moves with it
            vma right = v;
            right.len = ve - end;
            if (v.io) right.io_phys = v.io_phys + (end - vs);
            it = m_vmas.emplace(end, right).first;
            ++it;
        }
    }
    return 0;
}

void process_mm::add_extent(u64 vaddr, u64 len, u64 phys) {
    auto it = m_backing.emplace(vaddr, extent{len, phys}).first;
    m_resident += len;
    // Merge with a virtually and physically contiguous neighbour on either side.
    auto next = std::next(it);
    if (next != m_backing.end() && next->first == vaddr + it->second.len && next->second.phys == phys + it->second.len) {
        it->second.len += next->second.len;
        m_backing.erase(next);
    }
    if (it != m_backing.begin()) {
        auto prev = std::prev(it);
        if (prev->first + prev->second.len == vaddr && prev->second.phys + prev->second.len == phys) {
            prev->second.len += it->second.len;
            m_backing.erase(it);
        }
    }
}

// The fault handler for one hole [a, b) of an anonymous VMA: do_huge_pmd_anonymous_page for whole
// 2 MiB chunks of a huge VMA (taking larger naturally aligned runs when the buddy allocator has them,
// which keeps a terabyte at a few records), do_anonymous_page (one 4 KiB page) everywhere else and
// when no 2 MiB block is left (THP falls back to small pages).
int process_mm::fill_hole(const vma& v, u64 /*vstart*/, u64 a, u64 b) {
    auto small_pages = [&](u64 from, u64 to) -> int {
        for (u64 p = from; p < to; p += page_size) {
            auto pa = m_phys.alloc(0);
            if (!pa) return -ENOMEM;
            m_blocks[*pa] = block{0, page_size};
            add_extent(p, page_size, *pa);
        }
        return 0;
    };
    if (!v.huge) return small_pages(a, b);
    const u64 ma = align_up(a, huge_page_size), mb = align_down(b, huge_page_size);
    if (ma >= mb) return small_pages(a, b);
    if (int err = small_pages(a, ma)) return err;
    for (u64 p = ma; p < mb;) {
        unsigned order = std::min(ilog2((mb - p) / page_size), memory::page_allocator::max_order);
        std::optional<u64> pa;
        for (; order >= huge_order && !(pa = m_phys.alloc(order)); --order) {}
        if (!pa) {  // no 2 MiB block left: this chunk gets small pages
            if (int err = small_pages(p, p + huge_page_size)) return err;
            p += huge_page_size;
            continue;
        }
        const u64 n = page_size << order;
        m_blocks[*pa] = block{order, n};
        add_extent(p, n, *pa);
        p += n;
    }
    return small_pages(mb, b);
}

int process_mm::fault_in(u64 vstart, const vma& v, u64 a, u64 b) {
    if (v.io) return 0;
    if (v.huge) {  // a huge VMA faults whole 2 MiB chunks that lie inside it
        const u64 ha = align_down(a, huge_page_size), hb = align_up(b, huge_page_size);
        if (ha >= vstart) a = ha;
        if (hb <= vstart + v.len && hb > b) b = hb;
    }
    u64 p = a;
    auto it = m_backing.upper_bound(p);
    if (it != m_backing.begin()) --it;
    while (p < b) {
        while (it != m_backing.end() && it->first + it->second.len <= p) ++it;
        if (it != m_backing.end() && it->first <= p) {  // backed: skip the extent
            p = std::min(b, it->first + it->second.len);
            continue;
        }
        const u64 hole_end = it == m_backing.end() ? b : std::min(b, it->first);
        if (int err = fill_hole(v, vstart, p, hole_end)) return err;
        p = hole_end;
        it = m_backing.upper_bound(p);
        if (it != m_backing.begin()) --it;
    }
    return 0;
}

void process_mm::ref_blocks(u64 phys, u64 len) {
    auto it = m_blocks.upper_bound(phys);
    if (it != m_blocks.begin()) --it;
    for (; it != m_blocks.end() && it->first < phys + len; ++it) {
        const u64 bend = it->first + (page_size << it->second.order);
        const u64 lo = std::max(it->first, phys), hi = std::min(bend, phys + len);
        if (hi > lo) it->second.refs += hi - lo;
    }
}

void process_mm::unref_blocks(u64 phys, u64 len) {
    auto it = m_blocks.upper_bound(phys);
    if (it != m_blocks.begin()) --it;
    while (it != m_blocks.end() && it->first < phys + len) {
        const u64 bend = it->first + (page_size << it->second.order);
        const u64 lo = std::max(it->first, phys), hi = std::min(bend, phys + len);
        if (hi > lo) it->second.refs -= std::min(it->second.refs, hi - lo);
        if (it->second.refs == 0) {  // last mapping and last pin gone: the block goes back
            m_phys.free(it->first, it->second.order);
            it = m_blocks.erase(it);
        } else {
            ++it;
        }
    }
}

void process_mm::drop_backing(u64 a, u64 b) {
    auto it = m_backing.upper_bound(a);
    if (it != m_backing.begin()) --it;
    while (it != m_backing.end() && it->first < b) {
        const u64 es = it->first, ee = es + it->second.len;
        if (ee <= a) { ++it; continue; }
        const extent e = it->second;
        it = m_backing.erase(it);
        const u64 lo = std::max(a, es), hi = std::min(b, ee);
        if (es < lo) m_backing.emplace(es, extent{lo - es, e.phys});
        if (hi < ee) it = std::next(m_backing.emplace(hi, extent{ee - hi, e.phys + (hi - es)}).first);
        m_resident -= hi - lo;
        unref_blocks(e.phys + (lo - es), hi - lo);
    }
}

u64 process_mm::walk(u64 a, u64 b, const std::function<void(u64, u64, u64, bool)>& fn) const {
    u64 p = a;
    while (p < b) {
        const auto* v = find_vma(p);
        if (!v) return p;
        const u64 vend = v->first + v->second.len;
        if (v->second.io) {
            const u64 n = std::min(b, vend) - p;
            fn(p, n, v->second.io_phys + (p - v->first), true);
            p += n;
            continue;
        }
        auto it = m_backing.upper_bound(p);
        if (it == m_backing.begin()) return p;
        --it;
        const u64 eend = it->first + it->second.len;
        if (eend <= p) return p;
        const u64 n = std::min({b, vend, eend}) - p;
        fn(p, n, it->second.phys + (p - it->first), false);
        p += n;
    }
    return b;
}

int process_mm::account_locked_vm(u64 bytes, bool inc) {
    const u64 pages = bytes / page_size;
    if (!inc) {
        m_locked_pages -= std::min(pages, m_locked_pages);
        return 0;
    }
    const u64 limit = m_memlock_limit / page_size;  // rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT
    if (!m_cap_ipc_lock && (pages > limit || m_locked_pages > limit - pages)) return -ENOMEM;
    m_locked_pages += pages;
    return 0;
}

int process_mm::pin(u64 vaddr, u64 len, bool write, std::vector<pinned_run>& out, bool charge) {
    out.clear();
    if (len == 0 || !page_aligned(vaddr) || !page_aligned(len) || vaddr + len < vaddr) return -EINVAL;
    const u64 end = vaddr + len;

    // Where would the kernel stop? vaddr_get_pfns fails with -EFAULT at a hole or, for a write pin, at a
    // read-only VMA; vfio_pin_pages_remote fails with -ENOMEM at the first counted page that would take
    // locked_vm past the limit (skipped with CAP_IPC_LOCK, dma->lock_cap). The earlier one wins.
    const u64 limit = m_memlock_limit / page_size;
    const u64 allowance =
        m_cap_ipc_lock || !charge ? ~u64(0) : (limit > m_locked_pages ? limit - m_locked_pages : 0);
    int err = 0;
    u64 stop = end, counted = 0;
    for (u64 p = vaddr; p < end;) {
        const auto* v = find_vma(p);
        if (!v || (write && !v->second.writable)) {
            err = -EFAULT;
            stop = p;
            break;
        }
        const u64 n = std::min(end, v->first + v->second.len) - p;
        if (!v->second.io) {
            if (n / page_size > allowance - counted) {
                err = -ENOMEM;
                stop = p + (allowance - counted) * page_size;
                break;
            }
            counted += n / page_size;
        }
        p += n;
    }
    // GUP faults the pages in up to that point; they stay populated even when the pin fails.
    for (u64 p = vaddr; p < stop;) {
        const auto* v = find_vma(p);
        const u64 n = std::min(stop, v->first + v->second.len) - p;
        if (int e = fault_in(v->first, v->second, p, p + n)) return e;  // out of memory: nothing pinned
        p += n;
    }
    if (err) return err;

    // The runs: maximal physically contiguous pieces that do not mix reserved and normal pfns.
    walk(vaddr, end, [&](u64 va, u64 n, u64 pa, bool reserved) {
        if (!out.empty()) {
            pinned_run& last = out.back();
            if (last.reserved == reserved && last.phys + last.len == pa) {
                last.len += n;
                return;
            }
        }
        out.push_back(pinned_run{va, pa, n, reserved});
    });
    for (const auto& r : out) {
        if (r.reserved) continue;
        ref_blocks(r.phys, r.len);
        m_pinned += r.len;
    }
    if (charge) m_locked_pages += counted;  // vfio_lock_acct: counted even with CAP_IPC_LOCK, only the limit is bypassed
    return 0;
}

void process_mm::unpin(const std::vector<pinned_run>& runs, bool charge) {
    u64 pages = 0;
    for (const auto& r : runs) {
        if (r.reserved) continue;  // put_pfn does nothing for a pfn without a struct page
        unref_blocks(r.phys, r.len);
        m_pinned -= std::min(m_pinned, r.len);
        pages += r.len / page_size;
    }
    if (charge) account_locked_vm(pages * page_size, false);
}

std::optional<u64> process_mm::translate(u64 vaddr) {
    const auto* v = find_vma(vaddr);
    if (!v) return std::nullopt;
    if (v->second.io) return v->second.io_phys + (vaddr - v->first);
    const u64 page = align_down(vaddr, page_size);
    if (fault_in(v->first, v->second, page, page + page_size)) return std::nullopt;
    std::optional<u64> pa;
    walk(page, page + page_size, [&](u64, u64, u64 p, bool) { pa = p; });
    if (!pa) return std::nullopt;
    return *pa + (vaddr - page);
}

void process_mm::set_memory(phys_read_fn read, phys_write_fn write) {
    m_read = std::move(read);
    m_write = std::move(write);
}

int process_mm::access(u64 vaddr, u64 len, bool write, const std::function<bool(u64, u64, u64)>& fn) {
    if (len == 0) return 0;
    const u64 end = vaddr + len;
    if (end < vaddr) return -EFAULT;
    const u64 a = align_down(vaddr, page_size), b = align_up(end, page_size);
    for (u64 p = a; p < b;) {  // copy_{to,from}_user: every byte must be mapped (and writable)
        const auto* v = find_vma(p);
        if (!v || (write && !v->second.writable)) return -EFAULT;
        const u64 n = std::min(b, v->first + v->second.len) - p;
        if (fault_in(v->first, v->second, p, p + n)) return -EFAULT;
        p += n;
    }
    bool ok = true;
    walk(vaddr, end, [&](u64 va, u64 n, u64 pa, bool) {
        if (ok) ok = fn(pa, va - vaddr, n);
    });
    return ok ? 0 : -EFAULT;
}

int process_mm::read(u64 vaddr, void* data, u64 len) {
    if (!m_read) return -EFAULT;
    auto* bytes = static_cast<unsigned char*>(data);
    return access(vaddr, len, false, [&](u64 pa, u64 off, u64 n) { return m_read(pa, bytes + off, n); });
}

int process_mm::write(u64 vaddr, const void* data, u64 len) {
    if (!m_write) return -EFAULT;
    const auto* bytes = static_cast<const unsigned char*>(data);
    return access(vaddr, len, true, [&](u64 pa, u64 off, u64 n) { return m_write(pa, bytes + off, n); });
}

} // namespace iommusim::host

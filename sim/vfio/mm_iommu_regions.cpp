#include "sim/vfio/mm_iommu_regions.h"

#include <algorithm>
#include <cerrno>

namespace iommusim::vfio {

namespace {
constexpr u64 k_page = u64(1) << mm_iommu_regions::page_shift;

unsigned lowest_bit(u64 v) {
    unsigned n = 0;
    while (n < 63 && !(v >> n & 1)) ++n;
    return n;
}
} // namespace

mm_iommu_regions::~mm_iommu_regions() {
    for (region& r : m_regions) release(r);
}

void mm_iommu_regions::release(region& mem) {
    m_mm.unpin_uncharged(mem.runs);
    m_mm.account_locked_vm(mem.entries * k_page, false);
    mem.runs.clear();
}

mm_iommu_regions::region* mm_iommu_regions::get(u64 ua, u64 entries) {
    for (region& r : m_regions) {
        if (r.ua == ua && r.entries == entries) {
            ++r.used;
            return &r;
        }
    }
    return nullptr;
}

long mm_iommu_regions::create(u64 ua, u64 entries, region*& out) {
    const u64 bytes = entries * k_page;
    // mm_iommu_do_alloc: charge first, then pin every page (FOLL_WRITE | FOLL_LONGTERM), then refuse an
    // overlap with another region.
    if (long rc = m_mm.account_locked_vm(bytes, true)) return rc;
    region r;
    r.ua = ua;
    r.entries = entries;
    if (m_mm.pin_uncharged(ua, bytes, true, r.runs)) {
        m_mm.account_locked_vm(bytes, false);
        return -EFAULT;
    }
    for (const region& other : m_regions) {
        if (other.ua < ua + bytes && ua < other.ua + other.entries * k_page) {
            release(r);
            return -EINVAL;
        }
    }
    // The page size every IOMMU page inside the region can use: bounded by the region's alignment and
    // by each physically contiguous piece behind it (the kernel takes hugetlb pages' size; here a huge
    // anonymous mapping's contiguous 2 MiB blocks count the same; see the vfio README).
    unsigned shift = lowest_bit(ua | bytes);
    for (const pin_run& p : r.runs) shift = std::min(shift, lowest_bit(p.vaddr | p.phys | p.len));
    r.pageshift = std::max(shift, page_shift);
    m_regions.push_back(std::move(r));
    out = &m_regions.back();
    return 0;
}

long mm_iommu_regions::put(region* mem) {
    if (--mem->used) return 0;
    // Still mapped by TCEs: keep it (the registration stays).
    if (mem->mapped != 1) {
        ++mem->used;
        return -EBUSY;
    }
    mem->mapped = 0;
    release(*mem);
    m_regions.remove_if([mem](const region& r) { return &r == mem; });
    return 0;
}

mm_iommu_regions::region* mm_iommu_regions::lookup(u64 ua, u64 size) {
    for (region& r : m_regions)
        if (ua >= r.ua && ua + size <= r.ua + r.entries * k_page) return &r;
    return nullptr;
}

bool mm_iommu_regions::ua_to_hpa(region* mem, u64 ua, unsigned pageshift, u64& hpa) {
    if (!mem || ua < mem->ua || (ua - mem->ua) >> page_shift >= mem->entries) return false;
    if (pageshift > mem->pageshift) return false;
    for (const pin_run& p : mem->runs) {
        if (ua >= p.vaddr && ua < p.vaddr + p.len) {
            hpa = p.phys + (ua - p.vaddr);
            return true;
        }
    }
    return false;
}

bool mm_iommu_regions::mapped_inc(region* mem) {
    if (mem->mapped == 0) return false;
    ++mem->mapped;
    return true;
}

void mm_iommu_regions::mapped_dec(region* mem) {
    if (mem->mapped > 1) --mem->mapped;
}

} // namespace iommusim::vfio

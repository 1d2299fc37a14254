// Memory one process preregistered for IOMMU use (arch/powerpc/mm/book3s64/iommu_api.c, v6.1:
// mm->context.iommu_group_mem_list), shared by every sPAPR v2 container of the process and looked up by
// KVM's TCE hypercalls: each region is pinned and charged to locked_vm once, at registration, so that later
// TCE updates (possibly in real mode) only translate. A region counts its users (containers that
// registered it) and its mappings (TCEs pointing into it, from 1 as the kernel counts) so that it cannot go
// while a TCE references it.
#pragma once
#include "sim/host/process/mm_iommu.h"
#include "sim/vfio/vfio_host.h"

#include <list>
#include <vector>

namespace iommusim::host {
// struct mm_iommu_table_group_mem_t
struct mm_iommu::region {
    u64 ua = 0;
    u64 entries = 0;              // 4 KiB pages
    unsigned pageshift = 12;      // the largest IOMMU page every part of the region can back
    u64 used = 1;                 // registrations (mm_iommu_get / mm_iommu_put)
    u64 mapped = 1;               // TCEs referencing it, from 1 (0: being freed)
    std::vector<vfio::pin_run> runs;
};
} // namespace iommusim::host

namespace iommusim::vfio {

class mm_iommu_regions : public host::mm_iommu {
public:
    static constexpr unsigned page_shift = 12;

    explicit mm_iommu_regions(vfio_mm& mm) : m_mm(mm) {}
    ~mm_iommu_regions() override; // exit_mmap: whatever is still registered is unpinned and uncharged
    mm_iommu_regions(const mm_iommu_regions&) = delete;
    mm_iommu_regions& operator=(const mm_iommu_regions&) = delete;

    // mm_iommu_get: the region registered as exactly [ua, ua + entries pages), its use count raised;
    // nullptr when there is none.
    region* get(u64 ua, u64 entries);
    // mm_iommu_new: a new region (used 1) or -ENOMEM (locked_vm over RLIMIT_MEMLOCK), -EFAULT (not all
    // pages could be pinned), -EINVAL (it overlaps a registered region); nothing stays pinned or charged
    // on failure.
    long create(u64 ua, u64 entries, region*& out);
    // mm_iommu_put: drops one use; the last frees the region (unpinned, uncharged) unless TCEs still
    // reference it: -EBUSY, and the use is kept.
    long put(region* mem);

    // host::mm_iommu: mm_iommu_lookup, mm_iommu_ua_to_hpa, mm_iommu_mapped_inc / _dec.
    region* lookup(u64 ua, u64 size) override;
    bool ua_to_hpa(region* mem, u64 ua, unsigned pageshift, u64& hpa) override;
    bool mapped_inc(region* mem) override;
    void mapped_dec(region* mem) override;

    std::size_t size() const { return m_regions.size(); }

private:
    void release(region& mem);

    vfio_mm& m_mm;
    std::list<region> m_regions; // stable addresses
};

} // namespace iommusim::vfio

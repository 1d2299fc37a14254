// The type1 IOMMU backend of a container (drivers/vfio/vfio_iommu_type1.c, Linux 6.1): the container's
// IOMMU domains (one per kind of IOMMU; groups behind the same IOMMU driver share one), the allowed IOVA
// ranges (domain geometry minus the groups' reserved regions), and the user's DMA mappings, each pinned
// through the opening process's memory and mapped into every domain. Mappings are kept as ranges keyed
// by IOVA (one record per MAP_DMA plus one per physically contiguous run), never per page.
//
//   vfio_iommu_type1 t(host, mm, /*v2=*/true, {});
//   t.attach_group(gid);                       // 0, -EPERM (no interrupt remapping), -EINVAL, ...
//   vfio_iommu_type1_dma_map m{sizeof m, 3, vaddr, iova, size};
//   t.ioctl(VFIO_IOMMU_MAP_DMA, (unsigned long)&m);   // 0 or -errno, as the kernel's ioctl
#pragma once
#include "sim/vfio/vfio_dirty.h"
#include "sim/vfio/vfio_host.h"
#include "sim/vfio/vfio_iommu_driver.h"

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <vector>

namespace iommusim::host {
class iommu_domain;
class iommu_driver;
} // namespace iommusim::host

namespace iommusim::vfio {

// Module parameters of vfio_iommu_type1.
struct type1_options {
    bool allow_unsafe_interrupts = false;  // attach groups whose IOMMU cannot isolate MSIs
    unsigned dma_entry_limit = 65535;      // U16_MAX: mappings per container
};

// An allowed IOVA range, inclusive as struct vfio_iova_range reports it.
struct iova_range {
    u64 start = 0, end = 0;
    friend bool operator==(const iova_range& a, const iova_range& b) { return a.start == b.start && a.end == b.end; }
};

// struct vfio_pfn: a page of a mapping pinned by an emulated-IOMMU (vendor) driver through
// vfio_pin_pages, reference counted per IOVA page.
struct vfio_pfn {
    u64 phys = 0;
    unsigned ref_count = 0;
    std::vector<pin_run> own_pin;  // a pin (and charge) of its own when no IOMMU domain pinned the mapping
};

// struct vfio_dma: one MAP_DMA.
struct vfio_dma {
    u64 iova = 0, size = 0, vaddr = 0;
    int prot = 0;              // IOMMU_READ / IOMMU_WRITE
    bool iommu_mapped = false; // pinned and mapped into the domains
    bool vaddr_invalid = false;
    std::vector<pin_run> runs; // what pinning returned, in vaddr order
    std::map<u64, vfio_pfn> pfn_list;  // vendor-pinned pages by IOVA (empty unless vfio_pin_pages ran)
    dirty_bitmap bitmap;       // one bit per smallest IOMMU page while dirty tracking is on, else empty
};

// An emulated-IOMMU device registered with the backend (vfio_iommu_type1_register_device): its driver's
// dma_unmap callback must unpin every page it pinned in [iova, iova + size) before returning.
using dma_unmap_fn = std::function<void(u64 iova, u64 size)>;

class vfio_iommu_type1 : public vfio_iommu_driver {
public:
    vfio_iommu_type1(vfio_host& host, vfio_mm& mm, bool v2, type1_options options = {});
    // vfio_iommu_type1_release: every mapping unmapped and unpinned, every group detached.
    ~vfio_iommu_type1() override;
    vfio_iommu_type1(const vfio_iommu_type1&) = delete;
    vfio_iommu_type1& operator=(const vfio_iommu_type1&) = delete;

    bool v2() const { return m_v2; }
    // vfio_iommu_type1_check_extension with this instance (static_check_extension: without one).
    int check_extension(unsigned long ext) const override;
    static int static_check_extension(unsigned long ext);

    // vfio_iommu_type1_attach_group / detach_group. emulated: a group of emulated-IOMMU (mdev-like)
    // devices: no domain, starts inside the pinned-page dirty scope.
    int attach_group(int group, bool emulated = false) override;
    void detach_group(int group) override;
    bool has_group(int group) const;

    // The container ioctls this backend serves: GET_INFO, MAP_DMA, UNMAP_DMA, DIRTY_PAGES. arg points at
    // the uapi struct. Returns 0 or -errno; -ENOTTY for anything else.
    long ioctl(unsigned long request, unsigned long arg) override;

    // Emulated-IOMMU pinning (vfio_iommu_type1_{register,unregister}_device, _pin_pages, _unpin_pages;
    // implemented in vfio_pin_pages.cpp). pin_pages: npage (phys of each page appended to `pages`) or
    // -EACCES (v1), -EBUSY (a vaddr is invalidated: 6.1 would wait), -EINVAL (no registered device, an
    // IOVA outside every mapping, no struct page), -EPERM (prot beyond the mapping's), -EFAULT/-ENOMEM
    // (pinning); on error nothing of this call stays pinned. The group enters the pinned-page scope.
    void register_device(const void* device, dma_unmap_fn dma_unmap);
    void unregister_device(const void* device);
    long pin_pages(int group, u64 iova, int npage, int prot, std::vector<u64>* pages);
    void unpin_pages(u64 iova, int npage);  // stops at the first page outside every mapping

    // Dirty tracking observation: on/off, and how many IOMMU-backed groups are outside the pinned-page
    // scope (non-zero: every IOMMU-mapped page is reported dirty).
    bool dirty_tracking() const { return m_dirty_tracking; }
    unsigned num_non_pinned_groups() const { return m_num_non_pinned_groups; }
    bool pinned_page_dirty_scope(int group) const { return m_pinned_scope.count(group) != 0; }

    // Observation for tests, scenario steps and the C API's DMA.
    const std::map<u64, vfio_dma>& mappings() const { return m_dmas; }
    const vfio_dma* find_mapping(u64 iova) const;  // the mapping containing iova
    unsigned dma_avail() const { return m_dma_avail; }
    u64 pgsize_bitmap() const { return m_pgsize_bitmap; }
    const std::vector<iova_range>& iova_list() const { return m_iova_list; }
    size_t domain_count() const { return m_domains.size(); }
    // The domain a group is attached to (nullptr if not in this container).
    host::iommu_domain* domain_of(int group) const;

private:
    struct domain_entry {
        std::shared_ptr<host::iommu_domain> domain;
        host::iommu_driver* driver = nullptr;  // "same iommu_ops" for sharing
        bool enforce_cache_coherency = false;
        std::vector<int> groups;
    };

    long get_info(unsigned long arg);
    long map_dma(unsigned long arg);
    long unmap_dma(unsigned long arg);
    long dirty_pages(unsigned long arg);
    long dirty_get_bitmap(unsigned long arg, u32 argsz);
    // update_user_bitmap: the mapping's dirty bits (all of them when a group is outside the pinned scope)
    // into the user's bitmap whose bit 0 is base_iova. 0 or -EFAULT.
    int update_user_bitmap(u64* user, vfio_dma& dma, u64 base_iova, u64 pgsize);
    // vfio_dma_bitmap_alloc + vfio_dma_populate_bitmap: -EINVAL when the mapping has too many pages.
    int bitmap_alloc(vfio_dma& dma, u64 pgsize);
    void populate_bitmap(vfio_dma& dma, u64 pgsize);
    void unpin_external(vfio_dma& dma, u64 iova);
    void unpin_all_external(vfio_dma& dma);

    // vfio_find_dma: a mapping overlapping [start, start + size), with the kernel's size-0 meaning.
    vfio_dma* find_dma(u64 start, u64 size);
    bool iova_dma_valid(u64 start, u64 end) const;
    int pin_map(vfio_dma& dma);
    int map_runs(host::iommu_domain& d, const vfio_dma& dma);
    void unmap_unpin(vfio_dma& dma);
    void remove_dma(std::map<u64, vfio_dma>::iterator it);
    void remove_all();
    void recompute_pgsize();
    std::vector<iova_range> compute_iova_list(const std::vector<const domain_entry*>& domains,
                                              const std::set<int>& groups) const;

    vfio_host& m_host;
    vfio_mm& m_mm;
    bool m_v2;
    type1_options m_options;
    std::vector<domain_entry> m_domains;
    std::set<int> m_groups;
    std::vector<iova_range> m_iova_list;
    std::map<u64, vfio_dma> m_dmas;
    unsigned m_dma_avail;
    u64 m_pgsize_bitmap;
    unsigned m_vaddr_invalid_count = 0;
    bool m_dirty_tracking = false;
    unsigned m_num_non_pinned_groups = 0;  // IOMMU-backed groups outside the pinned-page dirty scope
    std::set<int> m_pinned_scope;          // groups inside it
    std::set<int> m_emulated_groups;       // emulated_iommu_groups
    std::vector<std::pair<const void*, dma_unmap_fn>> m_devices;  // device_list
};

} // namespace iommusim::vfio

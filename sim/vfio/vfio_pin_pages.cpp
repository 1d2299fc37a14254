#include "sim/vfio/vfio_pin_pages.h"

#include "sim/host/iommu/iommu_types.h"
#include "sim/host/iommu_groups.h"
#include "sim/host/pci_dev.h"
#include "sim/vfio/vfio_core.h"

#include <algorithm>
#include <cerrno>

namespace iommusim::vfio {

namespace {
constexpr u64 PAGE_SIZE = 4096;

vfio_iommu_type1* backend_of(vfio_core& core, const host::pci_dev& dev) {
    vfio_group* g = core.group(dev.group);
    vfio_container* c = g ? g->container() : nullptr;
    return c ? c->backend() : nullptr;
}
} // namespace

// ---- type1's side (vfio_iommu_type1.c) ----

void vfio_iommu_type1::register_device(const void* device, dma_unmap_fn dma_unmap) {
    unregister_device(device);
    m_devices.emplace_back(device, std::move(dma_unmap));
}

void vfio_iommu_type1::unregister_device(const void* device) {
    m_devices.erase(std::remove_if(m_devices.begin(), m_devices.end(), [&](const auto& d) { return d.first == device; }),
                    m_devices.end());
}

// vfio_iommu_type1_pin_pages.
long vfio_iommu_type1::pin_pages(int group, u64 user_iova, int npage, int prot, std::vector<u64>* pages) {
    if (!pages) return -EINVAL;
    if (!m_v2) return -EACCES;  // v2 only
    // 6.1 sleeps until every vaddr is valid again (vfio_wait_all_valid: woken by a VADDR update or an
    // unmap, -EFAULT if the container closes or the task is killed). The simulation has no other thread
    // that could wake it, so instead of hanging the caller learns -EBUSY at once, as 6.2 reports it
    // (README, COMPLIANCE: a deliberate difference).
    if (m_vaddr_invalid_count) return -EBUSY;
    if (m_devices.empty()) return -EINVAL;  // nobody could be told to unpin
    // With an IOMMU domain every page is already pinned and charged by MAP_DMA; without one the pin is
    // the vendor driver's own and is charged now.
    const bool do_accounting = m_domains.empty();
    std::vector<std::pair<vfio_dma*, u64>> done;
    auto unwind = [&](long rc) {
        for (auto& [d, iova] : done) unpin_external(*d, iova);
        pages->resize(pages->size() - done.size());
        return rc;
    };
    for (int i = 0; i < npage; ++i) {
        const u64 iova = user_iova + PAGE_SIZE * u64(i);
        vfio_dma* dma = find_dma(iova, PAGE_SIZE);
        if (!dma) return unwind(-EINVAL);
        if ((dma->prot & prot) != prot) return unwind(-EPERM);
        auto found = dma->pfn_list.find(iova);
        if (found != dma->pfn_list.end()) {
            ++found->second.ref_count;  // vfio_iova_get_vfio_pfn takes a reference
            pages->push_back(found->second.phys);
            done.emplace_back(dma, iova);
            continue;
        }
        const u64 vaddr = dma->vaddr + (iova - dma->iova);
        vfio_pfn p;
        p.ref_count = 1;
        if (dma->iommu_mapped && !do_accounting) {
            // vfio_pin_page_external takes one more GUP reference on a page MAP_DMA pinned: the same pfn.
            for (const auto& r : dma->runs)
                if (vaddr >= r.vaddr && vaddr - r.vaddr < r.len) {
                    if (r.reserved) return unwind(-EINVAL);  // !pfn_valid: no struct page
                    p.phys = r.phys + (vaddr - r.vaddr);
                }
        } else {
            if (int rc = m_mm.pin(vaddr, PAGE_SIZE, dma->prot & host::IOMMU_WRITE, p.own_pin)) return unwind(rc);
            if (p.own_pin.empty() || p.own_pin.front().reserved) {
                m_mm.unpin(p.own_pin);
                return unwind(-EINVAL);
            }
            p.phys = p.own_pin.front().phys;
        }
        pages->push_back(p.phys);
        dma->pfn_list.emplace(iova, std::move(p));
        done.emplace_back(dma, iova);
        if (m_dirty_tracking) dma->bitmap.set((iova - dma->iova) >> __builtin_ctzll(m_pgsize_bitmap), 1);
    }
    // The pinning device's group now vouches for what it touches.
    if (m_groups.count(group) && !m_pinned_scope.count(group)) {
        m_pinned_scope.insert(group);
        if (!m_emulated_groups.count(group)) --m_num_non_pinned_groups;
    }
    return npage;
}

// vfio_iommu_type1_unpin_pages.
void vfio_iommu_type1::unpin_pages(u64 user_iova, int npage) {
    if (!m_v2) return;  // WARN_ON
    for (int i = 0; i < npage; ++i) {
        const u64 iova = user_iova + PAGE_SIZE * u64(i);
        vfio_dma* dma = find_dma(iova, PAGE_SIZE);
        if (!dma) break;
        unpin_external(*dma, iova);
    }
}

// vfio_unpin_page_external: the last reference drops the page (and its own pin and charge).
void vfio_iommu_type1::unpin_external(vfio_dma& dma, u64 iova) {
    auto it = dma.pfn_list.find(iova);
    if (it == dma.pfn_list.end()) return;
    if (--it->second.ref_count) return;
    if (!it->second.own_pin.empty()) m_mm.unpin(it->second.own_pin);
    dma.pfn_list.erase(it);
}

void vfio_iommu_type1::unpin_all_external(vfio_dma& dma) {
    for (auto& [iova, p] : dma.pfn_list)
        if (!p.own_pin.empty()) m_mm.unpin(p.own_pin);
    dma.pfn_list.clear();
}

// ---- the VFIO core's side (vfio_main.c / container.c) ----

long vfio_pin_pages(vfio_core& core, vfio_host& host, const host::pci_dev& dev, u64 iova, int npage, int prot,
                    std::vector<u64>* pages) {
    if (!pages || npage <= 0 || !core.device_open(dev.name())) return -EINVAL;
    if (npage > vfio_pin_pages_max_entries) return -E2BIG;
    // group->dev_counter: the VFIO devices registered in the group (5.8 .. 6.1).
    unsigned dev_counter = 0;
    if (const host::iommu_group* g = host.group(dev.group))
        for (const host::pci_dev* d : g->devices) dev_counter += host.is_vfio_device(*d) ? 1 : 0;
    if (dev_counter > 1) return -EINVAL;
    vfio_iommu_type1* t = backend_of(core, dev);
    if (!t) return -ENOTTY;
    return t->pin_pages(dev.group, iova, npage, prot, pages);
}

void vfio_unpin_pages(vfio_core& core, const host::pci_dev& dev, u64 iova, int npage) {
    if (!core.device_open(dev.name()) || npage <= 0 || npage > vfio_pin_pages_max_entries) return;
    if (vfio_iommu_type1* t = backend_of(core, dev)) t->unpin_pages(iova, npage);
}

// ---- a vendor driver ----

vendor_pinning::vendor_pinning(vfio_core& core, vfio_host& host, const host::pci_dev& dev)
    : m_core(core), m_host(host), m_dev(dev) {}

vendor_pinning::~vendor_pinning() { close(); }

vfio_iommu_type1* vendor_pinning::backend() const { return backend_of(m_core, m_dev); }

int vendor_pinning::open() {
    if (!m_core.device_open(m_dev.name())) return -EINVAL;
    vfio_iommu_type1* t = backend();
    if (!t) return -EINVAL;
    t->register_device(this, [this](u64 iova, u64 size) { dma_unmap(iova, size); });
    m_registered = t;
    return 0;
}

void vendor_pinning::close() {
    if (m_registered && backend() == m_registered) m_registered->unregister_device(this);
    m_registered = nullptr;
}

long vendor_pinning::pin(u64 iova, int npage, int prot, std::vector<u64>* pages) {
    std::vector<u64> local;
    const long n = vfio_pin_pages(m_core, m_host, m_dev, iova, npage, prot, pages ? pages : &local);
    if (n > 0)
        for (long i = 0; i < n; ++i) ++m_pinned[iova + PAGE_SIZE * u64(i)];
    return n;
}

void vendor_pinning::unpin(u64 iova, int npage) {
    vfio_unpin_pages(m_core, m_dev, iova, npage);
    for (int i = 0; i < npage; ++i) {
        auto it = m_pinned.find(iova + PAGE_SIZE * u64(i));
        if (it != m_pinned.end() && !--it->second) m_pinned.erase(it);
    }
}

// The driver's dma_unmap op: drop every pin inside the range the user is unmapping.
void vendor_pinning::dma_unmap(u64 iova, u64 size) {
    ++m_unmap_calls;
    for (auto it = m_pinned.lower_bound(iova); it != m_pinned.end() && it->first < iova + size;) {
        const u64 page = it->first;
        const unsigned refs = it->second;
        ++it;
        for (unsigned r = 0; r < refs; ++r) unpin(page, 1);
    }
}

} // namespace iommusim::vfio

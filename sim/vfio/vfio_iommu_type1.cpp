#include "sim/vfio/vfio_iommu_type1.h"

#include "sim/host/iommu/iommu_core.h"
#include "sim/host/iommu_groups.h"
#include "sim/host/pci_dev.h"

#include <linux/vfio.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

namespace iommusim::vfio {

namespace {
constexpr u64 PAGE_SIZE = 4096;
constexpr u64 PAGE_MASK = ~(PAGE_SIZE - 1);
// DIRTY_BITMAP_PAGES_MAX * 8: the largest user dirty bitmap (256 MiB), reported by the migration cap.
constexpr u64 DIRTY_BITMAP_SIZE_MAX = u64(1) << 28;

u64 lowest_pgsize(u64 bitmap) { return bitmap & (~bitmap + 1); }

// Append one capability at the end of the chain buffer and link it (vfio_info_cap_add): no padding,
// `next` relative to the start of the chain until shifted by the fixed struct's size.
void cap_add(std::vector<unsigned char>& chain, const void* cap, size_t size) {
    const size_t at = chain.size();
    if (at) {
        size_t off = 0;  // walk to the last header and link it to the new one
        for (;;) {
            vfio_info_cap_header h;
            std::memcpy(&h, chain.data() + off, sizeof h);
            if (!h.next) break;
            off = h.next;
        }
        vfio_info_cap_header h;
        std::memcpy(&h, chain.data() + off, sizeof h);
        h.next = u32(at);
        std::memcpy(chain.data() + off, &h, sizeof h);
    }
    chain.resize(at + size);
    std::memcpy(chain.data() + at, cap, size);
}

// vfio_info_cap_shift: make every `next` relative to the start of the info struct.
void cap_shift(std::vector<unsigned char>& chain, u32 offset) {
    size_t off = 0;
    if (chain.empty()) return;
    for (;;) {
        vfio_info_cap_header h;
        std::memcpy(&h, chain.data() + off, sizeof h);
        const u32 next = h.next;
        if (next) h.next = next + offset;
        std::memcpy(chain.data() + off, &h, sizeof h);
        if (!next) break;
        off = next;
    }
}

// [a] minus [r]: what is left of each range (vfio_iommu_resv_exclude).
std::vector<iova_range> exclude(const std::vector<iova_range>& in, u64 start, u64 end) {
    std::vector<iova_range> out;
    for (const auto& n : in) {
        if (end < n.start || start > n.end) {
            out.push_back(n);
            continue;
        }
        if (start > n.start) out.push_back({n.start, start - 1});
        if (end < n.end) out.push_back({end + 1, n.end});
    }
    return out;
}
} // namespace

vfio_iommu_type1::vfio_iommu_type1(vfio_host& host, vfio_mm& mm, bool v2, type1_options options)
    : m_host(host), m_mm(mm), m_v2(v2), m_options(options), m_dma_avail(options.dma_entry_limit),
      m_pgsize_bitmap(PAGE_MASK) {}

vfio_iommu_type1::~vfio_iommu_type1() {
    remove_all();
    host::iommu_core* core = m_host.iommu();
    for (auto& d : m_domains)
        for (int g : d.groups)
            if (core) core->detach_group(d.domain, g);
    m_domains.clear();
}

int vfio_iommu_type1::static_check_extension(unsigned long ext) {
    switch (ext) {
    case VFIO_TYPE1_IOMMU:
    case VFIO_TYPE1v2_IOMMU:
    case VFIO_TYPE1_NESTING_IOMMU:  // still answered 1 in 6.1 (removed in 6.2)
    case VFIO_UNMAP_ALL:
        return 1;
    default:  // UPDATE_VADDR and DMA_CC_IOMMU need an instance
        return 0;
    }
}

int vfio_iommu_type1::check_extension(unsigned long ext) const {
    switch (ext) {
    case VFIO_UPDATE_VADDR:
        return 1;  // no emulated-IOMMU (mdev) groups exist here
    case VFIO_DMA_CC_IOMMU:
        // vfio_domains_have_enforce_cache_coherency: every domain (vacuously true without any).
        for (const auto& d : m_domains)
            if (!d.enforce_cache_coherency) return 0;
        return 1;
    default:
        return static_check_extension(ext);
    }
}

bool vfio_iommu_type1::has_group(int group) const { return m_groups.count(group) != 0; }

host::iommu_domain* vfio_iommu_type1::domain_of(int group) const {
    for (const auto& d : m_domains)
        if (std::find(d.groups.begin(), d.groups.end(), group) != d.groups.end()) return d.domain.get();
    return nullptr;
}

const vfio_dma* vfio_iommu_type1::find_mapping(u64 iova) const {
    auto it = m_dmas.upper_bound(iova);
    if (it == m_dmas.begin()) return nullptr;
    --it;
    return iova - it->second.iova < it->second.size ? &it->second : nullptr;
}

// vfio_find_dma walks the rb-tree going left when start + size <= dma->iova and right when
// start >= dma->iova + dma->size: a size of 0 finds only a mapping that strictly contains start.
vfio_dma* vfio_iommu_type1::find_dma(u64 start, u64 size) {
    auto hit = [&](vfio_dma& d) { return !(start + size <= d.iova) && !(start >= d.iova + d.size); };
    auto it = m_dmas.upper_bound(start);
    if (it != m_dmas.begin()) {
        auto prev = std::prev(it);
        if (hit(prev->second)) return &prev->second;
    }
    if (it != m_dmas.end() && hit(it->second)) return &it->second;
    return nullptr;
}

// vfio_iommu_iova_dma_valid: inside one allowed range; an empty list allows everything.
bool vfio_iommu_type1::iova_dma_valid(u64 start, u64 end) const {
    if (m_iova_list.empty()) return true;
    for (const auto& r : m_iova_list)
        if (start >= r.start && end <= r.end) return true;
    return false;
}

std::vector<iova_range> vfio_iommu_type1::compute_iova_list(const std::vector<const domain_entry*>& domains,
                                                            const std::set<int>& groups) const {
    std::vector<iova_range> list;
    bool first = true;
    for (const domain_entry* d : domains) {
        // vfio_iommu_aper_resize over each window of the geometry (a page-table IOMMU has one).
        std::vector<iova_range> windows;
        for (const auto& w : d->domain->geometry())
            if (w.size) windows.push_back({w.start, w.last()});
        if (first) {
            list = windows;
            first = false;
            continue;
        }
        std::vector<iova_range> both;
        for (const auto& a : list)
            for (const auto& w : windows) {
                const u64 s = std::max(a.start, w.start), e = std::min(a.end, w.end);
                if (s <= e) both.push_back({s, e});
            }
        list = both;
    }
    host::iommu_core* core = m_host.iommu();
    for (int g : groups)
        for (const auto& r : core->group_resv_regions(g))
            if (r.type != host::iommu_resv_type::direct_relaxable && r.length) list = exclude(list, r.start, r.last());
    return list;
}

int vfio_iommu_type1::attach_group(int gid, bool emulated) {
    if (m_groups.count(gid)) return -EINVAL;
    if (emulated) {
        // VFIO_EMULATED_IOMMU: no domain and no checks; its devices pin what they touch.
        m_emulated_groups.insert(gid);
        m_groups.insert(gid);
        m_pinned_scope.insert(gid);
        return 0;
    }
    host::iommu_core* core = m_host.iommu();
    const host::iommu_group* grp = m_host.group(gid);
    if (!core || !grp || grp->devices.empty()) return -ENODEV;
    const host::pci_dev& first = *grp->devices.front();
    std::shared_ptr<host::iommu_domain> dom = core->domain_alloc(host::iommu_domain_type::unmanaged, first);
    if (!dom) return -EIO;
    if (int rc = core->attach_group(dom, gid)) return rc;
    auto fail = [&](int rc) {
        core->detach_group(dom, gid);
        return rc;
    };

    // vfio_iommu_aper_conflict: the new aperture must meet the current IOVA list and hold every mapping.
    std::vector<iova_range> windows;
    for (const auto& w : dom->geometry())
        if (w.size) windows.push_back({w.start, w.last()});
    if (!m_iova_list.empty()) {
        bool meets = false;
        for (const auto& a : m_iova_list)
            for (const auto& w : windows) meets |= a.start <= w.end && w.start <= a.end;
        if (!meets) return fail(-EINVAL);
    }
    for (const auto& [iova, d] : m_dmas) {
        bool inside = false;
        for (const auto& w : windows) inside |= iova >= w.start && iova + d.size - 1 <= w.end;
        if (!inside) return fail(-EINVAL);
    }
    // vfio_iommu_resv_conflict: the group's reserved regions must not hold a mapping.
    for (const auto& r : core->group_resv_regions(gid)) {
        if (r.type == host::iommu_resv_type::direct_relaxable || !r.length) continue;
        for (const auto& [iova, d] : m_dmas)
            if (iova <= r.last() && r.start <= iova + d.size - 1) return fail(-EINVAL);
    }
    std::vector<const domain_entry*> all;
    for (const auto& d : m_domains) all.push_back(&d);
    domain_entry fresh{dom, core->driver_of(first), false, {gid}};
    all.push_back(&fresh);
    std::set<int> groups = m_groups;
    groups.insert(gid);
    std::vector<iova_range> new_list = compute_iova_list(all, groups);
    if (new_list.empty()) return fail(-EINVAL);

    // Interrupt isolation (6.1: irq_domain_check_msi_remap() || every device IOMMU_CAP_INTR_REMAP).
    if (!m_options.allow_unsafe_interrupts)
        for (const host::pci_dev* dev : grp->devices)
            if (!core->capable(*dev, host::iommu_cap::intr_remap)) return fail(-EPERM);

    // v5.19+: coherency is always requested; the domain enforces it (blocks No-Snoop) if it can.
    fresh.enforce_cache_coherency = dom->enforce_cache_coherency();

    // Share an existing domain of the same IOMMU driver and coherency: move the group onto it.
    for (auto& d : m_domains) {
        if (d.driver != fresh.driver || d.enforce_cache_coherency != fresh.enforce_cache_coherency) continue;
        core->detach_group(dom, gid);
        if (core->attach_group(d.domain, gid) == 0) {
            d.groups.push_back(gid);
            m_groups.insert(gid);
            m_iova_list = new_list;
            ++m_num_non_pinned_groups;  // an IOMMU-backed group can dirty any mapped page
            return 0;
        }
        if (int rc = core->attach_group(dom, gid)) return rc;  // back on the new domain
    }

    // A new domain: replay every mapping into it (vfio_iommu_replay); never-pinned ones are pinned now.
    std::vector<vfio_dma*> replayed;
    for (auto& [iova, d] : m_dmas) {
        int rc = 0;
        if (d.iommu_mapped) rc = map_runs(*dom, d);
        else {
            std::vector<pin_run> runs;
            rc = m_mm.pin(d.vaddr, d.size, d.prot & host::IOMMU_WRITE, runs);
            if (!rc) {
                d.runs = std::move(runs);
                rc = map_runs(*dom, d);
                if (rc) {
                    m_mm.unpin(d.runs);
                    d.runs.clear();
                } else d.iommu_mapped = true;
            }
        }
        if (rc) {
            for (vfio_dma* r : replayed) dom->unmap(r->iova, r->size);
            return fail(rc);
        }
        replayed.push_back(&d);
    }
    m_domains.push_back(std::move(fresh));
    m_groups.insert(gid);
    m_iova_list = new_list;
    recompute_pgsize();
    ++m_num_non_pinned_groups;
    return 0;
}

void vfio_iommu_type1::detach_group(int gid) {
    if (!m_groups.count(gid)) return;
    if (m_emulated_groups.erase(gid)) {
        m_groups.erase(gid);
        m_pinned_scope.erase(gid);
        // The last emulated group of a container without domains takes every mapping with it.
        if (m_emulated_groups.empty() && m_domains.empty()) remove_all();
        return;
    }
    host::iommu_core* core = m_host.iommu();
    for (auto it = m_domains.begin(); it != m_domains.end(); ++it) {
        auto g = std::find(it->groups.begin(), it->groups.end(), gid);
        if (g == it->groups.end()) continue;
        // The last group of the last domain: every mapping goes (vfio_iommu_unmap_unpin_all) before
        // the group leaves the domain, unless emulated groups remain: then the mappings stay and only
        // the vendor-pinned pages stay pinned and charged (vfio_iommu_unmap_unpin_reaccount).
        if (m_domains.size() == 1 && it->groups.size() == 1) {
            if (m_emulated_groups.empty()) remove_all();
            else
                for (auto& [iova, d] : m_dmas) {
                    for (auto& [piova, p] : d.pfn_list)
                        if (p.own_pin.empty())
                            m_mm.pin(d.vaddr + (piova - d.iova), PAGE_SIZE, d.prot & host::IOMMU_WRITE, p.own_pin);
                    unmap_unpin(d);
                }
        }
        if (core) core->detach_group(it->domain, gid);
        it->groups.erase(g);
        if (it->groups.empty()) {
            // Other domains keep the mappings; this one's translations go with it.
            for (auto& [iova, d] : m_dmas)
                if (d.iommu_mapped) it->domain->unmap(iova, d.size);
            m_domains.erase(it);
        }
        break;
    }
    m_groups.erase(gid);
    std::vector<const domain_entry*> all;
    for (const auto& d : m_domains) all.push_back(&d);
    m_iova_list = compute_iova_list(all, m_groups);
    recompute_pgsize();
    // A group that could dirty anything leaves: the scope may narrow to pinned pages, so whatever it
    // might have written is reported once (vfio_iommu_populate_bitmap_full).
    if (!m_pinned_scope.erase(gid)) {
        --m_num_non_pinned_groups;
        if (m_dirty_tracking)
            for (auto& [iova, d] : m_dmas) d.bitmap.set(0, d.bitmap.bits());
    }
}

// vfio_update_pgsize_bitmap: the AND of every domain's sizes, sub-page sizes folded into PAGE_SIZE.
void vfio_iommu_type1::recompute_pgsize() {
    u64 bitmap = PAGE_MASK;
    for (const auto& d : m_domains) bitmap &= d.domain->pgsize_bitmap();
    if (bitmap & ~PAGE_MASK) {
        bitmap &= PAGE_MASK;
        bitmap |= PAGE_SIZE;
    }
    m_pgsize_bitmap = bitmap;
}

int vfio_iommu_type1::map_runs(host::iommu_domain& d, const vfio_dma& dma) {
    u64 done = 0;
    for (const auto& r : dma.runs) {
        const u64 iova = dma.iova + (r.vaddr - dma.vaddr);
        if (int rc = d.map(iova, r.phys, r.len, dma.prot | host::IOMMU_CACHE)) {
            if (done) d.unmap(dma.iova, done);
            return rc;
        }
        done += r.len;
    }
    return 0;
}

// vfio_pin_map_dma: pin, then map into every domain; any failure removes all of it.
int vfio_iommu_type1::pin_map(vfio_dma& dma) {
    std::vector<pin_run> runs;
    if (int rc = m_mm.pin(dma.vaddr, dma.size, dma.prot & host::IOMMU_WRITE, runs)) return rc;
    dma.runs = std::move(runs);
    for (size_t i = 0; i < m_domains.size(); ++i) {
        if (int rc = map_runs(*m_domains[i].domain, dma)) {
            for (size_t j = 0; j < i; ++j) m_domains[j].domain->unmap(dma.iova, dma.size);
            m_mm.unpin(dma.runs);
            dma.runs.clear();
            return rc;
        }
    }
    dma.iommu_mapped = true;
    return 0;
}

void vfio_iommu_type1::unmap_unpin(vfio_dma& dma) {
    if (!dma.iommu_mapped) return;
    for (auto& d : m_domains) d.domain->unmap(dma.iova, dma.size);
    m_mm.unpin(dma.runs);
    dma.runs.clear();
    dma.iommu_mapped = false;
}

void vfio_iommu_type1::remove_dma(std::map<u64, vfio_dma>::iterator it) {
    unpin_all_external(it->second);
    unmap_unpin(it->second);
    if (it->second.vaddr_invalid) --m_vaddr_invalid_count;
    m_dmas.erase(it);
    ++m_dma_avail;
}

void vfio_iommu_type1::remove_all() {
    while (!m_dmas.empty()) remove_dma(m_dmas.begin());
}

long vfio_iommu_type1::ioctl(unsigned long request, unsigned long arg) {
    switch (request) {
    case VFIO_IOMMU_GET_INFO: return get_info(arg);
    case VFIO_IOMMU_MAP_DMA: return map_dma(arg);
    case VFIO_IOMMU_UNMAP_DMA: return unmap_dma(arg);
    case VFIO_IOMMU_DIRTY_PAGES: return dirty_pages(arg);
    default: return -ENOTTY;
    }
}

// vfio_iommu_type1_get_info.
long vfio_iommu_type1::get_info(unsigned long arg) {
    if (!arg) return -EFAULT;
    auto* user = reinterpret_cast<vfio_iommu_type1_info*>(arg);
    vfio_iommu_type1_info info{};
    size_t minsz = offsetof(vfio_iommu_type1_info, iova_pgsizes) + sizeof(info.iova_pgsizes);
    std::memcpy(&info, user, minsz);
    if (info.argsz < minsz) return -EINVAL;
    info.flags = VFIO_IOMMU_INFO_PGSIZES;
    info.iova_pgsizes = m_pgsize_bitmap;
    const size_t capsz = offsetof(vfio_iommu_type1_info, cap_offset) + sizeof(info.cap_offset);
    if (info.argsz >= capsz) {
        minsz = capsz;
        info.cap_offset = 0;
    }

    std::vector<unsigned char> chain;
    vfio_iommu_type1_info_cap_migration mig{};
    mig.header.id = VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION;
    mig.header.version = 1;
    mig.flags = 0;
    mig.pgsize_bitmap = lowest_pgsize(m_pgsize_bitmap);  // dirty tracking at the smallest page only
    mig.max_dirty_bitmap_size = DIRTY_BITMAP_SIZE_MAX;
    cap_add(chain, &mig, sizeof mig);
    vfio_iommu_type1_info_dma_avail avail{};
    avail.header.id = VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL;
    avail.header.version = 1;
    avail.avail = m_dma_avail;
    cap_add(chain, &avail, sizeof avail);
    if (!m_iova_list.empty()) {
        std::vector<unsigned char> cap(sizeof(vfio_iommu_type1_info_cap_iova_range) +
                                       m_iova_list.size() * sizeof(vfio_iova_range));
        vfio_iommu_type1_info_cap_iova_range head{};
        head.header.id = VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE;
        head.header.version = 1;
        head.nr_iovas = u32(m_iova_list.size());
        std::memcpy(cap.data(), &head, sizeof head);
        for (size_t i = 0; i < m_iova_list.size(); ++i) {
            vfio_iova_range r{m_iova_list[i].start, m_iova_list[i].end};
            std::memcpy(cap.data() + sizeof head + i * sizeof r, &r, sizeof r);
        }
        cap_add(chain, cap.data(), cap.size());
    }
    if (!chain.empty()) {
        info.flags |= VFIO_IOMMU_INFO_CAPS;
        if (info.argsz < sizeof info + chain.size()) {
            // Too small: the caller learns the size it needs and retries.
            info.argsz = u32(sizeof info + chain.size());
        } else {
            cap_shift(chain, sizeof info);
            std::memcpy(reinterpret_cast<unsigned char*>(user) + sizeof info, chain.data(), chain.size());
            info.cap_offset = sizeof info;
        }
    }
    std::memcpy(user, &info, minsz);
    return 0;
}

// vfio_iommu_type1_map_dma + vfio_dma_do_map, checks in the kernel's order.
long vfio_iommu_type1::map_dma(unsigned long arg) {
    if (!arg) return -EFAULT;
    vfio_iommu_type1_dma_map map{};
    const size_t minsz = offsetof(vfio_iommu_type1_dma_map, size) + sizeof(map.size);
    std::memcpy(&map, reinterpret_cast<const void*>(arg), minsz);
    const u32 mask = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE | VFIO_DMA_MAP_FLAG_VADDR;
    if (map.argsz < minsz || (map.flags & ~mask)) return -EINVAL;
    int prot = 0;
    if (map.flags & VFIO_DMA_MAP_FLAG_READ) prot |= host::IOMMU_READ;
    if (map.flags & VFIO_DMA_MAP_FLAG_WRITE) prot |= host::IOMMU_WRITE;
    const bool set_vaddr = map.flags & VFIO_DMA_MAP_FLAG_VADDR;
    if ((prot && set_vaddr) || (!prot && !set_vaddr)) return -EINVAL;

    const u64 iova = map.iova, size = map.size, vaddr = map.vaddr;
    const u64 pgsize = lowest_pgsize(m_pgsize_bitmap);
    if (!size || ((size | iova | vaddr) & (pgsize - 1))) return -EINVAL;
    if (iova + size - 1 < iova || vaddr + size - 1 < vaddr) return -EINVAL;  // no wrap

    vfio_dma* dma = find_dma(iova, size);
    if (set_vaddr) {
        // The user moved its memory: the IOMMU keeps the old pages, only the vaddr record changes.
        if (!dma) return -ENOENT;
        if (!dma->vaddr_invalid || dma->iova != iova || dma->size != size) return -EINVAL;
        dma->vaddr = vaddr;
        dma->vaddr_invalid = false;
        --m_vaddr_invalid_count;
        return 0;
    }
    if (dma) return -EEXIST;
    if (!m_dma_avail) return -ENOSPC;
    if (!iova_dma_valid(iova, iova + size - 1)) return -EINVAL;

    vfio_dma fresh;
    fresh.iova = iova;
    fresh.size = size;
    fresh.vaddr = vaddr;
    fresh.prot = prot;
    auto it = m_dmas.emplace(iova, std::move(fresh)).first;
    --m_dma_avail;
    // Without a domain nothing is pinned yet: pinned when a domain arrives.
    if (!m_domains.empty())
        if (int rc = pin_map(it->second)) {
            remove_dma(it);
            return rc;
        }
    if (m_dirty_tracking)
        if (int rc = bitmap_alloc(it->second, pgsize)) {
            remove_dma(it);
            return rc;
        }
    return 0;
}

// vfio_iommu_type1_unmap_dma + vfio_dma_do_unmap.
long vfio_iommu_type1::unmap_dma(unsigned long arg) {
    if (!arg) return -EFAULT;
    auto* user = reinterpret_cast<vfio_iommu_type1_dma_unmap*>(arg);
    vfio_iommu_type1_dma_unmap unmap{};
    const size_t minsz = offsetof(vfio_iommu_type1_dma_unmap, size) + sizeof(unmap.size);
    std::memcpy(&unmap, user, minsz);
    const u32 mask = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR;
    if (unmap.argsz < minsz || (unmap.flags & ~mask)) return -EINVAL;
    const bool dirty = unmap.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
    const bool all = unmap.flags & VFIO_DMA_UNMAP_FLAG_ALL;
    const bool invalidate_vaddr = unmap.flags & VFIO_DMA_UNMAP_FLAG_VADDR;
    if (dirty && (all || invalidate_vaddr)) return -EINVAL;
    vfio_bitmap bitmap{};
    if (dirty) {
        if (unmap.argsz < minsz + sizeof(vfio_bitmap)) return -EINVAL;
        std::memcpy(&bitmap, reinterpret_cast<const unsigned char*>(arg) + minsz, sizeof bitmap);
        // access_ok() only refuses ranges beyond the user address space; a null buffer faults on copy.
        if (!bitmap.pgsize) return -EINVAL;  // __ffs(0) is undefined; no size check can pass with it
        if (int rc = verify_bitmap_size(unmap.size >> __builtin_ctzll(bitmap.pgsize), bitmap.size)) return rc;
    }

    const u64 pgsize = lowest_pgsize(m_pgsize_bitmap);
    u64 iova = unmap.iova, size = unmap.size;
    if (iova & (pgsize - 1)) return -EINVAL;
    if (all) {
        if (iova || size) return -EINVAL;
        size = ~u64(0);
    } else if (!size || (size & (pgsize - 1)) || iova + size - 1 < iova) {
        return -EINVAL;
    }
    // With a bitmap, tracking must be on and at the smallest page size.
    if (dirty && (!m_dirty_tracking || bitmap.pgsize != pgsize)) return -EINVAL;

    if (m_v2 && !all) {
        // No bisecting: a mapping holding iova must start there, one holding the last byte end there.
        if (vfio_dma* d = find_dma(iova, 1); d && d->iova != iova) return -EINVAL;
        if (vfio_dma* d = find_dma(iova + size - 1, 0); d && d->iova + d->size != iova + size) return -EINVAL;
    }

    // The first mapping overlapping the range (vfio_find_dma_first_node), then in IOVA order.
    auto it = m_dmas.upper_bound(iova);
    if (it != m_dmas.begin() && std::prev(it)->second.iova + std::prev(it)->second.size > iova) --it;
    u64 unmapped = 0;
    std::vector<vfio_dma*> marked;
    while (it != m_dmas.end()) {
        vfio_dma& d = it->second;
        if (all ? false : d.iova > iova + size - 1) break;
        if (!m_v2 && iova > d.iova) break;  // v1: a mapping starting before the range stops the walk
        if (invalidate_vaddr) {
            if (d.vaddr_invalid) {
                for (vfio_dma* m : marked) {
                    m->vaddr_invalid = false;
                    --m_vaddr_invalid_count;
                }
                return -EINVAL;
            }
            d.vaddr_invalid = true;
            ++m_vaddr_invalid_count;
            marked.push_back(&d);
            unmapped += d.size;
            ++it;
            continue;
        }
        if (!d.pfn_list.empty() && !m_devices.empty()) {
            // Pages pinned by emulated devices: every registered device's dma_unmap must unpin them,
            // then the walk restarts at this mapping (the kernel BUGs after 10 fruitless retries;
            // here whatever is still pinned is dropped after the callbacks).
            const u64 at = d.iova, len = d.size;
            auto devices = m_devices;
            for (auto& dev : devices) dev.second(at, len);
            it = m_dmas.find(at);
            if (it == m_dmas.end()) continue;
        }
        vfio_dma& cur = it->second;
        if (dirty) {
            if (!bitmap.data) return -EFAULT;
            if (int rc = update_user_bitmap(reinterpret_cast<u64*>(bitmap.data), cur, iova, pgsize)) return rc;
        }
        unmapped += cur.size;
        auto next = std::next(it);
        remove_dma(it);
        it = next;
    }
    unmap.size = unmapped;
    std::memcpy(user, &unmap, minsz);
    return 0;
}

// vfio_iommu_type1_dirty_pages.
long vfio_iommu_type1::dirty_pages(unsigned long arg) {
    if (!m_v2) return -EACCES;
    if (!arg) return -EFAULT;
    vfio_iommu_type1_dirty_bitmap dirty{};
    const size_t minsz = offsetof(vfio_iommu_type1_dirty_bitmap, flags) + sizeof(dirty.flags);
    std::memcpy(&dirty, reinterpret_cast<const void*>(arg), minsz);
    const u32 mask = VFIO_IOMMU_DIRTY_PAGES_FLAG_START | VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP |
                     VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
    if (dirty.argsz < minsz || (dirty.flags & ~mask)) return -EINVAL;
    if (__builtin_popcount(dirty.flags) != 1) return -EINVAL;  // exactly one operation
    const u64 pgsize = lowest_pgsize(m_pgsize_bitmap);
    if (dirty.flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_START) {
        if (m_dirty_tracking) return 0;
        // vfio_dma_bitmap_alloc_all: every mapping or none.
        for (auto& [iova, d] : m_dmas)
            if (int rc = bitmap_alloc(d, pgsize)) {
                for (auto& [i2, d2] : m_dmas) d2.bitmap.free();
                return rc;
            }
        m_dirty_tracking = true;
        return 0;
    }
    if (dirty.flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP) {
        if (m_dirty_tracking) {
            m_dirty_tracking = false;
            for (auto& [iova, d] : m_dmas) d.bitmap.free();
        }
        return 0;
    }
    return dirty_get_bitmap(arg, dirty.argsz);
}

// The GET_BITMAP branch of vfio_iommu_type1_dirty_pages, then vfio_iova_dirty_bitmap.
long vfio_iommu_type1::dirty_get_bitmap(unsigned long arg, u32 argsz) {
    const size_t minsz = offsetof(vfio_iommu_type1_dirty_bitmap, flags) + sizeof(u32);
    vfio_iommu_type1_dirty_bitmap_get range{};
    if (argsz <= minsz || argsz - minsz < sizeof range) return -EINVAL;
    std::memcpy(&range, reinterpret_cast<const unsigned char*>(arg) + minsz, sizeof range);
    if (range.iova + range.size < range.iova) return -EINVAL;
    if (!range.bitmap.pgsize) return -EINVAL;  // __ffs(0): no size or page check could pass
    if (int rc = verify_bitmap_size(range.size >> __builtin_ctzll(range.bitmap.pgsize), range.bitmap.size)) return rc;
    const u64 pgsize = lowest_pgsize(m_pgsize_bitmap);
    if (range.bitmap.pgsize != pgsize) return -EINVAL;  // only the smallest page size
    if (range.iova & (pgsize - 1)) return -EINVAL;
    if (!range.size || (range.size & (pgsize - 1))) return -EINVAL;
    if (!m_dirty_tracking) return -EINVAL;
    // The range must cover whole mappings: none may start before it or end after it.
    if (vfio_dma* d = find_dma(range.iova, 1); d && d->iova != range.iova) return -EINVAL;
    if (vfio_dma* d = find_dma(range.iova + range.size - 1, 0); d && d->iova + d->size != range.iova + range.size)
        return -EINVAL;
    for (auto it = m_dmas.lower_bound(range.iova); it != m_dmas.end(); ++it) {
        vfio_dma& d = it->second;
        if (d.iova > range.iova + range.size - 1) break;
        if (!range.bitmap.data) return -EFAULT;
        if (int rc = update_user_bitmap(reinterpret_cast<u64*>(range.bitmap.data), d, range.iova, pgsize)) return rc;
        // Reported: what stays dirty is what is still pinned by emulated devices.
        d.bitmap.clear_all();
        populate_bitmap(d, pgsize);
    }
    return 0;
}

int vfio_iommu_type1::update_user_bitmap(u64* user, vfio_dma& dma, u64 base_iova, u64 pgsize) {
    const unsigned shift = unsigned(__builtin_ctzll(pgsize));
    // Some IOMMU-backed group cannot tell what its devices wrote: every mapped page counts as dirty.
    if (m_num_non_pinned_groups && dma.iommu_mapped) dma.bitmap.set(0, dma.size >> shift);
    dma.bitmap.copy_to_user(user, (dma.iova - base_iova) >> shift);
    return 0;
}

int vfio_iommu_type1::bitmap_alloc(vfio_dma& dma, u64 pgsize) {
    const u64 npages = dma.size / pgsize;
    if (npages > dirty_bitmap_pages_max) return -EINVAL;
    dma.bitmap.alloc(npages);
    populate_bitmap(dma, pgsize);
    return 0;
}

// vfio_dma_populate_bitmap: pages pinned by emulated devices are considered continuously dirty.
void vfio_iommu_type1::populate_bitmap(vfio_dma& dma, u64 pgsize) {
    for (const auto& [iova, p] : dma.pfn_list) dma.bitmap.set((iova - dma.iova) / pgsize, 1);
}

} // namespace iommusim::vfio

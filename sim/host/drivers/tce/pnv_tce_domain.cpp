#include "sim/host/drivers/tce/pnv_tce_domain.h"

#include "models/iommu/tce/tce_defs.h"
#include "sim/host/drivers/tce/pnv_ioda_pe.h"

namespace iommusim::host {

namespace {
constexpr unsigned USER_WINDOW0_LEVELS = 2; // the top level small, lower levels on first use

dma_direction direction_of(int prot) {
    const bool r = prot & IOMMU_READ, w = prot & IOMMU_WRITE;
    return r && w ? dma_direction::bidirectional : r ? dma_direction::to_device : w ? dma_direction::from_device
                                                                                   : dma_direction::none;
}

dma_window window_of(const iommu_table& t) {
    dma_window w;
    w.start = t.bus_start();
    w.size = t.bus_size();
    w.pgsize_bitmap = u64(1) << t.page_shift();
    w.levels = t.levels();
    return w;
}
} // namespace

pnv_tce_domain::pnv_tce_domain(iommu_domain_type type, pci_host_ops& ops, memory::page_allocator& pages,
                               pe_of_fn pe_of, u64 dma32_size, kernel_log* log)
    : iommu_domain(type, log), m_ops(ops), m_pages(pages), m_pe_of(std::move(pe_of)) {
    if (type != iommu_domain_type::unmanaged) return;
    std::shared_ptr<pnv_tce_table> t;
    if (pnv_tce_table::create(ops, pages, 0, 12, dma32_size, USER_WINDOW0_LEVELS, 0, t) == 0) m_tables[0] = t;
    update_geometry();
}

pnv_tce_domain::~pnv_tce_domain() {
    // A domain still attached gives its PEs back to the kernel.
    while (type() == iommu_domain_type::unmanaged && !m_pes.empty()) release_pe(m_pes.begin()->first);
}

void pnv_tce_domain::release_pe(pnv_ioda_pe* pe) {
    auto it = m_pes.find(pe);
    if (it == m_pes.end()) return;
    m_pes.erase(it);
    if (type() == iommu_domain_type::unmanaged) {
        for (int w = 0; w < IOMMU_TABLE_GROUP_MAX_TABLES; ++w)
            if (m_tables[w]) pe->unset_window(w);
        pe->release_ownership();
        if (pe->user_domain == this) pe->user_domain = nullptr;
    }
    update_geometry();
}

void pnv_tce_domain::update_geometry() {
    std::vector<dma_window> ws;
    if (type() == iommu_domain_type::unmanaged) {
        for (const auto& t : m_tables)
            if (t) ws.push_back(window_of(*t));
    } else if (!m_pes.empty()) {
        if (const auto& t = m_pes.begin()->first->tables[0]) ws.push_back(window_of(*t));
    }
    set_geometry(std::move(ws));
}

// Attaching moves the PE: from the domain that had it (Linux's attach_dev replaces the old domain) to this.
int pnv_tce_domain::attach_dev(pci_dev& dev) {
    pnv_ioda_pe* pe = m_pe_of(dev);
    if (!pe) return -ENODEV;
    if (pe->user_domain && pe->user_domain != this) pe->user_domain->release_pe(pe);
    if (auto it = m_pes.find(pe); it != m_pes.end()) {
        ++it->second; // another device of the same PE
        return 0;
    }
    if (type() == iommu_domain_type::unmanaged) {
        // As tce_iommu_take_ownership_ddw: the kernel leaves the PE, the domain's windows go in.
        pe->take_ownership();
        for (int w = 0; w < IOMMU_TABLE_GROUP_MAX_TABLES; ++w) {
            if (!m_tables[w]) continue;
            if (const long rc = pe->set_window(w, m_tables[w])) {
                for (int u = 0; u < IOMMU_TABLE_GROUP_MAX_TABLES; ++u) pe->unset_window(u);
                pe->release_ownership();
                return int(rc < 0 ? rc : -EIO);
            }
        }
        pe->user_domain = this;
    }
    m_pes[pe] = 1;
    update_geometry();
    return 0;
}

void pnv_tce_domain::detach_dev(pci_dev& dev) {
    pnv_ioda_pe* pe = m_pe_of(dev);
    auto it = m_pes.find(pe);
    if (it == m_pes.end()) return;
    if (--it->second == 0) release_pe(pe);
}

int pnv_tce_domain::create_window(const window_request& req, u64& start_out) {
    if (type() != iommu_domain_type::unmanaged) return -EPERM;
    if (m_tables[1]) return -ENOSPC;
    std::shared_ptr<pnv_tce_table> t;
    if (const long rc = pnv_tce_table::create(m_ops, m_pages, pnv_ioda_pe::TCE_BYPASS_BASE, req.page_shift, req.size,
                                              req.levels, 0, t))
        return int(rc);
    for (auto& [pe, n] : m_pes)
        if (const long rc = pe->set_window(1, t)) {
            for (auto& [q, m] : m_pes) q->unset_window(1);
            return int(rc < 0 ? rc : -EIO);
        }
    m_tables[1] = t;
    start_out = t->bus_start();
    update_geometry();
    return 0;
}

int pnv_tce_domain::remove_window(u64 start) {
    if (type() != iommu_domain_type::unmanaged) return -EPERM;
    for (int w = 0; w < IOMMU_TABLE_GROUP_MAX_TABLES; ++w) {
        if (!m_tables[w] || m_tables[w]->bus_start() != start) continue;
        for (auto& [pe, n] : m_pes) pe->unset_window(w);
        m_tables[w].reset();
        update_geometry();
        return 0;
    }
    return -EINVAL;
}

iommu_table* pnv_tce_domain::table_for(u64 iova) const {
    if (type() == iommu_domain_type::unmanaged) {
        for (const auto& t : m_tables)
            if (t && iova >= t->bus_start() && iova - t->bus_start() < t->bus_size()) return t.get();
        return nullptr;
    }
    // The kernel's table, while the kernel has the PE (not while a user domain or VFIO holds it).
    if (m_pes.empty() || m_pes.begin()->first->user_domain) return nullptr;
    iommu_table* t = m_pes.begin()->first->tables[0].get();
    return t && iova >= t->bus_start() && iova - t->bus_start() < t->bus_size() ? t : nullptr;
}

// One TCE per page, then one kill for the range (pnv_tce_build + pnv_pci_ioda2_tce_invalidate). A page that
// is mapped already is refused (-EEXIST) and what this call wrote is undone.
int pnv_tce_domain::map_pages(u64 iova, u64 paddr, u64 pgsize, u64 pgcount, int prot, u64& mapped) {
    iommu_table* t = table_for(iova);
    if (!t || (u64(1) << t->page_shift()) != pgsize) return -EINVAL;
    const u64 first = iova >> t->page_shift();
    u64 done = 0;
    int rc = 0;
    for (; done < pgcount; ++done) {
        if (t->get(first + done) & tce::TCE_PERM_MASK) {
            rc = -EEXIST;
            break;
        }
        u64 hpa = paddr + done * pgsize;
        dma_direction dir = direction_of(prot);
        if (const long e = t->xchg_no_kill(first + done, hpa, dir)) {
            rc = int(e);
            break;
        }
    }
    if (rc) {
        for (u64 i = 0; i < done; ++i) {
            u64 hpa = 0;
            dma_direction dir = dma_direction::none;
            t->xchg_no_kill(first + i, hpa, dir);
        }
        done = 0;
    }
    if (done) t->tce_kill(first, done);
    mapped += done * pgsize;
    return rc;
}

u64 pnv_tce_domain::unmap_pages(u64 iova, u64 pgsize, u64 pgcount, iommu_iotlb_gather&) {
    iommu_table* t = table_for(iova);
    if (!t || (u64(1) << t->page_shift()) != pgsize) return 0;
    const u64 first = iova >> t->page_shift();
    u64 n = 0;
    for (; n < pgcount; ++n) {
        u64 hpa = 0;
        dma_direction dir = dma_direction::none;
        if (t->xchg_no_kill(first + n, hpa, dir) || dir == dma_direction::none) break; // nothing mapped here
    }
    if (n) t->tce_kill(first, n);
    return n * pgsize;
}

u64 pnv_tce_domain::do_iova_to_phys(u64 iova) {
    iommu_table* t = table_for(iova);
    if (!t) return 0;
    const u64 tce = t->get(iova >> t->page_shift());
    if (!(tce & tce::TCE_PERM_MASK)) return 0;
    const u64 mask = (u64(1) << t->page_shift()) - 1;
    return (tce & ~mask) | (iova & mask);
}

} // namespace iommusim::host

#include "models/iommu/amdvi/tlm/amdvi_caches.h"

#include <vector>

namespace iommusim::amdvi {

namespace {
std::vector<iommu::cache_geometry> pde_levels(const amdvi_unit_params& p) {
    std::vector<iommu::cache_geometry> g(7);
    g[2] = p.pde_l2.geometry;
    g[3] = p.pde_l3.geometry;
    g[4] = p.pde_l4.geometry;
    g[5] = p.pde_l5.geometry;
    g[6] = p.pde_l6.geometry;
    return g;
}
constexpr u32 irt_key(u16 device_id, u32 index) { return (u32(device_id) << 11) | (index & msi::INDEX); }
} // namespace

amdvi_caches::amdvi_caches(const amdvi_unit_params& p)
    : m_dte(p.dte_cache.geometry), m_iotlb(p.iotlb.geometry, {12, 21, 30}), m_pde(pde_levels(p)),
      m_irt(p.irt_cache.geometry) {}

std::optional<dte> amdvi_caches::dte_lookup(u16 device_id) {
    if (const dte* e = m_dte.lookup(device_id)) return *e;
    return std::nullopt;
}

void amdvi_caches::dte_fill(u16 device_id, const dte& d) {
    iommu::cache_tag tag;
    tag.domain = d.domain_id();
    tag.source_id = device_id;
    tag.size_shift = 64;
    m_dte.insert(device_id, d, tag);
}

void amdvi_caches::invalidate_dte(u16 device_id) { m_dte.invalidate_device(device_id); }

std::optional<iommu::translation> amdvi_caches::iotlb_lookup(u16 domain, u64 addr) {
    return m_iotlb.lookup(domain, iommu::no_pasid, addr);
}

void amdvi_caches::iotlb_fill(u16 domain, u16 device_id, u64 addr, const iommu::translation& t) {
    iommu::translation c = t;
    unsigned shift = 12;
    for (unsigned s : m_iotlb.page_shifts())
        if (s <= t.page_shift) shift = s;
    // A size the IOTLB has no entries for is cached as the fragment of the chosen size around addr (the
    // translation of addr itself is unchanged).
    c.page_shift = shift;
    m_iotlb.fill(domain, iommu::no_pasid, device_id, addr, c);
}

void amdvi_caches::invalidate_pages(u16 domain, const inv_range& r, bool pde_too) {
    if (r.all()) {
        m_iotlb.cache().invalidate_domain(domain);
        if (pde_too) m_pde.invalidate_domain(domain);
        return;
    }
    m_iotlb.cache().invalidate_range(r.base, r.size, domain);
    if (pde_too) m_pde.invalidate_range(r.base, r.size, domain);
}

std::optional<irte_raw> amdvi_caches::irt_lookup(u16 device_id, u32 index) {
    if (const irte_raw* e = m_irt.lookup(irt_key(device_id, index))) return *e;
    return std::nullopt;
}

void amdvi_caches::irt_fill(u16 device_id, u32 index, const irte_raw& e) {
    iommu::cache_tag tag;
    tag.source_id = device_id;
    tag.size_shift = 64;
    m_irt.insert(irt_key(device_id, index), e, tag);
}

void amdvi_caches::invalidate_irt(u16 device_id) { m_irt.invalidate_device(device_id); }

void amdvi_caches::invalidate_all() {
    m_dte.invalidate_all();
    m_iotlb.cache().invalidate_all();
    m_pde.invalidate_all();
    m_irt.invalidate_all();
}

} // namespace iommusim::amdvi

#include "models/iommu/vtd/tlm/vtd_caches.h"

#include <vector>

namespace iommusim::vtd {

namespace {

std::vector<unsigned> large_shifts(u8 sllps) {
    std::vector<unsigned> s;
    if (sllps & SLLPS_2M) s.push_back(21);
    if (sllps & SLLPS_1G) s.push_back(30);
    return s;
}

std::vector<iommu::cache_geometry> psc_levels(const vtd_unit_params& p) {
    std::vector<iommu::cache_geometry> g(6);
    g[2] = p.psc_l2.geometry;
    g[3] = p.psc_l3.geometry;
    g[4] = p.psc_l4.geometry;
    g[5] = p.psc_l5.geometry;
    return g;
}

} // namespace

vtd_caches::vtd_caches(const vtd_unit_params& p)
    : m_params(p), m_context(p.context_cache.geometry), m_iotlb(p.iotlb.geometry, {12}), m_psc(psc_levels(p)),
      m_iec(p.iec.geometry) {
    const auto shifts = large_shifts(p.hw.sllps);
    if (!shifts.empty() && p.iotlb_large.geometry.entries() > 0) m_iotlb_large.emplace(p.iotlb_large.geometry, shifts);
}

// ---- context cache

std::optional<context_entry> vtd_caches::context_lookup(u16 sid) {
    if (const context_entry* e = m_context.lookup(sid)) return *e;
    return std::nullopt;
}

void vtd_caches::context_fill(u16 sid, const context_entry& ce) {
    iommu::cache_tag tag;
    tag.domain = ce.did();
    tag.source_id = sid;
    tag.level = 0;
    tag.size_shift = 64;
    m_context.insert(sid, ce, tag);
}

inv_granularity vtd_caches::invalidate_context(inv_granularity g, u16 did, u16 sid, unsigned fm) {
    switch (g) {
    case inv_granularity::global: m_context.invalidate_all(); return g;
    case inv_granularity::domain: m_context.invalidate_domain(did); return g;
    case inv_granularity::device_or_page: {
        static constexpr u16 ignored[4] = {0x0, 0x4, 0x6, 0x7};  // FM: function-number bits not compared
        const u16 keep = static_cast<u16>(~ignored[fm & 3]);
        m_context.invalidate_if(
            [&](const context_cache_type::entry& e) {
                return e.tag.domain == did && (e.tag.source_id & keep) == (sid & keep);
            },
            iommu::inval_kind::device);
        return g;
    }
    case inv_granularity::reserved: break;
    }
    return inv_granularity::reserved;
}

// ---- IOTLB

std::optional<iommu::translation> vtd_caches::iotlb_lookup(u16 did, u64 addr) {
    // Both structures are looked up (in parallel in hardware); each counts its own lookup.
    auto small = m_iotlb.lookup(did, iommu::no_pasid, addr);
    std::optional<iommu::translation> large;
    if (m_iotlb_large) large = m_iotlb_large->lookup(did, iommu::no_pasid, addr);
    m_last_small_hit = small.has_value();
    m_last_large_hit = large.has_value();
    return small ? small : large;
}

vtd_caches::lookup_record vtd_caches::record_hits() const {
    lookup_record r;
    r.gen_context = m_context.generation();
    r.gen_iotlb = m_iotlb.cache().generation();
    r.gen_large = m_iotlb_large ? m_iotlb_large->cache().generation() : 0;
    r.context_slot = m_context.last_hit_slot();
    r.iotlb_hit = m_last_small_hit;
    r.iotlb_slot = m_iotlb.cache().last_hit_slot();
    r.large_hit = m_last_large_hit;
    r.large_slot = m_iotlb_large ? m_iotlb_large->cache().last_hit_slot() : 0;
    return r;
}

void vtd_caches::replay(const lookup_record& r) {
    m_context.replay_hit(r.context_slot);
    if (r.iotlb_hit) m_iotlb.cache().replay_hit(r.iotlb_slot);
    else m_iotlb.cache().replay_miss();
    if (m_iotlb_large) {
        if (r.large_hit) m_iotlb_large->cache().replay_hit(r.large_slot);
        else m_iotlb_large->cache().replay_miss();
    }
}

void vtd_caches::iotlb_fill(u16 did, u16 sid, u64 addr, const iommu::translation& t) {
    if (t.page_shift == 12) {
        m_iotlb.fill(did, iommu::no_pasid, sid, addr, t);
    } else if (m_iotlb_large) {
        m_iotlb_large->fill(did, iommu::no_pasid, sid, addr, t);
    } else {
        // No large-page structure: the 4 KiB piece of the large page that was used is cached.
        iommu::translation piece = t;
        piece.page_shift = 12;
        m_iotlb.fill(did, iommu::no_pasid, sid, addr, piece);
    }
}

unsigned vtd_caches::iotlb_lookup_cycles() const {
    unsigned c = m_params.iotlb.lookup_cycles;
    if (m_iotlb_large && m_params.iotlb_large.lookup_cycles > c) c = m_params.iotlb_large.lookup_cycles;
    return c;
}

inv_granularity vtd_caches::invalidate_iotlb(inv_granularity g, u16 did, u64 addr, unsigned am, bool ih) {
    if (g == inv_granularity::device_or_page && (!m_params.hw.psi || am > m_params.hw.mamv))
        g = inv_granularity::domain;
    auto each_tlb = [&](auto fn) {
        fn(m_iotlb.cache());
        if (m_iotlb_large) fn(m_iotlb_large->cache());
    };
    switch (g) {
    case inv_granularity::global:
        each_tlb([](iommu::tlb_cache::cache_type& c) { c.invalidate_all(); });
        m_psc.invalidate_all();
        return g;
    case inv_granularity::domain:
        each_tlb([&](iommu::tlb_cache::cache_type& c) { c.invalidate_domain(did); });
        m_psc.invalidate_domain(did);
        return g;
    case inv_granularity::device_or_page: {
        const auto r = iommu::masked_range(addr, am);
        each_tlb([&](iommu::tlb_cache::cache_type& c) { c.invalidate_range(r.base, r.size, u32(did)); });
        // IH = 1: software says only leaf entries changed; the paging-structure caches are kept.
        if (!ih) m_psc.invalidate_range(r.base, r.size, u32(did));
        return g;
    }
    case inv_granularity::reserved: break;
    }
    return inv_granularity::reserved;
}

// ---- interrupt entry cache

std::optional<irte> vtd_caches::iec_lookup(u16 index) {
    if (const irte* e = m_iec.lookup(index)) return *e;
    return std::nullopt;
}

void vtd_caches::iec_fill(u16 index, const irte& e) {
    iommu::cache_tag tag;
    tag.address = index;
    tag.size_shift = 0;
    m_iec.insert(index, e, tag);
}

void vtd_caches::invalidate_iec(bool index_selective, u16 index, unsigned im) {
    if (!index_selective) {
        m_iec.invalidate_all();
        return;
    }
    const u32 count = 1u << (im > 16 ? 16 : im);
    const u32 first = index & ~(count - 1);
    m_iec.invalidate_if([&](const iec_type::entry& e) { return e.key >= first && e.key < first + count; },
                        iommu::inval_kind::range);
}

} // namespace iommusim::vtd

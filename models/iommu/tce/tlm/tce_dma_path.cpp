#include "models/iommu/tce/tlm/tce_dma_path.h"

#include <vector>

namespace iommusim::tce {

namespace {

std::vector<unsigned> page_shifts_of(u64 pgsizes) {
    std::vector<unsigned> v;
    for (unsigned s = 12; s < 64; ++s)
        if (pgsizes & (u64(1) << s)) v.push_back(s);
    return v;
}

tce_xlate_result fail(tce_fault f, unsigned n, unsigned level = 0) {
    tce_xlate_result x;
    x.fault = f;
    x.window = n;
    x.level = level;
    return x;
}

} // namespace

tce_dma_path::tce_dma_path(const tce_unit_params& p, iommu::xlate_engine& engine) : m_params(p), m_engine(engine) {
    if (p.phb.tce_cache.geometry.ways) m_tce.emplace(p.phb.tce_cache.geometry, page_shifts_of(p.phb.page_sizes));
    if (p.phb.rtc.geometry.ways) m_rtc.emplace(p.phb.rtc.geometry);
}

void tce_dma_path::rid_lookup(u16 rid, unsigned pe, sc_core::sc_time& delay) {
    if (m_rtc) {
        m_engine.charge_lookup(m_params.phb.rtc.lookup_cycles, delay);
        if (const u16* hit = m_rtc->lookup(rid); hit && *hit == pe) {
            ++m_counters.rtc_hits;
            return;
        }
    }
    ++m_counters.rtc_misses;
    delay += m_engine.cycles(m_params.rtt_fetch_cycles);
    if (m_rtc) {
        iommu::cache_tag tag;
        tag.source_id = rid;
        tag.domain = pe;
        m_rtc->insert(rid, u16(pe), tag);
    }
}

tce_xlate_result tce_dma_path::translate(unsigned pe, unsigned n, const tce_window& w, u16 rid, u64 addr, bool write,
                                         sc_core::sc_time& delay) {
    m_engine.charge_lookup(m_params.phb.tve_cycles, delay);
    const u32 domain = domain_of(pe, n);
    if (m_tce) {
        m_engine.charge_lookup(m_params.phb.tce_cache.lookup_cycles, delay);
        if (const auto t = m_tce->lookup(domain, iommu::no_pasid, addr)) {
            ++m_counters.tce_hits;
            tce_xlate_result x;
            x.window = n;
            x.level = 1;
            x.r = t->perms & iommu::perm_read;
            x.w = t->perms & iommu::perm_write;
            // The PHB uses the TCE it holds: a cached entry without the right faults like the entry in memory
            // would have when it was fetched (only a kill makes the PHB look again).
            if (write ? !x.w : !x.r) {
                x.fault = write ? tce_fault::write_denied : tce_fault::read_denied;
                return x;
            }
            x.addr = t->address;
            x.page_shift = t->page_shift;
            return x;
        }
    }
    ++m_counters.walks;
    iommu::xlate_request req;
    req.requester_id = rid;
    req.address = addr;
    req.size = 1;
    req.access = write ? iommu::perm_write : iommu::perm_read;
    iommu::walk_context ctx;
    ctx.domain = domain;
    const auto out = m_engine.walk(w.format(), w.root, req, ctx, delay);
    if (!out.result.ok()) {
        const auto& f = out.result.fault();
        return fail(f.reason ? tce_fault(f.reason) : tce_fault::tce_invalid, n, f.level);
    }
    const iommu::translation& t = out.result.value();
    if (m_tce) m_tce->fill(domain, iommu::no_pasid, rid, addr, t);
    tce_xlate_result x;
    x.window = n;
    x.level = 1;
    x.addr = t.address;
    x.page_shift = t.page_shift;
    x.r = t.perms & iommu::perm_read;
    x.w = t.perms & iommu::perm_write;
    return x;
}

size_t tce_dma_path::kill(const tce_kill_request& r, sc_core::sc_time& delay) {
    ++m_counters.kills;
    m_engine.invalidate(m_params.tce_kill_cycles, delay);
    if (!m_tce) return 0;
    auto& c = m_tce->cache();
    size_t n = 0;
    switch (r.what) {
    case tce_kill_request::scope::all: n = c.invalidate_all(); break;
    case tce_kill_request::scope::pe: {
        const unsigned pe = r.pe;
        n = c.invalidate_if([pe](const auto& e) { return e.tag.domain / 2 == pe; }, iommu::inval_kind::domain);
        break;
    }
    case tce_kill_request::scope::pages: {
        const unsigned w = window_of(r.dma_addr);
        const u64 bytes = r.npages && r.page_size ? r.npages * r.page_size : 1;
        n = c.invalidate_range(r.dma_addr, bytes, domain_of(r.pe, w));
        break;
    }
    }
    m_counters.killed_entries += n;
    return n;
}

void tce_dma_path::rtt_changed() {
    if (m_rtc) m_rtc->invalidate_all();
}

} // namespace iommusim::tce

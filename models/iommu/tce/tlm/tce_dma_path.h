// The DMA translation pipeline of the PHB IOMMU: the RID translation cache (RTC) in front of the RTT, the
// TVT lookup, the TCE cache (the framework's tlb_cache, keyed by PE and window as the domain and the
// page at each of the PHB's IOMMU page sizes) and, on a miss, the TCE table walk through
// tce_window::format() and engine.walk (table reads at the memory's latency, in walk slots). TCE kills
// invalidate the cache by page range, PE or everything. Results and faults equal tce_translator's (the
// uncached reference) while the cache holds no stale entry; a stale one is used as hardware would until
// software kills it.
#pragma once
#include "models/iommu/common/pure/assoc_cache.h"
#include "models/iommu/common/pure/tlb_cache.h"
#include "models/iommu/common/xlate_engine.h"
#include "models/iommu/tce/phb.h"
#include "models/iommu/tce/tce_xlate.h"
#include "models/iommu/tce/tlm/tce_unit_params.h"

#include <optional>
#include <systemc>

namespace iommusim::tce {

class tce_dma_path {
public:
    tce_dma_path(const tce_unit_params& p, iommu::xlate_engine& engine);

    // Charges the RTC lookup of `rid` (and the RTT fetch on a miss) and remembers the PE it resolved to.
    void rid_lookup(u16 rid, unsigned pe, sc_core::sc_time& delay);

    // The TVT lookup alone (a bypass window).
    void charge_tve(sc_core::sc_time& delay) { m_engine.charge_lookup(m_params.phb.tve_cycles, delay); }

    // Translates one access that stays inside one IOMMU page of window `n` of PE `pe`. delay: in, when the
    // request is ready; out, when its translation is known.
    tce_xlate_result translate(unsigned pe, unsigned n, const tce_window& w, u16 rid, u64 addr, bool write,
                               sc_core::sc_time& delay);

    // Applies one kill to the TCE cache; returns the entries removed. The kill queue's work is charged.
    size_t kill(const tce_kill_request& r, sc_core::sc_time& delay);
    // The RTT changed: every cached RID -> PE entry goes.
    void rtt_changed();

    struct counters {
        u64 tce_hits = 0, walks = 0, rtc_hits = 0, rtc_misses = 0, kills = 0, killed_entries = 0;
    };
    const counters& stats() const { return m_counters; }
    const iommu::tlb_cache* tce_cache() const { return m_tce ? &*m_tce : nullptr; }
    const iommu::cache_stats* rtc_stats() const { return m_rtc ? &m_rtc->stats() : nullptr; }

    // The cache domain of a PE's window.
    static u32 domain_of(unsigned pe, unsigned n) { return u32(pe) * 2 + n; }

private:
    const tce_unit_params& m_params;
    iommu::xlate_engine& m_engine;
    std::optional<iommu::tlb_cache> m_tce;                 // none with 0 ways
    std::optional<iommu::assoc_cache<u16, u16>> m_rtc;     // RID -> PE; none with 0 ways
    counters m_counters;
};

} // namespace iommusim::tce

// The legacy-mode DMA translation pipeline of the VT-d unit (§3.4 - §3.6): context cache, root/context
// entry fetch on a miss, the context entry's TT against the request's address type, the AGAW check, the
// IOTLB, and on a miss the second-level walk through the framework's page_walker (engine.walk), with the
// paging-structure caches. Every step is charged: cache lookups in cycles, table reads at the memory's
// latency through engine.mem, walks in walk slots. Results and faults are exactly slpt_translator's
// (the uncached reference), which fetches the root and context entries here too.
#pragma once
#include "models/iommu/common/xlate_engine.h"
#include "models/iommu/vtd/tlm/vtd_caches.h"
#include "models/iommu/vtd/tlm/vtd_unit_params.h"
#include "models/iommu/vtd/vtd_slpt.h"

#include <array>
#include <systemc>

namespace iommusim::vtd {

class dma_path {
public:
    dma_path(const vtd_unit_params& p, iommu::xlate_engine& engine, vtd_caches& caches);

    // Translates one request that stays inside one 4 KiB page of its input address, through the tables
    // rooted at `rtaddr` (the root-table address latched by GCMD.SRTP). delay: in, when the request is
    // ready; out, when its translation is known.
    xlate_result translate(u64 rtaddr, const xlate_request& req, sc_core::sc_time& delay);

    // Reads `len` bytes (at most 16: a root/context entry, an IRTE, a descriptor) through engine.mem in one
    // transaction, charging the memory's latency to delay (not in functional mode). False on a TLM error.
    bool read_table(u64 address, void* data, unsigned len, sc_core::sc_time& delay);

    struct counters {
        u64 iotlb_hits = 0, walks = 0, context_fetches = 0, memory_errors = 0;
    };
    const counters& stats() const { return m_counters; }

private:
    iommu::walk_format make_format(unsigned levels) const;
    iommu::pte_info decode(u64 raw, unsigned level, const iommu::xlate_request& req) const;
    xlate_result walk(const context_entry& ce, const xlate_request& req, sc_core::sc_time& delay);

    const vtd_unit_params& m_params;
    iommu::xlate_engine& m_engine;
    vtd_caches& m_caches;
    slpt_translator m_ref;                        // context lookup and translation-request walks
    sl_format m_sl;                               // reserved-bit rules of second-level entries
    std::array<iommu::walk_format, 3> m_formats;  // 3-, 4- and 5-level tables
    counters m_counters;

    // Recent translations that hit in the context cache and the IOTLB, by source-id and 4 KiB page:
    // while the caches are unchanged, a repeat replays those lookups (same statistics, same replacement
    // updates, same latency) instead of searching them again.
    struct memo {
        u64 page = ~u64(0);
        u16 sid = 0;
        vtd_caches::lookup_record lookups;
        xlate_result result;   // addr: the translated 4 KiB page
    };
    static constexpr size_t k_memo_entries = 64;
    std::array<memo, k_memo_entries> m_memo{};
    static size_t memo_index(u16 sid, u64 page) { return size_t((page ^ (u64(sid) * 0x9e37)) & (k_memo_entries - 1)); }
};

} // namespace iommusim::vtd

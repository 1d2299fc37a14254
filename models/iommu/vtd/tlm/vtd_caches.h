// The caches of one VT-d unit (§6.1 - §6.4 of the VT-d specification) built from the framework's
// structures, and their invalidation at every granularity the spec defines. The same functions serve
// register-based invalidation (CCMD_REG, IOTLB_REG) and the invalidation queue's descriptors, so both
// paths invalidate exactly the same entries. Pure C++ (no SystemC).
#pragma once
#include "models/iommu/common/pure/assoc_cache.h"
#include "models/iommu/common/pure/paging_structure_cache.h"
#include "models/iommu/common/pure/tlb_cache.h"
#include "models/iommu/vtd/tlm/vtd_unit_params.h"
#include "models/iommu/vtd/vtd_defs.h"
#include "models/iommu/vtd/vtd_inv_desc.h"

#include <optional>

namespace iommusim::vtd {

class vtd_caches {
public:
    using context_cache_type = iommu::assoc_cache<u16, context_entry>;
    using iec_type = iommu::assoc_cache<u16, irte>;

    explicit vtd_caches(const vtd_unit_params& p);

    // ---- context cache (§6.1): present, valid context entries by source-id, tagged with their DID.
    std::optional<context_entry> context_lookup(u16 sid);
    void context_fill(u16 sid, const context_entry& ce);
    // CCMD_REG.CIRG / cc_inv_dsc.G: returns the granularity actually performed (CAIG), reserved = none.
    // Device-selective: source-ids equal to `sid` outside the bits the function mask FM ignores
    // (01b: bit 2, 10b: bits 2:1, 11b: bits 2:0), with DID `did` (§11.4.7, §6.5.2.1).
    inv_granularity invalidate_context(inv_granularity g, u16 did, u16 sid, unsigned fm);

    // ---- IOTLB (§6.2.2): leaf translations by DID; 4 KiB entries in one structure, 2 MiB / 1 GiB ones in
    // another (or fragmented into 4 KiB entries when that one has no ways).
    std::optional<iommu::translation> iotlb_lookup(u16 did, u64 addr);
    void iotlb_fill(u16 did, u16 sid, u64 addr, const iommu::translation& t);
    // Lookup latency: both structures are probed in parallel.
    unsigned iotlb_lookup_cycles() const;
    // IOTLB_REG.IIRG / iotlb_inv_dsc.G with IVA/descriptor ADDR, AM, IH (§6.5.1.2, §11.4.8): global and
    // domain-selective also drop the domain's paging-structure-cache entries; page-selective drops the
    // IOTLB entries overlapping [ADDR, ADDR + 2^(12+AM)) and, unless IH is set, the PSC entries of the
    // domain overlapping it. Without CAP.PSI, or with AM above CAP.MAMV, a page-selective request is
    // performed domain-selective (hardware may invalidate more than asked, §6.5.1.2). Returns IAIG.
    inv_granularity invalidate_iotlb(inv_granularity g, u16 did, u64 addr, unsigned am, bool ih);

    // ---- paging-structure caches (§6.2.3), used by the walker.
    iommu::paging_structure_cache& psc() { return m_psc; }

    // ---- interrupt entry cache (§6.4): IRTEs by interrupt_index.
    std::optional<irte> iec_lookup(u16 index);
    void iec_fill(u16 index, const irte& e);
    // iec_inv_dsc (§6.5.2.7): global, or the 2^IM indexes from IIDX with its low IM bits cleared.
    void invalidate_iec(bool index_selective, u16 index, unsigned im);

    // Where the last context_lookup and iotlb_lookup hit, with the generations of the three structures:
    // while none of them changed, replay() has exactly the effects of doing both lookups again (the same
    // statistics and replacement updates). The DMA path keeps a few of these in front of the caches.
    struct lookup_record {
        u64 gen_context = 0, gen_iotlb = 0, gen_large = 0;
        size_t context_slot = 0, iotlb_slot = 0, large_slot = 0;
        bool iotlb_hit = false, large_hit = false;
    };
    // Call right after a context_lookup and an iotlb_lookup that both hit.
    lookup_record record_hits() const;
    bool unchanged(const lookup_record& r) const {
        return r.gen_context == m_context.generation() && r.gen_iotlb == m_iotlb.cache().generation() &&
               (!m_iotlb_large || r.gen_large == m_iotlb_large->cache().generation());
    }
    void replay(const lookup_record& r);

    const context_cache_type& context_cache() const { return m_context; }
    const iommu::tlb_cache& iotlb() const { return m_iotlb; }
    const iommu::tlb_cache* iotlb_large() const { return m_iotlb_large ? &*m_iotlb_large : nullptr; }
    const iommu::paging_structure_cache& psc() const { return m_psc; }
    const iec_type& iec() const { return m_iec; }

private:
    const vtd_unit_params& m_params;
    context_cache_type m_context;
    iommu::tlb_cache m_iotlb;
    std::optional<iommu::tlb_cache> m_iotlb_large;
    iommu::paging_structure_cache m_psc;
    iec_type m_iec;
    bool m_last_small_hit = false, m_last_large_hit = false; // of the last iotlb_lookup
};

} // namespace iommusim::vtd

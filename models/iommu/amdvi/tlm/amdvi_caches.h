// The caches of one AMD IOMMU built from the framework's structures, and their invalidation at every
// granularity the commands define (spec #48882 rev 3.0x §2.4.2 - §2.4.5, §2.4.8): the DTE cache by DeviceID,
// the IOTLB by DomainID (4 KiB / 2 MiB / 1 GiB entries in one tlb_cache), the PDE caches, and the interrupt
// table cache by DeviceID and index. Pure C++ (no SystemC).
#pragma once
#include "models/iommu/amdvi/amdvi_defs.h"
#include "models/iommu/amdvi/amdvi_ir.h"
#include "models/iommu/amdvi/tlm/amdvi_unit_params.h"
#include "models/iommu/common/pure/assoc_cache.h"
#include "models/iommu/common/pure/paging_structure_cache.h"
#include "models/iommu/common/pure/tlb_cache.h"

#include <optional>

namespace iommusim::amdvi {

class amdvi_caches {
public:
    using dte_cache_type = iommu::assoc_cache<u16, dte>;
    using irt_cache_type = iommu::assoc_cache<u32, irte_raw>;

    explicit amdvi_caches(const amdvi_unit_params& p);

    std::optional<dte> dte_lookup(u16 device_id);
    void dte_fill(u16 device_id, const dte& d);
    // INVALIDATE_DEVTAB_ENTRY: the cached DTE only (IOTLB entries are tagged by domain, §2.4.2).
    void invalidate_dte(u16 device_id);

    std::optional<iommu::translation> iotlb_lookup(u16 domain, u64 addr);
    // A translation of page size 2^shift is cached at the largest configured size not above it.
    void iotlb_fill(u16 domain, u16 device_id, u64 addr, const iommu::translation& t);
    // INVALIDATE_IOMMU_PAGES (§2.4.3): entries of the domain overlapping the range (all for r.all()); PDE = 1
    // drops the domain's PDE-cache entries overlapping it too.
    void invalidate_pages(u16 domain, const inv_range& r, bool pde);

    iommu::paging_structure_cache& pde() { return m_pde; }

    std::optional<irte_raw> irt_lookup(u16 device_id, u32 index);
    void irt_fill(u16 device_id, u32 index, const irte_raw& e);
    // INVALIDATE_INTERRUPT_TABLE (§2.4.5): every cached IRTE of the device.
    void invalidate_irt(u16 device_id);

    // INVALIDATE_IOMMU_ALL (§2.4.8): everything.
    void invalidate_all();

    const dte_cache_type& dte_cache() const { return m_dte; }
    const iommu::tlb_cache& iotlb() const { return m_iotlb; }
    const iommu::paging_structure_cache& pde() const { return m_pde; }
    const irt_cache_type& irt_cache() const { return m_irt; }

private:
    dte_cache_type m_dte;
    iommu::tlb_cache m_iotlb;
    iommu::paging_structure_cache m_pde;
    irt_cache_type m_irt;
};

} // namespace iommusim::amdvi

// The powernv PEs behind the host IOMMU API (iommu_driver): a device is served when its PHB put it in a PE
// with an IOMMU group; domains are pnv_tce_domain (TCE windows as geometry). DMA is cache coherent on POWER;
// there is no interrupt remapping (the PHB checks each MSI against its source's PE instead, msi_setup).
#pragma once
#include "sim/host/iommu/iommu_driver.h"

#include <memory>
#include <vector>

namespace iommusim::memory {
class page_allocator;
}

namespace iommusim::host {

class kernel_log;
class pci_host_ops;
class pnv_phb;
class pnv_ioda_pe;

class pnv_iommu_driver : public iommu_driver {
public:
    pnv_iommu_driver(const std::vector<std::unique_ptr<pnv_phb>>& phbs, pci_host_ops& ops,
                     memory::page_allocator& pages, kernel_log& log);

    const char* name() const override { return "powernv"; }
    int probe_device(pci_dev& dev) override;
    bool capable(const pci_dev& dev, iommu_cap cap) const override;
    // dma and unmanaged domains; no identity or blocking domain (nullptr: the core falls back to dma).
    std::shared_ptr<iommu_domain> domain_alloc(iommu_domain_type type) override;
    // None: the MSI windows lie outside every DMA window (PCI address bit 60 and 0xFFFF0000).
    std::vector<iommu_resv_region> get_resv_regions(const pci_dev& dev) const override;

    pnv_ioda_pe* pe_of(const pci_dev& dev) const;

private:
    const std::vector<std::unique_ptr<pnv_phb>>& m_phbs;
    pci_host_ops& m_ops;
    memory::page_allocator& m_pages;
    kernel_log& m_log;
};

} // namespace iommusim::host

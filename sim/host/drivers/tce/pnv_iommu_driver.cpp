#include "sim/host/drivers/tce/pnv_iommu_driver.h"

#include "sim/host/drivers/tce/pnv_phb.h"
#include "sim/host/drivers/tce/pnv_tce_domain.h"
#include "sim/host/pci_dev.h"

namespace iommusim::host {

pnv_iommu_driver::pnv_iommu_driver(const std::vector<std::unique_ptr<pnv_phb>>& phbs, pci_host_ops& ops,
                                   memory::page_allocator& pages, kernel_log& log)
    : m_phbs(phbs), m_ops(ops), m_pages(pages), m_log(log) {}

pnv_ioda_pe* pnv_iommu_driver::pe_of(const pci_dev& dev) const {
    for (const auto& phb : m_phbs)
        if (phb->owns(dev)) return phb->pe_of(dev);
    return nullptr;
}

int pnv_iommu_driver::probe_device(pci_dev& dev) {
    const pnv_ioda_pe* pe = pe_of(dev);
    return pe && dev.group != no_group && pe->group == dev.group ? 0 : -ENODEV;
}

bool pnv_iommu_driver::capable(const pci_dev&, iommu_cap cap) const {
    return cap == iommu_cap::cache_coherency || cap == iommu_cap::enforce_cache_coherency;
}

std::shared_ptr<iommu_domain> pnv_iommu_driver::domain_alloc(iommu_domain_type type) {
    if (type != iommu_domain_type::dma && type != iommu_domain_type::unmanaged) return nullptr;
    u64 dma32 = 0x80000000;
    if (!m_phbs.empty()) dma32 = m_phbs.front()->info().dma32_size;
    return std::make_shared<pnv_tce_domain>(type, m_ops, m_pages, [this](const pci_dev& d) { return pe_of(d); }, dma32,
                                            &m_log);
}

std::vector<iommu_resv_region> pnv_iommu_driver::get_resv_regions(const pci_dev&) const { return {}; }

} // namespace iommusim::host

// vfio_host over the simulated kernel: its IOMMU groups and IOMMU core, and its driver binding for
// vfio-pci registration, viability and DMA ownership (host::driver_binding).
#pragma once
#include "sim/vfio/vfio_host.h"

namespace iommusim::host {
class kernel;
class driver_binding;
} // namespace iommusim::host

namespace iommusim::vfio {

class kernel_vfio_host : public vfio_host {
public:
    kernel_vfio_host(host::kernel& k, host::driver_binding& drivers) : m_kernel(k), m_drivers(drivers) {}

    host::iommu_core* iommu() override;
    const host::iommu_group* group(int id) const override;
    bool is_vfio_device(const host::pci_dev& dev) const override;
    bool group_viable(int group) const override;
    int claim_dma_owner(int group, const void* owner) override;
    void release_dma_owner(int group, const void* owner) override;
    host::kernel* kernel() override { return &m_kernel; }
    // powernv: the PEs of the kernel's PHBs (EEH is always enabled there: pnv_eeh_post_init).
    bool tce_iommu() const override;
    host::iommu_table_group* table_group(int group) override;
    bool eeh_enabled() const override { return tce_iommu(); }

private:
    host::kernel& m_kernel;
    host::driver_binding& m_drivers;
};

} // namespace iommusim::vfio

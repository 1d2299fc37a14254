#include "sim/vfio/vfio_kernel_host.h"

#include "sim/host/driver/driver_binding.h"
#include "sim/host/kernel.h"

namespace iommusim::vfio {

host::iommu_core* kernel_vfio_host::iommu() { return m_kernel.iommu(); }

const host::iommu_group* kernel_vfio_host::group(int id) const { return m_kernel.group(id); }

bool kernel_vfio_host::is_vfio_device(const host::pci_dev& dev) const {
    const host::driver_info* d = m_drivers.driver_of(dev);
    return d && d->kind == host::driver_kind::vfio_pci;
}

bool kernel_vfio_host::group_viable(int group) const { return m_drivers.group_viable(group); }

int kernel_vfio_host::claim_dma_owner(int group, const void* owner) { return m_drivers.claim_dma_owner(group, owner); }

bool kernel_vfio_host::tce_iommu() const { return m_kernel.tce_iommu(); }

host::iommu_table_group* kernel_vfio_host::table_group(int group) { return m_kernel.table_group(group); }

void kernel_vfio_host::release_dma_owner(int group, const void* owner) { m_drivers.release_dma_owner(group, owner); }

} // namespace iommusim::vfio

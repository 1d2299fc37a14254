// A container (/dev/vfio/vfio, drivers/vfio/container.c in Linux 6.1): an unprivileged memory-map object
// that groups join; the first SET_IOMMU with at least one group instantiates the IOMMU backend (type1 v1 or
// v2 here; no sPAPR TCE or noiommu backend is registered) and attaches every group. The last group
// leaving releases the backend and all its mappings.
#pragma once
#include "sim/vfio/vfio_iommu_type1.h"

#include <memory>
#include <vector>

namespace iommusim::vfio {

class vfio_group;

// vfio and vfio_iommu_type1 module parameters.
struct vfio_options {
    type1_options type1;
    bool enable_unsafe_noiommu_mode = false;  // vfio.enable_unsafe_noiommu_mode (no noiommu groups here)
    bool nointxmask = false;                  // vfio_pci.nointxmask: INTx masked by disable_irq, never DisINTx
};

class vfio_container {
public:
    vfio_container(vfio_host& host, vfio_mm& mm, const vfio_options& options);
    ~vfio_container();

    // The container fd's ioctls (vfio_fops_unl_ioctl): 0/positive or -errno.
    long ioctl(unsigned long request, unsigned long arg);

    // vfio_container_attach_group's tail: attach to the backend if there is one (the caller has claimed
    // DMA ownership). 0 or the backend's error.
    int attach_group(vfio_group& group);
    // vfio_group_detach_container's container side; the last group releases the backend.
    void detach_group(vfio_group& group);

    vfio_iommu_type1* backend() { return m_backend.get(); }
    const vfio_iommu_type1* backend() const { return m_backend.get(); }
    const std::vector<vfio_group*>& groups() const { return m_groups; }

private:
    long check_extension(unsigned long ext) const;
    long set_iommu(unsigned long type);

    vfio_host& m_host;
    vfio_mm& m_mm;
    vfio_options m_options;
    std::vector<vfio_group*> m_groups;
    std::unique_ptr<vfio_iommu_type1> m_backend;
};

} // namespace iommusim::vfio

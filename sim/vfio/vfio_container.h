// A container (/dev/vfio/vfio, drivers/vfio/container.c in Linux 6.1): an unprivileged memory-map object
// that groups join; the first SET_IOMMU with at least one group instantiates the IOMMU backend and attaches
// every group. The backends registered are the host's: type1 (v1, v2) on x86, sPAPR TCE (v1, v2) where the
// IOMMU is POWER's (vfio_host::tce_iommu); no noiommu backend. The last group leaving releases the backend
// and all its mappings.
#pragma once
#include "sim/vfio/vfio_iommu_spapr_tce.h"
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
    // prereg: the process's preregistered memory (sPAPR v2); required for the sPAPR backend.
    vfio_container(vfio_host& host, vfio_mm& mm, const vfio_options& options, mm_iommu_regions* prereg = nullptr);
    ~vfio_container();

    // The container fd's ioctls (vfio_fops_unl_ioctl): 0/positive or -errno.
    long ioctl(unsigned long request, unsigned long arg);

    // vfio_container_attach_group's tail: attach to the backend if there is one (the caller has claimed
    // DMA ownership). 0 or the backend's error.
    int attach_group(vfio_group& group);
    // vfio_group_detach_container's container side; the last group releases the backend.
    void detach_group(vfio_group& group);

    // The backend, when SET_IOMMU opened one: as type1 or as sPAPR TCE (nullptr when it is the other).
    vfio_iommu_driver* driver() const { return m_backend.get(); }
    vfio_iommu_type1* backend() const { return dynamic_cast<vfio_iommu_type1*>(m_backend.get()); }
    // Whether SET_IOMMU chose a backend (any: type1 or sPAPR TCE).
    bool iommu_set() const { return m_backend != nullptr; }
    vfio_iommu_spapr_tce* spapr() const { return dynamic_cast<vfio_iommu_spapr_tce*>(m_backend.get()); }
    const std::vector<vfio_group*>& groups() const { return m_groups; }

private:
    long check_extension(unsigned long ext) const;
    long set_iommu(unsigned long type);
    long attach_all(std::unique_ptr<vfio_iommu_driver> backend);

    vfio_host& m_host;
    vfio_mm& m_mm;
    vfio_options m_options;
    mm_iommu_regions* m_prereg;
    std::vector<vfio_group*> m_groups;
    std::unique_ptr<vfio_iommu_driver> m_backend;
};

} // namespace iommusim::vfio

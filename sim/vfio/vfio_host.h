// What the VFIO core needs from the simulated kernel, and nothing more: the IOMMU groups and the generic
// IOMMU API (iommu_core: domains, attach_group, capabilities, reserved regions), which devices are
// registered with a VFIO driver, group viability and DMA ownership (iommu_group_claim_dma_owner), and the
// opening process's memory for pinning. Nothing here names an IOMMU implementation. kernel_vfio_host
// (vfio_kernel_host.h) implements it over host::kernel, host::driver_binding and host::process_mm; unit
// tests may implement it over a fake.
#pragma once
#include "sim/core/types.h"

#include <cerrno>

#include <vector>

namespace iommusim::host {
class iommu_core;
class iommu_table_group;
class kernel;
struct iommu_group;
struct pci_dev;
} // namespace iommusim::host

namespace iommusim::vfio {

// One physically contiguous run of pinned user memory (vfio_pin_pages_remote's chunk).
struct pin_run {
    u64 vaddr = 0, phys = 0, len = 0;
    bool reserved = false;  // PFNMAP/MMIO or reserved page: mapped, never charged
};

// The address space of the process that opened the container (the task type1 records at MAP_DMA).
class vfio_mm {
public:
    virtual ~vfio_mm() = default;
    // vfio_pin_pages_remote: 0, -EFAULT (not mapped / not writable), -ENOMEM (RLIMIT_MEMLOCK); on failure
    // nothing stays pinned or charged.
    virtual int pin(u64 vaddr, u64 len, bool write, std::vector<pin_run>& out) = 0;
    virtual void unpin(const std::vector<pin_run>& runs) = 0;
    // Long-term pins that leave locked_vm alone (pin_user_pages with FOLL_LONGTERM): the sPAPR backend
    // charges its own way (the whole window at ENABLE, the whole region at REGISTER_MEMORY). -EFAULT as
    // pin(); a mm that cannot do it answers -EFAULT.
    virtual int pin_uncharged(u64 vaddr, u64 len, bool write, std::vector<pin_run>& out) {
        (void)vaddr; (void)len; (void)write; (void)out;
        return -EFAULT;
    }
    virtual void unpin_uncharged(const std::vector<pin_run>& runs) { (void)runs; }
    // account_locked_vm(mm, bytes >> PAGE_SHIFT, inc): 0, or -ENOMEM over RLIMIT_MEMLOCK without
    // CAP_IPC_LOCK (nothing charged then).
    virtual int account_locked_vm(u64 bytes, bool inc) {
        (void)bytes; (void)inc;
        return -ENOMEM;
    }
};

class vfio_host {
public:
    virtual ~vfio_host() = default;
    // The IOMMU API; nullptr when no IOMMU driver came up (then no group can exist).
    virtual host::iommu_core* iommu() = 0;
    virtual const host::iommu_group* group(int id) const = 0;
    // vfio_register_group_dev has run for dev: it is bound to a VFIO driver (vfio-pci).
    virtual bool is_vfio_device(const host::pci_dev& dev) const = 0;
    // What GROUP_GET_STATUS reports as VIABLE for a group without a container (6.1: no kernel DMA driver
    // bound in the IOMMU group, i.e. !iommu_group_dma_owner_claimed).
    virtual bool group_viable(int group) const = 0;
    // iommu_group_claim_dma_owner / iommu_group_release_dma_owner: 0, -EPERM (a kernel DMA driver is
    // bound), -EBUSY (another owner, or the group is on a non-default domain).
    virtual int claim_dma_owner(int group, const void* owner) = 0;
    virtual void release_dma_owner(int group, const void* owner) = 0;
    // The kernel behind the devices, for vfio-pci's hardware access (config space, MMIO, resets, MSI
    // composition); nullptr for a host without hardware (then device fds answer DEVICE_GET_INFO only).
    virtual host::kernel* kernel() { return nullptr; }

    // POWER: the host's IOMMU is a TCE IOMMU, so the sPAPR TCE backend is the one registered (type1 is
    // not built for ppc64); a group's PE as an iommu_table_group (iommu_group_get_iommudata), nullptr when
    // it has none; whether EEH is enabled (eeh_enabled()).
    virtual bool tce_iommu() const { return false; }
    virtual host::iommu_table_group* table_group(int group) { (void)group; return nullptr; }
    virtual bool eeh_enabled() const { return false; }
};

} // namespace iommusim::vfio

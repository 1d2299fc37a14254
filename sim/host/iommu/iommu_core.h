// The simulated kernel's IOMMU core (drivers/iommu/iommu.c, v6.1) over the groups the kernel formed at
// boot: which driver serves each device, a default domain per group (DMA, or identity with
// iommu.passthrough=1), and the group-level API VFIO uses: domain_alloc, attach_group / detach_group
// with __iommu_attach_group's -EBUSY rule, capabilities, reserved regions, MSI composition.
//
//   host::iommu_core core(kernel, log);
//   core.add_driver(vtd);                 // iommu_device_register
//   core.probe();                         // bus_iommu_probe: default domains attached
//   auto dom = core.domain_alloc(iommu_domain_type::unmanaged, *dev);
//   core.attach_group(*dom, group_id);    // 0, -EBUSY, driver errors
#pragma once
#include "sim/host/iommu/iommu_driver.h"

#include <map>
#include <memory>
#include <vector>

namespace iommusim::host {

class kernel;
class kernel_log;

struct iommu_core_options {
    bool passthrough = false;  // iommu.passthrough=1: identity default domains
};

class iommu_core {
public:
    iommu_core(kernel& k, kernel_log& log, iommu_core_options options = {});

    void add_driver(iommu_driver& driver);

    // bus_iommu_probe for every booted group: probe each device, allocate the group's default domain
    // (falling back to DMA when the preferred type cannot be allocated) and attach it. Returns 0 or the
    // first error; a group whose default domain cannot be attached is left without a domain.
    int probe();

    iommu_driver* driver_of(const pci_dev& dev) const;
    // iommu_domain_alloc(bus): a new domain from the driver that serves dev.
    std::shared_ptr<iommu_domain> domain_alloc(iommu_domain_type type, const pci_dev& dev);

    // iommu_attach_group: -EBUSY when the group is attached to a domain other than its default.
    int attach_group(const std::shared_ptr<iommu_domain>& domain, int group);
    // iommu_detach_group: back to the default domain (nothing if the group is not on `domain`).
    void detach_group(const std::shared_ptr<iommu_domain>& domain, int group);

    iommu_domain* group_domain(int group) const;
    iommu_domain* default_domain(int group) const;

    bool capable(const pci_dev& dev, iommu_cap cap) const;
    std::vector<iommu_resv_region> resv_regions(const pci_dev& dev) const;
    // iommu_get_group_resv_regions: every member's regions, sorted, same-type overlaps merged.
    std::vector<iommu_resv_region> group_resv_regions(int group) const;

    // The MSI messages for a device: remapped through the driver when it remaps interrupts, otherwise
    // compatibility format (address 0xfee00000 | dest << 12, data = vector) as x86 composes them.
    int msi_compose(pci_dev& dev, unsigned count, u8 vector, u32 dest, remapped_msi& out);

    const iommu_core_options& options() const { return m_options; }

private:
    struct group_state {
        std::shared_ptr<iommu_domain> default_domain;
        std::shared_ptr<iommu_domain> domain;
    };
    int set_group_domain(group_state& gs, int group, const std::shared_ptr<iommu_domain>& domain);
    iommu_domain_type default_type_for(int group) const;

    kernel& m_kernel;
    kernel_log& m_log;
    iommu_core_options m_options;
    std::vector<iommu_driver*> m_drivers;
    std::map<const pci_dev*, iommu_driver*> m_dev_driver;
    std::map<int, group_state> m_groups;
};

} // namespace iommusim::host

// Which driver each PCI function is bound to, and the IOMMU group DMA ownership that binding drives
// (drivers/base/dd.c, drivers/pci/pci-driver.c pci_dma_configure, drivers/iommu/iommu.c v6.1):
// a driver that uses the kernel DMA API takes a reference on its group's default domain
// (iommu_device_use_default_domain: -EBUSY while a user such as VFIO owns the group); drivers with
// driver_managed_dma (vfio-pci, pci-stub, pcieport) do not. VFIO claims a whole group for user space
// (iommu_group_claim_dma_owner: -EPERM while any kernel DMA driver is bound in it). Group viability as
// vfio reports it follows from the same counter in 6.1.
//
//   host::driver_binding& drv = kernel.drivers();   // boot bound ports to pcieport, in-box endpoints
//   drv.bind(bdf, "vfio-pci");                      // driver_override + unbind + bind through sysfs
//   drv.group_viable(group);                        // VFIO_GROUP_FLAGS_VIABLE
#pragma once
#include "sim/core/bdf.h"
#include "sim/core/types.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace iommusim::host {

class kernel;
struct pci_dev;

enum class driver_kind { none, vfio_pci, pcieport, pci_stub, host_dma };  // host_dma: e.g. e1000e
const char* driver_kind_name(driver_kind k);

struct driver_info {
    std::string name;               // the sysfs name under /sys/bus/pci/drivers
    driver_kind kind = driver_kind::none;
    bool driver_managed_dma = false;  // struct device_driver::driver_managed_dma
};

// How boot binds drivers (what a distro's udev/modprobe does after enumeration). pcieport always takes
// the PCIe ports it supports. autoprobe: endpoints whose IDs or class an in-box driver of the table in
// driver_binding.cpp matches get that driver (an 8086:10d3 NIC gets e1000e, as on the oracle's QEMU
// guest); everything else stays unbound. drivers: per-device choices applied afterwards ("none",
// "vfio-pci", a host driver), e.g. from a platform or scenario.
struct boot_binding {
    bool autoprobe = true;
    std::vector<std::pair<bdf, std::string>> drivers;
};

class driver_binding {
public:
    explicit driver_binding(kernel& k);

    // Boot-time binding of every device (see boot_binding). Devices bound before are unbound first.
    // Returns the first failing bind's error (that device stays unbound), 0 otherwise.
    int boot(const boot_binding& policy = {});

    // What `echo <driver> > driver_override; echo BDF > <old driver>/unbind; echo BDF >
    // drivers/<driver>/bind` does (the oracle shim's iommusim_bind): the current driver is unbound first,
    // then the new one probes. 0; -ENODEV (no such device, or pcieport / a host driver refusing the
    // function); -ENOENT (no driver of that name: no drivers/<name>/bind file; the device is left
    // unbound); -EBUSY (a kernel DMA API driver while a user owns the group: iommu_device_use_default_domain;
    // or the vfio hook refused to release the device); -EINVAL (vfio-pci on a non-normal header, on a
    // device without an IOMMU group or whose IOMMU lacks IOMMU_CAP_CACHE_COHERENCY). "none" only unbinds.
    int bind(const bdf& dev, const std::string& driver);
    const driver_info* driver_of(const pci_dev& dev) const;  // nullptr when unbound
    const driver_info* driver_of(const bdf& dev) const;

    // iommu_group_claim_dma_owner / iommu_group_release_dma_owner (v6.1): user (VFIO) ownership of a
    // whole group. -EPERM if the owner count is not zero (a kernel DMA driver is bound in the group, or
    // the group is already claimed: one owner at a time); -EBUSY if the group sits on a domain other than
    // its default; -ENODEV for an unknown group; -EINVAL for a null owner.
    int claim_dma_owner(int group, const void* owner);
    void release_dma_owner(int group, const void* owner);  // ignored unless `owner` holds the group
    bool dma_owner_claimed(int group) const;                // iommu_group_dma_owner_claimed: owner_cnt != 0
    const void* dma_owner(int group) const;                 // group->owner, nullptr if none
    unsigned owner_count(int group) const;                  // group->owner_cnt

    // vfio's group viability: what GROUP_GET_STATUS reports as VIABLE. v5.19+: the group is owned by a
    // user (it has a container) or no kernel DMA driver is bound in it. Before 5.19 (vfio_dev_viable per
    // member): every member unbound, on vfio-pci or pci-stub, or not a normal-header function.
    bool group_viable(int group) const;

    // The driver registry: vfio-pci, pcieport, pci-stub and the in-box host DMA drivers; add_driver
    // registers a further one (a host DMA driver unless said otherwise).
    const driver_info* find_driver(const std::string& name) const;
    void add_driver(const driver_info& info);

    // VFIO's side of binding: probe runs when vfio-pci binds (vfio_register_group_dev; an error fails
    // the bind), remove before vfio-pci unbinds (a non-zero return refuses the unbind with that error:
    // the real kernel blocks until the user closes the device, which a simulator cannot).
    struct vfio_hooks {
        std::function<int(pci_dev&)> probe;
        std::function<int(pci_dev&)> remove;
    };
    void set_vfio_hooks(vfio_hooks hooks) { m_hooks = std::move(hooks); }

private:
    struct group_owner {
        unsigned owner_cnt = 0;
        const void* owner = nullptr;
    };
    int unbind(pci_dev& dev);
    int probe(pci_dev& dev, const driver_info& drv);     // really_probe: dma_configure, then the probe
    int driver_probe(pci_dev& dev, const driver_info& drv);
    int use_default_domain(const pci_dev& dev);          // iommu_device_use_default_domain
    void unuse_default_domain(const pci_dev& dev);       // iommu_device_unuse_default_domain
    const driver_info* autoprobe_match(const pci_dev& dev) const;

    kernel& m_kernel;
    std::map<std::string, driver_info> m_registry;
    std::map<const pci_dev*, const driver_info*> m_bound;
    std::map<int, group_owner> m_owners;
    vfio_hooks m_hooks;
};

} // namespace iommusim::host

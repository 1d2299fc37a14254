#include "sim/host/driver/driver_binding.h"

#include "sim/host/kernel.h"

#include <fmt/format.h>

#include <cerrno>

namespace iommusim::host {

using namespace pci;

const char* driver_kind_name(driver_kind k) {
    switch (k) {
    case driver_kind::none: return "none";
    case driver_kind::vfio_pci: return "vfio-pci";
    case driver_kind::pcieport: return "pcieport";
    case driver_kind::pci_stub: return "pci-stub";
    case driver_kind::host_dma: return "host DMA driver";
    }
    return "?";
}

namespace {

// The in-box drivers a Debian 12 kernel would load for a few well-known functions (a sliver of
// modules.alias: the pci_device_id tables of these drivers). device 0xffff / class_mask 0: any.
struct inbox_id {
    u16 vendor, device_lo, device_hi;
    u32 class_code, class_mask;
    const char* driver;
};
constexpr u16 any_id = 0xffff;
constexpr inbox_id k_inbox[] = {
    {0x8086, 0x10d3, 0x10d3, 0, 0, "e1000e"},     // 82574L (QEMU's e1000e)
    {0x8086, 0x10f6, 0x10f6, 0, 0, "e1000e"},     // 82574LA
    {0x8086, 0x1502, 0x1503, 0, 0, "e1000e"},     // 82579LM/V
    {0x8086, 0x153a, 0x153b, 0, 0, "e1000e"},     // I217-LM/V
    {0x8086, 0x15b7, 0x15b8, 0, 0, "e1000e"},     // I219-LM/V
    {0x8086, 0x100e, 0x100e, 0, 0, "e1000"},      // 82540EM (QEMU's e1000)
    {0x8086, 0x10c9, 0x10c9, 0, 0, "igb"},        // 82576 (QEMU's igb)
    {0x8086, 0x1533, 0x1533, 0, 0, "igb"},        // I210
    {0x1af4, 0x1000, 0x107f, 0, 0, "virtio-pci"}, // virtio transitional and modern devices
    {any_id, 0, 0, 0x010802, 0xffffff, "nvme"},   // PCI_CLASS_STORAGE_EXPRESS
    {any_id, 0, 0, 0x010601, 0xffffff, "ahci"},   // PCI_CLASS_STORAGE_SATA_AHCI
    {any_id, 0, 0, 0x0c0330, 0xffffff, "xhci_hcd"},
    {any_id, 0, 0, 0x0c0320, 0xffffff, "ehci-pci"},
};

// Names of host drivers that do DMA through the kernel's DMA API (driver_managed_dma false).
constexpr const char* k_host_dma_drivers[] = {
    "e1000e", "e1000", "igb", "ixgbe", "i40e", "ice", "mlx5_core", "bnxt_en", "virtio-pci", "nvme",
    "ahci", "xhci_hcd", "ehci-pci", "snd_hda_intel", "i915", "amdgpu", "nouveau", "megaraid_sas",
};

bool normal_header(const pci_dev& d) { return d.hdr_type == PCI_HEADER_TYPE_NORMAL; }

} // namespace

driver_binding::driver_binding(kernel& k) : m_kernel(k) {
    // driver_managed_dma: set by vfio-pci (and every VFIO driver), pci-stub and pcieport in v5.19+.
    add_driver({"vfio-pci", driver_kind::vfio_pci, true});
    add_driver({"pcieport", driver_kind::pcieport, true});
    add_driver({"pci-stub", driver_kind::pci_stub, true});
    for (const char* name : k_host_dma_drivers) add_driver({name, driver_kind::host_dma, false});
}

void driver_binding::add_driver(const driver_info& info) {
    driver_info d = info;
    if (d.kind == driver_kind::none) d.kind = driver_kind::host_dma;
    m_registry[d.name] = d;
}

const driver_info* driver_binding::find_driver(const std::string& name) const {
    auto it = m_registry.find(name);
    return it == m_registry.end() ? nullptr : &it->second;
}

const driver_info* driver_binding::driver_of(const pci_dev& dev) const {
    auto it = m_bound.find(&dev);
    return it == m_bound.end() ? nullptr : it->second;
}

const driver_info* driver_binding::driver_of(const bdf& b) const {
    const pci_dev* d = m_kernel.find(b);
    return d ? driver_of(*d) : nullptr;
}

const driver_info* driver_binding::autoprobe_match(const pci_dev& dev) const {
    for (const auto& id : k_inbox) {
        if (id.vendor != any_id && (id.vendor != dev.vendor || dev.device < id.device_lo || dev.device > id.device_hi))
            continue;
        if (id.class_mask && (dev.class_code & id.class_mask) != id.class_code) continue;
        return find_driver(id.driver);
    }
    return nullptr;
}

int driver_binding::boot(const boot_binding& policy) {
    for (pci_dev* dev : m_kernel.devices())
        if (driver_of(*dev)) unbind(*dev);
    int first = 0;
    auto note = [&](int err) { if (err && !first) first = err; };
    // pcieport is built in: it probes every port during device_initcall (pcie_portdrv_init); a function
    // it refuses (a conventional PCI or PCIe-to-PCI bridge) simply stays without a driver.
    const driver_info* port = find_driver("pcieport");
    for (pci_dev* dev : m_kernel.devices()) {
        if (!pci_is_bridge(*dev)) continue;
        if (probe(*dev, *port) != 0) continue;
        m_bound[dev] = port;
    }
    if (policy.autoprobe) {
        for (pci_dev* dev : m_kernel.devices()) {
            if (driver_of(*dev) || !normal_header(*dev)) continue;
            if (const driver_info* drv = autoprobe_match(*dev)) note(bind(dev->address(), drv->name));
        }
    }
    for (const auto& [b, name] : policy.drivers) note(bind(b, name));
    return first;
}

int driver_binding::bind(const bdf& b, const std::string& name) {
    pci_dev* dev = m_kernel.find_mutable(b);
    if (!dev) return -ENODEV;
    // driver_override is written first, then the old driver unbound: after this the device only
    // matches `name` (or nothing, for "none").
    if (int err = unbind(*dev)) return err;
    if (name == "none") return 0;
    const driver_info* drv = find_driver(name);
    if (!drv) return -ENOENT;  // no /sys/bus/pci/drivers/<name>/bind
    if (int err = probe(*dev, *drv)) return err;
    m_bound[dev] = drv;
    return 0;
}

int driver_binding::unbind(pci_dev& dev) {
    auto it = m_bound.find(&dev);
    if (it == m_bound.end()) return 0;
    const driver_info* drv = it->second;
    if (drv->kind == driver_kind::vfio_pci && m_hooks.remove)
        if (int err = m_hooks.remove(dev)) return err;
    m_bound.erase(it);
    // device_unbind_cleanup -> pci_dma_cleanup: the DMA API user lets go of the default domain.
    if (!drv->driver_managed_dma) unuse_default_domain(dev);
    return 0;
}

// really_probe (drivers/base/dd.c): the bus's dma_configure (pci_dma_configure) runs before the
// driver's probe; a failing probe undoes it.
int driver_binding::probe(pci_dev& dev, const driver_info& drv) {
    if (!drv.driver_managed_dma)
        if (int err = use_default_domain(dev)) return err;
    const int err = driver_probe(dev, drv);
    if (err && !drv.driver_managed_dma) unuse_default_domain(dev);
    // call_driver_probe: -ENODEV / -ENXIO are "no match" and quiet; anything else is reported.
    if (err && err != -ENODEV && err != -ENXIO)
        m_kernel.mutable_log().warn(fmt::format("{}: probe of {} failed with error {}", drv.name, dev.name(), err));
    return err;
}

int driver_binding::driver_probe(pci_dev& dev, const driver_info& drv) {
    switch (drv.kind) {
    case driver_kind::pcieport: {
        // pcie_portdrv_probe: only Root Ports, Switch Ports and Root Complex Event Collectors.
        const u8 t = pci_pcie_type(dev);
        if (!pci_is_pcie(dev) || (t != PCI_EXP_TYPE_ROOT_PORT && t != PCI_EXP_TYPE_UPSTREAM &&
                                  t != PCI_EXP_TYPE_DOWNSTREAM && t != PCI_EXP_TYPE_RC_EC))
            return -ENODEV;
        return 0;
    }
    case driver_kind::vfio_pci: {
        // vfio_pci_core_register_device: normal header only. vfio_group_find_or_alloc: an IOMMU group
        // is required (no-IOMMU mode is off). __vfio_register_dev (v6.0+): the IOMMU must support
        // IOMMU_CAP_CACHE_COHERENCY, since VFIO always maps with IOMMU_CACHE.
        if (!normal_header(dev)) return -EINVAL;
        if (dev.group == no_group) return -EINVAL;
        if (m_kernel.version().at_least(6, 0) && m_kernel.iommu() &&
            !m_kernel.iommu()->capable(dev, iommu_cap::cache_coherency))
            return -EINVAL;
        return m_hooks.probe ? m_hooks.probe(dev) : 0;
    }
    case driver_kind::pci_stub:
        return 0;  // pci_stub_probe claims anything it is pointed at
    case driver_kind::host_dma:
    case driver_kind::none:
        // A device driver for an endpoint function; pointed at a bridge through driver_override its
        // probe finds nothing it knows.
        return normal_header(dev) ? 0 : -ENODEV;
    }
    return -ENODEV;
}

// iommu_device_use_default_domain (v6.1): a device without a group is not tracked; otherwise a group
// that already has users refuses a new DMA API user when it has left its default domain or has a
// user-space owner.
int driver_binding::use_default_domain(const pci_dev& dev) {
    if (dev.group == no_group || !m_kernel.group(dev.group)) return 0;
    group_owner& g = m_owners[dev.group];
    if (g.owner_cnt) {
        iommu_core* core = m_kernel.iommu();
        const bool off_default = core && core->group_domain(dev.group) != core->default_domain(dev.group);
        if (off_default || g.owner) return -EBUSY;
    }
    ++g.owner_cnt;
    return 0;
}

void driver_binding::unuse_default_domain(const pci_dev& dev) {
    if (dev.group == no_group) return;
    auto it = m_owners.find(dev.group);
    if (it != m_owners.end() && it->second.owner_cnt) --it->second.owner_cnt;  // Linux WARNs on zero
}

// iommu_group_claim_dma_owner (v6.1). The real one also moves the group to a blocking domain; here
// the group stays on its default domain until VFIO attaches its own (no kernel driver can use it
// meanwhile, since use_default_domain refuses every newcomer).
int driver_binding::claim_dma_owner(int group, const void* owner) {
    if (!owner) return -EINVAL;
    if (!m_kernel.group(group)) return -ENODEV;
    group_owner& g = m_owners[group];
    if (g.owner_cnt) return -EPERM;
    if (iommu_core* core = m_kernel.iommu())
        if (core->group_domain(group) && core->group_domain(group) != core->default_domain(group)) return -EBUSY;
    g.owner = owner;
    g.owner_cnt = 1;
    return 0;
}

void driver_binding::release_dma_owner(int group, const void* owner) {
    auto it = m_owners.find(group);
    if (it == m_owners.end() || !it->second.owner || it->second.owner != owner) return;  // Linux WARNs
    it->second.owner = nullptr;
    it->second.owner_cnt = 0;
}

bool driver_binding::dma_owner_claimed(int group) const { return owner_count(group) != 0; }

unsigned driver_binding::owner_count(int group) const {
    auto it = m_owners.find(group);
    return it == m_owners.end() ? 0 : it->second.owner_cnt;
}

const void* driver_binding::dma_owner(int group) const {
    auto it = m_owners.find(group);
    return it == m_owners.end() ? nullptr : it->second.owner;
}

bool driver_binding::group_viable(int group) const {
    const iommu_group* g = m_kernel.group(group);
    if (!g) return false;
    if (m_kernel.version().at_least(5, 19))  // vfio_group_get_status: container set, or not claimed
        return dma_owner(group) != nullptr || !dma_owner_claimed(group);
    for (const pci_dev* dev : g->devices) {   // vfio_dev_viable, per member
        const driver_info* drv = driver_of(*dev);
        if (!drv || !normal_header(*dev)) continue;
        if (drv->kind == driver_kind::vfio_pci || drv->kind == driver_kind::pci_stub) continue;
        return false;
    }
    return true;
}

} // namespace iommusim::host

#include "sim/vfio/vfio_pci_reset.h"

#include "sim/host/kernel.h"
#include "sim/host/pci_access.h"
#include "sim/host/pci_bus.h"
#include "sim/host/pci_dev.h"
#include "sim/vfio/vfio_host.h"

#include <linux/vfio.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace iommusim::vfio {

using namespace pci;

namespace {
constexpr u32 PCI_EXP_DEVCAP_FLR = 0x10000000;
constexpr u16 PCI_EXP_DEVCTL_BCR_FLR = 0x8000;
constexpr u16 PCI_AF_CAP = 3, PCI_AF_CTRL = 4;
constexpr u8 PCI_AF_CAP_TP = 0x01, PCI_AF_CAP_FLR = 0x02, PCI_AF_CTRL_FLR = 0x01;
constexpr u16 PCI_D3HOT = 3;

enum class method { none, flr, af_flr, pm, bus };

// pci_parent_bus_reset's conditions: not on a root bus, no children, alone on its bus, bridge allows it.
bool parent_bus_resettable(const host::pci_dev& dev) {
    if (!dev.bus || dev.bus->is_root() || dev.subordinate || !dev.bus->self) return false;
    if (dev.bus->self->dev_flags & PCI_DEV_FLAGS_NO_BUS_RESET) return false;
    for (const host::pci_dev* d : dev.bus->devices)
        if (d != &dev) return false;
    return true;
}

method pick(host::kernel& k, const host::pci_dev& dev) {
    auto& a = k.access();
    // pcie_reset_flr: the Function Level Reset Capability in Device Capabilities.
    if (dev.pcie_cap && !(dev.dev_flags & PCI_DEV_FLAGS_NO_FLR_RESET) &&
        (a.read32(dev, u16(dev.pcie_cap + PCI_EXP_DEVCAP)) & PCI_EXP_DEVCAP_FLR))
        return method::flr;
    // pci_af_flr: Advanced Features with both Transactions Pending and FLR.
    const u8 af = a.find_capability(dev.address().segment, dev.address().bus, dev.devfn, dev.hdr_type, PCI_CAP_ID_AF);
    if (af) {
        const u8 cap = a.read8(dev, u16(af + PCI_AF_CAP));
        if ((cap & PCI_AF_CAP_TP) && (cap & PCI_AF_CAP_FLR)) return method::af_flr;
    }
    // pci_pm_reset: D3hot -> D0 resets unless the device says No_Soft_Reset.
    const u8 pm = a.find_capability(dev.address().segment, dev.address().bus, dev.devfn, dev.hdr_type, PCI_CAP_ID_PM);
    if (pm && !(dev.dev_flags & PCI_DEV_FLAGS_NO_PM_RESET) &&
        !(a.read16(dev, u16(pm + PCI_PM_CTRL)) & PCI_PM_CTRL_NO_SOFT_RESET))
        return method::pm;
    if (parent_bus_resettable(dev)) return method::bus;
    return method::none;
}

// pci_bridge_secondary_bus_reset: Secondary Bus Reset asserted, then released.
void secondary_bus_reset(host::kernel& k, const host::pci_dev& bridge) {
    auto& a = k.access();
    const u16 ctl = a.read16(bridge, PCI_BRIDGE_CONTROL);
    a.write16(bridge, PCI_BRIDGE_CONTROL, u16(ctl | PCI_BRIDGE_CTL_BUS_RESET));
    a.write16(bridge, PCI_BRIDGE_CONTROL, ctl);
}

// pci_save_state / pci_restore_state of the standard header (pci_restore_config_space: dwords 15..0).
std::vector<u32> save(host::kernel& k, const host::pci_dev& d) {
    std::vector<u32> s(16);
    for (unsigned i = 0; i < 16; ++i) s[i] = k.access().read32(d, u16(4 * i));
    return s;
}
void restore(host::kernel& k, const host::pci_dev& d, const std::vector<u32>& s) {
    for (int i = 15; i >= 1; --i)
        if (k.access().read32(d, u16(4 * i)) != s[unsigned(i)]) k.access().write32(d, u16(4 * i), s[unsigned(i)]);
}

bool bus_resettable(const host::pci_bus& bus) {  // pci_bus_resettable
    if (bus.self && (bus.self->dev_flags & PCI_DEV_FLAGS_NO_BUS_RESET)) return false;
    for (const host::pci_dev* d : bus.devices)
        if ((d->dev_flags & PCI_DEV_FLAGS_NO_BUS_RESET) || (d->subordinate && !bus_resettable(*d->subordinate)))
            return false;
    return true;
}

void walk(const host::pci_bus& bus, std::vector<const host::pci_dev*>& out) {
    for (const host::pci_dev* d : bus.devices) {
        out.push_back(d);
        if (d->subordinate) walk(*d->subordinate, out);
    }
}
} // namespace

int pci_probe_reset_function(host::kernel& k, const host::pci_dev& dev) {
    return pick(k, dev) == method::none ? -ENOTTY : 0;
}

int pci_try_reset_function(host::kernel& k, const host::pci_dev& dev) {
    const method m = pick(k, dev);
    if (m == method::none) return -ENOTTY;
    auto& a = k.access();
    const std::vector<u32> state = save(k, dev);
    a.write16(dev, PCI_COMMAND, u16(a.read16(dev, PCI_COMMAND) & ~PCI_COMMAND_MASTER));  // pci_dev_save_and_disable
    switch (m) {
    case method::flr: {
        const u16 ctl = a.read16(dev, u16(dev.pcie_cap + PCI_EXP_DEVCTL));
        a.write16(dev, u16(dev.pcie_cap + PCI_EXP_DEVCTL), u16(ctl | PCI_EXP_DEVCTL_BCR_FLR));
        break;
    }
    case method::af_flr: {
        const u8 af = a.find_capability(dev.address().segment, dev.address().bus, dev.devfn, dev.hdr_type, PCI_CAP_ID_AF);
        a.write8(dev, u16(af + PCI_AF_CTRL), PCI_AF_CTRL_FLR);
        break;
    }
    case method::pm: {
        const u8 pm = a.find_capability(dev.address().segment, dev.address().bus, dev.devfn, dev.hdr_type, PCI_CAP_ID_PM);
        const u16 csr = u16(a.read16(dev, u16(pm + PCI_PM_CTRL)) & ~PCI_PM_CTRL_STATE_MASK);
        a.write16(dev, u16(pm + PCI_PM_CTRL), u16(csr | PCI_D3HOT));
        a.write16(dev, u16(pm + PCI_PM_CTRL), csr);
        break;
    }
    case method::bus: secondary_bus_reset(k, *dev.bus->self); break;
    case method::none: break;
    }
    restore(k, dev, state);
    return 0;
}

int pci_probe_reset_bus(const host::pci_dev& dev) {
    if (!dev.bus || !dev.bus->self || !bus_resettable(*dev.bus)) return -ENOTTY;
    return 0;
}

std::vector<const host::pci_dev*> pci_reset_scope(const host::pci_dev& dev) {
    std::vector<const host::pci_dev*> out;
    if (dev.bus) walk(*dev.bus, out);
    return out;
}

// vfio_pci_ioctl_get_pci_hot_reset_info: -ENOSPC with count when the buffer is short; -EPERM for an
// affected device without an IOMMU group.
long vfio_pci_get_hot_reset_info(const host::pci_dev& dev, unsigned long arg) {
    if (!arg) return -EFAULT;
    vfio_pci_hot_reset_info hdr{};
    const size_t minsz = offsetof(vfio_pci_hot_reset_info, count) + sizeof(hdr.count);
    std::memcpy(&hdr, reinterpret_cast<const void*>(arg), minsz);
    if (hdr.argsz < minsz) return -EINVAL;
    hdr.flags = 0;
    if (pci_probe_reset_bus(dev)) return -ENODEV;
    const auto scope = pci_reset_scope(dev);
    long ret = 0;
    std::vector<vfio_pci_dependent_device> devs;
    if (hdr.argsz < sizeof hdr + scope.size() * sizeof(vfio_pci_dependent_device)) {
        ret = -ENOSPC;
        hdr.count = u32(scope.size());
    } else {
        for (const host::pci_dev* d : scope) {
            if (d->group == host::no_group) {
                ret = -EPERM;
                break;
            }
            vfio_pci_dependent_device e{};
            e.group_id = u32(d->group);
            e.segment = d->address().segment;
            e.bus = d->address().bus;
            e.devfn = d->devfn;
            devs.push_back(e);
        }
        if (!ret) hdr.count = u32(devs.size());
    }
    std::memcpy(reinterpret_cast<void*>(arg), &hdr, minsz);
    if (!ret && !devs.empty())
        std::memcpy(reinterpret_cast<u8*>(arg) + minsz, devs.data(), devs.size() * sizeof(vfio_pci_dependent_device));
    return ret;
}

// vfio_pci_ioctl_pci_hot_reset + vfio_pci_dev_set_hot_reset: the fds are checked first (-EBADF, -EINVAL
// for a non-group fd), then every device the reset touches must be in this device's dev_set (bound to
// vfio-pci) and every dev_set member in a passed group (-EINVAL otherwise); then pci_reset_bus.
long vfio_pci_do_hot_reset(host::kernel& k, const host::pci_dev& dev, vfio_host& host, const group_fd_lookup& lookup,
                        unsigned long arg) {
    if (!arg) return -EFAULT;
    vfio_pci_hot_reset hdr{};
    const size_t minsz = offsetof(vfio_pci_hot_reset, count) + sizeof(hdr.count);
    std::memcpy(&hdr, reinterpret_cast<const void*>(arg), minsz);
    if (hdr.argsz < minsz || hdr.flags) return -EINVAL;
    if (pci_probe_reset_bus(dev)) return -ENODEV;
    const auto scope = pci_reset_scope(dev);
    if (!hdr.count || hdr.count > scope.size()) return -EINVAL;
    std::vector<std::int32_t> fds(hdr.count);
    std::memcpy(fds.data(), reinterpret_cast<const u8*>(arg) + minsz, fds.size() * sizeof(std::int32_t));
    std::vector<int> groups;
    for (std::int32_t fd : fds) {
        int g = -1;
        if (int rc = lookup(fd, g)) return rc;
        groups.push_back(g);
    }
    // vfio_pci_dev_set_resettable: the dev_set is the vfio-pci devices of the bus.
    for (const host::pci_dev* d : scope)
        if (!host.is_vfio_device(*d)) return -EINVAL;
    for (const host::pci_dev* d : scope) {  // vfio_dev_in_groups
        bool in = false;
        for (int g : groups) in = in || g == d->group;
        if (!in) return -EINVAL;
    }
    std::vector<std::vector<u32>> states;
    for (const host::pci_dev* d : scope) states.push_back(save(k, *d));
    secondary_bus_reset(k, *dev.bus->self);
    for (size_t i = 0; i < scope.size(); ++i) restore(k, *scope[i], states[i]);
    return 0;
}

} // namespace iommusim::vfio

// Resets for vfio-pci (Linux 6.1): the kernel's function reset methods in pci_reset_fn_methods order as
// far as the simulated hardware has them (PCIe FLR, AF FLR, PM D3hot->D0, parent bus reset for a device
// alone on its bus), VFIO_DEVICE_GET_PCI_HOT_RESET_INFO and VFIO_DEVICE_PCI_HOT_RESET with the bus below
// the parent bridge as the reset scope (no hotplug slots are modelled, so never a slot reset) and the
// dev_set rule: every affected device bound to vfio-pci and in a group the caller passed an fd of.
#pragma once
#include "sim/core/types.h"

#include <functional>
#include <vector>

namespace iommusim::host {
class kernel;
struct pci_bus;
struct pci_dev;
} // namespace iommusim::host

namespace iommusim::vfio {

class vfio_host;

// include/linux/pci.h enum pci_dev_flags.
constexpr u32 PCI_DEV_FLAGS_NO_BUS_RESET = 1u << 6;
constexpr u32 PCI_DEV_FLAGS_NO_PM_RESET = 1u << 7;
constexpr u32 PCI_DEV_FLAGS_NO_FLR_RESET = 1u << 10;

// __pci_reset_function_locked with probe: 0 when some method can reset dev, else -ENOTTY.
int pci_probe_reset_function(host::kernel& k, const host::pci_dev& dev);
// pci_try_reset_function: save, reset with the first method that works, restore. 0 or -ENOTTY.
int pci_try_reset_function(host::kernel& k, const host::pci_dev& dev);
// pci_probe_reset_bus: 0 when dev's bus can be reset through its bridge.
int pci_probe_reset_bus(const host::pci_dev& dev);
// pci_walk_bus over dev's bus: every device on it and below it.
std::vector<const host::pci_dev*> pci_reset_scope(const host::pci_dev& dev);

// An fd the user passed to HOT_RESET: 0 and the VFIO group's id, -EBADF (not open), -EINVAL (not a group).
using group_fd_lookup = std::function<int(int fd, int& group)>;

long vfio_pci_get_hot_reset_info(const host::pci_dev& dev, unsigned long arg);
long vfio_pci_do_hot_reset(host::kernel& k, const host::pci_dev& dev, vfio_host& host, const group_fd_lookup& lookup,
                        unsigned long arg);

} // namespace iommusim::vfio

#include "sim/vfio/vfio_device.h"

#include "sim/host/pci_dev.h"

#include <linux/vfio.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace iommusim::vfio {

vfio_device::vfio_device(const host::pci_dev& dev, int group) : m_dev(dev), m_name(dev.name()), m_group(group) {}

long vfio_device::ioctl(unsigned long request, unsigned long arg) {
    switch (request) {
    case VFIO_DEVICE_GET_INFO: return get_info(arg);
    default: return -ENOTTY;
    }
}

// vfio_pci_ioctl_get_info (6.1): minsz through num_irqs; a caller with room for cap_offset gets it
// (0: vfio-pci has no device capabilities on x86) and argsz reports the 20 bytes written, as the oracle
// recorded. RESET is reported as reset_works for a function the kernel can reset (FLR or PM reset); the
// simulated devices are taken as resettable (see README).
long vfio_device::get_info(unsigned long arg) {
    if (!arg) return -EFAULT;
    vfio_device_info info{};
    size_t minsz = offsetof(vfio_device_info, num_irqs) + sizeof(info.num_irqs);
    std::memcpy(&info, reinterpret_cast<const void*>(arg), minsz);
    if (info.argsz < minsz) return -EINVAL;
    const size_t capsz = offsetof(vfio_device_info, cap_offset) + sizeof(info.cap_offset);
    if (info.argsz >= capsz) {
        minsz = capsz;
        info.cap_offset = 0;
        info.argsz = u32(capsz);
    }
    info.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
    info.num_regions = VFIO_PCI_NUM_REGIONS;
    info.num_irqs = VFIO_PCI_NUM_IRQS;
    std::memcpy(reinterpret_cast<void*>(arg), &info, minsz);
    return 0;
}

} // namespace iommusim::vfio

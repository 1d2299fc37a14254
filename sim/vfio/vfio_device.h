// A device fd's device (struct vfio_device of a vfio-pci bound PCI function). This task models what
// GROUP_GET_DEVICE_FD and DEVICE_GET_INFO need; regions, IRQs, reset and hot reset are the next step.
#pragma once
#include <string>

namespace iommusim::host {
struct pci_dev;
}

namespace iommusim::vfio {

class vfio_device {
public:
    vfio_device(const host::pci_dev& dev, int group);

    const std::string& name() const { return m_name; }  // dev_name(): "0000:01:00.0"
    const host::pci_dev& pci() const { return m_dev; }
    int group() const { return m_group; }
    int open_count() const { return m_open_count; }
    // First open runs the driver's open_device (vfio_pci_core_enable); later opens only count.
    void open() { ++m_open_count; }
    void close() { --m_open_count; }

    // The device fd ioctls (vfio_pci_core_ioctl): DEVICE_GET_INFO; -ENOTTY otherwise.
    long ioctl(unsigned long request, unsigned long arg);

private:
    long get_info(unsigned long arg);

    const host::pci_dev& m_dev;
    std::string m_name;
    int m_group;
    int m_open_count = 0;
};

} // namespace iommusim::vfio

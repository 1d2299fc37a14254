// A device fd's device: struct vfio_device of a vfio-pci bound PCI function, with vfio-pci's
// (drivers/vfio/pci/vfio_pci_core.c, Linux 6.1) open/close, the device ioctls and region read/write.
// The parts live in vfio_pci_config (virtual config space), vfio_pci_regions (REGION_INFO, pread/pwrite),
// vfio_pci_irqs (IRQ_INFO, SET_IRQS, eventfds) and vfio_pci_reset (RESET, hot reset).
//
//   dev.open();                                           // first open: vfio_pci_core_enable
//   dev.ioctl(VFIO_DEVICE_GET_REGION_INFO, (unsigned long)&ri, lookup);
//   dev.rw(buf, 4, VFIO_PCI_CONFIG_REGION_INDEX << 40 | 0x10, false);   // pread of BAR0
#pragma once
#include "sim/vfio/vfio_pci_config.h"
#include "sim/vfio/vfio_pci_irqs.h"
#include "sim/vfio/vfio_pci_regions.h"
#include "sim/vfio/vfio_pci_reset.h"

#include <memory>
#include <string>

namespace iommusim::host {
class kernel;
struct pci_dev;
} // namespace iommusim::host

namespace iommusim::vfio {

class vfio_host;

class vfio_device {
public:
    // host may be nullptr (or have no kernel): then only DEVICE_GET_INFO answers, as a device without
    // hardware behind it (the core's own unit tests).
    vfio_device(const host::pci_dev& dev, int group, vfio_host* host = nullptr, vfio_pci_irq_router* router = nullptr,
                bool nointxmask = false);
    ~vfio_device();

    const std::string& name() const { return m_name; }  // dev_name(): "0000:01:00.0"
    const host::pci_dev& pci() const { return m_dev; }
    int group() const { return m_group; }
    int open_count() const { return m_open_count; }
    // First open runs vfio_pci_core_enable; the last close vfio_pci_core_disable.
    void open();
    void close();

    // The device fd ioctls (vfio_pci_core_ioctl); -ENOTTY for others. lookup resolves HOT_RESET's fds.
    long ioctl(unsigned long request, unsigned long arg, const group_fd_lookup& lookup = {});
    // pread/pwrite on the device fd (vfio_pci_core_read/write): bytes or -errno.
    long rw(void* buf, u64 count, u64 pos, bool iswrite);

    bool reset_works() const { return m_reset_works; }
    // The device's INTx line at the interrupt controller changed level (kept while the device is closed).
    void set_intx_line(bool level);
    vfio_pci_config* config() { return m_config.get(); }
    vfio_pci_irqs* irqs() { return m_irqs.get(); }
    vfio_pci_regions* regions() { return m_regions.get(); }

private:
    long get_info(unsigned long arg);
    void enable();
    void disable();

    const host::pci_dev& m_dev;
    std::string m_name;
    int m_group;
    vfio_host* m_host;
    host::kernel* m_kernel = nullptr;
    vfio_pci_irq_router m_own_router;  // when the core gives none
    vfio_pci_irq_router* m_router;
    int m_open_count = 0;
    bool m_reset_works = true;
    bool m_nointxmask = false;
    bool m_intx_line = false;
    std::unique_ptr<vfio_pci_config> m_config;
    std::unique_ptr<vfio_pci_irqs> m_irqs;
    std::unique_ptr<vfio_pci_regions> m_regions;
};

} // namespace iommusim::vfio

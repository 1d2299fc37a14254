#include "sim/vfio/vfio_device.h"

#include "sim/host/kernel.h"
#include "sim/host/pci_dev.h"
#include "sim/vfio/vfio_host.h"

#include <linux/vfio.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace iommusim::vfio {

vfio_device::vfio_device(const host::pci_dev& dev, int group, vfio_host* host, vfio_pci_irq_router* router,
                         bool nointxmask)
    : m_dev(dev), m_name(dev.name()), m_group(group), m_host(host), m_router(router ? router : &m_own_router),
      m_nointxmask(nointxmask) {
    m_kernel = host ? host->kernel() : nullptr;
}

vfio_device::~vfio_device() {
    if (m_open_count > 0) disable();
}

void vfio_device::open() {
    if (m_open_count++ == 0) enable();
}

void vfio_device::close() {
    if (--m_open_count == 0) disable();
}

// vfio_pci_core_enable: reset (reset_works from pci_try_reset_function), INTx masking support, the
// virtual config space, the MSI-X table location.
void vfio_device::enable() {
    if (!m_kernel) return;
    m_reset_works = pci_try_reset_function(*m_kernel, m_dev) == 0;
    vfio_pci_config_hooks hooks;
    hooks.intx_disable = [this](bool d) { m_irqs->set_virq_disabled(d); };
    hooks.msi_active = [this] { return m_irqs->type() == vfio_pci_irqs::msi; };
    hooks.flr = [this] { pci_try_reset_function(*m_kernel, m_dev); };
    hooks.power_state = [this](unsigned state) {
        // vfio_pci_set_power_state: the transition is done by the kernel on the real register.
        auto& a = m_kernel->access();
        for (unsigned p = m_config->vconfig()[pci::PCI_CAPABILITY_LIST]; p >= 0x40 && p < 0x100;) {
            if (a.read8(m_dev, u16(p)) == pci::PCI_CAP_ID_PM) {
                const u16 csr = a.read16(m_dev, u16(p + pci::PCI_PM_CTRL));
                a.write16(m_dev, u16(p + pci::PCI_PM_CTRL), u16((csr & ~pci::PCI_PM_CTRL_STATE_MASK) | state));
                break;
            }
            p = a.read8(m_dev, u16(p + 1)) & ~3u;
        }
    };
    m_config = std::make_unique<vfio_pci_config>(m_kernel->access(), m_dev, hooks);
    m_irqs = std::make_unique<vfio_pci_irqs>(m_kernel, m_dev, *m_config, *m_router, m_nointxmask);
    m_irqs->set_line(m_intx_line);  // no IRQ requested yet: only the level is taken
    m_irqs->enable();
    m_config->init();
    m_regions = std::make_unique<vfio_pci_regions>(m_kernel, m_dev, *m_config);
    m_regions->enable();
}

// vfio_pci_core_disable: interrupts off, try a function reset.
void vfio_device::disable() {
    if (!m_kernel || !m_irqs) return;
    m_irqs->disable();
    pci_try_reset_function(*m_kernel, m_dev);
}

void vfio_device::set_intx_line(bool level) {
    m_intx_line = level;
    if (m_irqs && m_open_count > 0) m_irqs->set_line(level);
}

long vfio_device::ioctl(unsigned long request, unsigned long arg, const group_fd_lookup& lookup) {
    if (request == VFIO_DEVICE_GET_INFO) return get_info(arg);
    if (!m_kernel || !m_config) return -ENOTTY;
    switch (request) {
    case VFIO_DEVICE_GET_REGION_INFO: return m_regions->get_region_info(arg);
    case VFIO_DEVICE_GET_IRQ_INFO: return m_irqs->get_irq_info(arg);
    case VFIO_DEVICE_SET_IRQS: return m_irqs->set_irqs(arg);
    case VFIO_DEVICE_RESET:
        // Memory decode forced on around the reset, D0, pci_try_reset_function; the virtual config survives.
        if (!m_reset_works) return -EINVAL;
        return pci_try_reset_function(*m_kernel, m_dev);
    case VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: return vfio_pci_get_hot_reset_info(m_dev, arg);
    case VFIO_DEVICE_PCI_HOT_RESET:
        if (!lookup || !m_host) return -EINVAL;
        return vfio_pci_do_hot_reset(*m_kernel, m_dev, *m_host, lookup, arg);
    default: return -ENOTTY;
    }
}

long vfio_device::rw(void* buf, u64 count, u64 pos, bool iswrite) {
    if (!m_regions) return -EINVAL;
    return m_regions->rw(static_cast<u8*>(buf), count, pos, iswrite);
}

// vfio_pci_ioctl_get_info (6.1): minsz through num_irqs; a caller with room for cap_offset gets it
// (0: vfio-pci has no device capabilities on x86) and argsz reports the 20 bytes written, as the oracle
// recorded. RESET when the first open's function reset worked (reset_works).
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
    info.flags = VFIO_DEVICE_FLAGS_PCI | (m_reset_works ? VFIO_DEVICE_FLAGS_RESET : 0);
    info.num_regions = VFIO_PCI_NUM_REGIONS;
    info.num_irqs = VFIO_PCI_NUM_IRQS;
    std::memcpy(reinterpret_cast<void*>(arg), &info, minsz);
    return 0;
}

} // namespace iommusim::vfio

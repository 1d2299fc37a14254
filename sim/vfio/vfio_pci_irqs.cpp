#include "sim/vfio/vfio_pci_irqs.h"

#include "sim/host/iommu/iommu_core.h"
#include "sim/host/kernel.h"
#include "sim/host/pci_access.h"
#include "sim/host/pci_dev.h"
#include "sim/vfio/vfio_pci_config.h"

#include <linux/vfio.h>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>

namespace iommusim::vfio {

using namespace pci;

// ---- eventfds -------------------------------------------------------------------------------------

int vfio_eventfd::get(int fd, std::shared_ptr<vfio_eventfd>& out) {
    if (fd < 0 || fcntl(fd, F_GETFD) < 0) return -EBADF;
    char link[64] = {};
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    const ssize_t n = readlink(path.c_str(), link, sizeof link - 1);
    if (n <= 0 || std::string(link, size_t(n)) != "anon_inode:[eventfd]") return -EINVAL;
    const int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) return -EMFILE;
    out.reset(new vfio_eventfd(dup_fd));
    return 0;
}

vfio_eventfd::~vfio_eventfd() { ::close(m_fd); }

void vfio_eventfd::signal() {
    const u64 one = 1;
    (void)!::write(m_fd, &one, sizeof one);
}

// ---- host vectors --------------------------------------------------------------------------------

int vfio_pci_irq_router::alloc(unsigned count) {
    constexpr unsigned FIRST = 0x30, LAST = 0xef;  // the x86 external vector range below the system vectors
    for (unsigned v = FIRST; v + count - 1 <= LAST; v += count) {
        bool free = true;
        for (unsigned i = 0; i < count && free; ++i) free = !m_used[v + i];
        if (!free) continue;
        for (unsigned i = 0; i < count; ++i) m_used[v + i] = true;
        return int(v);
    }
    return -1;
}

void vfio_pci_irq_router::free(int first, unsigned count) {
    if (first < 0) return;
    for (unsigned i = 0; i < count; ++i) {
        m_used[unsigned(first) + i] = false;
        m_bound.erase(u8(first + int(i)));
    }
}

bool vfio_pci_irq_router::deliver(u8 vector) {
    auto it = m_bound.find(vector);
    if (it == m_bound.end() || !it->second) return false;
    it->second->signal();
    return true;
}

// ---- vfio_pci_irqs --------------------------------------------------------------------------------

vfio_pci_irqs::vfio_pci_irqs(host::kernel* kernel, const host::pci_dev& dev, vfio_pci_config& config,
                             vfio_pci_irq_router& router, bool nointxmask)
    : m_kernel(kernel), m_dev(dev), m_config(config), m_router(router), m_nointxmask(nointxmask) {}

vfio_pci_irqs::~vfio_pci_irqs() { disable(); }

void vfio_pci_irqs::set_disintx(bool on) {
    if (!m_kernel) return;
    auto& a = m_kernel->access();
    const u16 cmd = a.read16(m_dev, PCI_COMMAND);
    const u16 want = on ? u16(cmd | PCI_COMMAND_INTX_DISABLE) : u16(cmd & ~PCI_COMMAND_INTX_DISABLE);
    if (want != cmd) a.write16(m_dev, PCI_COMMAND, want);
}

bool vfio_pci_irqs::intx_pending() {
    return m_kernel && (m_kernel->access().read16(m_dev, PCI_STATUS) & PCI_STATUS_INTERRUPT);
}

// vfio_pci_core_enable: pci_intx_mask_supported toggles DisINTx and sees whether it sticks; a device
// whose DisINTx works starts with it clear.
// With nointxmask the test is skipped and pci_2_3 stays false (every INTx masked by disable_irq).
void vfio_pci_irqs::enable() {
    m_pci_2_3 = false;
    if (!m_kernel || m_nointxmask) return;
    auto& a = m_kernel->access();
    const u16 cmd = a.read16(m_dev, PCI_COMMAND);
    a.write16(m_dev, PCI_COMMAND, u16(cmd ^ PCI_COMMAND_INTX_DISABLE));
    m_pci_2_3 = ((a.read16(m_dev, PCI_COMMAND) ^ cmd) & PCI_COMMAND_INTX_DISABLE) != 0;
    a.write16(m_dev, PCI_COMMAND, cmd);
    if (m_pci_2_3 && (cmd & PCI_COMMAND_INTX_DISABLE)) set_disintx(false);
}

void vfio_pci_irqs::disable() {
    if (m_type == intx) intx_disable();
    else if (m_type == msi || m_type == msix) msi_disable();
    m_err.reset();
    m_req.reset();
}

unsigned vfio_pci_irqs::irq_count(unsigned index) const {
    switch (index) {
    case VFIO_PCI_INTX_IRQ_INDEX: return m_kernel && m_kernel->access().read8(m_dev, PCI_INTERRUPT_PIN) ? 1 : 0;
    case VFIO_PCI_MSI_IRQ_INDEX: {
        if (!m_config.msi_cap() || !m_kernel) return 0;
        const u16 f = m_kernel->access().read16(m_dev, u16(m_config.msi_cap() + PCI_MSI_FLAGS));
        return 1u << ((f & PCI_MSI_FLAGS_QMASK) >> 1);
    }
    case VFIO_PCI_MSIX_IRQ_INDEX: {
        if (!m_config.msix_cap() || !m_kernel) return 0;
        const u16 f = m_kernel->access().read16(m_dev, u16(m_config.msix_cap() + PCI_MSIX_FLAGS));
        return (f & PCI_MSIX_FLAGS_QSIZE) + 1u;
    }
    case VFIO_PCI_ERR_IRQ_INDEX: return host::pci_is_pcie(m_dev) ? 1 : 0;
    case VFIO_PCI_REQ_IRQ_INDEX: return 1;
    default: return 0;
    }
}

// vfio_pci_ioctl_get_irq_info.
long vfio_pci_irqs::get_irq_info(unsigned long arg) {
    if (!arg) return -EFAULT;
    vfio_irq_info info{};
    const size_t minsz = offsetof(vfio_irq_info, count) + sizeof(info.count);
    std::memcpy(&info, reinterpret_cast<const void*>(arg), minsz);
    if (info.argsz < minsz || info.index >= VFIO_PCI_NUM_IRQS) return -EINVAL;
    if (info.index == VFIO_PCI_ERR_IRQ_INDEX && !host::pci_is_pcie(m_dev)) return -EINVAL;
    info.flags = VFIO_IRQ_INFO_EVENTFD;
    info.count = irq_count(info.index);
    info.flags |= info.index == VFIO_PCI_INTX_IRQ_INDEX ? VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED
                                                        : VFIO_IRQ_INFO_NORESIZE;
    std::memcpy(reinterpret_cast<void*>(arg), &info, minsz);
    return 0;
}

// vfio_pci_ioctl_set_irqs + vfio_set_irqs_validate_and_prepare (vfio_main.c).
long vfio_pci_irqs::set_irqs(unsigned long arg) {
    if (!arg) return -EFAULT;
    vfio_irq_set hdr{};
    const size_t minsz = offsetof(vfio_irq_set, count) + sizeof(hdr.count);
    std::memcpy(&hdr, reinterpret_cast<const void*>(arg), minsz);
    const unsigned max = hdr.index < VFIO_PCI_NUM_IRQS ? irq_count(hdr.index) : 0;
    if (hdr.argsz < minsz || hdr.index >= VFIO_PCI_NUM_IRQS || hdr.count >= UINT_MAX - hdr.start ||
        (hdr.flags & ~u32(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)))
        return -EINVAL;
    if (hdr.start >= max || hdr.start + hdr.count > max) return -EINVAL;
    size_t size = 0;
    switch (hdr.flags & VFIO_IRQ_SET_DATA_TYPE_MASK) {
    case VFIO_IRQ_SET_DATA_NONE: size = 0; break;
    case VFIO_IRQ_SET_DATA_BOOL: size = sizeof(u8); break;
    case VFIO_IRQ_SET_DATA_EVENTFD: size = sizeof(std::int32_t); break;
    default: return -EINVAL;
    }
    std::vector<u8> data;
    if (size) {
        if (hdr.argsz - minsz < u64(hdr.count) * size) return -EINVAL;
        data.resize(hdr.count * size);
        std::memcpy(data.data(), reinterpret_cast<const u8*>(arg) + minsz, data.size());
    }
    poll_unmask();
    return dispatch(hdr.flags, hdr.index, hdr.start, hdr.count, data.empty() ? nullptr : data.data());
}

// vfio_pci_set_irqs_ioctl: no handler for the (index, action) pair is -ENOTTY.
long vfio_pci_irqs::dispatch(u32 flags, unsigned index, u32 start, u32 count, const u8* data) {
    const u32 action = flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
    switch (index) {
    case VFIO_PCI_INTX_IRQ_INDEX:
        if (action == VFIO_IRQ_SET_ACTION_MASK) return intx_mask(start, count, flags, data);
        if (action == VFIO_IRQ_SET_ACTION_UNMASK) return intx_unmask(start, count, flags, data);
        if (action == VFIO_IRQ_SET_ACTION_TRIGGER) return intx_trigger(start, count, flags, data);
        break;
    case VFIO_PCI_MSI_IRQ_INDEX:
    case VFIO_PCI_MSIX_IRQ_INDEX:
        if (action == VFIO_IRQ_SET_ACTION_TRIGGER) return msi_trigger(index, start, count, flags, data);
        break;  // MASK/UNMASK: no masking support exported
    case VFIO_PCI_ERR_IRQ_INDEX:
        if (action == VFIO_IRQ_SET_ACTION_TRIGGER && host::pci_is_pcie(m_dev))
            return single_trigger(m_err, start, count, flags, data);
        break;
    case VFIO_PCI_REQ_IRQ_INDEX:
        if (action == VFIO_IRQ_SET_ACTION_TRIGGER) return single_trigger(m_req, start, count, flags, data);
        break;
    default: break;
    }
    return -ENOTTY;
}

// ---- INTx ------------------------------------------------------------------------------------------

// vfio_send_intx_eventfd: only while INTx is the mode and the user has not set the virtual INTx-Disable.
void vfio_pci_irqs::send_intx() {
    if (m_type == intx && !m_config.virq_disabled() && !m_ctx.empty() && m_ctx[0].trigger) m_ctx[0].trigger->signal();
}

// vfio_pci_intx_mask: DisINTx on a PCI 2.3 device, else disable_irq. Outside INTx mode (a config write of
// the virtual INTx-Disable) the physical bit just follows on a PCI 2.3 device.
void vfio_pci_irqs::do_intx_mask() {
    if (m_type != intx) {
        if (m_pci_2_3) set_disintx(true);
        return;
    }
    if (m_intx_masked) return;
    if (m_pci_2_3) set_disintx(true);
    else m_intx_host_disabled = true;
    m_intx_masked = true;
}

// vfio_pci_intx_unmask_handler: a still-asserted line stays masked and is re-sent to the user
// (pci_check_and_unmask_intx refuses to unmask while Interrupt Status is set); nothing happens while the
// virtual INTx-Disable is set. Without DisINTx, enable_irq: a line still high fires again at once.
bool vfio_pci_irqs::intx_unmask_handler() {
    if (m_type != intx) {
        if (m_pci_2_3) set_disintx(false);
        return false;
    }
    if (!m_intx_masked || m_config.virq_disabled()) return false;
    bool resend = false;
    if (m_pci_2_3) {
        if (intx_pending()) resend = true;
        else set_disintx(false);
    } else {
        m_intx_host_disabled = false;
    }
    m_intx_masked = resend;
    return resend;
}

void vfio_pci_irqs::do_intx_unmask() {
    if (intx_unmask_handler()) send_intx();
    intx_fire();  // enable_irq with the level still asserted
}

void vfio_pci_irqs::poll_unmask() {
    if (!m_intx_unmask) return;
    u64 n = 0;
    const int fd = m_intx_unmask->fd();
    const int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    const bool woke = ::read(fd, &n, sizeof n) == sizeof n && n;
    fcntl(fd, F_SETFL, fl);
    if (woke) do_intx_unmask();
}

// vfio_intx_handler: without DisINTx the IRQ is disabled (disable_irq_nosync) and always ours; with it,
// only a line not already masked whose Interrupt Status is set (pci_check_and_mask_intx: the line may
// be shared). Handled: masked, then the user's trigger signalled.
bool vfio_pci_irqs::intx_handler() {
    if (m_type != intx || m_ctx.empty() || !m_ctx[0].trigger) return false;  // no IRQ requested
    if (!m_pci_2_3) {
        if (m_intx_host_disabled) return false;
        m_intx_host_disabled = true;
        m_intx_masked = true;
    } else {
        if (m_intx_masked || !intx_pending()) return false;
        set_disintx(true);
        m_intx_masked = true;
    }
    send_intx();
    return true;
}

// A level-triggered IRQ line: the handler runs while the line is high and the IRQ is enabled. The
// handler masks (DisINTx drops the device's line; disable_irq leaves it high but disabled), so this ends.
void vfio_pci_irqs::intx_fire() {
    if (m_in_handler || !m_line || m_intx_host_disabled) return;
    m_in_handler = true;
    intx_handler();
    m_in_handler = false;
}

void vfio_pci_irqs::set_line(bool level) {
    m_line = level;
    poll_unmask();
    if (level) intx_fire();
}

void vfio_pci_irqs::set_virq_disabled(bool disabled) {
    if (disabled) do_intx_mask();
    else do_intx_unmask();
}

// vfio_intx_set_signal: the old trigger and IRQ go first (free_irq); fd < 0 stops there. Then
// eventfd_ctx_fdget and request_irq (shared only with DisINTx masking); disable_irq does not survive a
// new request_irq, so a masked non-PCI-2.3 line is disabled again. A line already high fires at once.
int vfio_pci_irqs::intx_set_signal(int fd) {
    m_ctx[0].trigger.reset();
    if (fd < 0) return 0;
    std::shared_ptr<vfio_eventfd> e;
    if (int rc = vfio_eventfd::get(fd, e)) return rc;
    m_ctx[0].trigger = e;
    m_intx_host_disabled = !m_pci_2_3 && m_intx_masked;
    intx_fire();
    return 0;
}

// vfio_intx_disable: the irqfds and the trigger go; DisINTx is left as it is.
void vfio_pci_irqs::intx_disable() {
    m_intx_unmask.reset();
    if (!m_ctx.empty()) intx_set_signal(-1);
    m_ctx.clear();
    m_intx_masked = false;
    m_intx_host_disabled = false;
    m_type = none;
}

// vfio_pci_set_intx_mask: 6.1 accepts DATA_NONE and DATA_BOOL for MASK and rejects DATA_EVENTFD (-EINVAL).
long vfio_pci_irqs::intx_mask(u32 start, u32 count, u32 flags, const u8* data) {
    if (m_type != intx || start != 0 || count != 1) return -EINVAL;
    if (flags & VFIO_IRQ_SET_DATA_NONE) do_intx_mask();
    else if (flags & VFIO_IRQ_SET_DATA_BOOL) {
        if (data[0]) do_intx_mask();
    } else if (flags & VFIO_IRQ_SET_DATA_EVENTFD) return -EINVAL;
    return 0;
}

// vfio_pci_set_intx_unmask: EVENTFD registers (fd >= 0) or removes (fd < 0) the unmask irqfd; an event
// already counted when it is registered unmasks at once (virqfd_enable checks for one).
long vfio_pci_irqs::intx_unmask(u32 start, u32 count, u32 flags, const u8* data) {
    if (m_type != intx || start != 0 || count != 1) return -EINVAL;
    if (flags & VFIO_IRQ_SET_DATA_NONE) do_intx_unmask();
    else if (flags & VFIO_IRQ_SET_DATA_BOOL) {
        if (data[0]) do_intx_unmask();
    } else if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
        std::int32_t fd;
        std::memcpy(&fd, data, sizeof fd);
        if (fd >= 0) {
            std::shared_ptr<vfio_eventfd> e;
            if (int rc = vfio_eventfd::get(fd, e)) return rc;
            m_intx_unmask = e;
            poll_unmask();
        } else {
            m_intx_unmask.reset();
        }
    }
    return 0;
}

// vfio_pci_set_intx_trigger; vfio_intx_enable: the mask state starts as the virtual INTx-Disable bit
// (DisINTx follows it on a PCI 2.3 device); a failed set_signal on a fresh enable disables again.
long vfio_pci_irqs::intx_trigger(u32 start, u32 count, u32 flags, const u8* data) {
    if (m_type == intx && !count && (flags & VFIO_IRQ_SET_DATA_NONE)) {
        intx_disable();
        return 0;
    }
    if (!(m_type == intx || m_type == none) || start != 0 || count != 1) return -EINVAL;
    if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
        std::int32_t fd;
        std::memcpy(&fd, data, sizeof fd);
        if (m_type == intx) return intx_set_signal(fd);
        m_ctx.assign(1, ctx{});
        m_type = intx;
        m_intx_masked = m_config.virq_disabled();
        if (m_pci_2_3) set_disintx(m_intx_masked);
        const int rc = intx_set_signal(fd);
        if (rc) intx_disable();
        return rc;
    }
    if (m_type != intx) return -EINVAL;
    if ((flags & VFIO_IRQ_SET_DATA_NONE) || ((flags & VFIO_IRQ_SET_DATA_BOOL) && data[0])) send_intx();
    return 0;
}

// ---- MSI / MSI-X -----------------------------------------------------------------------------------

u64 vfio_pci_irqs::msix_table_base() const {
    if (!m_kernel || !m_config.msix_cap()) return 0;
    const u32 table = m_kernel->access().read32(m_dev, u16(m_config.msix_cap() + PCI_MSIX_TABLE));
    for (const auto& r : m_dev.resources)
        if (r.index == (table & PCI_MSIX_TABLE_BIR) && r.base) return r.base + (table & ~u32(PCI_MSIX_TABLE_BIR));
    return 0;
}

// vfio_pci_memory_lock_and_enable / _unlock_and_restore: the MSI-X table is in a BAR, so the kernel's
// writes to it need memory decode whatever the user left in COMMAND.
template <typename F>
void vfio_pci_irqs::with_memory(F&& f) {
    auto& a = m_kernel->access();
    const u16 cmd = a.read16(m_dev, PCI_COMMAND);
    if (!(cmd & PCI_COMMAND_MEMORY)) a.write16(m_dev, PCI_COMMAND, u16(cmd | PCI_COMMAND_MEMORY));
    f();
    if (!(cmd & PCI_COMMAND_MEMORY)) a.write16(m_dev, PCI_COMMAND, cmd);
}

// One vector's mask at the device, what irq startup / shutdown do (pci_msi_unmask_irq / pci_msi_mask_irq):
// MSI-X Vector Control bit 0; MSI the Mask Bits register when per-vector masking is implemented (else
// an MSI vector cannot be masked). A masked vector's interrupt waits in the device's Pending bits and
// is sent when the vector is unmasked (PCI 3.0 §6.8.1.7, §6.8.2.10).
void vfio_pci_irqs::mask_vector(unsigned v, bool masked) {
    if (!m_kernel) return;
    auto& a = m_kernel->access();
    if (m_type == msi) {
        const u16 cap = m_config.msi_cap();
        const u16 f = a.read16(m_dev, u16(cap + PCI_MSI_FLAGS));
        if (!(f & PCI_MSI_FLAGS_MASKBIT)) return;
        const u16 reg = u16(cap + ((f & PCI_MSI_FLAGS_64BIT) ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32));
        const u32 bits = a.read32(m_dev, reg);
        a.write32(m_dev, reg, masked ? bits | (1u << v) : bits & ~(1u << v));
        return;
    }
    const u64 e = msix_table_base();
    if (e) with_memory([&] { a.ops().mmio_write(e + 16 * v + 12, 4, masked ? 1 : 0); });
}

// Writes the composed messages into the device (pci_write_msi_msg): the MSI capability with every vector
// masked (msi_capability_init), or the MSI-X table with every entry masked (msix_capability_init), then
// Enable; request_irq unmasks each vector as its trigger is set.
void vfio_pci_irqs::program_msi(bool on) {
    if (!m_kernel) return;
    auto& a = m_kernel->access();
    if (m_type == msi) {
        const u16 cap = m_config.msi_cap();
        u16 f = a.read16(m_dev, u16(cap + PCI_MSI_FLAGS));
        const bool is64 = f & PCI_MSI_FLAGS_64BIT;
        if (on && !m_msi.msgs.empty()) {
            const host::msi_msg& m = m_msi.msgs[0];
            a.write32(m_dev, u16(cap + PCI_MSI_ADDRESS_LO), m.address_lo);
            if (is64) a.write32(m_dev, u16(cap + PCI_MSI_ADDRESS_HI), m.address_hi);
            a.write16(m_dev, u16(cap + (is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32)), u16(m.data));
            if (f & PCI_MSI_FLAGS_MASKBIT) {
                const u16 reg = u16(cap + (is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32));
                a.write32(m_dev, reg, a.read32(m_dev, reg) | ((m_msi.count >= 32 ? 0u : 1u << m_msi.count) - 1));
            }
            unsigned log2 = 0;
            while ((1u << log2) < m_msi.count) ++log2;
            f = u16((f & ~PCI_MSI_FLAGS_QSIZE) | (log2 << 4) | PCI_MSI_FLAGS_ENABLE);
        } else {
            f = u16(f & ~PCI_MSI_FLAGS_ENABLE);
        }
        a.write16(m_dev, u16(cap + PCI_MSI_FLAGS), f);
        return;
    }
    const u16 cap = m_config.msix_cap();
    const u64 base = msix_table_base();
    if (on && base) {
        with_memory([&] {
            for (unsigned i = 0; i < m_ctx.size() && i < m_msi.msgs.size(); ++i) {
                const u64 e = base + 16 * i;
                a.ops().mmio_write(e + 12, 4, 1);  // masked before the message changes
                a.ops().mmio_write(e, 4, m_msi.msgs[i].address_lo);
                a.ops().mmio_write(e + 4, 4, m_msi.msgs[i].address_hi);
                a.ops().mmio_write(e + 8, 4, m_msi.msgs[i].data);
            }
        });
    }
    u16 f = a.read16(m_dev, u16(cap + PCI_MSIX_FLAGS));
    f = on ? u16((f | PCI_MSIX_FLAGS_ENABLE) & ~PCI_MSIX_FLAGS_MASKALL) : u16(f & ~PCI_MSIX_FLAGS_ENABLE);
    a.write16(m_dev, u16(cap + PCI_MSIX_FLAGS), f);
}

// vfio_msi_enable: pci_alloc_irq_vectors for nvec; fewer than asked is returned (positive) and nothing
// is enabled. The messages come from the IOMMU core (remappable format when interrupt remapping is on).
int vfio_pci_irqs::msi_enable(unsigned nvec, bool is_msix) {
    if (m_type != none) return -EINVAL;
    unsigned blk = 1;
    while (blk < nvec) blk <<= 1;
    const int first = m_router.alloc(blk);
    if (first < 0) return -ENOSPC;
    host::remapped_msi out;
    if (m_kernel) {
        // MSI-X addresses are 64-bit; MSI's as the capability says.
        const bool is64 = is_msix || (m_kernel->access().read16(m_dev, u16(m_config.msi_cap() + PCI_MSI_FLAGS)) &
                                      PCI_MSI_FLAGS_64BIT);
        if (int rc = m_kernel->msi_setup(const_cast<host::pci_dev&>(m_dev), blk, u8(first), is64, out)) {
            m_router.free(first, blk);
            return rc;
        }
    } else {  // no kernel (unit tests): x86 compatibility format (__irq_msi_compose_msg)
        out.count = blk;
        for (unsigned i = 0; i < blk; ++i) out.msgs.push_back({0xfee00000u, 0, u32(first) + i});
    }
    m_msi = out;
    m_first_vector = first;
    m_ctx.assign(nvec, ctx{});
    m_type = is_msix ? msix : msi;
    if (!is_msix) {
        unsigned qmax = 0;  // fls(nvec * 2 - 1) - 1
        while ((1u << (qmax + 1)) <= nvec * 2 - 1) ++qmax;
        m_config.set_msi_qmax(qmax);
    }
    set_disintx(true);  // pci_intx_for_msi(dev, 0) in msi/msix_capability_init
    program_msi(true);
    return 0;
}

void vfio_pci_irqs::msi_disable() {
    for (unsigned v = 0; v < m_ctx.size(); ++v) msi_set_vector(v, -1);
    program_msi(false);
    if (m_kernel) m_kernel->msi_free(m_dev, m_msi, u8(m_first_vector));
    unsigned blk = 1;
    while (blk < m_ctx.size()) blk <<= 1;
    m_router.free(m_first_vector, blk);
    m_first_vector = -1;
    m_msi = {};
    m_ctx.clear();
    m_type = none;
    set_disintx(false);  // pci_free_irq_vectors: pci_intx_for_msi(dev, 1) on the shutdown path
}

// vfio_msi_set_vector_signal: free_irq of the old trigger masks the vector at the device (irq shutdown);
// fd < 0 stops there. Otherwise eventfd_ctx_fdget, the cached message written again for MSI-X (the
// table may have been cleared behind the kernel's back), request_irq: the vector is bound, then unmasked,
// so an interrupt that waited in the Pending bits arrives at the new trigger.
int vfio_pci_irqs::msi_set_vector(unsigned v, int fd) {
    if (v >= m_ctx.size()) return -EINVAL;
    const u8 vector = u8(m_first_vector + int(v));
    if (m_ctx[v].trigger) {
        m_router.unbind(vector);
        m_ctx[v].trigger.reset();
        mask_vector(v, true);
    }
    if (fd < 0) return 0;
    std::shared_ptr<vfio_eventfd> e;
    if (int rc = vfio_eventfd::get(fd, e)) return rc;
    if (m_type == msix && v < m_msi.msgs.size() && m_kernel) {
        if (const u64 base = msix_table_base()) {
            auto& a = m_kernel->access();
            with_memory([&] {
                a.ops().mmio_write(base + 16 * v, 4, m_msi.msgs[v].address_lo);
                a.ops().mmio_write(base + 16 * v + 4, 4, m_msi.msgs[v].address_hi);
                a.ops().mmio_write(base + 16 * v + 8, 4, m_msi.msgs[v].data);
            });
        }
    }
    m_ctx[v].trigger = e;
    m_router.bind(vector, e);
    mask_vector(v, false);
    return 0;
}

// vfio_pci_set_msi_trigger (and vfio_msi_set_block).
long vfio_pci_irqs::msi_trigger(unsigned index, u32 start, u32 count, u32 flags, const u8* data) {
    const bool is_msix = index == VFIO_PCI_MSIX_IRQ_INDEX;
    const irq_type want = is_msix ? msix : msi;
    if (m_type == want && !count && (flags & VFIO_IRQ_SET_DATA_NONE)) {
        msi_disable();
        return 0;
    }
    if (!(m_type == want || m_type == none)) return -EINVAL;
    if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
        const bool fresh = m_type == none;
        if (fresh)
            if (int rc = msi_enable(start + count, is_msix)) return rc;
        if (start >= m_ctx.size() || start + count > m_ctx.size()) {
            if (fresh) msi_disable();
            return -EINVAL;
        }
        for (u32 j = start; j < start + count; ++j) {
            std::int32_t fd;
            std::memcpy(&fd, data + 4 * (j - start), sizeof fd);
            if (int rc = msi_set_vector(j, fd)) {
                for (u32 k = start; k < j; ++k) msi_set_vector(k, -1);
                if (fresh) msi_disable();
                return rc;
            }
        }
        return 0;
    }
    if (m_type != want || start + count > m_ctx.size()) return -EINVAL;
    for (u32 i = start; i < start + count; ++i) {
        if (!m_ctx[i].trigger) continue;
        if ((flags & VFIO_IRQ_SET_DATA_NONE) || ((flags & VFIO_IRQ_SET_DATA_BOOL) && data[i - start]))
            m_ctx[i].trigger->signal();
    }
    return 0;
}

// ---- ERR / REQ -------------------------------------------------------------------------------------

// vfio_pci_set_err_trigger / _req_trigger → vfio_pci_set_ctx_trigger_single.
long vfio_pci_irqs::single_trigger(std::shared_ptr<vfio_eventfd>& t, u32 start, u32 count, u32 flags, const u8* data) {
    if (start != 0 || count > 1) return -EINVAL;
    if (flags & VFIO_IRQ_SET_DATA_NONE) {
        if (t) {
            if (count) t->signal();
            else t.reset();
            return 0;
        }
    } else if (flags & VFIO_IRQ_SET_DATA_BOOL) {
        if (!count) return -EINVAL;
        if (data[0] && t) t->signal();
        return 0;
    } else if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
        if (!count) return -EINVAL;
        std::int32_t fd;
        std::memcpy(&fd, data, sizeof fd);
        if (fd == -1) {
            t.reset();
            return 0;
        }
        if (fd >= 0) {
            std::shared_ptr<vfio_eventfd> e;
            if (int rc = vfio_eventfd::get(fd, e)) return rc;
            t = e;
            return 0;
        }
    }
    return -EINVAL;
}

void vfio_pci_irqs::req_signal() {
    if (m_req) m_req->signal();
}
void vfio_pci_irqs::err_signal() {
    if (m_err) m_err->signal();
}

} // namespace iommusim::vfio

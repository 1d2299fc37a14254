// vfio-pci interrupts (Linux 6.1 drivers/vfio/pci/vfio_pci_intrs.c, vfio_pci_core.c): GET_IRQ_INFO,
// SET_IRQS with vfio_set_irqs_validate_and_prepare's checks and the (index, action) dispatch, the
// level-triggered INTx automask/unmask flow, MSI/MSI-X enable programming the device with messages the
// kernel's IOMMU core composes (remapped when interrupt remapping is on), ERR and REQ triggers.
// Eventfds are real eventfd(2) descriptors of the host process: a user passes the fd number as it would
// to Linux and reads the counter with read(2). An interrupt reaches the eventfd when the interrupt
// controller receives the vector (vfio_pci_irq_router::deliver), i.e. after remapping.
#pragma once
#include "sim/core/types.h"
#include "sim/host/iommu/iommu_driver.h"

#include <map>
#include <memory>
#include <vector>

namespace iommusim::host {
class kernel;
struct pci_dev;
} // namespace iommusim::host

namespace iommusim::vfio {

class vfio_pci_config;

// A reference to an eventfd (eventfd_ctx_fdget): a dup of the user's descriptor, closed on release.
class vfio_eventfd {
public:
    // The context for fd: -EBADF when not open, -EINVAL when not an eventfd.
    static int get(int fd, std::shared_ptr<vfio_eventfd>& out);
    ~vfio_eventfd();
    void signal();  // eventfd_signal(ctx, 1)
    int fd() const { return m_fd; }

private:
    explicit vfio_eventfd(int fd) : m_fd(fd) {}
    int m_fd;
};

// Host vectors for vfio's MSI/MSI-X (what request_irq binds), and who is behind each: the interrupt
// controller's arrival of a vector signals the vector's trigger. One per VFIO core.
class vfio_pci_irq_router {
public:
    // A free block of `count` (power of two, aligned) vectors from 0x30, or -1.
    int alloc(unsigned count);
    void free(int first, unsigned count);
    void bind(u8 vector, std::shared_ptr<vfio_eventfd> trigger) { m_bound[vector] = std::move(trigger); }
    void unbind(u8 vector) { m_bound.erase(vector); }
    // The interrupt controller received `vector`: true when a bound trigger was signalled.
    bool deliver(u8 vector);

private:
    std::vector<bool> m_used = std::vector<bool>(256, false);
    std::map<u8, std::shared_ptr<vfio_eventfd>> m_bound;
};

class vfio_pci_irqs {
public:
    enum irq_type { none = -1, intx = 0, msi = 1, msix = 2 };

    // nointxmask: vfio-pci's module parameter of that name (never mask INTx with DisINTx).
    vfio_pci_irqs(host::kernel* kernel, const host::pci_dev& dev, vfio_pci_config& config, vfio_pci_irq_router& router,
                  bool nointxmask = false);
    ~vfio_pci_irqs();

    // vfio_pci_core_enable's interrupt part: pci_2_3 (INTx masking through DisINTx works), clear DisINTx.
    void enable();
    // vfio_pci_core_disable: every interrupt off, ERR/REQ triggers released.
    void disable();

    long get_irq_info(unsigned long arg);
    long set_irqs(unsigned long arg);
    // vfio_pci_get_irq_count.
    unsigned irq_count(unsigned index) const;

    // The device's INTx line as the interrupt controller sees it changed level (device -> bridges -> the
    // platform's routing). The line is level-triggered: while it is high and the IRQ is requested and not
    // disabled, the handler runs (vfio_intx_handler), here and again whenever enable_irq or request_irq
    // finds it still high. The unmask irqfd is looked at first (see poll_unmask).
    void set_line(bool level);
    bool line() const { return m_line; }
    // vfio_intx_handler: returns whether it handled the interrupt (masked it and signalled the trigger).
    bool intx_handler();
    // The unmask irqfd (ACTION_UNMASK with an eventfd): the kernel's virqfd wakes on the user's write;
    // here the counter is consumed whenever the simulated kernel runs for this device (an ioctl on its
    // fd, an IRQ line change) and a non-zero count unmasks as vfio_pci_intx_unmask_handler does.
    void poll_unmask();
    // The virtual INTx-Disable bit changed (config write).
    void set_virq_disabled(bool disabled);
    void req_signal();  // the host wants the device back (vfio_pci_core_request)
    void err_signal();  // AER error_detected

    irq_type type() const { return m_type; }
    bool intx_masked() const { return m_intx_masked; }
    bool pci_2_3() const { return m_pci_2_3; }  // INTx masked through DisINTx (else disable_irq)
    bool intx_host_disabled() const { return m_intx_host_disabled; }
    unsigned num_ctx() const { return unsigned(m_ctx.size()); }
    const host::remapped_msi& msi_messages() const { return m_msi; }
    int first_vector() const { return m_first_vector; }

private:
    struct ctx {
        std::shared_ptr<vfio_eventfd> trigger;
    };
    long dispatch(u32 flags, unsigned index, u32 start, u32 count, const u8* data);
    long intx_mask(u32 start, u32 count, u32 flags, const u8* data);
    long intx_unmask(u32 start, u32 count, u32 flags, const u8* data);
    long intx_trigger(u32 start, u32 count, u32 flags, const u8* data);
    long msi_trigger(unsigned index, u32 start, u32 count, u32 flags, const u8* data);
    long single_trigger(std::shared_ptr<vfio_eventfd>& t, u32 start, u32 count, u32 flags, const u8* data);
    void do_intx_mask();
    void do_intx_unmask();
    bool intx_unmask_handler();
    void send_intx();
    void intx_disable();
    int intx_set_signal(int fd);
    void intx_fire();  // the level-triggered line is high and the IRQ enabled: run the handler
    int msi_enable(unsigned nvec, bool is_msix);
    void msi_disable();
    int msi_set_vector(unsigned v, int fd);
    void program_msi(bool on);
    void mask_vector(unsigned v, bool masked);
    u64 msix_table_base() const;
    template <typename F>
    void with_memory(F&& f);
    void set_disintx(bool on);
    bool intx_pending();

    host::kernel* m_kernel;
    const host::pci_dev& m_dev;
    vfio_pci_config& m_config;
    vfio_pci_irq_router& m_router;
    irq_type m_type = none;
    bool m_nointxmask = false;
    bool m_pci_2_3 = false;
    bool m_line = false;                // the INTx line at the interrupt controller
    bool m_in_handler = false;
    bool m_intx_masked = false;
    bool m_intx_host_disabled = false;  // disable_irq on a device without DisINTx
    std::vector<ctx> m_ctx;
    std::shared_ptr<vfio_eventfd> m_intx_unmask;  // irqfd: a write to it unmasks
    std::shared_ptr<vfio_eventfd> m_err, m_req;
    host::remapped_msi m_msi;
    int m_first_vector = -1;
};

} // namespace iommusim::vfio

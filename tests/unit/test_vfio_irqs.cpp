// vfio-pci interrupts on a device that has them all (INTA, 4 MSI vectors with per-vector masking, 4 MSI-X
// entries), over the fake VT-d kernel: GET_IRQ_INFO counts, enable/disable of each index, every DATA type
// with TRIGGER/MASK/UNMASK, the errno of bad combinations, and delivery to real eventfds: the vector the
// interrupt controller receives (vfio_pci_irq_router) and the INTx line (vfio_core::intx_line) with the
// automask flow. The fake device's INTx line is computed the way PCI 3.0 §6.2.2/§6.2.3 defines it
// (Interrupt Status && !DisINTx) after every step. Expectations: Linux 6.1 vfio_pci_intrs.c.
#include "support/vfio_fixture.h"

#include "models/pci/cfg/config_builder.h"

#include <catch2/catch.hpp>
#include <sys/eventfd.h>
#include <unistd.h>

using namespace iommusim;
using namespace iommusim::test;
using namespace iommusim::pci;

namespace {

struct hw_vfio_host : fake_vfio_host {
    using fake_vfio_host::fake_vfio_host;
    host::kernel* kernel() override { return w.k.get(); }
};

constexpr const char* DEV = "0000:01:00.0";
constexpr u32 NONE = VFIO_IRQ_SET_DATA_NONE, BOOL = VFIO_IRQ_SET_DATA_BOOL, EFD = VFIO_IRQ_SET_DATA_EVENTFD;
constexpr u32 TRIG = VFIO_IRQ_SET_ACTION_TRIGGER, MASK = VFIO_IRQ_SET_ACTION_MASK, UNMASK = VFIO_IRQ_SET_ACTION_UNMASK;
constexpr u32 INTX = VFIO_PCI_INTX_IRQ_INDEX, MSI = VFIO_PCI_MSI_IRQ_INDEX, MSIX = VFIO_PCI_MSIX_IRQ_INDEX;

// The fixture's 01:00.0 endpoint given INTA, MSI (64-bit, per-vector mask, 4 vectors) and MSI-X (4
// entries in BAR0 at 0x8000), what the dma_engine model has, before vfio-pci first opens it.
struct irq_world {
    vtd_world w;
    hw_vfio_host host{w};
    fake_vfio_mm mm;
    vfio::vfio_core v;
    fake_fabric::node* node = nullptr;
    u16 msi = 0, msix = 0;
    bool asserted = false;  // the device's interrupt condition

    explicit irq_world(vfio::vfio_options o = {}) : v(host, mm, o) {
        host.vfio_bound.insert(DEV);
        node = w.hw.route(0, 1, 0);
        REQUIRE(node);
        config_space& c = node->cfg;
        c.set8(PCI_INTERRUPT_PIN, 1);
        msi = c.add_capability(PCI_CAP_ID_MSI, 24);
        c.set16(msi + PCI_MSI_FLAGS, u16((2 << 1) | PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT));
        apply_msi_masks(c, msi);
        msix = c.add_capability(PCI_CAP_ID_MSIX, PCI_CAP_MSIX_SIZEOF);
        c.set16(msix + PCI_MSIX_FLAGS, 3);
        c.set32(msix + PCI_MSIX_TABLE, 0x8000);
        c.set32(msix + PCI_MSIX_PBA, 0x9000);
        apply_msix_masks(c, msix);
    }
    long io(int fd, unsigned long req, const void* arg) { return v.ioctl(fd, req, reinterpret_cast<unsigned long>(arg)); }
    int open_device() {
        const int c = v.open("/dev/vfio/vfio", O_RDWR);
        const int g = v.open("/dev/vfio/" + std::to_string(w.group("01:00.0")), O_RDWR);
        REQUIRE(io(g, VFIO_GROUP_SET_CONTAINER, &c) == 0);
        REQUIRE(v.ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == 0);
        const int d = int(io(g, VFIO_GROUP_GET_DEVICE_FD, DEV));
        REQUIRE(d >= 0);
        return d;
    }
    u16 cmd() const { return node->cfg.get16(PCI_COMMAND); }
    bool disintx() const { return cmd() & PCI_COMMAND_INTX_DISABLE; }
    // The line as the interrupt controller sees it, after whatever the kernel wrote to COMMAND.
    void sync_line() { v.intx_line(DEV, asserted && !disintx()); }
    void set_intx(bool on) {
        asserted = on;
        const u16 st = node->cfg.get16(PCI_STATUS);
        node->cfg.set16(PCI_STATUS, on ? u16(st | PCI_STATUS_INTERRUPT) : u16(st & ~PCI_STATUS_INTERRUPT));
        sync_line();
        sync_line();  // a handler that masked has dropped the line by now
    }
    long set_irqs(int d, u32 flags, u32 index, u32 start, u32 count, const void* data = nullptr, size_t dlen = 0) {
        std::vector<u8> buf(sizeof(vfio_irq_set) + dlen);
        auto* s = reinterpret_cast<vfio_irq_set*>(buf.data());
        s->argsz = u32(buf.size());
        s->flags = flags;
        s->index = index;
        s->start = start;
        s->count = count;
        if (dlen) std::memcpy(s->data, data, dlen);
        const long r = io(d, VFIO_DEVICE_SET_IRQS, buf.data());
        sync_line();
        return r;
    }
    long set_fds(int d, u32 flags, u32 index, u32 start, std::vector<std::int32_t> fds) {
        return set_irqs(d, flags, index, start, u32(fds.size()), fds.data(), 4 * fds.size());
    }
    vfio::vfio_pci_irqs& irqs() { return *v.device(DEV)->irqs(); }
    u32 vcfg(int d, u32 off, unsigned len) {
        u32 val = 0;
        REQUIRE(v.rw(d, &val, len, (u64(VFIO_PCI_CONFIG_REGION_INDEX) << 40) + off, false) == long(len));
        return val;
    }
    void vcfg_write(int d, u32 off, unsigned len, u32 val) {
        REQUIRE(v.rw(d, &val, len, (u64(VFIO_PCI_CONFIG_REGION_INDEX) << 40) + off, true) == long(len));
        sync_line();
    }
};

struct efd {
    int fd = eventfd(0, EFD_NONBLOCK);
    ~efd() { ::close(fd); }
    u64 take() const {
        u64 n = 0;
        return ::read(fd, &n, sizeof n) == sizeof n ? n : 0;
    }
    void write(u64 n) const { REQUIRE(::write(fd, &n, sizeof n) == sizeof n); }
};

} // namespace

TEST_CASE("vfio-pci IRQ info on a device with INTx, MSI and MSI-X: counts from the pin, QMASK and QSIZE",
          "[vfio][pci][irq]") {
    irq_world p;
    const int d = p.open_device();
    const u32 want_count[5] = {1, 4, 4, 1, 1};
    const u32 want_flags[5] = {VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED,
                               VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE,
                               VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE};
    for (u32 i = 0; i < 5; ++i) {
        vfio_irq_info ii{};
        ii.argsz = sizeof ii;
        ii.index = i;
        REQUIRE(p.io(d, VFIO_DEVICE_GET_IRQ_INFO, &ii) == 0);
        CHECK(ii.count == want_count[i]);
        CHECK(ii.flags == want_flags[i]);
    }
    // vfio_pci_core_enable found DisINTx working (pci_2_3) and left it clear.
    CHECK(p.irqs().pci_2_3());
    CHECK_FALSE(p.disintx());
}

TEST_CASE("vfio-pci INTx: automask on assertion, UNMASK re-signals while asserted, unmask irqfd, INTx-Disable",
          "[vfio][pci][irq][intx]") {
    irq_world p;
    const int d = p.open_device();
    efd t, u;
    CHECK(p.set_irqs(d, NONE | MASK, INTX, 0, 1) == -EINVAL);    // not enabled
    CHECK(p.set_irqs(d, NONE | UNMASK, INTX, 0, 1) == -EINVAL);
    CHECK(p.set_irqs(d, NONE | TRIG, INTX, 0, 1) == -EINVAL);    // loopback before enable
    CHECK(p.set_irqs(d, NONE | TRIG, INTX, 1, 1) == -EINVAL);    // start >= 1
    CHECK(p.set_fds(d, EFD | TRIG, INTX, 0, {t.fd}) == 0);
    CHECK(p.irqs().type() == vfio::vfio_pci_irqs::intx);

    p.set_intx(true);
    CHECK(t.take() == 1);
    CHECK(p.irqs().intx_masked());
    CHECK(p.disintx());                                 // masked at the device ...
    CHECK((p.vcfg(d, PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE) == 0);  // ... the user's view unchanged
    CHECK(p.set_irqs(d, NONE | UNMASK, INTX, 0, 1) == 0);              // still asserted: re-sent, masked
    CHECK(t.take() == 1);
    CHECK(p.disintx());
    p.set_intx(false);
    CHECK(t.take() == 0);
    u8 no = 0, yes = 1;
    CHECK(p.set_irqs(d, BOOL | UNMASK, INTX, 0, 1, &no, 1) == 0);     // false: nothing
    CHECK(p.irqs().intx_masked());
    CHECK(p.set_irqs(d, BOOL | UNMASK, INTX, 0, 1, &yes, 1) == 0);
    CHECK_FALSE(p.irqs().intx_masked());
    CHECK_FALSE(p.disintx());
    p.set_intx(true);
    CHECK(t.take() == 1);
    p.set_intx(false);

    // The unmask irqfd: a count already there when it is registered unmasks at once (virqfd_enable).
    u.write(1);
    CHECK(p.set_fds(d, EFD | UNMASK, INTX, 0, {u.fd}) == 0);
    CHECK_FALSE(p.irqs().intx_masked());
    CHECK(u.take() == 0);
    p.set_intx(true);
    CHECK(t.take() == 1);
    p.set_intx(false);
    u.write(1);
    p.set_intx(true);                                   // the kernel runs for the line: the irqfd first
    CHECK(t.take() == 1);
    p.set_intx(false);
    CHECK(p.set_fds(d, EFD | UNMASK, INTX, 0, {-1}) == 0);

    // MASK: DATA_NONE and DATA_BOOL mask; DATA_EVENTFD is EINVAL in 6.1.
    CHECK(p.set_fds(d, EFD | MASK, INTX, 0, {t.fd}) == -EINVAL);
    CHECK(p.set_irqs(d, NONE | UNMASK, INTX, 0, 1) == 0);
    CHECK(p.set_irqs(d, BOOL | MASK, INTX, 0, 1, &yes, 1) == 0);
    CHECK(p.disintx());
    p.set_intx(true);
    CHECK(t.take() == 0);
    CHECK(p.set_irqs(d, NONE | UNMASK, INTX, 0, 1) == 0);              // pending: signalled, stays masked
    CHECK(t.take() == 1);
    p.set_intx(false);
    CHECK(p.set_irqs(d, NONE | UNMASK, INTX, 0, 1) == 0);

    // The user's INTx-Disable masks, suppresses every signal (vfio_send_intx_eventfd) and blocks UNMASK.
    p.vcfg_write(d, PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE);
    CHECK(p.disintx());
    p.set_intx(true);
    CHECK(p.set_irqs(d, NONE | UNMASK, INTX, 0, 1) == 0);
    CHECK(p.set_irqs(d, NONE | TRIG, INTX, 0, 1) == 0);
    CHECK(t.take() == 0);
    p.vcfg_write(d, PCI_COMMAND, 2, 0);                                // unmask with the line asserted
    CHECK(t.take() == 1);
    p.set_intx(false);

    // A rebind with a bad fd frees the old trigger first: INTx stays the mode, without a trigger.
    CHECK(p.set_fds(d, EFD | TRIG, INTX, 0, {1000}) == -EBADF);
    CHECK(p.irqs().type() == vfio::vfio_pci_irqs::intx);
    CHECK(p.set_irqs(d, NONE | UNMASK, INTX, 0, 1) == 0);
    p.set_intx(true);
    CHECK(t.take() == 0);
    p.set_intx(false);
    CHECK(p.set_fds(d, EFD | TRIG, MSI, 0, {t.fd}) == -EINVAL);        // another type while INTx is on
    CHECK(p.set_irqs(d, NONE | TRIG, INTX, 0, 0) == 0);                // off
    CHECK(p.irqs().type() == vfio::vfio_pci_irqs::none);
    CHECK(p.set_irqs(d, NONE | MASK, INTX, 0, 1) == -EINVAL);
    // A fresh enable whose eventfd is bad is undone (vfio_intx_disable); any negative fd is "no trigger"
    // to vfio_intx_set_signal, so -2 enables INTx without one.
    CHECK(p.set_fds(d, EFD | TRIG, INTX, 0, {1000}) == -EBADF);
    CHECK(p.irqs().type() == vfio::vfio_pci_irqs::none);
    CHECK(p.set_fds(d, EFD | TRIG, INTX, 0, {-2}) == 0);
    CHECK(p.irqs().type() == vfio::vfio_pci_irqs::intx);
}

TEST_CASE("vfio-pci INTx with nointxmask: disable_irq masking, a still-asserted line fires again on unmask",
          "[vfio][pci][irq][intx]") {
    vfio::vfio_options o;
    o.nointxmask = true;
    irq_world p(o);
    const int d = p.open_device();
    CHECK_FALSE(p.irqs().pci_2_3());
    efd t;
    p.set_intx(true);                                            // high before request_irq
    CHECK(p.set_fds(d, EFD | TRIG, INTX, 0, {t.fd}) == 0);
    CHECK(t.take() == 1);                                        // request_irq on a high line
    CHECK(p.irqs().intx_host_disabled());
    CHECK_FALSE(p.disintx());                                    // DisINTx untouched
    CHECK(p.set_irqs(d, NONE | UNMASK, INTX, 0, 1) == 0);        // enable_irq: fires again, disabled again
    CHECK(t.take() == 1);
    CHECK(p.irqs().intx_host_disabled());
    p.set_intx(false);
    CHECK(p.set_irqs(d, NONE | UNMASK, INTX, 0, 1) == 0);
    CHECK(t.take() == 0);
    CHECK_FALSE(p.irqs().intx_masked());
    p.set_intx(true);
    CHECK(t.take() == 1);
    // Masked across a rebind: disable_irq does not survive request_irq, so it is disabled again.
    CHECK(p.set_fds(d, EFD | TRIG, INTX, 0, {t.fd}) == 0);
    CHECK(p.irqs().intx_host_disabled());
    CHECK(t.take() == 0);
}

TEST_CASE("vfio-pci MSI: vectors from the router, messages and masks at the device, delivery and loopback",
          "[vfio][pci][irq][msi]") {
    irq_world p;
    const int d = p.open_device();
    efd e0, e1, e2;
    config_space& c = p.node->cfg;
    CHECK(p.set_fds(d, EFD | TRIG, MSI, 0, {e0.fd, e1.fd, e2.fd, e0.fd, e1.fd}) == -EINVAL);  // > 4 vectors
    CHECK(p.set_fds(d, EFD | TRIG, MSI, 0, {e0.fd, e1.fd, e2.fd}) == 0);
    REQUIRE(p.irqs().type() == vfio::vfio_pci_irqs::msi);
    const u16 f = c.get16(p.msi + PCI_MSI_FLAGS);
    CHECK((f & PCI_MSI_FLAGS_ENABLE));
    CHECK(((f & PCI_MSI_FLAGS_QSIZE) >> 4) == 2);              // 3 vectors: a block of 4
    CHECK(((p.vcfg(d, p.msi + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_QMASK) >> 1) == 2);  // msi_qmax = fls(5) - 1
    CHECK(p.disintx());                                         // pci_intx_for_msi(dev, 0)
    // Vectors 0..2 requested: unmasked; vector 3 (allocated, not requested) stays masked.
    CHECK(c.get32(p.msi + PCI_MSI_MASK_64) == 0x8);
    CHECK(c.get32(p.msi + PCI_MSI_ADDRESS_LO) != 0);
    const int first = p.irqs().first_vector();
    REQUIRE(first >= 0x30);
    CHECK(p.v.deliver_interrupt(u8(first + 2)));
    CHECK(p.v.deliver_interrupt(u8(first)));
    CHECK_FALSE(p.v.deliver_interrupt(u8(first + 3)));
    CHECK(e0.take() == 1);
    CHECK(e1.take() == 0);
    CHECK(e2.take() == 1);
    // Loopback: DATA_NONE over a range, DATA_BOOL per vector.
    CHECK(p.set_irqs(d, NONE | TRIG, MSI, 1, 2) == 0);
    const u8 b[2] = {1, 0};
    CHECK(p.set_irqs(d, BOOL | TRIG, MSI, 0, 2, b, 2) == 0);
    CHECK(e0.take() == 1);
    CHECK(e1.take() == 1);
    CHECK(e2.take() == 1);
    CHECK(p.set_irqs(d, NONE | TRIG, MSI, 2, 2) == -EINVAL);   // past the 3 enabled
    // Releasing a vector masks it at the device (irq shutdown) and unbinds it.
    CHECK(p.set_fds(d, EFD | TRIG, MSI, 1, {-1}) == 0);
    CHECK(c.get32(p.msi + PCI_MSI_MASK_64) == 0xa);
    CHECK_FALSE(p.v.deliver_interrupt(u8(first + 1)));
    CHECK(p.set_fds(d, EFD | TRIG, MSI, 1, {1000}) == -EBADF);
    CHECK(c.get32(p.msi + PCI_MSI_MASK_64) == 0xa);            // still masked
    CHECK(p.set_fds(d, EFD | TRIG, MSI, 1, {e2.fd}) == 0);
    CHECK(c.get32(p.msi + PCI_MSI_MASK_64) == 0x8);
    CHECK(p.v.deliver_interrupt(u8(first + 1)));
    CHECK(e2.take() == 1);
    // No masking support exported for MSI/MSI-X in 6.1; other types while MSI is on.
    CHECK(p.set_irqs(d, NONE | MASK, MSI, 0, 1) == -ENOTTY);
    CHECK(p.set_irqs(d, NONE | UNMASK, MSI, 0, 1) == -ENOTTY);
    CHECK(p.set_fds(d, EFD | TRIG, MSIX, 0, {e0.fd}) == -EINVAL);
    CHECK(p.set_fds(d, EFD | TRIG, INTX, 0, {e0.fd}) == -EINVAL);
    // Off: Enable clear, DisINTx back (pci_intx_for_msi(dev, 1)), the vectors free.
    CHECK(p.set_irqs(d, NONE | TRIG, MSI, 0, 0) == 0);
    CHECK(p.irqs().type() == vfio::vfio_pci_irqs::none);
    CHECK_FALSE((c.get16(p.msi + PCI_MSI_FLAGS) & PCI_MSI_FLAGS_ENABLE));
    CHECK_FALSE(p.disintx());
    CHECK_FALSE(p.v.deliver_interrupt(u8(first)));
    CHECK(e0.take() == 0);
}

TEST_CASE("vfio-pci MSI-X: enable a prefix of the table, per-vector triggers, bad descriptors unwind",
          "[vfio][pci][irq][msix]") {
    irq_world p;
    const int d = p.open_device();
    efd e0, e1;
    int pipefd[2];
    REQUIRE(pipe(pipefd) == 0);
    config_space& c = p.node->cfg;
    // A fresh enable whose second descriptor is bad: everything undone.
    CHECK(p.set_fds(d, EFD | TRIG, MSIX, 0, {e0.fd, pipefd[0]}) == -EINVAL);
    CHECK(p.irqs().type() == vfio::vfio_pci_irqs::none);
    CHECK_FALSE((c.get16(p.msix + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_ENABLE));
    CHECK(p.set_fds(d, EFD | TRIG, MSIX, 1, {e1.fd}) == 0);     // vectors 0..1 allocated, 1 bound
    REQUIRE(p.irqs().type() == vfio::vfio_pci_irqs::msix);
    CHECK(p.irqs().num_ctx() == 2);
    CHECK((c.get16(p.msix + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_ENABLE));
    const int first = p.irqs().first_vector();
    CHECK_FALSE(p.v.deliver_interrupt(u8(first)));
    CHECK(p.v.deliver_interrupt(u8(first + 1)));
    CHECK(e1.take() == 1);
    CHECK(p.set_fds(d, EFD | TRIG, MSIX, 0, {e0.fd}) == 0);
    CHECK(p.v.deliver_interrupt(u8(first)));
    CHECK(e0.take() == 1);
    CHECK(p.set_fds(d, EFD | TRIG, MSIX, 2, {e0.fd}) == -EINVAL);  // beyond what was enabled (NORESIZE)
    CHECK(p.set_fds(d, EFD | TRIG, MSIX, 0, {pipefd[0]}) == -EINVAL);
    CHECK_FALSE(p.v.deliver_interrupt(u8(first)));                  // the old trigger went first
    CHECK(p.set_irqs(d, NONE | MASK, MSIX, 0, 1) == -ENOTTY);
    CHECK(p.set_irqs(d, NONE | TRIG, MSIX, 0, 0) == 0);
    CHECK_FALSE((c.get16(p.msix + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_ENABLE));
    CHECK_FALSE(p.v.deliver_interrupt(u8(first + 1)));
    ::close(pipefd[0]);
    ::close(pipefd[1]);
}

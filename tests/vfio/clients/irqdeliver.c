/* Interrupts end to end through the C API on a DMA engine (dma-testbed): vfio-pci's MSI-X, MSI and INTx
 * set up with VFIO_DEVICE_SET_IRQS and real eventfds, the device raising them with iommusim_irq, the
 * message remapped by VT-d and signalled at the interrupt controller, INTx automasked and unmasked through
 * the unmask eventfd (the irqfd QEMU's KVM resample path uses). Expectations: Linux 6.1 vfio_pci_intrs.c.
 * Exits non-zero on the first surprise.  argv: [platform [bdf]]  (default: dma-testbed, 0000:01:00.0) */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <linux/vfio.h>
#include <iommusim/vfio.h>

#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s (errno %d %s)\n", __FILE__, __LINE__, #cond, \
                                             errno, strerror(errno)); return 1; } } while (0)

static struct iommusim *s;
static int dev;

static uint64_t count(int efd)
{
    uint64_t n = 0;
    return read(efd, &n, sizeof n) == sizeof n ? n : 0;  /* EAGAIN: nothing signalled */
}

static int set_irqs(uint32_t flags, uint32_t index, uint32_t start, uint32_t n, const int32_t *fds)
{
    char buf[sizeof(struct vfio_irq_set) + 8 * sizeof(int32_t)];
    struct vfio_irq_set *set = (struct vfio_irq_set *)buf;
    set->argsz = sizeof(*set) + ((flags & VFIO_IRQ_SET_DATA_EVENTFD) ? n * sizeof(int32_t) : 0);
    set->flags = flags;
    set->index = index;
    set->start = start;
    set->count = n;
    if (flags & VFIO_IRQ_SET_DATA_EVENTFD) memcpy(set->data, fds, n * sizeof(int32_t));
    return iommusim_ioctl(s, dev, VFIO_DEVICE_SET_IRQS, set);
}

int main(int argc, char **argv)
{
    const char *platform = argc > 1 ? argv[1] : "dma-testbed";
    const char *bdf = argc > 2 ? argv[2] : "0000:01:00.0";
    s = iommusim_create(platform);
    CHECK(s != NULL);
    CHECK(iommusim_bind(s, bdf, "vfio-pci") == 0);
    int container = iommusim_open(s, "/dev/vfio/vfio", O_RDWR);
    char path[64];
    snprintf(path, sizeof path, "/dev/vfio/%d", iommusim_iommu_group(s, bdf));
    int group = iommusim_open(s, path, O_RDWR);
    CHECK(container >= 0 && group >= 0);
    CHECK(iommusim_ioctl(s, group, VFIO_GROUP_SET_CONTAINER, &container) == 0);
    CHECK(iommusim_ioctl(s, container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == 0);
    dev = iommusim_ioctl(s, group, VFIO_GROUP_GET_DEVICE_FD, bdf);
    CHECK(dev >= 0);

    /* The engine has INTA, 4 MSI vectors and 4 MSI-X entries. */
    static const uint32_t want[5] = {1, 4, 4, 1, 1};
    for (uint32_t i = 0; i < VFIO_PCI_NUM_IRQS; i++) {
        struct vfio_irq_info info = { .argsz = sizeof(info), .index = i };
        CHECK(iommusim_ioctl(s, dev, VFIO_DEVICE_GET_IRQ_INFO, &info) == 0);
        CHECK(info.count == want[i]);
    }

    /* Bus mastering: the user's config write (the device's MSI is a memory write). */
    uint16_t cmd = 0;
    const off_t config = (off_t)VFIO_PCI_CONFIG_REGION_INDEX << 40;
    CHECK(iommusim_pread(s, dev, &cmd, 2, config + 4) == 2);
    cmd |= 0x4;
    CHECK(iommusim_pwrite(s, dev, &cmd, 2, config + 4) == 2);

    int32_t e[3];
    for (int i = 0; i < 3; i++) {
        e[i] = eventfd(0, EFD_NONBLOCK);
        CHECK(e[i] >= 0);
    }
    const uint32_t EFD_TRIG = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
    const uint32_t NONE_TRIG = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;

    /* MSI-X: vectors 0 and 1; each device interrupt is one count on its eventfd. */
    CHECK(set_irqs(EFD_TRIG, VFIO_PCI_MSIX_IRQ_INDEX, 0, 2, e) == 0);
    CHECK(iommusim_irq(s, bdf, IOMMUSIM_IRQ_MSIX, 1) == 0);
    CHECK(iommusim_irq(s, bdf, IOMMUSIM_IRQ_MSIX, 1) == 0);
    CHECK(iommusim_irq(s, bdf, IOMMUSIM_IRQ_MSIX, 0) == 0);
    CHECK(count(e[0]) == 1 && count(e[1]) == 2);
    /* Released, the vector is masked at the device: the interrupt waits and reaches the next eventfd. */
    int32_t none = -1;
    CHECK(set_irqs(EFD_TRIG, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, &none) == 0);
    CHECK(iommusim_irq(s, bdf, IOMMUSIM_IRQ_MSIX, 0) == 0);
    CHECK(count(e[0]) == 0);
    CHECK(set_irqs(EFD_TRIG, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, &e[2]) == 0);
    CHECK(count(e[2]) == 1);
    CHECK(set_irqs(NONE_TRIG, VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, NULL) == 0);
    errno = 0;
    CHECK(iommusim_irq(s, bdf, IOMMUSIM_IRQ_MSIX, 0) == -1 && errno == EIO);  /* MSI-X is off */

    /* MSI: two vectors. */
    CHECK(set_irqs(EFD_TRIG, VFIO_PCI_MSI_IRQ_INDEX, 0, 2, e) == 0);
    CHECK(iommusim_irq(s, bdf, IOMMUSIM_IRQ_MSI, 1) == 0);
    CHECK(count(e[1]) == 1 && count(e[0]) == 0);
    errno = 0;
    CHECK(set_irqs(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, NULL) == -1 &&
          errno == ENOTTY);
    CHECK(set_irqs(NONE_TRIG, VFIO_PCI_MSI_IRQ_INDEX, 0, 0, NULL) == 0);

    /* INTx with an unmask eventfd: assert -> one event, automasked; the user's write to the unmask
     * eventfd unmasks once the device has deasserted, and the next assertion is the next event. */
    CHECK(set_irqs(EFD_TRIG, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &e[0]) == 0);
    CHECK(set_irqs(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &e[1]) == 0);
    CHECK(iommusim_irq(s, bdf, IOMMUSIM_IRQ_INTX_ASSERT, 0) == 0);
    CHECK(count(e[0]) == 1);
    CHECK(iommusim_irq(s, bdf, IOMMUSIM_IRQ_INTX_DEASSERT, 0) == 0);
    CHECK(iommusim_irq(s, bdf, IOMMUSIM_IRQ_INTX_ASSERT, 0) == 0);
    CHECK(count(e[0]) == 0);                                   /* masked */
    uint64_t one = 1;
    CHECK(write(e[1], &one, sizeof one) == sizeof one);        /* unmask, line still asserted: re-sent */
    CHECK(iommusim_irq(s, bdf, IOMMUSIM_IRQ_INTX_DEASSERT, 0) == 0);
    CHECK(count(e[0]) == 1);
    CHECK(write(e[1], &one, sizeof one) == sizeof one);        /* unmask, line low: DisINTx cleared */
    CHECK(iommusim_irq(s, bdf, IOMMUSIM_IRQ_INTX_ASSERT, 0) == 0);
    CHECK(count(e[0]) == 1);
    CHECK(set_irqs(NONE_TRIG, VFIO_PCI_INTX_IRQ_INDEX, 0, 0, NULL) == 0);

    errno = 0;
    CHECK(iommusim_irq(s, "0000:00:00.0", IOMMUSIM_IRQ_MSI, 0) == -1 && errno == ENODEV);  /* the host bridge */
    for (int i = 0; i < 3; i++) close(e[i]);
    iommusim_close(s, dev);
    iommusim_close(s, group);
    iommusim_close(s, container);
    iommusim_destroy(s);
    printf("ok\n");
    return 0;
}

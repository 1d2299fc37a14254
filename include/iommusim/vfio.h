/* iommusim's C API: real VFIO code, pointed at a simulated machine with small changes.
 *
 * Use the request numbers and structs of <linux/vfio.h> unchanged; replace open/ioctl/close on /dev/vfio
 * with the iommusim_ calls below (same calling convention: -1 with errno set). The simulated kernel is
 * Linux 6.1: container, group and type1 semantics, errno values and their order follow it (see
 * sim/vfio/README.md in the source tree for what is covered).
 *
 *   struct iommusim *s = iommusim_create("dma-testbed");        // preset, platform JSON or scenario JSON
 *   iommusim_bind(s, "0000:01:00.0", "vfio-pci");
 *   int c = iommusim_open(s, "/dev/vfio/vfio", O_RDWR);
 *   int g = iommusim_open(s, "/dev/vfio/1", O_RDWR);           // iommusim_iommu_group() says which
 *   iommusim_ioctl(s, g, VFIO_GROUP_SET_CONTAINER, &c);
 *   iommusim_ioctl(s, c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
 *   void *buf = iommusim_vaddr(s, 1 << 20);                    // process memory to map
 *   struct vfio_iommu_type1_dma_map m = { sizeof m, 3, (uintptr_t)buf, 0x100000, 1 << 20 };
 *   iommusim_ioctl(s, c, VFIO_IOMMU_MAP_DMA, &m);
 *   iommusim_dma(s, "0000:01:00.0", 0x100000, data, 64, 1);    // the device writes 64 bytes into buf
 *
 * One machine per process (SystemC elaborates once): iommusim_create succeeds once. */
#ifndef IOMMUSIM_VFIO_H
#define IOMMUSIM_VFIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iommusim;

/* Boots a machine: a preset name ("dma-testbed"), a platform JSON file or a scenario JSON file (its
 * "platform" and "host" options). NULL: $IOMMUSIM_PLATFORM, else "dma-testbed". Environment:
 * IOMMUSIM_ALLOW_UNSAFE_INTERRUPTS=1 (vfio_iommu_type1.allow_unsafe_interrupts), IOMMUSIM_MEMLOCK=<bytes>
 * (RLIMIT_MEMLOCK of the simulated process, default 8 MiB; "unlimited"), IOMMUSIM_CAP_IPC_LOCK=1,
 * IOMMUSIM_NOINTXMASK=1 (vfio_pci.nointxmask: INTx masked with disable_irq instead of DisINTx).
 * NULL with errno set (EINVAL for a platform that cannot be loaded or booted, EBUSY for a second
 * machine); the reason is printed on stderr. */
struct iommusim *iommusim_create(const char *platform_or_scenario_json_path);
void iommusim_destroy(struct iommusim *s);

/* open(2) of "/dev/vfio/vfio" or "/dev/vfio/<group>": an fd, or -1 with errno. */
int iommusim_open(struct iommusim *s, const char *path, int flags);
/* ioctl(2) on an fd from iommusim_open or VFIO_GROUP_GET_DEVICE_FD: one argument (integer or pointer). */
int iommusim_ioctl(struct iommusim *s, int fd, unsigned long request, ...);
int iommusim_close(struct iommusim *s, int fd);
/* pread(2)/pwrite(2) on a device fd: offset = region index << 40 (VFIO_PCI_INDEX_TO_OFFSET as
 * VFIO_DEVICE_GET_REGION_INFO reports it) + offset in the region. CONFIG goes through vfio-pci's virtual
 * config space, BARs through the machine's MMIO path. Bytes transferred, or -1 with errno (EINVAL: bad
 * region/offset or a non-device fd, EFAULT: config access past its end, EIO: memory decode disabled,
 * EBADF). Eventfds for VFIO_DEVICE_SET_IRQS are real eventfd(2) descriptors of the calling process. */
ssize_t iommusim_pread(struct iommusim *s, int fd, void *buf, size_t count, off_t offset);
ssize_t iommusim_pwrite(struct iommusim *s, int fd, const void *buf, size_t count, off_t offset);

/* The device at bdf ("0000:01:00.0") does a DMA of len bytes at iova through the machine: its requester
 * ID, the PCIe fabric and the IOMMU. write != 0: the device writes buf to memory; else it reads into buf.
 * 0, or -1 with errno EFAULT when the transaction fails (IOMMU fault, master abort), ENODEV for no such
 * device. */
int iommusim_dma(struct iommusim *s, const char *bdf, uint64_t iova, void *buf, size_t len, int write);
/* The device at bdf raises an interrupt through its own hardware (a "dma_engine" of the platform):
 * IOMMUSIM_IRQ_MSI / IOMMUSIM_IRQ_MSIX send message `vector` as programmed in its MSI capability / MSI-X
 * table (by vfio-pci's VFIO_DEVICE_SET_IRQS): a memory write upstream (Bus Master must be on, which is the
 * user's config write), remapped by the IOMMU, and at the interrupt controller the eventfd bound to it
 * is signalled. A masked vector is left pending in the device and sent when unmasked. IOMMUSIM_IRQ_INTX_
 * ASSERT / _DEASSERT set the level of its INTx condition (Interrupt Status; the line is asserted unless
 * DisINTx), which vfio-pci's level-triggered handler sees. 0, or -1 with errno ENODEV (no such device, or
 * it cannot raise interrupts), EIO (the message could not be sent: not enabled, vector out of range, Bus
 * Master off, blocked by interrupt remapping), EINVAL (kind). */
enum { IOMMUSIM_IRQ_INTX_ASSERT = 0, IOMMUSIM_IRQ_INTX_DEASSERT = 1, IOMMUSIM_IRQ_MSI = 2, IOMMUSIM_IRQ_MSIX = 3 };
int iommusim_irq(struct iommusim *s, const char *bdf, int kind, unsigned vector);
/* Memory of the simulated process (anonymous, page aligned, zeroed), to pass as MAP_DMA's vaddr. */
void *iommusim_vaddr(struct iommusim *s, size_t len);
/* What /sys/bus/pci/devices/<bdf>/iommu_group says: the group number, or -1 with errno ENOENT. */
int iommusim_iommu_group(struct iommusim *s, const char *bdf);
/* driver_override + unbind + bind through sysfs: "vfio-pci", "none" or a host driver ("e1000e"). */
int iommusim_bind(struct iommusim *s, const char *bdf, const char *driver);

#ifdef __cplusplus
}
#endif
#endif

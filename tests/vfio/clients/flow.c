/* The canonical VFIO flow of Linux's Documentation/driver-api/vfio.rst against iommusim's C API, plus what
 * only a simulator can show: the device really DMAs through the IOMMU into and out of the memory the
 * program mapped, and faults outside it. Exits non-zero on the first surprise.
 * argv: [platform-or-scenario [bdf]]  (default: qemu-q35, 0000:01:00.0) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <linux/vfio.h>
#include <iommusim/vfio.h>

#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s (errno %d %s)\n", __FILE__, __LINE__, #cond, \
                                             errno, strerror(errno)); return 1; } } while (0)

int main(int argc, char **argv)
{
    const char *platform = argc > 1 ? argv[1] : "qemu-q35";
    const char *bdf = argc > 2 ? argv[2] : "0000:01:00.0";
    struct iommusim *s = iommusim_create(platform);
    CHECK(s != NULL);

    /* sysfs: the device's IOMMU group; hand the device to vfio-pci */
    int group_id = iommusim_iommu_group(s, bdf);
    CHECK(group_id >= 0);
    CHECK(iommusim_bind(s, bdf, "vfio-pci") == 0);

    /* Create a new container */
    int container = iommusim_open(s, "/dev/vfio/vfio", O_RDWR);
    CHECK(container >= 0);
    CHECK(iommusim_ioctl(s, container, VFIO_GET_API_VERSION) == VFIO_API_VERSION);
    CHECK(iommusim_ioctl(s, container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) == 1);

    /* Open the group */
    char path[64];
    snprintf(path, sizeof path, "/dev/vfio/%d", group_id);
    int group = iommusim_open(s, path, O_RDWR);
    CHECK(group >= 0);

    /* Test the group is viable and available */
    struct vfio_group_status group_status = { .argsz = sizeof(group_status) };
    CHECK(iommusim_ioctl(s, group, VFIO_GROUP_GET_STATUS, &group_status) == 0);
    CHECK(group_status.flags & VFIO_GROUP_FLAGS_VIABLE);

    /* Add the group to the container, enable the IOMMU model we want */
    CHECK(iommusim_ioctl(s, group, VFIO_GROUP_SET_CONTAINER, &container) == 0);
    CHECK(iommusim_ioctl(s, container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == 0);

    /* Get additional IOMMU info: first the size of the capability chain, then the chain */
    struct vfio_iommu_type1_info iommu_info = { .argsz = sizeof(iommu_info) };
    CHECK(iommusim_ioctl(s, container, VFIO_IOMMU_GET_INFO, &iommu_info) == 0);
    CHECK(iommu_info.flags & VFIO_IOMMU_INFO_PGSIZES);
    CHECK(iommu_info.argsz > sizeof(iommu_info) && iommu_info.cap_offset == 0);

    /* Allocate some space and setup a DMA mapping */
    const size_t size = 1024 * 1024;
    unsigned char *mem = iommusim_vaddr(s, size);
    CHECK(mem != NULL);
    struct vfio_iommu_type1_dma_map dma_map = { .argsz = sizeof(dma_map) };
    dma_map.vaddr = (uintptr_t)mem;
    dma_map.size = size;
    dma_map.iova = 0x10000000; /* 256 MiB */
    dma_map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
    CHECK(iommusim_ioctl(s, container, VFIO_IOMMU_MAP_DMA, &dma_map) == 0);

    /* Get a file descriptor for the device */
    int device = iommusim_ioctl(s, group, VFIO_GROUP_GET_DEVICE_FD, bdf);
    CHECK(device >= 0);

    /* Test and setup the device */
    struct vfio_device_info device_info = { .argsz = sizeof(device_info) };
    CHECK(iommusim_ioctl(s, device, VFIO_DEVICE_GET_INFO, &device_info) == 0);
    CHECK(device_info.flags & VFIO_DEVICE_FLAGS_PCI);
    CHECK(device_info.num_regions == VFIO_PCI_NUM_REGIONS && device_info.num_irqs == VFIO_PCI_NUM_IRQS);

    /* The device reads what the program wrote, through the IOMMU */
    strcpy((char *)mem + 0x1000, "written by the CPU");
    char got[32] = { 0 };
    CHECK(iommusim_dma(s, bdf, 0x10001000, got, 19, 0) == 0);
    CHECK(strcmp(got, "written by the CPU") == 0);
    /* ... and the program sees what the device wrote */
    CHECK(iommusim_dma(s, bdf, 0x10080000, "written by the device", 22, 1) == 0);
    CHECK(strcmp((char *)mem + 0x80000, "written by the device") == 0);
    /* An IOVA that is not mapped faults */
    CHECK(iommusim_dma(s, bdf, 0x20000000, got, 8, 0) == -1 && errno == EFAULT);

    /* Unmap: the device faults on the old IOVA */
    struct vfio_iommu_type1_dma_unmap dma_unmap = { .argsz = sizeof(dma_unmap), .iova = 0x10000000, .size = size };
    CHECK(iommusim_ioctl(s, container, VFIO_IOMMU_UNMAP_DMA, &dma_unmap) == 0 && dma_unmap.size == size);
    CHECK(iommusim_dma(s, bdf, 0x10001000, got, 8, 0) == -1 && errno == EFAULT);

    CHECK(iommusim_close(s, device) == 0);
    CHECK(iommusim_ioctl(s, group, VFIO_GROUP_UNSET_CONTAINER) == 0);
    CHECK(iommusim_close(s, group) == 0);
    CHECK(iommusim_close(s, container) == 0);
    iommusim_destroy(s);
    printf("flow: ok\n");
    return 0;
}

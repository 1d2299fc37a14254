/* Differential client: the container / group / type1 errno rules, one call per rule, in the order a
 * careless VFIO user would hit them. Runs unchanged against the real kernel (vfio-oracle shim) and
 * against iommusim (tests/vfio/trace). argv: platform-or-scenario-json bdf */
#include <linux/vfio.h>
#include <iommusim/vfio.h>

static struct iommusim *s;
static int c, g;

static int map(uint32_t argsz, uint32_t flags, uint64_t vaddr, uint64_t iova, uint64_t size)
{
    struct vfio_iommu_type1_dma_map m = { .argsz = argsz, .flags = flags, .vaddr = vaddr, .iova = iova,
                                          .size = size };
    return iommusim_ioctl(s, c, VFIO_IOMMU_MAP_DMA, &m);
}

static int unmap(uint32_t argsz, uint32_t flags, uint64_t iova, uint64_t size)
{
    struct vfio_iommu_type1_dma_unmap u = { .argsz = argsz, .flags = flags, .iova = iova, .size = size };
    return iommusim_ioctl(s, c, VFIO_IOMMU_UNMAP_DMA, &u);
}

static void status(void)
{
    struct vfio_group_status st = { .argsz = sizeof st };
    iommusim_ioctl(s, g, VFIO_GROUP_GET_STATUS, &st);
}

int main(int argc, char **argv)
{
    if (argc != 3) { fprintf(stderr, "usage: maptest platform.json bdf\n"); return 2; }
    const char *bdf = argv[2];
    s = iommusim_create(argv[1]);
    if (!s) { perror("iommusim_create"); return 1; }
    int gid = iommusim_iommu_group(s, bdf);
    iommusim_bind(s, bdf, "vfio-pci");
    char path[64];
    snprintf(path, sizeof path, "/dev/vfio/%d", gid);

    printf("# container without a group or backend\n");
    c = iommusim_open(s, "/dev/vfio/vfio", O_RDWR);
    iommusim_ioctl(s, c, VFIO_GET_API_VERSION);
    iommusim_ioctl(s, c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
    struct vfio_iommu_type1_info info = { .argsz = sizeof info };
    iommusim_ioctl(s, c, VFIO_IOMMU_GET_INFO, &info);
    map(32, 3, 0, 0x100000, 0x1000);
    iommusim_ioctl(s, c, VFIO_IOMMU_UNMAP_DMA + 20, 0);

    printf("# group: exclusive open, status, device before container\n");
    g = iommusim_open(s, path, O_RDWR);
    iommusim_open(s, path, O_RDWR);
    struct vfio_group_status st8 = { .argsz = 4 };
    iommusim_ioctl(s, g, VFIO_GROUP_GET_STATUS, &st8);
    status();
    iommusim_ioctl(s, g, VFIO_GROUP_GET_DEVICE_FD, bdf);
    iommusim_ioctl(s, g, VFIO_GROUP_UNSET_CONTAINER);
    int bad = 77;
    iommusim_ioctl(s, g, VFIO_GROUP_SET_CONTAINER, &bad);
    iommusim_ioctl(s, g, VFIO_GROUP_SET_CONTAINER, &g);
    iommusim_ioctl(s, g, VFIO_GROUP_SET_CONTAINER, &c);
    status();
    iommusim_ioctl(s, g, VFIO_GROUP_SET_CONTAINER, &c);
    iommusim_ioctl(s, g, VFIO_GROUP_GET_DEVICE_FD, bdf);
    iommusim_ioctl(s, c, VFIO_IOMMU_GET_INFO, &info);

    printf("# SET_IOMMU: unknown and unoffered types, then TYPE1v2, then again\n");
    iommusim_ioctl(s, c, VFIO_SET_IOMMU, 99);
    iommusim_ioctl(s, c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU);
    iommusim_ioctl(s, c, VFIO_SET_IOMMU, VFIO_NOIOMMU_IOMMU);
    iommusim_ioctl(s, c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
    iommusim_ioctl(s, c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
    iommusim_ioctl(s, c, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU);
    iommusim_ioctl(s, c, VFIO_IOMMU_UNMAP_DMA + 20, 0);
    iommusim_ioctl(s, g, VFIO_GROUP_GET_DEVICE_FD + 20, 0);
    struct vfio_iommu_type1_info small = { .argsz = 12 };
    iommusim_ioctl(s, c, VFIO_IOMMU_GET_INFO, &small);

    unsigned char *buf = iommusim_vaddr(s, 1 << 21);
    uint64_t va = (uintptr_t)buf;
    printf("# MAP_DMA validation, in the kernel's order\n");
    map(24, 3, va, 0x100000, 0x1000);              /* argsz */
    map(32, 3 | 0x10, va, 0x100000, 0x1000);       /* unknown flag */
    map(32, 0, va, 0x100000, 0x1000);              /* neither READ/WRITE nor VADDR */
    map(32, 3 | VFIO_DMA_MAP_FLAG_VADDR, va, 0x100000, 0x1000);
    map(32, 3, va, 0x100000, 0);                   /* size 0 */
    map(32, 3, va, 0x100000, 0x800);               /* size not a page multiple */
    map(32, 3, va, 0x100800, 0x1000);              /* iova misaligned */
    map(32, 3, va + 0x800, 0x100000, 0x1000);      /* vaddr misaligned */
    map(32, 3, va, 0xfffffffffffff000ull, 0x2000); /* iova wraps */
    map(32, 3, 0xfffffffffffff000ull, 0x100000, 0x2000); /* vaddr wraps */
    map(32, 3, va, 0xfee00000, 0x1000);            /* the x86 MSI window (reserved) */
    map(32, 3, va, 1ull << 52, 0x1000);            /* beyond the IOMMU's address width */
    map(32, 3, 0x1000, 0x100000, 0x1000);          /* vaddr not mapped in the process */
    map(32, VFIO_DMA_MAP_FLAG_VADDR, va, 0x100000, 0x1000); /* update of a mapping that does not exist */
    printf("# MAP_DMA: success, overlap, adjacency\n");
    map(32, 3, va, 0x100000, 0x4000);
    map(32, 3, va, 0x100000, 0x4000);
    map(32, 3, va + 0x10000, 0x102000, 0x4000);
    map(32, 3, va + 0x10000, 0x0ff000, 0x2000);
    map(32, 3, va + 0x10000, 0x104000, 0x1000);
    map(32, 1, va + 0x20000, 0x200000, 0x1000);    /* read-only */
    map(48, 2, va + 0x30000, 0x300000, 0x2000);    /* bigger argsz is fine */
    map(32, VFIO_DMA_MAP_FLAG_VADDR, va, 0x100000, 0x4000); /* vaddr still valid */
    int d = iommusim_ioctl(s, g, VFIO_GROUP_GET_DEVICE_FD, bdf);
    iommusim_ioctl(s, g, VFIO_GROUP_GET_DEVICE_FD, "0000:ff:1f.7");
    struct vfio_device_info di = { .argsz = 8 };
    iommusim_ioctl(s, d, VFIO_DEVICE_GET_INFO, &di);
    di.argsz = sizeof di;
    iommusim_ioctl(s, d, VFIO_DEVICE_GET_INFO, &di);

    printf("# UNMAP_DMA validation\n");
    unmap(16, 0, 0x100000, 0x1000);                /* argsz */
    unmap(24, 0x8, 0x100000, 0x1000);              /* unknown flag */
    unmap(24, VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, 0, 0);
    unmap(24, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, 0x100000, 0x4000); /* argsz too small for a bitmap */
    unmap(24, 0, 0x100000, 0);                     /* size 0 */
    unmap(24, 0, 0x100800, 0x1000);                /* iova misaligned */
    unmap(24, 0, 0x100000, 0x800);                 /* size misaligned */
    unmap(24, 0, 0xfffffffffffff000ull, 0x2000);   /* wraps */
    unmap(24, VFIO_DMA_UNMAP_FLAG_ALL, 0x100000, 0);
    unmap(24, VFIO_DMA_UNMAP_FLAG_ALL, 0, 0x1000);
    printf("# UNMAP_DMA v2: no bisecting; holes and whole mappings\n");
    unmap(24, 0, 0x101000, 0x1000);                /* starts inside */
    unmap(24, 0, 0x100000, 0x2000);                /* ends inside */
    unmap(24, 0, 0x500000, 0x1000);                /* nothing mapped: size 0 */
    unmap(24, 0, 0x0, 0x100000);                   /* below the first mapping */
    unmap(24, 0, 0x100000, 0x5000);                /* two whole mappings */
    unmap(24, 0, 0x100000, 0x5000);                /* again: nothing left */
    printf("# VADDR: invalidate and update\n");
    unmap(24, VFIO_DMA_UNMAP_FLAG_VADDR, 0x200000, 0x1000);
    unmap(24, VFIO_DMA_UNMAP_FLAG_VADDR, 0x200000, 0x1000);   /* already invalid */
    map(32, VFIO_DMA_MAP_FLAG_VADDR, va + 0x40000, 0x200000, 0x2000); /* size mismatch */
    map(32, VFIO_DMA_MAP_FLAG_VADDR, va + 0x40000, 0x200000, 0x1000);
    map(32, VFIO_DMA_MAP_FLAG_VADDR, va + 0x40000, 0x200000, 0x1000); /* no longer invalid */
    unmap(24, VFIO_DMA_UNMAP_FLAG_ALL, 0, 0);
    unmap(24, VFIO_DMA_UNMAP_FLAG_ALL, 0, 0);

    printf("# teardown: unset with a device open, then a TYPE1 (v1) container\n");
    iommusim_ioctl(s, g, VFIO_GROUP_UNSET_CONTAINER);
    iommusim_close(s, d);
    iommusim_ioctl(s, g, VFIO_GROUP_UNSET_CONTAINER);
    iommusim_ioctl(s, g, VFIO_GROUP_UNSET_CONTAINER);
    iommusim_ioctl(s, c, VFIO_IOMMU_GET_INFO, &info);
    iommusim_ioctl(s, c, VFIO_CHECK_EXTENSION, VFIO_UPDATE_VADDR);
    iommusim_ioctl(s, g, VFIO_GROUP_SET_CONTAINER, &c);
    iommusim_ioctl(s, c, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU);
    map(32, 3, va, 0x100000, 0x4000);
    map(32, 3, va + 0x10000, 0x104000, 0x4000);
    printf("# UNMAP_DMA v1: a partial unmap is accepted\n");
    unmap(24, 0, 0x101000, 0x1000);                /* starts inside: success, size 0 */
    unmap(24, 0, 0x100000, 0x1000);                /* covers the first byte: the whole mapping */
    unmap(24, 0, 0x104000, 0x8000);
    struct vfio_iommu_type1_dirty_bitmap db = { .argsz = sizeof db, .flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_START };
    iommusim_ioctl(s, c, VFIO_IOMMU_DIRTY_PAGES, &db);
    iommusim_close(s, g);
    iommusim_ioctl(s, c, VFIO_IOMMU_GET_INFO, &info);
    iommusim_close(s, c);
    iommusim_destroy(s);
    return 0;
}

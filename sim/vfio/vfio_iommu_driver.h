// An IOMMU backend of a container: Linux's struct vfio_iommu_driver_ops (drivers/vfio/vfio.h, v6.1) as far
// as the container uses it. SET_IOMMU opens the backend that accepts the type; CHECK_EXTENSION asks it (or,
// before SET_IOMMU, every backend registered on this host); the container ioctls it does not answer itself
// go to it; groups attach and detach through it. type1 (vfio_iommu_type1) on x86 hosts, sPAPR TCE
// (vfio_iommu_spapr_tce) on POWER hosts.
#pragma once

namespace iommusim::vfio {

class vfio_iommu_driver {
public:
    virtual ~vfio_iommu_driver() = default;
    virtual int check_extension(unsigned long ext) const = 0;
    // attach_group / detach_group; emulated: a group of emulated-IOMMU (mdev-like) devices.
    virtual int attach_group(int group, bool emulated = false) = 0;
    virtual void detach_group(int group) = 0;
    // The container ioctls the backend serves; -ENOTTY for the others.
    virtual long ioctl(unsigned long request, unsigned long arg) = 0;
};

} // namespace iommusim::vfio

// A VFIO group (/dev/vfio/<iommu group id>, drivers/vfio/group.c in Linux 6.1): exists while a member of
// the IOMMU group is bound to a VFIO driver; opened by one file at a time; joins a container, which claims
// DMA ownership of the whole IOMMU group; hands out device fds once the container has an IOMMU backend.
// container_users counts the group's own link plus one per open device (what UNSET_CONTAINER checks).
#pragma once
#include "sim/vfio/vfio_host.h"

#include <functional>
#include <memory>
#include <string>

namespace iommusim::vfio {

class vfio_container;
class vfio_device;

class vfio_group {
public:
    vfio_group(vfio_host& host, int id) : m_host(host), m_id(id) {}

    int id() const { return m_id; }
    bool opened() const { return m_opened; }
    void set_opened(bool o) { m_opened = o; }
    vfio_container* container() const { return m_container.get(); }
    int container_users() const { return m_container_users; }

    // Resolves an fd number for SET_CONTAINER: nullptr container and false when the fd is not open,
    // nullptr and true when it is open but not a container.
    using fd_lookup = std::function<std::shared_ptr<vfio_container>(int fd, bool& open)>;
    // Resolves a device name for GET_DEVICE_FD (a member registered with a VFIO driver) and opens it.
    // The group ioctls (vfio_group_fops_unl_ioctl). GET_DEVICE_FD is handled by the caller (it needs the
    // fd table); see vfio_core.
    long ioctl(unsigned long request, unsigned long arg, const fd_lookup& lookup);

    // vfio_group_ioctl_get_device_fd's checks after the name lookup (vfio_device_assign_container):
    // 0 and container_users incremented, or -EINVAL.
    int use_container();
    void unuse_container() { --m_container_users; }
    // vfio_group_detach_container (UNSET_CONTAINER, and the release of the last file of the group).
    void detach_container();

private:
    long get_status(unsigned long arg);
    long set_container(unsigned long arg, const fd_lookup& lookup);
    long unset_container();

    vfio_host& m_host;
    int m_id;
    bool m_opened = false;
    std::shared_ptr<vfio_container> m_container;
    int m_container_users = 0;
};

} // namespace iommusim::vfio

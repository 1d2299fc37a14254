#include "sim/vfio/vfio_group.h"

#include "sim/vfio/vfio_container.h"

#include <linux/vfio.h>

#include <cerrno>
#include <cstring>

namespace iommusim::vfio {

long vfio_group::ioctl(unsigned long request, unsigned long arg, const fd_lookup& lookup) {
    switch (request) {
    case VFIO_GROUP_GET_STATUS: return get_status(arg);
    case VFIO_GROUP_SET_CONTAINER: return set_container(arg, lookup);
    case VFIO_GROUP_UNSET_CONTAINER: return unset_container();
    default: return -ENOTTY;
    }
}

// vfio_group_ioctl_get_status (v5.19+ rule): a group in a container is viable and set; otherwise viable
// exactly when no kernel driver has claimed DMA of the IOMMU group.
long vfio_group::get_status(unsigned long arg) {
    if (!arg) return -EFAULT;
    vfio_group_status status{};
    const size_t minsz = offsetof(vfio_group_status, flags) + sizeof(status.flags);
    std::memcpy(&status, reinterpret_cast<const void*>(arg), minsz);
    if (status.argsz < minsz) return -EINVAL;
    status.flags = 0;
    if (!m_host.group(m_id)) return -ENODEV;
    if (m_container) status.flags |= VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET;
    else if (m_host.group_viable(m_id)) status.flags |= VFIO_GROUP_FLAGS_VIABLE;
    std::memcpy(reinterpret_cast<void*>(arg), &status, minsz);
    return 0;
}

// vfio_group_ioctl_set_container + vfio_container_attach_group.
long vfio_group::set_container(unsigned long arg, const fd_lookup& lookup) {
    if (!arg) return -EFAULT;
    int fd;
    std::memcpy(&fd, reinterpret_cast<const void*>(arg), sizeof fd);
    bool open = false;
    std::shared_ptr<vfio_container> c = lookup(fd, open);
    if (!open) return -EBADF;
    if (m_container) return -EINVAL;
    if (!m_host.group(m_id)) return -ENODEV;
    if (!c) return -EINVAL;  // neither a container (nor, in 6.1 with iommufd off, an iommufd)
    // iommu_group_claim_dma_owner: -EPERM while a kernel DMA driver is bound in the IOMMU group.
    if (int rc = m_host.claim_dma_owner(m_id, this)) return rc;
    if (int rc = c->attach_group(*this)) {
        m_host.release_dma_owner(m_id, this);
        return rc;
    }
    m_container = std::move(c);
    m_container_users = 1;
    return 0;
}

long vfio_group::unset_container() {
    if (!m_container) return -EINVAL;
    if (m_container_users != 1) return -EBUSY;  // device fds are open
    detach_container();
    return 0;
}

void vfio_group::detach_container() {
    if (!m_container) return;
    m_container->detach_group(*this);
    m_host.release_dma_owner(m_id, this);
    m_container.reset();
    m_container_users = 0;
}

int vfio_group::use_container() {
    if (!m_container || !m_container->iommu_set() || m_container_users == 0) return -EINVAL;
    ++m_container_users;
    return 0;
}

} // namespace iommusim::vfio

// The VFIO subsystem as one process sees it: the /dev/vfio nodes (vfio for a new container, <N> for the
// VFIO group of IOMMU group N), an fd table with the kernel's lowest-free numbering from 3, and the ioctl
// dispatch by fd kind (request numbers overlap between container, group and device fds). Reference
// counting as Linux 6.1 does it: device fds hold the group's file, groups hold their container, so a
// container lives on after its fd is closed while groups use it, and a group is released only when its
// fd and every device fd are closed.
//
//   vfio_core v(host, mm);
//   int c = v.open("/dev/vfio/vfio", O_RDWR);
//   int g = v.open("/dev/vfio/7", O_RDWR);
//   v.ioctl(g, VFIO_GROUP_SET_CONTAINER, (unsigned long)&c);   // 0 or -errno
#pragma once
#include "sim/vfio/vfio_container.h"
#include "sim/vfio/vfio_device.h"
#include "sim/vfio/vfio_group.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace iommusim::vfio {

enum class fd_kind { container, group, device };

class vfio_core {
public:
    vfio_core(vfio_host& host, vfio_mm& mm, vfio_options options = {});
    ~vfio_core();

    // open(2) of a /dev/vfio node: the new fd, or -ENOENT (no such node), -EBUSY (group already open).
    int open(const std::string& path, int flags);
    // close(2): 0 or -EBADF.
    int close(int fd);
    // ioctl(2): the request's result (>= 0) or -errno; -EBADF for an fd that is not open.
    long ioctl(int fd, unsigned long request, unsigned long arg);
    // pread(2)/pwrite(2) on a device fd (region index << 40 | offset): bytes or -errno (-EBADF for an fd
    // that is not open, -EINVAL for one that is not a device).
    long rw(int fd, void* buf, u64 count, u64 offset, bool write);
    // The host vectors of vfio-pci's MSI/MSI-X: the interrupt controller's arrivals go to deliver().
    vfio_pci_irq_router& irq_router() { return m_irq_router; }
    // The interrupt controller received a message (after interrupt remapping): its vector goes to the
    // router; true when a user's eventfd was signalled.
    bool deliver_interrupt(u8 vector) { return m_irq_router.deliver(vector); }
    // The INTx line of device `name` (dev_name) changed level at the interrupt controller: the device's
    // vfio-pci handler runs while it is open (the level is remembered for a later open).
    void intx_line(const std::string& name, bool level);
    // The kernel runs: every open device's unmask irqfd is looked at (a user's write to it unmasks INTx;
    // the real kernel's virqfd wakes on the write, here the machine calls this before it acts).
    void poll_irqfds();
    std::shared_ptr<vfio_device> device(const std::string& name) const;

    std::optional<fd_kind> kind(int fd) const;
    vfio_container* container_of_fd(int fd) const;  // the container behind a container fd
    vfio_group* group(int id) const;                // a VFIO group that has been opened
    // Whether /dev/vfio/<id> exists: an IOMMU group with a member bound to a VFIO driver.
    bool group_node_exists(int id) const;
    vfio_options& options() { return m_options; }
    // Every live container (held by an fd or by a group), for observers such as the C API's DMA.
    std::vector<const vfio_container*> containers() const;
    // The process's memory preregistered for IOMMU use (sPAPR v2 REGISTER_MEMORY; KVM's TCE hypercalls look
    // it up).
    mm_iommu_regions& mm_iommu() { return *m_prereg; }
    // Whether a device fd of this device (dev_name) is open: vfio-pci's remove would wait for it.
    bool device_open(const std::string& name) const;

private:
    struct fd_entry {
        fd_kind kind;
        std::shared_ptr<vfio_container> container;
        std::shared_ptr<vfio_group> group;
        std::shared_ptr<vfio_device> device;
    };

    int alloc_fd();
    long get_device_fd(const std::shared_ptr<vfio_group>& g, unsigned long arg);
    void put_group_file(vfio_group& g);  // the last reference releases the group (vfio_group_fops_release)

    vfio_host& m_host;
    vfio_mm& m_mm;
    vfio_options m_options;
    std::unique_ptr<mm_iommu_regions> m_prereg;  // outlives the containers, which drop their regions
    vfio_pci_irq_router m_irq_router;  // before the devices: they free their vectors into it
    std::map<int, fd_entry> m_fds;
    std::map<int, std::shared_ptr<vfio_group>> m_groups;
    std::map<int, int> m_group_file_refs;  // group fd + device fds of each group
    std::map<std::string, std::shared_ptr<vfio_device>> m_devices;
    std::map<std::string, bool> m_intx_levels;
    std::vector<std::weak_ptr<vfio_container>> m_containers;
};

} // namespace iommusim::vfio

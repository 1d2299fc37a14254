#include "sim/vfio/vfio_core.h"

#include "sim/host/iommu_groups.h"
#include "sim/host/pci_dev.h"

#include <linux/vfio.h>

#include <cerrno>
#include <cstring>

namespace iommusim::vfio {

namespace {
constexpr int FIRST_FD = 3;  // 0..2 are stdin, stdout and stderr
constexpr size_t NAME_MAX_LEN = 4096;  // strndup_user(arg, PAGE_SIZE)
} // namespace

vfio_core::vfio_core(vfio_host& host, vfio_mm& mm, vfio_options options)
    : m_host(host), m_mm(mm), m_options(options), m_prereg(std::make_unique<mm_iommu_regions>(mm)) {}

vfio_core::~vfio_core() {
    // Process exit: every fd closed, devices first so the groups' files can be released.
    for (auto kind : {fd_kind::device, fd_kind::group, fd_kind::container})
        for (auto it = m_fds.begin(); it != m_fds.end();) {
            auto next = std::next(it);
            if (it->second.kind == kind) close(it->first);
            it = next;
        }
}

int vfio_core::alloc_fd() {
    int fd = FIRST_FD;
    for (const auto& [n, e] : m_fds) {
        if (n != fd) break;
        ++fd;
    }
    return fd;
}

bool vfio_core::group_node_exists(int id) const {
    const host::iommu_group* g = m_host.group(id);
    if (!g) return false;
    for (const host::pci_dev* d : g->devices)
        if (m_host.is_vfio_device(*d)) return true;
    return false;
}

int vfio_core::open(const std::string& path, int flags) {
    (void)flags;
    static const std::string dir = "/dev/vfio/";
    if (path.compare(0, dir.size(), dir) != 0) return -ENOENT;
    const std::string node = path.substr(dir.size());
    if (node == "vfio") {
        const int fd = alloc_fd();
        auto c = std::make_shared<vfio_container>(m_host, m_mm, m_options, m_prereg.get());
        m_containers.push_back(c);
        m_fds[fd] = fd_entry{fd_kind::container, c, {}, {}};
        return fd;
    }
    if (node.empty() || node.find_first_not_of("0123456789") != std::string::npos || node.size() > 9) return -ENOENT;
    const int id = std::stoi(node);
    // vfio_group_fops_open: a second open of the same group is refused.
    auto it = m_groups.find(id);
    if (it != m_groups.end() && it->second->opened()) return -EBUSY;
    if (!group_node_exists(id)) return -ENOENT;
    if (it == m_groups.end()) it = m_groups.emplace(id, std::make_shared<vfio_group>(m_host, id)).first;
    it->second->set_opened(true);
    ++m_group_file_refs[id];
    const int fd = alloc_fd();
    m_fds[fd] = fd_entry{fd_kind::group, {}, it->second, {}};
    return fd;
}

void vfio_core::put_group_file(vfio_group& g) {
    if (--m_group_file_refs[g.id()] > 0) return;
    // vfio_group_fops_release: leave the container, let the next opener in.
    g.detach_container();
    g.set_opened(false);
}

int vfio_core::close(int fd) {
    auto it = m_fds.find(fd);
    if (it == m_fds.end()) return -EBADF;
    fd_entry e = std::move(it->second);
    m_fds.erase(it);
    switch (e.kind) {
    case fd_kind::container: break;  // groups keep the container alive through their references
    case fd_kind::group: put_group_file(*e.group); break;
    case fd_kind::device:
        // vfio_device_fops_release: close_device on the last open, drop the container use and the group file.
        e.device->close();
        e.group->unuse_container();
        put_group_file(*e.group);
        break;
    }
    return 0;
}

long vfio_core::ioctl(int fd, unsigned long request, unsigned long arg) {
    auto it = m_fds.find(fd);
    if (it == m_fds.end()) return -EBADF;
    fd_entry& e = it->second;
    switch (e.kind) {
    case fd_kind::container: return e.container->ioctl(request, arg);
    case fd_kind::group: {
        if (request == VFIO_GROUP_GET_DEVICE_FD) return get_device_fd(e.group, arg);
        auto lookup = [this](int cfd, bool& open) -> std::shared_ptr<vfio_container> {
            auto f = m_fds.find(cfd);
            open = f != m_fds.end();
            return open && f->second.kind == fd_kind::container ? f->second.container : nullptr;
        };
        return e.group->ioctl(request, arg, lookup);
    }
    case fd_kind::device: {
        // HOT_RESET's group fds: open (-EBADF) and VFIO group files (-EINVAL).
        auto lookup = [this](int gfd, int& group) {
            auto f = m_fds.find(gfd);
            if (f == m_fds.end()) return -EBADF;
            if (f->second.kind != fd_kind::group) return -EINVAL;
            group = f->second.group->id();
            return 0;
        };
        return e.device->ioctl(request, arg, lookup);
    }
    }
    return -ENOTTY;
}

// vfio_group_ioctl_get_device_fd: the name first (-ENODEV), then the container and its backend (-EINVAL).
long vfio_core::get_device_fd(const std::shared_ptr<vfio_group>& g, unsigned long arg) {
    if (!arg) return -EFAULT;
    const char* s = reinterpret_cast<const char*>(arg);
    const std::string name(s, strnlen(s, NAME_MAX_LEN));
    const host::iommu_group* ig = m_host.group(g->id());
    const host::pci_dev* found = nullptr;
    if (ig)
        for (const host::pci_dev* d : ig->devices)
            if (d->name() == name && m_host.is_vfio_device(*d)) found = d;
    if (!found) return -ENODEV;
    if (int rc = g->use_container()) return rc;
    auto& dev = m_devices[name];
    if (!dev) {
        dev = std::make_shared<vfio_device>(*found, g->id(), &m_host, &m_irq_router, m_options.nointxmask);
        dev->set_intx_line(m_intx_levels[name]);
    }
    dev->open();
    ++m_group_file_refs[g->id()];
    const int fd = alloc_fd();
    m_fds[fd] = fd_entry{fd_kind::device, {}, g, dev};
    return fd;
}

long vfio_core::rw(int fd, void* buf, u64 count, u64 offset, bool write) {
    auto it = m_fds.find(fd);
    if (it == m_fds.end()) return -EBADF;
    if (it->second.kind != fd_kind::device) return -EINVAL;  // container and group files have no read/write
    return it->second.device->rw(buf, count, offset, write);
}

void vfio_core::intx_line(const std::string& name, bool level) {
    m_intx_levels[name] = level;
    if (auto d = device(name)) d->set_intx_line(level);
}

void vfio_core::poll_irqfds() {
    for (auto& [name, d] : m_devices)
        if (d->open_count() > 0 && d->irqs()) d->irqs()->poll_unmask();
}

std::shared_ptr<vfio_device> vfio_core::device(const std::string& name) const {
    auto it = m_devices.find(name);
    return it == m_devices.end() ? nullptr : it->second;
}

std::optional<fd_kind> vfio_core::kind(int fd) const {
    auto it = m_fds.find(fd);
    if (it == m_fds.end()) return std::nullopt;
    return it->second.kind;
}

vfio_container* vfio_core::container_of_fd(int fd) const {
    auto it = m_fds.find(fd);
    return it != m_fds.end() && it->second.kind == fd_kind::container ? it->second.container.get() : nullptr;
}

vfio_group* vfio_core::group(int id) const {
    auto it = m_groups.find(id);
    return it == m_groups.end() ? nullptr : it->second.get();
}

std::vector<const vfio_container*> vfio_core::containers() const {
    std::vector<const vfio_container*> out;
    for (const auto& w : m_containers)
        if (auto c = w.lock()) out.push_back(c.get());
    return out;
}

bool vfio_core::device_open(const std::string& name) const {
    auto it = m_devices.find(name);
    return it != m_devices.end() && it->second->open_count() > 0;
}

} // namespace iommusim::vfio

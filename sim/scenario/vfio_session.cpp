#include "sim/scenario/vfio_session.h"

#include "sim/host/driver/driver_binding.h"
#include "sim/host/iommu/iommu_types.h"
#include "sim/host/kernel.h"
#include "sim/host/pci_host_ops.h"
#include "sim/host/process/process_mm.h"
#include "sim/memory/page_allocator.h"
#include "sim/vfio/vfio_core.h"
#include "sim/vfio/vfio_kernel_host.h"
#include "sim/vfio/vfio_pin_pages.h"
#include "sim/vfio/vfio_process_mm.h"
#include "sim/vmm/spapr_vmm.h"

#include <fmt/format.h>
#include <linux/vfio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace iommusim::scenario {

namespace {
constexpr u64 PAGE = 4096;

std::string errno_text(long e) { return e == 0 ? "0" : fmt::format("-{} ({})", e, std::strerror(int(e))); }

} // namespace

vfio_session::vfio_session(host::kernel& k, host::pci_host_ops& ops, const vfio_process_options& options)
    : m_kernel(k), m_options(options) {
    m_pages = std::make_unique<memory::page_allocator>(user_memory_base, user_memory_size);
    m_mm = std::make_unique<host::process_mm>(*m_pages, options.memlock, options.cap_ipc_lock);
    m_mm->set_memory([&ops](u64 a, void* d, u64 l) { return ops.memory_read(a, d, l); },
                     [&ops](u64 a, const void* d, u64 l) { return ops.memory_write(a, d, l); });
    m_host = std::make_unique<vfio::kernel_vfio_host>(k, k.drivers());
    m_vmm = std::make_unique<vfio::process_vfio_mm>(*m_mm);
    vfio::vfio_options vo;
    vo.type1.allow_unsafe_interrupts = options.allow_unsafe_interrupts;
    vo.nointxmask = options.nointxmask;
    m_core = std::make_unique<vfio::vfio_core>(*m_host, *m_vmm, vo);
    // vfio-pci's remove waits for the user to close the device; a scenario cannot wait: refused.
    k.drivers().set_vfio_hooks({nullptr, [this](host::pci_dev& d) { return m_core->device_open(d.name()) ? -EBUSY : 0; }});
}

vfio_session::~vfio_session() {
    m_kernel.drivers().set_vfio_hooks({});
    m_guest.reset(); // the VMM's fds close first, as QEMU's do when it exits
    m_vendors.clear();
    m_core.reset();
    for (const auto& [name, fd] : m_eventfds) ::close(fd);
    m_vmm.reset();
    m_host.reset();
    m_mm.reset();
}

int vfio_session::fd(const std::string& name, bool container, step_result& out) const {
    const auto& m = container ? m_containers : m_groups;
    auto it = m.find(name);
    if (it != m.end()) return it->second;
    fail(out, fmt::format("no {} \"{}\" is open (a vfio_open_{} step opens it)", container ? "container" : "group", name,
                          container ? "container" : "group"));
    return -1;
}

const vfio_session::buffer* vfio_session::find_buffer(const std::string& name, step_result& out) const {
    auto it = m_buffers.find(name);
    if (it != m_buffers.end()) return &it->second;
    fail(out, fmt::format("no process buffer \"{}\" (a process_alloc step makes it)", name));
    return nullptr;
}

bool vfio_session::check(const vfio_step& s, const std::string& what, long rc, step_result& out) const {
    const long got = rc < 0 ? -rc : 0;
    if (got != s.expect_errno) {
        fail(out, fmt::format("{}: returned {}, expected {}", what, rc < 0 ? errno_text(got) : std::to_string(rc),
                              errno_text(s.expect_errno)));
        return false;
    }
    out.messages.push_back(fmt::format("{}: {}", what, rc < 0 ? errno_text(got) : std::to_string(rc)));
    return rc >= 0;
}

void vfio_session::run(const vfio_step& s, step_result& out) {
    auto io = [&](int f, unsigned long req, const void* arg) {
        return m_core->ioctl(f, req, reinterpret_cast<unsigned long>(arg));
    };
    switch (s.op) {
    case vfio_op::bind: {
        const int rc = m_kernel.drivers().bind(*s.device, s.driver);
        check(s, fmt::format("bind {} to {}", s.device->str(), s.driver), rc, out);
        return;
    }
    case vfio_op::process_alloc: {
        if (m_buffers.count(s.buffer)) return fail(out, fmt::format("buffer \"{}\" exists already", s.buffer));
        const u64 va = m_mm->mmap_anon(s.size, s.huge, s.prot & 2);
        if (!va) return fail(out, fmt::format("mmap of {:#x} bytes failed (ENOMEM)", s.size));
        m_buffers[s.buffer] = {va, s.size};
        out.messages.push_back(fmt::format("buffer \"{}\" at vaddr {:#x}, {:#x} bytes", s.buffer, va, s.size));
        return;
    }
    case vfio_op::write_process_memory:
    case vfio_op::expect_process_memory: return process_memory(s, out);
    case vfio_op::open_container: {
        if (m_containers.count(s.container)) return fail(out, fmt::format("container \"{}\" is open already", s.container));
        const int f = m_core->open("/dev/vfio/vfio", O_RDWR);
        if (check(s, "open /dev/vfio/vfio", f, out)) m_containers[s.container] = f;
        return;
    }
    case vfio_op::open_group: {
        if (m_groups.count(s.group)) return fail(out, fmt::format("group \"{}\" is open already", s.group));
        const host::iommu_group* g = m_kernel.group_of(*s.device);
        if (!g) return fail(out, fmt::format("{} has no IOMMU group", s.device->str()));
        const std::string path = fmt::format("/dev/vfio/{}", g->id);
        const int f = m_core->open(path, O_RDWR);
        if (check(s, "open " + path, f, out)) m_groups[s.group] = f;
        return;
    }
    case vfio_op::close: {
        if (s.device) {
            const int f = device_fd(*s.device, out);
            if (f < 0) return;
            m_core->close(f);
            m_device_fds.erase(*s.device);
            return;
        }
        const bool container = !s.container.empty();
        const int f = fd(container ? s.container : s.group, container, out);
        if (f < 0) return;
        m_core->close(f);
        (container ? m_containers : m_groups).erase(container ? s.container : s.group);
        return;
    }
    case vfio_op::group_status: {
        const int g = fd(s.group, false, out);
        if (g < 0) return;
        vfio_group_status st{sizeof st, 0};
        if (!check(s, "VFIO_GROUP_GET_STATUS", io(g, VFIO_GROUP_GET_STATUS, &st), out)) return;
        const bool viable = st.flags & VFIO_GROUP_FLAGS_VIABLE, set = st.flags & VFIO_GROUP_FLAGS_CONTAINER_SET;
        out.messages.push_back(fmt::format("flags {:#x}: {}viable, container {}set", st.flags, viable ? "" : "not ",
                                           set ? "" : "not "));
        if (s.viable && *s.viable != viable) fail(out, fmt::format("expected the group {}viable", *s.viable ? "" : "not "));
        if (s.container_set && *s.container_set != set)
            fail(out, fmt::format("expected the container {}set", *s.container_set ? "" : "not "));
        return;
    }
    case vfio_op::set_container: {
        const int g = fd(s.group, false, out), c = fd(s.container, true, out);
        if (g >= 0 && c >= 0) check(s, "VFIO_GROUP_SET_CONTAINER", io(g, VFIO_GROUP_SET_CONTAINER, &c), out);
        return;
    }
    case vfio_op::unset_container: {
        const int g = fd(s.group, false, out);
        if (g >= 0) check(s, "VFIO_GROUP_UNSET_CONTAINER", m_core->ioctl(g, VFIO_GROUP_UNSET_CONTAINER, 0), out);
        return;
    }
    case vfio_op::set_iommu: {
        const int c = fd(s.container, true, out);
        const unsigned long type = s.type == "type1"      ? VFIO_TYPE1_IOMMU
                                   : s.type == "spapr"    ? VFIO_SPAPR_TCE_IOMMU
                                   : s.type == "spapr_v2" ? VFIO_SPAPR_TCE_v2_IOMMU
                                                          : VFIO_TYPE1v2_IOMMU;
        if (c >= 0) check(s, "VFIO_SET_IOMMU " + s.type, m_core->ioctl(c, VFIO_SET_IOMMU, type), out);
        return;
    }
    case vfio_op::map_dma: {
        const int c = fd(s.container, true, out);
        const buffer* b = find_buffer(s.buffer, out);
        if (c < 0 || !b) return;
        vfio_iommu_type1_dma_map m{};
        m.argsz = sizeof m;
        m.flags = ((s.prot & 1) ? VFIO_DMA_MAP_FLAG_READ : 0) | ((s.prot & 2) ? VFIO_DMA_MAP_FLAG_WRITE : 0);
        m.vaddr = b->vaddr + s.offset;
        m.iova = s.iova;
        m.size = s.size;
        check(s, fmt::format("VFIO_IOMMU_MAP_DMA iova {:#x} size {:#x} vaddr {:#x}", s.iova, s.size, m.vaddr),
              io(c, VFIO_IOMMU_MAP_DMA, &m), out);
        out.messages.push_back(fmt::format("locked_vm {:#x} of RLIMIT_MEMLOCK {:#x}", m_mm->locked_vm(), m_mm->memlock_limit()));
        return;
    }
    case vfio_op::unmap_dma: {
        const int c = fd(s.container, true, out);
        if (c >= 0) unmap_dma(s, c, out);
        return;
    }
    case vfio_op::get_device_fd: {
        const int g = fd(s.group, false, out);
        if (g < 0) return;
        const std::string name = s.device->str();
        const long f = m_core->ioctl(g, VFIO_GROUP_GET_DEVICE_FD, reinterpret_cast<unsigned long>(name.c_str()));
        if (check(s, "VFIO_GROUP_GET_DEVICE_FD " + name, f, out)) {
            if (m_device_fds.count(*s.device)) m_core->close(m_device_fds[*s.device]);  // the scenario keeps the last
            m_device_fds[*s.device] = int(f);
        }
        return;
    }
    case vfio_op::eventfd:
    case vfio_op::expect_eventfd: return eventfd_step(s, out);
    case vfio_op::set_irqs:
    case vfio_op::irq_info:
    case vfio_op::region_read:
    case vfio_op::region_write: {
        const int f = device_fd(*s.device, out);
        if (f < 0) return;
        if (s.op == vfio_op::set_irqs) set_irqs(s, f, out);
        else if (s.op == vfio_op::irq_info) irq_info(s, f, out);
        else region(s, f, out);
        return;
    }
    case vfio_op::device_interrupt: {
        if (!m_device_irq) return fail(out, "this machine cannot make devices raise interrupts");
        const int rc = m_device_irq(*s.device, s.irq, s.vector);
        if (rc == -ENODEV) return fail(out, fmt::format("{} cannot raise interrupts (is it a \"dma_engine\"?)", s.device->str()));
        const std::string what = s.irq == "msi" || s.irq == "msix" ? fmt::format("{} vector {}", s.irq, s.vector) : s.irq;
        out.messages.push_back(fmt::format("{} {}: {}", s.device->str(), what, rc == 0 ? "sent" : "not sent"));
        if ((rc == 0) != s.expect_sent) fail(out, fmt::format("expected the interrupt to be {}", s.expect_sent ? "sent" : "refused"));
        return;
    }
    case vfio_op::dirty_pages: {
        const int c = fd(s.container, true, out);
        if (c < 0) return;
        vfio_iommu_type1_dirty_bitmap d{};
        d.argsz = sizeof d;
        d.flags = s.action == "start" ? VFIO_IOMMU_DIRTY_PAGES_FLAG_START : VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP;
        check(s, "VFIO_IOMMU_DIRTY_PAGES " + s.action, io(c, VFIO_IOMMU_DIRTY_PAGES, &d), out);
        return;
    }
    case vfio_op::dirty_bitmap: {
        const int c = fd(s.container, true, out);
        if (c >= 0) dirty_bitmap(s, c, out);
        return;
    }
    case vfio_op::pin_pages:
    case vfio_op::unpin_pages: return pin(s, out);
    case vfio_op::guest_create:
    case vfio_op::guest_hcall:
    case vfio_op::guest_rtas: return guest(s, out);
    default: return spapr(s, out);
    }
}

void vfio_session::process_memory(const vfio_step& s, step_result& out) {
    const buffer* b = find_buffer(s.buffer, out);
    if (!b) return;
    if (s.offset + s.size > b->len)
        return fail(out, fmt::format("[{:#x}, {:#x}) lies beyond buffer \"{}\" ({:#x} bytes)", s.offset, s.offset + s.size,
                                     s.buffer, b->len));
    std::vector<unsigned char> buf(size_t(s.size));
    if (s.op == vfio_op::write_process_memory) {
        for (size_t i = 0; i < buf.size(); ++i) buf[i] = u8(s.pattern >> (8 * (i & 3)));
        if (int rc = m_mm->write(b->vaddr + s.offset, buf.data(), s.size)) fail(out, "the process write faulted: " + errno_text(-rc));
        return;
    }
    if (int rc = m_mm->read(b->vaddr + s.offset, buf.data(), s.size)) return fail(out, "the process read faulted: " + errno_text(-rc));
    for (size_t i = 0; i < buf.size(); ++i) {
        const u8 want = u8(s.pattern >> (8 * (i & 3)));
        if (buf[i] != want)
            return fail(out, fmt::format("\"{}\" + {:#x} holds {:#04x}, expected {:#04x}", s.buffer, s.offset + i, buf[i], want));
    }
}

void vfio_session::unmap_dma(const vfio_step& s, int c, step_result& out) {
    std::vector<u64> bits(size_t((s.size / PAGE + 63) / 64), 0);
    alignas(8) unsigned char arg[sizeof(vfio_iommu_type1_dma_unmap) + sizeof(vfio_bitmap)] = {};
    vfio_iommu_type1_dma_unmap u{};
    u.argsz = s.get_dirty_bitmap ? sizeof arg : sizeof u;
    u.flags = s.get_dirty_bitmap ? VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP : 0;
    u.iova = s.iova;
    u.size = s.size;
    vfio_bitmap b{};
    b.pgsize = PAGE;
    b.size = bits.size() * 8;
    b.data = reinterpret_cast<__u64*>(bits.data());
    std::memcpy(arg, &u, sizeof u);
    std::memcpy(arg + sizeof u, &b, sizeof b);
    const long rc = m_core->ioctl(c, VFIO_IOMMU_UNMAP_DMA, reinterpret_cast<unsigned long>(arg));
    std::memcpy(&u, arg, sizeof u);
    if (!check(s, fmt::format("VFIO_IOMMU_UNMAP_DMA iova {:#x} size {:#x}", s.iova, s.size), rc, out)) return;
    out.messages.push_back(fmt::format("{:#x} bytes unmapped", u.size));
    if (s.expect_unmapped && u.size != *s.expect_unmapped)
        fail(out, fmt::format("{:#x} bytes unmapped, expected {:#x}", u.size, *s.expect_unmapped));
    if (s.get_dirty_bitmap) check_dirty(s, bits, out);
}

void vfio_session::dirty_bitmap(const vfio_step& s, int c, step_result& out) {
    std::vector<u64> bits(size_t((s.size / PAGE + 63) / 64), 0);
    alignas(8) unsigned char arg[sizeof(vfio_iommu_type1_dirty_bitmap) + sizeof(vfio_iommu_type1_dirty_bitmap_get)] = {};
    vfio_iommu_type1_dirty_bitmap head{};
    head.argsz = sizeof arg;
    head.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
    vfio_iommu_type1_dirty_bitmap_get get{};
    get.iova = s.iova;
    get.size = s.size;
    get.bitmap.pgsize = PAGE;
    get.bitmap.size = bits.size() * 8;
    get.bitmap.data = reinterpret_cast<__u64*>(bits.data());
    std::memcpy(arg, &head, sizeof head);
    std::memcpy(arg + sizeof head, &get, sizeof get);
    const long rc = m_core->ioctl(c, VFIO_IOMMU_DIRTY_PAGES, reinterpret_cast<unsigned long>(arg));
    if (check(s, fmt::format("VFIO_IOMMU_DIRTY_PAGES get bitmap iova {:#x} size {:#x}", s.iova, s.size), rc, out))
        check_dirty(s, bits, out);
}

void vfio_session::check_dirty(const vfio_step& s, const std::vector<u64>& bits, step_result& out) const {
    // The dirty pages as ranges, for the report and the comparison.
    std::vector<std::pair<u64, u64>> got;
    const u64 npages = s.size / PAGE;
    for (u64 p = 0; p < npages; ++p) {
        if (!((bits[size_t(p / 64)] >> (p % 64)) & 1)) continue;
        const u64 a = s.iova + p * PAGE;
        if (!got.empty() && got.back().first + got.back().second == a) got.back().second += PAGE;
        else got.emplace_back(a, PAGE);
    }
    std::string text;
    for (const auto& [a, n] : got) text += fmt::format("{}[{:#x}, {:#x})", text.empty() ? "" : " ", a, a + n);
    out.messages.push_back("dirty: " + (text.empty() ? std::string("none") : text));
    if (!s.expect_dirty) return;
    // Normalise the expectation the same way (sorted, adjacent ranges merged).
    std::vector<std::pair<u64, u64>> want = *s.expect_dirty;
    std::sort(want.begin(), want.end());
    std::vector<std::pair<u64, u64>> merged;
    for (const auto& r : want) {
        if (!merged.empty() && merged.back().first + merged.back().second >= r.first)
            merged.back().second = std::max(merged.back().first + merged.back().second, r.first + r.second) - merged.back().first;
        else merged.push_back(r);
    }
    if (merged != got) fail(out, "the dirty pages differ from expect_dirty");
}

int vfio_session::device_fd(const bdf& b, step_result& out) const {
    auto it = m_device_fds.find(b);
    if (it != m_device_fds.end()) return it->second;
    fail(out, fmt::format("no device fd of {} is open (a vfio_get_device_fd step opens it)", b.str()));
    return -1;
}

void vfio_session::eventfd_step(const vfio_step& s, step_result& out) {
    if (s.op == vfio_op::eventfd) {
        if (m_eventfds.count(s.eventfd)) return fail(out, fmt::format("eventfd \"{}\" exists already", s.eventfd));
        const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (fd < 0) return fail(out, fmt::format("eventfd(2) failed: {}", errno_text(errno)));
        m_eventfds[s.eventfd] = fd;
        out.messages.push_back(fmt::format("eventfd \"{}\" is fd {}", s.eventfd, fd));
        return;
    }
    auto it = m_eventfds.find(s.eventfd);
    if (it == m_eventfds.end()) return fail(out, fmt::format("no eventfd \"{}\" (an eventfd step makes it)", s.eventfd));
    u64 n = 0;
    if (::read(it->second, &n, sizeof n) != sizeof n) n = 0;  // EAGAIN: the counter is 0
    out.messages.push_back(fmt::format("eventfd \"{}\": {}", s.eventfd, n));
    if (n != s.expect_count) fail(out, fmt::format("eventfd \"{}\" counted {}, expected {}", s.eventfd, n, s.expect_count));
}

void vfio_session::set_irqs(const vfio_step& s, int fd, step_result& out) {
    std::vector<u8> payload;
    std::string shown;
    for (const auto& r : s.eventfds) {
        std::int32_t f = r.raw;
        if (!r.name.empty()) {
            auto it = m_eventfds.find(r.name);
            if (it == m_eventfds.end()) return fail(out, fmt::format("no eventfd \"{}\"", r.name));
            f = it->second;
        }
        const auto* b = reinterpret_cast<const u8*>(&f);
        payload.insert(payload.end(), b, b + sizeof f);
        shown += fmt::format("{}{}", shown.empty() ? "" : ",", f);
    }
    for (u8 b : s.bools) {
        payload.push_back(b);
        shown += fmt::format("{}{}", shown.empty() ? "" : ",", unsigned(b));
    }
    std::vector<u8> buf(sizeof(vfio_irq_set) + payload.size());
    auto* h = reinterpret_cast<vfio_irq_set*>(buf.data());
    h->argsz = s.argsz.value_or(u32(buf.size()));
    h->flags = s.irq_flags;
    h->index = s.irq_index;
    h->start = s.start;
    h->count = s.count;
    if (!payload.empty()) std::memcpy(buf.data() + sizeof(vfio_irq_set), payload.data(), payload.size());
    const long rc = m_core->ioctl(fd, VFIO_DEVICE_SET_IRQS, reinterpret_cast<unsigned long>(buf.data()));
    check(s, fmt::format("VFIO_DEVICE_SET_IRQS index {} flags {:#x} start {} count {}{}", s.irq_index, s.irq_flags,
                         s.start, s.count, shown.empty() ? "" : " [" + shown + "]"), rc, out);
}

void vfio_session::irq_info(const vfio_step& s, int fd, step_result& out) {
    vfio_irq_info ii{};
    ii.argsz = sizeof ii;
    ii.index = s.irq_index;
    const long rc = m_core->ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, reinterpret_cast<unsigned long>(&ii));
    if (!check(s, fmt::format("VFIO_DEVICE_GET_IRQ_INFO index {}", s.irq_index), rc, out)) return;
    out.messages.push_back(fmt::format("flags {:#x} count {}", ii.flags, ii.count));
    if (s.expect_count != ~u64(0) && ii.count != s.expect_count)
        fail(out, fmt::format("count {}, expected {}", ii.count, s.expect_count));
    if (s.expect_flags && ii.flags != *s.expect_flags) fail(out, fmt::format("flags {:#x}, expected {:#x}", ii.flags, *s.expect_flags));
}

void vfio_session::region(const vfio_step& s, int fd, step_result& out) {
    const u64 pos = (u64(s.region) << 40) + s.offset;  // VFIO_PCI_INDEX_TO_OFFSET
    u64 v = s.op == vfio_op::region_write ? s.value : 0;
    const bool write = s.op == vfio_op::region_write;
    const long rc = m_core->rw(fd, &v, s.width, pos, write);
    if (!check(s, fmt::format("{} region {} offset {:#x} width {}{}", write ? "pwrite" : "pread", s.region, s.offset,
                              s.width, write ? fmt::format(" value {:#x}", s.value) : ""), rc, out))
        return;
    if (rc != long(s.width)) return fail(out, fmt::format("{} of {} bytes moved {}", write ? "pwrite" : "pread", s.width, rc));
    if (write) return;
    const u64 width_mask = s.width == 8 ? ~u64(0) : (u64(1) << (8 * s.width)) - 1;
    v &= width_mask;
    out.messages.push_back(fmt::format("read {:#x}", v));
    if (s.expect_value && (v & s.mask) != (*s.expect_value & s.mask))
        fail(out, fmt::format("read {:#x}, expected {:#x} (mask {:#x})", v & s.mask, *s.expect_value & s.mask, s.mask));
}

void vfio_session::pin(const vfio_step& s, step_result& out) {
    host::pci_dev* dev = m_kernel.find_mutable(*s.device);
    if (!dev) return fail(out, fmt::format("no device {} in this machine", s.device->str()));
    auto& vendor = m_vendors[*s.device];
    if (!vendor) vendor = std::make_unique<vfio::vendor_pinning>(*m_core, *m_host, *dev);
    // The vendor driver registered its dma_unmap callback when its device was opened.
    vendor->open();
    if (s.op == vfio_op::unpin_pages) {
        vendor->unpin(s.iova, s.npage);
        out.messages.push_back(fmt::format("vfio_unpin_pages iova {:#x} npage {}", s.iova, s.npage));
        return;
    }
    const int prot = ((s.prot & 1) ? host::IOMMU_READ : 0) | ((s.prot & 2) ? host::IOMMU_WRITE : 0);
    std::vector<u64> pfns;
    const long rc = vendor->pin(s.iova, s.npage, prot, &pfns);
    if (check(s, fmt::format("vfio_pin_pages iova {:#x} npage {}", s.iova, s.npage), rc, out) && !pfns.empty())
        out.messages.push_back(fmt::format("first page at phys {:#x}", pfns.front()));
}

} // namespace iommusim::scenario

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

#include <fmt/format.h>
#include <linux/vfio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>

namespace iommusim::scenario {

namespace {
constexpr u64 PAGE = 4096;

std::string errno_text(long e) { return e == 0 ? "0" : fmt::format("-{} ({})", e, std::strerror(int(e))); }

void fail(step_result& out, std::string message) {
    out.passed = false;
    out.messages.push_back(std::move(message));
}
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
    m_core = std::make_unique<vfio::vfio_core>(*m_host, *m_vmm, vo);
    // vfio-pci's remove waits for the user to close the device; a scenario cannot wait: refused.
    k.drivers().set_vfio_hooks({nullptr, [this](host::pci_dev& d) { return m_core->device_open(d.name()) ? -EBUSY : 0; }});
}

vfio_session::~vfio_session() {
    m_kernel.drivers().set_vfio_hooks({});
    m_vendors.clear();
    m_core.reset();
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
        const unsigned long type = s.type == "type1" ? VFIO_TYPE1_IOMMU : VFIO_TYPE1v2_IOMMU;
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
        check(s, "VFIO_GROUP_GET_DEVICE_FD " + name, m_core->ioctl(g, VFIO_GROUP_GET_DEVICE_FD,
                                                                   reinterpret_cast<unsigned long>(name.c_str())), out);
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

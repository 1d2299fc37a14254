// The machine behind the C API of include/iommusim/vfio.h: one booted machine (platform + simulated kernel), the VFIO core
// over it, and the simulated process whose memory iommusim_vaddr hands out.
//
// Process memory: iommusim_vaddr returns a host buffer (mmap) and creates a mapping of the same length
// in the simulated process (process_mm). MAP_DMA's vaddr is the host pointer; pinning translates it to the
// process mapping and gets physical pages of the machine's memory. The bytes live in the host buffer;
// iommusim_dma copies the pinned runs behind the IOVA range into system memory before the transaction and
// back after a device write, so the device really reads what the program wrote and the program sees what
// the device wrote (nothing else touches that memory between calls).
#include "sim/vfio/capi/capi_session.h"

#include "platforms/desc/platform_loader.h"
#include "platforms/platform.h"
#include "models/intc/msi_controller.h"
#include "models/pci/dma_engine.h"
#include "models/pci/pci_function.h"
#include "sim/core/bdf.h"
#include "sim/core/input_error.h"
#include "sim/host/driver/driver_binding.h"
#include "sim/host/kernel.h"
#include "sim/host/pci_topology.h"
#include "sim/host/process/process_mm.h"
#include "sim/host/tlm/tlm_host_ops.h"
#include "sim/memory/page_allocator.h"
#include "sim/scenario/platform_source.h"
#include "sim/scenario/scenario.h"
#include "sim/vfio/vfio_core.h"
#include "sim/vfio/vfio_kernel_host.h"
#include "sim/vfio/vfio_process_mm.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <linux/vfio.h>
#include <sys/mman.h>
#include <tlm>

using namespace iommusim;

namespace {
constexpr u64 USER_MEMORY_BASE = u64(1) << 32;   // the process's physical pages: 4 GiB..8 GiB,
constexpr u64 USER_MEMORY_SIZE = u64(4) << 30;   // above the MSI window, apart from the kernel's tables
constexpr u64 PAGE = 4096;
bool g_created = false;

struct buffer {
    unsigned char* host = nullptr;
    u64 sim = 0, len = 0;
};

int fail(int err) {
    errno = err;
    return -1;
}

bool env_flag(const char* name) {
    const char* v = std::getenv(name);
    return v && *v && std::strcmp(v, "0") != 0;
}
} // namespace

struct iommusim_session {
    platforms::platform_desc desc;
    host::kernel_options options;
    std::unique_ptr<host::tlm_machine> machine;
    std::unique_ptr<host::kernel> kernel;
    std::unique_ptr<memory::page_allocator> user_pages;
    std::unique_ptr<host::process_mm> mm;
    std::unique_ptr<vfio::kernel_vfio_host> vhost;
    std::unique_ptr<vfio::process_vfio_mm> vmm;
    std::unique_ptr<vfio::vfio_core> vfio;
    std::vector<buffer> buffers;

    std::optional<u64> translate(u64 vaddr, u64 len) const {
        for (const auto& b : buffers) {
            const u64 h = reinterpret_cast<u64>(b.host);
            if (vaddr >= h && vaddr - h < b.len && len <= b.len - (vaddr - h)) return b.sim + (vaddr - h);
        }
        return std::nullopt;
    }
};

namespace {
// A preset name, a platform JSON or a scenario JSON (an object with "platform" or "steps").
void load(iommusim_session& s, const std::string& ref) {
    std::ifstream in(ref);
    if (!in) {
        s.desc = platforms::load_preset(ref);
        return;
    }
    nlohmann::json j;
    in >> j;
    if (j.is_object() && (j.contains("steps") || j.contains("platform") || j.contains("host"))) {
        auto sc = scenario::load_scenario_file(ref);
        s.desc = sc.platform;
        s.options = sc.host;
        return;
    }
    s.desc = platforms::load_platform_file(ref);
}

host::pci_dev* device(iommusim_session* s, const char* name) {
    if (!s || !name) return nullptr;
    auto b = bdf::parse(name);
    return b ? s->kernel->find_mutable(*b) : nullptr;
}

// The platform's model of the device at dev (its requester ID on its segment), nullptr if none.
pci::pci_function* model_of(iommusim_session* s, const host::pci_dev& dev) {
    for (const auto& f : s->machine->platform().functions())
        if (f.model->requester_id() == dev.address().rid() &&
            s->machine->platform().root_complexes()[f.root].segment == dev.address().segment)
            return f.model;
    return nullptr;
}

// Interrupts into the VFIO core: every message the interrupt controller accepts (after remapping) goes to
// the host vectors vfio-pci bound to eventfds; every DMA engine's INTx line goes to its vfio-pci handler,
// as a sideband wire (no I/O APIC: each function's line is its own, never shared). on = false undoes it
// before the core goes.
void connect_interrupts(iommusim_session& s, bool on) {
    if (intc::msi_controller* ic = s.machine->platform().interrupt_controller()) {
        if (!on) ic->on_message(nullptr);
        else
            ic->on_message([&s](const intc::msi_record& r) {
                if (!r.msg.remappable_format) s.vfio->deliver_interrupt(r.msg.vector);  // not for the LAPICs
            });
    }
    for (const auto& f : s.machine->platform().functions()) {
        auto* e = dynamic_cast<pci::dma_engine*>(f.model);
        if (!e) continue;
        if (!on) {
            e->on_intx(nullptr);
            continue;
        }
        const u16 segment = s.machine->platform().root_complexes()[f.root].segment;
        e->on_intx([&s, e, segment](bool level) {
            const bdf b{segment, u8(e->requester_id() >> 8), e->devfn()};
            s.vfio->intx_line(b.str(), level);
        });
    }
}
} // namespace

iommusim_session* iommusim_session_create(const char* path) {
    if (g_created) {
        std::fprintf(stderr, "iommusim_create: one machine per process\n");
        errno = EBUSY;
        return nullptr;
    }
    auto s = std::make_unique<iommusim_session>();
    std::string ref = path ? path : "";
    if (ref.empty()) ref = std::getenv("IOMMUSIM_PLATFORM") ? std::getenv("IOMMUSIM_PLATFORM") : "dma-testbed";
    try {
        load(*s, ref);
        s->machine = std::make_unique<host::tlm_machine>(s->desc);
        g_created = true;
        s->kernel = std::make_unique<host::kernel>(s->machine->ops(), s->options);
        s->kernel->boot();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "iommusim_create(%s): %s\n", ref.c_str(), e.what());
        errno = EINVAL;
        return nullptr;
    }
    u64 memlock = 8 << 20;
    if (const char* m = std::getenv("IOMMUSIM_MEMLOCK"))
        memlock = std::strcmp(m, "unlimited") == 0 ? host::process_mm::rlim_infinity : std::strtoull(m, nullptr, 0);
    s->user_pages = std::make_unique<memory::page_allocator>(USER_MEMORY_BASE, USER_MEMORY_SIZE);
    s->mm = std::make_unique<host::process_mm>(*s->user_pages, memlock, env_flag("IOMMUSIM_CAP_IPC_LOCK"));
    s->vhost = std::make_unique<vfio::kernel_vfio_host>(*s->kernel, s->kernel->drivers());
    iommusim_session* raw = s.get();
    s->vmm = std::make_unique<vfio::process_vfio_mm>(*s->mm, [raw](u64 v, u64 l) { return raw->translate(v, l); });
    vfio::vfio_options vo;
    vo.type1.allow_unsafe_interrupts = env_flag("IOMMUSIM_ALLOW_UNSAFE_INTERRUPTS");
    vo.nointxmask = env_flag("IOMMUSIM_NOINTXMASK");
    s->vfio = std::make_unique<vfio::vfio_core>(*s->vhost, *s->vmm, vo);
    // vfio-pci's remove waits for the user to close the device; here an open device refuses the unbind.
    s->kernel->drivers().set_vfio_hooks({nullptr, [raw](host::pci_dev& d) {
        return raw->vfio->device_open(d.name()) ? -EBUSY : 0;
    }});
    connect_interrupts(*raw, true);
    return s.release();
}

void iommusim_session_destroy(iommusim_session* s) {
    if (!s) return;
    s->kernel->drivers().set_vfio_hooks({});
    connect_interrupts(*s, false);
    s->vfio.reset();  // process exit: every fd closed, mappings unpinned
    for (const auto& b : s->buffers) munmap(b.host, b.len);
    s->vmm.reset();
    s->mm.reset();
    s->kernel.reset();
    s->machine.reset();
    delete s;
}

int iommusim_session_open(iommusim_session* s, const char* path, int flags) {
    if (!s || !path) return fail(EFAULT);
    const int r = s->vfio->open(path, flags);
    return r < 0 ? fail(-r) : r;
}

long iommusim_session_ioctl(iommusim_session* s, int fd, unsigned long request, unsigned long arg) {
    if (!s) return fail(EFAULT);
    s->vfio->poll_irqfds();
    const long r = s->vfio->ioctl(fd, request, arg);
    return r < 0 ? fail(int(-r)) : r;
}

// pread(2)/pwrite(2): a negative offset is -EINVAL as the VFS says; the rest is vfio_pci_rw's answer.
long iommusim_session_rw(iommusim_session* s, int fd, void* buf, size_t count, long long offset, int write) {
    if (!s) return fail(EFAULT);
    if (offset < 0) return fail(EINVAL);
    if (!buf && count) return fail(EFAULT);
    const long r = s->vfio->rw(fd, buf, count, u64(offset), write != 0);
    return r < 0 ? fail(int(-r)) : r;
}

int iommusim_session_close(iommusim_session* s, int fd) {
    if (!s) return fail(EFAULT);
    const int r = s->vfio->close(fd);
    return r < 0 ? fail(-r) : 0;
}

void* iommusim_session_vaddr(iommusim_session* s, size_t len) {
    if (!s || !len) {
        errno = EINVAL;
        return nullptr;
    }
    const u64 l = (u64(len) + PAGE - 1) & ~(PAGE - 1);
    void* h = mmap(nullptr, l, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (h == MAP_FAILED) return nullptr;
    const u64 sim = s->mm->mmap_anon(l);
    if (!sim) {
        munmap(h, l);
        errno = ENOMEM;
        return nullptr;
    }
    s->buffers.push_back({static_cast<unsigned char*>(h), sim, l});
    return h;
}

int iommusim_session_iommu_group(iommusim_session* s, const char* bdf_text) {
    auto b = bdf_text ? bdf::parse(bdf_text) : std::nullopt;
    if (!s || !b) return fail(ENOENT);
    const host::iommu_group* g = s->kernel->group_of(*b);
    return g ? g->id : fail(ENOENT);
}

int iommusim_session_bind(iommusim_session* s, const char* bdf_text, const char* driver) {
    auto b = bdf_text ? bdf::parse(bdf_text) : std::nullopt;
    if (!s || !b || !driver) return fail(ENODEV);
    const int r = s->kernel->drivers().bind(*b, driver);
    return r < 0 ? fail(-r) : 0;
}

int iommusim_session_dma(iommusim_session* s, const char* bdf_text, uint64_t iova, void* buf, size_t len, int write) {
    host::pci_dev* dev = device(s, bdf_text);
    if (!dev) return fail(ENODEV);
    if (!len) return 0;
    pci::pci_function* fn = model_of(s, *dev);
    if (!fn) return fail(ENODEV);
    // The device masters: bus mastering on it and the bridges above (what the user's config write and
    // pcieport do on a real system).
    auto& a = s->kernel->access();
    auto enable = [&](host::pci_dev& d) {
        const u16 cmd = a.read16(d, pci::PCI_COMMAND);
        if (!(cmd & pci::PCI_COMMAND_MASTER)) a.write16(d, pci::PCI_COMMAND, u16(cmd | pci::PCI_COMMAND_MASTER));
    };
    for (host::pci_dev* up = host::pci_upstream_bridge(*dev); up; up = host::pci_upstream_bridge(*up)) enable(*up);
    enable(*dev);

    // The user's bytes behind [iova, iova + len) into system memory, through every container's mappings.
    memory::system_memory* mem = s->machine->platform().memory();
    auto sync = [&](bool to_memory) {
        if (!mem) return;
        for (const auto* c : s->vfio->containers()) {
            const vfio::vfio_iommu_type1* t = c->backend();
            if (!t) continue;
            for (const auto& [start, d] : t->mappings()) {
                if (start >= iova + len || start + d.size <= iova || !d.iommu_mapped) continue;
                for (const auto& r : d.runs) {
                    if (r.reserved) continue;
                    auto* host_ptr = reinterpret_cast<unsigned char*>(r.vaddr);
                    if (to_memory) mem->poke(r.phys, host_ptr, r.len);
                    else mem->peek(r.phys, host_ptr, r.len);
                }
            }
        }
    };
    sync(true);
    tlm::tlm_generic_payload gp;
    gp.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    gp.set_address(iova);
    gp.set_data_ptr(static_cast<unsigned char*>(buf));
    gp.set_data_length(unsigned(len));
    gp.set_streaming_width(unsigned(len));
    gp.set_byte_enable_ptr(nullptr);
    gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    fn->issue_dma(gp, delay);
    const bool ok = gp.is_response_ok();
    if (ok && write) sync(false);
    return ok ? 0 : fail(EFAULT);
}

// The device raises an interrupt through its own hardware (dma_engine::signal / set_intx_level): the
// message it writes goes upstream like any DMA (Bus Master needed, remapped by the IOMMU) and reaches
// the interrupt controller, whose callback signals the user's eventfd.
int iommusim_session_irq(iommusim_session* s, const char* bdf_text, int kind, unsigned vector) {
    host::pci_dev* dev = device(s, bdf_text);
    if (!dev) return fail(ENODEV);
    auto* e = dynamic_cast<pci::dma_engine*>(model_of(s, *dev));
    if (!e) return fail(ENODEV);
    s->vfio->poll_irqfds();  // what the user wrote to unmask eventfds has been seen by now
    // pcieport enables bus mastering on every port it binds (pcie_portdrv_probe: pci_set_master); the
    // device's own Bus Master bit is the user's config write.
    auto& a = s->kernel->access();
    for (host::pci_dev* up = host::pci_upstream_bridge(*dev); up; up = host::pci_upstream_bridge(*up)) {
        const u16 cmd = a.read16(*up, pci::PCI_COMMAND);
        if (!(cmd & pci::PCI_COMMAND_MASTER)) a.write16(*up, pci::PCI_COMMAND, u16(cmd | pci::PCI_COMMAND_MASTER));
    }
    switch (kind) {
    case 0: e->set_intx_level(true); return 0;   // IOMMUSIM_IRQ_INTX_ASSERT
    case 1: e->set_intx_level(false); return 0;  // IOMMUSIM_IRQ_INTX_DEASSERT
    case 2: return e->signal(pci::dma_engine::IRQ_MSI, vector) ? 0 : fail(EIO);
    case 3: return e->signal(pci::dma_engine::IRQ_MSIX, vector) ? 0 : fail(EIO);
    default: return fail(EINVAL);
    }
}

// libsystemc refers to sc_main; a C program using this API has its own main() and never enters SystemC's
// sc_elab_and_sim, so this placeholder is never called. Weak: a SystemC program's own sc_main wins.
extern "C" __attribute__((weak)) int sc_main(int, char**) { return 0; }

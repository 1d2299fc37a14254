#include "sim/scenario/machine_session.h"

#include "models/iommu/tce/tlm/phb_iommu.h"

#include "models/pci/cfg/pci_regs.h"
#include "models/pci/dma_engine.h"
#include "models/pci/dma_engine_driver.h"
#include "platforms/platform.h"
#include "sim/core/input_error.h"
#include "sim/host/kernel.h"
#include "sim/host/tlm/tlm_host_ops.h"
#include "sim/scenario/analysis.h"
#include "sim/vfio/vfio_core.h"

#include <fmt/format.h>

#include <cstring>

namespace iommusim::scenario {

namespace {
std::string errno_text(int e) {
    // The values are Linux's (asm-generic/errno-base.h); strerror gives the words.
    return e == 0 ? "0" : fmt::format("-{} ({})", e, std::strerror(e));
}

std::string route_name(pci::dma_route r) {
    switch (r) {
    case pci::dma_route::to_root_complex: return "root_complex";
    case pci::dma_route::peer_to_peer: return "peer";
    case pci::dma_route::blocked: return "blocked";
    }
    return "?";
}



} // namespace

machine_session::machine_session(const scenario_desc& sc) {
    if (const auto checked = host::check_kernel_version(sc.host.kernel_version); !checked.version)
        throw input_error(sc.file, "/host/kernel", checked.problem);
    m_machine = std::make_unique<host::tlm_machine>(sc.platform);
    m_kernel = std::make_unique<host::kernel>(m_machine->ops(), sc.host);
    m_kernel->boot();
    m_monitor = std::make_unique<iommu_monitor>(*m_kernel, m_machine->platform());
    m_groups = collect_groups(sc.platform, *m_machine, *m_kernel);
    m_log_lines = m_kernel->log().lines().size();
    m_process = sc.process;
}

machine_session::~machine_session() {
    connect_vfio(false);
    m_vfio.reset();  // the process exits before the kernel goes
    m_domains.clear();
    m_monitor.reset();
    m_kernel.reset();
}

// The platform's DMA engine at b, nullptr when b is something else.
pci::dma_engine* machine_session::engine_model(const bdf& b) const {
    auto& p = m_machine->platform();
    for (const auto& f : p.functions())
        if (p.root_complexes()[f.root].segment == b.segment && f.model->requester_id() == b.rid())
            return dynamic_cast<pci::dma_engine*>(f.model);
    return nullptr;
}

// Interrupts into the VFIO session's core: every message the interrupt controller accepts (after
// remapping; a remappable-format message that got through unremapped is not for the LAPICs) goes to the
// host vectors vfio-pci bound to eventfds, and every DMA engine's INTx line to its vfio-pci handler, as a
// sideband wire (no I/O APIC: a function's line is its own, never shared). Also how a device_interrupt
// step makes an engine raise one. on = false undoes it before the session goes.
void machine_session::connect_vfio(bool on) {
    if (!m_vfio) return;
    auto& p = m_machine->platform();
    if (intc::msi_controller* ic = p.interrupt_controller()) {
        if (!on) ic->on_message(nullptr);
        else
            ic->on_message([this](const intc::msi_record& r) {
                if (!r.msg.remappable_format) m_vfio->core().deliver_interrupt(r.msg.vector);
            });
    }
    // POWER: the PHB validated the MSI against its source's PE; the source's host vector is the kernel's.
    if (!on) p.on_phb_msi(nullptr);
    else
        p.on_phb_msi([this](size_t phb, const tce::msi_message& m) {
            const auto& phbs = m_kernel->pnv_phbs();
            if (phb >= phbs.size()) return;
            if (auto v = phbs[phb]->msi_vector(m.source)) m_vfio->core().deliver_interrupt(*v);
        });
    for (const auto& f : p.functions()) {
        auto* e = dynamic_cast<pci::dma_engine*>(f.model);
        if (!e) continue;
        if (!on) {
            e->on_intx(nullptr);
            continue;
        }
        const u16 segment = p.root_complexes()[f.root].segment;
        e->on_intx([this, e, segment](bool level) {
            m_vfio->core().intx_line(bdf{segment, u8(e->requester_id() >> 8), e->devfn()}.str(), level);
        });
    }
    if (!on) return m_vfio->set_device_irq(nullptr);
    m_vfio->set_device_irq([this](const bdf& b, const std::string& irq, unsigned vector) {
        pci::dma_engine* e = engine_model(b);
        host::pci_dev* dev = m_kernel->find_mutable(b);
        if (!e || !dev) return -ENODEV;
        m_vfio->core().poll_irqfds();
        // pcieport enables bus mastering on every port it binds (pcie_portdrv_probe: pci_set_master); the
        // device's own Bus Master bit is the VFIO user's.
        auto& a = m_kernel->access();
        for (host::pci_dev* up = host::pci_upstream_bridge(*dev); up; up = host::pci_upstream_bridge(*up)) {
            const u16 cmd = a.read16(*up, pci::PCI_COMMAND);
            if (!(cmd & pci::PCI_COMMAND_MASTER)) a.write16(*up, pci::PCI_COMMAND, u16(cmd | pci::PCI_COMMAND_MASTER));
        }
        if (irq == "intx_assert" || irq == "intx_deassert") {
            e->set_intx_level(irq == "intx_assert");
            return 0;
        }
        return e->signal(irq == "msi" ? pci::dma_engine::IRQ_MSI : pci::dma_engine::IRQ_MSIX, vector) ? 0 : -EIO;
    });
}

host::pci_dev* machine_session::device(const bdf& b, step_result& out) {
    host::pci_dev* d = m_kernel->find_mutable(b);
    if (!d) fail(out, fmt::format("no device {} in this machine", b.str()));
    return d;
}

std::shared_ptr<host::iommu_domain> machine_session::domain(const std::string& name, step_result& out) {
    auto it = m_domains.find(name);
    if (it == m_domains.end()) {
        fail(out, fmt::format("no domain \"{}\": an attach step creates it", name));
        return nullptr;
    }
    return it->second;
}

// Interrupts that reached the interrupt controller since the last look, oldest first (the controller
// keeps a bounded history; older ones are only counted).
std::vector<intc::msi_record> machine_session::new_interrupts() {
    std::vector<intc::msi_record> out;
    intc::msi_controller* ic = m_machine->platform().interrupt_controller();
    if (!ic) return out;
    const u64 delivered = ic->stats().delivered;
    const auto& recs = ic->records();
    const size_t fresh = size_t(std::min<u64>(delivered - m_interrupts_seen, recs.size()));
    for (size_t i = recs.size() - fresh; i < recs.size(); ++i) out.push_back(recs[i]);
    m_interrupts_seen = delivered;
    return out;
}

// The kernel's side of a fault: when a unit's own interrupt reached the CPU, its driver's handler reads
// the records (dmar_fault, the AMD-Vi event log thread); what it read is what expectations check.
void machine_session::collect_faults() {
    bool unit_irq = false;
    for (const auto& r : new_interrupts()) {
        if (m_monitor->is_unit_interrupt(r)) unit_irq = true;
        else m_device_interrupts.push_back(r);
    }
    m_monitor->collect(unit_irq, m_faults);
}

step_result machine_session::run(const step& s) {
    step_result out;
    out.source = &s;
    if (s.vfio) {
        if (!m_vfio) {
            m_vfio = std::make_unique<vfio_session>(*m_kernel, m_machine->ops(), m_process);
            connect_vfio(true);
        }
        m_vfio->run(*s.vfio, out);
        collect_faults();  // a fault event raised meanwhile is the kernel's to read, as always
        return out;
    }
    if (!s.machine) {
        fail(out, "not a machine step");
        return out;
    }
    const machine_step& m = *s.machine;
    bool needs_iommu = false;
    switch (m.op) {
    case machine_op::attach:
    case machine_op::detach:
    case machine_op::map:
    case machine_op::unmap:
    case machine_op::inject: needs_iommu = true; break;
    default: break;
    }
    if (needs_iommu && !m_kernel->iommu()) {
        fail(out, "no IOMMU driver is running in this machine (no VT-d or AMD-Vi unit, the IOMMU disabled, "
                  "or its initialisation failed: see the kernel log)");
        return out;
    }
    switch (m.op) {
    case machine_op::attach: attach(m, out); break;
    case machine_op::detach: detach(m, out); break;
    case machine_op::map: map(m, out); break;
    case machine_op::unmap: unmap(m, out); break;
    case machine_op::write_memory:
    case machine_op::expect_memory: memory(m, out); break;
    case machine_op::dma: dma(m, out); break;
    case machine_op::msi: msi(m, out); break;
    case machine_op::inject: inject(m, out); break;
    case machine_op::expect_fault: expect_fault(m, out); break;
    case machine_op::expect_no_fault: expect_no_fault(m, out); break;
    case machine_op::expect_route: expect_route(m, out); break;
    case machine_op::expect_stat: expect_stat(m, out); break;
    case machine_op::print_faults: print_faults(m, out); break;
    case machine_op::print_stats: print_stats(m, out); break;
    }
    return out;
}

void machine_session::attach(const machine_step& m, step_result& out) {
    host::pci_dev* dev = device(*m.device, out);
    if (!dev) return;
    if (dev->group == host::no_group) return fail(out, fmt::format("{} has no IOMMU group", dev->name()));
    auto it = m_domains.find(m.domain);
    if (it == m_domains.end()) {
        auto d = m_kernel->iommu()->domain_alloc(host::iommu_domain_type::unmanaged, *dev);
        if (!d) return fail(out, fmt::format("the IOMMU driver could not allocate domain \"{}\"", m.domain));
        it = m_domains.emplace(m.domain, std::move(d)).first;
    }
    const int rc = m_kernel->iommu()->attach_group(it->second, dev->group);
    if (rc) return fail(out, fmt::format("attaching group {} to \"{}\": {}", dev->group, m.domain, errno_text(-rc)));
    m_group_domain[dev->group] = m.domain;
    out.messages.push_back(fmt::format("group {} ({}) attached to domain \"{}\"", dev->group, dev->name(), m.domain));
}

void machine_session::detach(const machine_step& m, step_result& out) {
    host::pci_dev* dev = device(*m.device, out);
    if (!dev) return;
    auto g = m_group_domain.find(dev->group);
    if (g == m_group_domain.end()) return fail(out, fmt::format("group of {} is not attached to a domain", dev->name()));
    m_kernel->iommu()->detach_group(m_domains.at(g->second), dev->group);
    m_group_domain.erase(g);
}

void machine_session::map(const machine_step& m, step_result& out) {
    auto d = domain(m.domain, out);
    if (!d) return;
    const int prot = ((m.prot & prot_read) ? host::IOMMU_READ : 0) | ((m.prot & prot_write) ? host::IOMMU_WRITE : 0);
    const int rc = d->map(m.iova, m.phys, m.size, prot);
    const int want = m.expect_errno.value_or(0);
    if (rc != -want)
        return fail(out, fmt::format("map [{:#x}, {:#x}) -> {:#x}: returned {}, expected {}", m.iova, m.iova + m.size,
                                     m.phys, errno_text(-rc), errno_text(want)));
}

void machine_session::unmap(const machine_step& m, step_result& out) {
    auto d = domain(m.domain, out);
    if (!d) return;
    const u64 n = d->unmap(m.iova, m.size);
    const u64 want = m.expect_unmapped.value_or(m.size);
    if (n != want)
        return fail(out, fmt::format("unmap [{:#x}, {:#x}): {:#x} bytes unmapped, expected {:#x}", m.iova, m.iova + m.size,
                                     n, want));
}

std::optional<u64> machine_session::resolve(const machine_step& m, step_result& out) {
    if (!m.target_device) return m.address;
    host::pci_dev* t = device(*m.target_device, out);
    if (!t) return std::nullopt;
    for (const auto& r : t->resources) {
        if (r.index != m.target_bar || r.io || !r.base) continue;
        if (m.target_offset + m.size > r.size) {
            fail(out, fmt::format("offset {:#x} + {:#x} bytes lies beyond {}'s BAR{} ({:#x} bytes)", m.target_offset,
                                  m.size, t->name(), m.target_bar, r.size));
            return std::nullopt;
        }
        return r.base + m.target_offset;
    }
    fail(out, fmt::format("{} has no memory BAR{}", t->name(), m.target_bar));
    return std::nullopt;
}

void machine_session::memory(const machine_step& m, step_result& out) {
    auto& ops = m_machine->ops();
    if (m.target_device) {
        // The CPU reads the BAR (MMIO), 4 bytes at a time.
        const auto base = resolve(m, out);
        if (!base) return;
        for (u64 i = 0; i < m.size; ++i) {
            const u8 got = u8(ops.mmio_read(*base + i, 1));
            const u8 want = u8(m.pattern >> (8 * (i & 3)));
            if (got != want)
                return fail(out, fmt::format("MMIO at {:#x} reads {:#04x}, expected {:#04x}", *base + i, got, want));
        }
        return;
    }
    std::vector<unsigned char> buf(size_t(std::min<u64>(m.size, 1 << 20)));
    for (u64 done = 0; done < m.size; done += buf.size()) {
        const size_t n = size_t(std::min<u64>(buf.size(), m.size - done));
        if (m.op == machine_op::write_memory) {
            for (size_t i = 0; i < n; ++i) buf[i] = u8(m.pattern >> (8 * ((done + i) & 3)));
            if (!ops.memory_write(m.address + done, buf.data(), n))
                return fail(out, fmt::format("{:#x} is not system memory", m.address + done));
            continue;
        }
        if (!ops.memory_read(m.address + done, buf.data(), n))
            return fail(out, fmt::format("{:#x} is not system memory", m.address + done));
        for (size_t i = 0; i < n; ++i) {
            const u8 want = u8(m.pattern >> (8 * ((done + i) & 3)));
            if (buf[i] != want)
                return fail(out, fmt::format("memory at {:#x} holds {:#04x}, expected {:#04x}", m.address + done + i,
                                             buf[i], want));
        }
    }
}

namespace {
// BAR0 of a DMA engine as the kernel found it, with memory decode and bus mastering on (what the
// device's driver does in probe: pci_enable_device, which also enables every bridge above it as
// pci_enable_bridge does, then pci_set_master).
std::optional<u64> engine_bar0(host::kernel& k, host::pci_dev& dev, step_result& out) {
    auto& a = k.access();
    auto enable = [&](host::pci_dev& d) {
        const u16 cmd = a.read16(d, pci::PCI_COMMAND);
        const u16 want = u16(cmd | pci::PCI_COMMAND_MEMORY | pci::PCI_COMMAND_MASTER);
        if (cmd != want) a.write16(d, pci::PCI_COMMAND, want);
    };
    for (const auto& r : dev.resources)
        if (r.index == 0 && !r.io && r.base) {
            for (host::pci_dev* up = host::pci_upstream_bridge(dev); up; up = host::pci_upstream_bridge(*up)) enable(*up);
            enable(dev);
            return r.base;
        }
    fail(out, fmt::format("{} has no memory BAR0 (is it a \"dma_engine\"?)", dev.name()));
    return std::nullopt;
}
} // namespace

std::optional<pci::dma_engine_driver> machine_session::engine(host::pci_dev& dev, step_result& out) {
    auto bar0 = engine_bar0(*m_kernel, dev, out);
    if (!bar0) return std::nullopt;
    auto& ops = m_machine->ops();
    pci::dma_engine_driver drv([&ops](u64 a, unsigned l) { return ops.mmio_read(a, l); },
                               [&ops](u64 a, unsigned l, u64 v) { ops.mmio_write(a, l, v); }, *bar0);
    if (!drv.present()) {
        fail(out, fmt::format("{} is not a DMA engine (its BAR0 has no engine ID)", dev.name()));
        return std::nullopt;
    }
    return drv;
}

void machine_session::dma(const machine_step& m, step_result& out) {
    host::pci_dev* dev = device(*m.device, out);
    if (!dev) return;
    auto engine_drv = engine(*dev, out);
    if (!engine_drv) return;
    pci::dma_engine_driver& drv = *engine_drv;
    if (!m.write && m.size > pci::dma_engine::BUFFER_SIZE)
        return fail(out, fmt::format("a read DMA moves at most {} bytes (the engine's buffer)", pci::dma_engine::BUFFER_SIZE));
    if (m.write && m.size > pci::dma_engine::MAX_FILL)
        return fail(out, fmt::format("a write DMA stores at most {} bytes", pci::dma_engine::MAX_FILL));

    const auto address = resolve(m, out);
    if (!address) return;
    auto& trace = m_machine->platform().dma_trace();
    const u64 before = trace.total();
    pci::dma_engine_driver::operation op;
    op.op = m.write ? pci::dma_engine::OP_FILL : pci::dma_engine::OP_MEM_TO_BUF;
    op.src = m.write ? 0 : *address;
    op.dst = m.write ? *address : 0;
    op.len = u32(m.size);
    op.pattern = m.pattern;
    const u32 status = drv.run(op);

    auto& routes = m_routes[*m.device];
    routes.clear();
    const auto recent = trace.recent();
    const u64 added = trace.total() - before;
    for (size_t i = recent.size() - size_t(std::min<u64>(added, recent.size())); i < recent.size(); ++i)
        routes.push_back(route_name(recent[i].route));
    collect_faults();

    const bool ok = (status & pci::dma_engine::STATUS_DONE) && !(status & pci::dma_engine::STATUS_ERROR);
    const std::string what = fmt::format("{} {} bytes at {:#x}: status {:#x}{}", m.write ? "write" : "read", m.size,
                                         *address, status,
                                         ok ? "" : fmt::format(" (error code {})", pci::dma_engine_driver::error_code(status)));
    if (ok != (m.expect == "ok")) return fail(out, fmt::format("DMA {}; expected {}", what, m.expect));
    out.messages.push_back("DMA " + what);
}

// A forged message: a plain 4-byte memory write of the data to the address.
void machine_session::send_forged_msi(pci::dma_engine_driver& drv, u64 address, u32 data) {
    pci::dma_engine_driver::operation op;
    op.op = pci::dma_engine::OP_FILL;
    op.dst = address;
    op.len = 4;
    op.pattern = data;
    drv.run(op);
}

// What the kernel does for the device's driver: the platform's MSI set-up (kernel::msi_setup: OPAL on
// powernv, remapped when the IOMMU remaps interrupts), the message into the MSI capability and enable
// (pci_msi_domain_write_msg); then the device signals. False (and the step failed) when any of it fails.
bool machine_session::send_kernel_msi(host::pci_dev& dev, u8 vector, pci::dma_engine_driver& drv, step_result& out) {
    auto& a = m_kernel->access();
    const u8 cap = a.find_capability(dev.address().segment, dev.address().bus, dev.devfn, dev.hdr_type, pci::PCI_CAP_ID_MSI);
    if (!cap) {
        fail(out, fmt::format("{} has no MSI capability", dev.name()));
        return false;
    }
    const u16 flags = a.read16(dev, u16(cap + pci::PCI_MSI_FLAGS));
    host::remapped_msi rm;
    if (const int rc = m_kernel->msi_setup(dev, 1, vector, flags & pci::PCI_MSI_FLAGS_64BIT, rm); rc || rm.msgs.empty()) {
        fail(out, fmt::format("setting up the MSI: {}", errno_text(-rc)));
        return false;
    }
    const host::msi_msg& msg = rm.msgs[0];
    a.write32(dev, u16(cap + pci::PCI_MSI_ADDRESS_LO), msg.address_lo);
    u16 data_reg = u16(cap + 8);
    if (flags & pci::PCI_MSI_FLAGS_64BIT) {
        a.write32(dev, u16(cap + pci::PCI_MSI_ADDRESS_HI), msg.address_hi);
        data_reg = u16(cap + 12);
    }
    a.write16(dev, data_reg, u16(msg.data));
    a.write16(dev, u16(cap + pci::PCI_MSI_FLAGS), u16((flags & ~pci::PCI_MSI_FLAGS_QSIZE) | pci::PCI_MSI_FLAGS_ENABLE));
    drv.send_msi(0);
    out.messages.push_back(fmt::format("MSI message {:#x}/{:#x}{}", msg.address(), msg.data,
                                       rm.index >= 0 ? fmt::format(" (IRTE {})", rm.index) : ""));
    return true;
}

// POWER: the kernel's message comes from OPAL for the device's PE; the PHB passes an MSI on only when the
// requester's PE owns the interrupt source (the IVE's PE).
void machine_session::phb_msi(const machine_step& m, host::pci_dev& dev, pci::dma_engine_driver& drv, step_result& out) {
    auto& p = m_machine->platform();
    host::pnv_phb* phb = m_kernel->pnv_phb_of(dev);
    const size_t before = p.phb_interrupts().size();
    auto rejected_before = p.phb_of_root(phb->global_number())->stats().msi_rejected;
    if (m.vector) {
        if (!send_kernel_msi(dev, u8(*m.vector), drv, out)) return;
    } else {
        send_forged_msi(drv, *m.msi_address, *m.msi_data);
    }
    const bool delivered = p.phb_interrupts().size() > before;
    if (!delivered)
        for (const auto& [verdict, n] : p.phb_of_root(phb->global_number())->stats().msi_rejected)
            if (n > rejected_before[verdict]) out.messages.push_back(fmt::format("refused by the PHB: {}", tce::to_string(verdict)));
    if (delivered != (m.expect == "delivered"))
        return fail(out, fmt::format("the interrupt was {}; expected {}", delivered ? "delivered" : "not delivered", m.expect));
    if (delivered) {
        const tce::msi_message& r = p.phb_interrupts().back();
        const auto v = phb->msi_vector(r.source);
        if (m.vector && v != u8(*m.vector))
            return fail(out, fmt::format("source {} arrived, bound to {}, expected vector {}", r.source,
                                         v ? std::to_string(*v) : std::string("nothing"), *m.vector));
        out.messages.push_back(fmt::format("delivered: source {} of PHB#{:x} (PE#{:x})", r.source, phb->global_number(), r.pe));
    }
}

void machine_session::msi(const machine_step& m, step_result& out) {
    host::pci_dev* dev = device(*m.device, out);
    if (!dev) return;
    auto engine_drv = engine(*dev, out);
    if (!engine_drv) return;
    pci::dma_engine_driver& drv = *engine_drv;
    if (m_kernel->pnv_phb_of(*dev)) return phb_msi(m, *dev, drv, out);
    intc::msi_controller* ic = m_machine->platform().interrupt_controller();
    if (!ic) return fail(out, "this machine has no interrupt controller (no memory bus)");
    collect_faults(); // earlier interrupts are not this step's
    m_device_interrupts.clear();
    std::optional<u8> want_vector;
    if (m.vector) {
        if (!send_kernel_msi(*dev, u8(*m.vector), drv, out)) return;
        want_vector = u8(*m.vector);
    } else {
        send_forged_msi(drv, *m.msi_address, *m.msi_data);
    }
    collect_faults();
    const bool delivered = !m_device_interrupts.empty();
    if (delivered && want_vector && m_device_interrupts.back().msg.vector != *want_vector)
        return fail(out, fmt::format("an interrupt arrived with vector {}, expected {}", m_device_interrupts.back().msg.vector,
                                     *want_vector));
    if (delivered != (m.expect == "delivered"))
        return fail(out, fmt::format("the interrupt was {}; expected {}", delivered ? "delivered" : "not delivered", m.expect));
    if (delivered) {
        const auto& r = m_device_interrupts.back();
        out.messages.push_back(fmt::format("delivered: vector {} to APIC {}", r.msg.vector, r.msg.destination));
    }
}

void machine_session::inject(const machine_step& m, step_result& out) {
    if (!m_monitor->inject_skip_invalidations(m.count))
        return fail(out, "fault injection needs the VT-d or AMD-Vi driver");
    out.messages.push_back(fmt::format("the driver will skip its next {} IOTLB invalidation(s)", m.count));
}

void machine_session::expect_fault(const machine_step& m, step_result& out) {
    collect_faults();
    const u16 sid = m.device->rid();
    for (size_t i = m_faults_checked; i < m_faults.size(); ++i) {
        const fault_seen& f = m_faults[i];
        if (f.iommu != m.iommu || f.sid != sid) continue;
        if (!m.reason_name.empty() ? f.name != m.reason_name : (m.reason && f.code != *m.reason)) continue;
        if (m.fault_address && f.address != (*m.fault_address & ~u64(0xfff))) continue;
        if (m.fault_write && f.write != *m.fault_write) continue;
        m_faults_checked = i + 1;
        out.messages.push_back("fault record: " + iommu_monitor::describe(f));
        return;
    }
    std::string seen;
    for (size_t i = m_faults_checked; i < m_faults.size(); ++i)
        seen += "\n  " + iommu_monitor::describe(m_faults[i]);
    fail(out, fmt::format("no matching fault record for {}{}", m.device->str(),
                          seen.empty() ? " (no records)" : "; records:" + seen));
}


void machine_session::expect_no_fault(const machine_step& m, step_result& out) {
    collect_faults();
    for (size_t i = m_faults_checked; i < m_faults.size(); ++i)
        if (m_faults[i].iommu == m.iommu)
            fail(out, "unexpected fault record: " + iommu_monitor::describe(m_faults[i]));
    m_faults_checked = m_faults.size();
}

void machine_session::expect_route(const machine_step& m, step_result& out) {
    auto it = m_routes.find(*m.device);
    if (it == m_routes.end() || it->second.empty()) return fail(out, fmt::format("{} has done no DMA", m.device->str()));
    for (const std::string& r : it->second)
        if (r != m.route) return fail(out, fmt::format("a request of {}'s last DMA went {}, expected {}", m.device->str(), r, m.route));
}

void machine_session::expect_stat(const machine_step& m, step_result& out) {
    const auto all = m_monitor->stats(m.iommu);
    if (all.empty()) return fail(out, fmt::format("no IOMMU unit {}", m.iommu));
    auto it = all.find(m.stat);
    if (it == all.end()) {
        std::string names;
        for (const auto& kv : all) names += (names.empty() ? "" : ", ") + kv.first;
        return fail(out, fmt::format("no statistic \"{}\" (known: {})", m.stat, names));
    }
    if ((m.min && it->second < *m.min) || (m.max && it->second > *m.max))
        return fail(out, fmt::format("{} = {}, expected {}{}{}", m.stat, it->second,
                                     m.min ? fmt::format(">= {}", *m.min) : "", m.min && m.max ? " and " : "",
                                     m.max ? fmt::format("<= {}", *m.max) : ""));
    out.messages.push_back(fmt::format("{} = {}", m.stat, it->second));
}

void machine_session::print_faults(const machine_step& m, step_result& out) {
    collect_faults();
    for (const fault_seen& f : m_faults)
        if (f.iommu == m.iommu)
            out.messages.push_back(iommu_monitor::describe(f));
    const auto& lines = m_kernel->log().lines();
    for (size_t i = m_log_lines; i < lines.size(); ++i) out.messages.push_back(lines[i].text);
    m_log_lines = lines.size();
}

void machine_session::print_stats(const machine_step& m, step_result& out) {
    for (const auto& [k, v] : m_monitor->stats(m.iommu))
        if (v) out.messages.push_back(fmt::format("{} = {}", k, v));
}

} // namespace iommusim::scenario

// The VFIO side of a machine session: one simulated user process on the booted kernel (its address
// space with RLIMIT_MEMLOCK and CAP_IPC_LOCK, physical pages from a range of system memory the kernel
// does not use), the VFIO core over the kernel's groups, driver binding and IOMMU API, the fds the
// scenario named, and vendor drivers pinning through vfio_pin_pages. Every step is a system call (or a
// driver's kernel call) with its errno compared against the step's expectation. Pure C++: memory goes
// through the host's memory callbacks.
#pragma once
#include "sim/scenario/step_checks.h"
#include "sim/scenario/vfio_step.h"

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace iommusim::host {
class kernel;
class pci_host_ops;
class process_mm;
} // namespace iommusim::host
namespace iommusim::memory {
class page_allocator;
}
namespace iommusim::vmm {
class spapr_vmm;
}
namespace iommusim::vfio {
class kernel_vfio_host;
class process_vfio_mm;
class vfio_core;
class vendor_pinning;
} // namespace iommusim::vfio

namespace iommusim::scenario {

class vfio_session {
public:
    // The process's physical pages: [4 GiB, 8 GiB) of system memory (above the MSI window and the
    // kernel's own tables), as the C API's process uses.
    static constexpr u64 user_memory_base = u64(1) << 32, user_memory_size = u64(4) << 30;

    vfio_session(host::kernel& k, host::pci_host_ops& ops, const vfio_process_options& options);
    ~vfio_session();  // process exit: every fd closed, every pin dropped, hooks removed
    vfio_session(const vfio_session&) = delete;
    vfio_session& operator=(const vfio_session&) = delete;

    void run(const vfio_step& s, step_result& out);

    // The machine's side of interrupts: the VFIO core that a message reaching the interrupt controller
    // (deliver_interrupt) and a device's INTx line (intx_line) go to.
    vfio::vfio_core& core() { return *m_core; }
    // How a device_interrupt step makes the device's hardware raise an interrupt: 0 sent (or left
    // pending by a masked vector), -EIO not sent, -ENODEV the device cannot raise interrupts.
    using device_irq_fn = std::function<int(const bdf& device, const std::string& irq, unsigned vector)>;
    void set_device_irq(device_irq_fn fn) { m_device_irq = std::move(fn); }

private:
    struct buffer {
        u64 vaddr = 0, len = 0;
    };
    int fd(const std::string& name, bool container, step_result& out) const;
    const buffer* find_buffer(const std::string& name, step_result& out) const;
    // Compares a call's result (>= 0 or -errno) with the step's expect_errno; false when it failed
    // (as expected or not), so the caller records handles only on success.
    bool check(const vfio_step& s, const std::string& what, long rc, step_result& out) const;
    void process_memory(const vfio_step& s, step_result& out);
    void unmap_dma(const vfio_step& s, int container, step_result& out);
    void dirty_bitmap(const vfio_step& s, int container, step_result& out);
    // The user bitmap against expect_dirty (bit 0 = iova).
    void check_dirty(const vfio_step& s, const std::vector<u64>& bits, step_result& out) const;
    void pin(const vfio_step& s, step_result& out);
    int device_fd(const bdf& b, step_result& out) const;
    void set_irqs(const vfio_step& s, int fd, step_result& out);
    void irq_info(const vfio_step& s, int fd, step_result& out);
    void region(const vfio_step& s, int fd, step_result& out);
    void eventfd_step(const vfio_step& s, step_result& out);
    void spapr(const vfio_step& s, step_result& out); // vfio_session_spapr.cpp
    void guest(const vfio_step& s, step_result& out); // vfio_session_guest.cpp

    host::kernel& m_kernel;
    vfio_process_options m_options;
    std::unique_ptr<memory::page_allocator> m_pages;
    std::unique_ptr<host::process_mm> m_mm;
    std::unique_ptr<vfio::kernel_vfio_host> m_host;
    std::unique_ptr<vfio::process_vfio_mm> m_vmm;
    std::unique_ptr<vfio::vfio_core> m_core;
    std::map<std::string, int> m_containers, m_groups;
    std::map<std::string, buffer> m_buffers;
    std::map<bdf, std::unique_ptr<vfio::vendor_pinning>> m_vendors;
    std::map<bdf, int> m_device_fds;
    std::map<std::string, int> m_eventfds;  // the process's eventfd(2) descriptors, closed at exit
    device_irq_fn m_device_irq;
    std::unique_ptr<vmm::spapr_vmm> m_guest;  // a pseries guest of this process, if a step started one
    u64 m_guest_ram = 0;                       // its RAM's address in the process
};

} // namespace iommusim::scenario

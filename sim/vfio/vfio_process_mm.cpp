#include "sim/vfio/vfio_process_mm.h"

#include "sim/host/process/process_mm.h"

#include <cerrno>

namespace iommusim::vfio {

int process_vfio_mm::pin_impl(u64 vaddr, u64 len, bool write, std::vector<pin_run>& out, bool charge) {
    u64 at = vaddr;
    if (m_translate) {
        const auto t = m_translate(vaddr, len);
        if (!t) return -EFAULT;
        at = *t;
    }
    std::vector<host::pinned_run> runs;
    if (int rc = m_mm.pin(at, len, write, runs, charge)) return rc;
    for (const auto& r : runs) out.push_back({vaddr + (r.vaddr - at), r.phys, r.len, r.reserved});
    return 0;
}

void process_vfio_mm::unpin_impl(const std::vector<pin_run>& runs, bool charge) {
    std::vector<host::pinned_run> back;
    back.reserve(runs.size());
    // process_mm identifies pins by physical page and length; the vaddr is informational.
    for (const auto& r : runs) back.push_back({r.vaddr, r.phys, r.len, r.reserved});
    m_mm.unpin(back, charge);
}

int process_vfio_mm::account_locked_vm(u64 bytes, bool inc) { return m_mm.account_locked_vm(bytes, inc); }

} // namespace iommusim::vfio

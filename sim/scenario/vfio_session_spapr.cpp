// The sPAPR TCE backend's steps of a VFIO session (POWER): GET_INFO with its window facts, ENABLE/DISABLE,
// preregistered memory, dynamic DMA windows and VFIO_EEH_PE_OP, each an ioctl on the container fd with the
// argument structures of include/uapi/linux/vfio.h.
#include "sim/host/process/process_mm.h"
#include "sim/scenario/vfio_session.h"
#include "sim/vfio/vfio_core.h"

#include <fmt/format.h>
#include <linux/vfio.h>

namespace iommusim::scenario {

namespace {
unsigned eeh_op_code(const std::string& a) {
    if (a == "disable") return VFIO_EEH_PE_DISABLE;
    if (a == "enable") return VFIO_EEH_PE_ENABLE;
    if (a == "unfreeze_io") return VFIO_EEH_PE_UNFREEZE_IO;
    if (a == "unfreeze_dma") return VFIO_EEH_PE_UNFREEZE_DMA;
    if (a == "get_state") return VFIO_EEH_PE_GET_STATE;
    if (a == "reset_deactivate") return VFIO_EEH_PE_RESET_DEACTIVATE;
    if (a == "reset_hot") return VFIO_EEH_PE_RESET_HOT;
    if (a == "reset_fundamental") return VFIO_EEH_PE_RESET_FUNDAMENTAL;
    if (a == "configure") return VFIO_EEH_PE_CONFIGURE;
    return VFIO_EEH_PE_INJECT_ERR;
}
} // namespace

void vfio_session::spapr(const vfio_step& s, step_result& out) {
    const int c = fd(s.container, true, out);
    if (c < 0) return;
    auto io = [&](unsigned long req, const void* arg) { return m_core->ioctl(c, req, reinterpret_cast<unsigned long>(arg)); };
    auto expect = [&](const char* what, u64 got, const auto& want) {
        if (want && got != u64(*want)) fail(out, fmt::format("{} is {:#x}, expected {:#x}", what, got, u64(*want)));
    };
    switch (s.op) {
    case vfio_op::spapr_get_info: {
        vfio_iommu_spapr_tce_info info{};
        info.argsz = sizeof info;
        if (!check(s, "VFIO_IOMMU_SPAPR_TCE_GET_INFO", io(VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info), out)) return;
        out.messages.push_back(fmt::format("dma32 window [{:#x}, +{:#x}), ddw: pgsizes {:#x}, {} windows, {} levels",
                                           info.dma32_window_start, info.dma32_window_size, info.ddw.pgsizes,
                                           info.ddw.max_dynamic_windows_supported, info.ddw.levels));
        expect("dma32_window_start", info.dma32_window_start, s.expect_window_start);
        expect("dma32_window_size", info.dma32_window_size, s.expect_window_size);
        expect("ddw.pgsizes", info.ddw.pgsizes, s.expect_pgsizes);
        expect("ddw.max_dynamic_windows_supported", info.ddw.max_dynamic_windows_supported, s.expect_max_windows);
        expect("ddw.levels", info.ddw.levels, s.expect_levels);
        return;
    }
    case vfio_op::spapr_enable:
    case vfio_op::spapr_disable: {
        const bool en = s.op == vfio_op::spapr_enable;
        check(s, en ? "VFIO_IOMMU_ENABLE" : "VFIO_IOMMU_DISABLE", m_core->ioctl(c, en ? VFIO_IOMMU_ENABLE : VFIO_IOMMU_DISABLE, 0),
              out);
        out.messages.push_back(fmt::format("locked_vm {:#x} of RLIMIT_MEMLOCK {:#x}", m_mm->locked_vm(), m_mm->memlock_limit()));
        return;
    }
    case vfio_op::spapr_register:
    case vfio_op::spapr_unregister: {
        const buffer* b = find_buffer(s.buffer, out);
        if (!b) return;
        vfio_iommu_spapr_register_memory r{};
        r.argsz = sizeof r;
        r.vaddr = b->vaddr + s.offset;
        r.size = s.size ? s.size : b->len - s.offset;
        const bool reg = s.op == vfio_op::spapr_register;
        check(s, fmt::format("VFIO_IOMMU_SPAPR_{}REGISTER_MEMORY vaddr {:#x} size {:#x}", reg ? "" : "UN", r.vaddr, r.size),
              io(reg ? VFIO_IOMMU_SPAPR_REGISTER_MEMORY : VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &r), out);
        out.messages.push_back(fmt::format("locked_vm {:#x} of RLIMIT_MEMLOCK {:#x}", m_mm->locked_vm(), m_mm->memlock_limit()));
        return;
    }
    case vfio_op::spapr_create: {
        vfio_iommu_spapr_tce_create cr{};
        cr.argsz = sizeof cr;
        cr.page_shift = s.page_shift;
        cr.window_size = s.size;
        cr.levels = s.levels;
        if (!check(s, fmt::format("VFIO_IOMMU_SPAPR_TCE_CREATE page_shift {} window {:#x} levels {}", s.page_shift,
                                  s.size, s.levels),
                   io(VFIO_IOMMU_SPAPR_TCE_CREATE, &cr), out))
            return;
        out.messages.push_back(fmt::format("window at {:#x}; locked_vm {:#x}", cr.start_addr, m_mm->locked_vm()));
        expect("start_addr", cr.start_addr, s.expect_value);
        return;
    }
    case vfio_op::spapr_remove: {
        vfio_iommu_spapr_tce_remove rm{};
        rm.argsz = sizeof rm;
        rm.start_addr = s.iova;
        check(s, fmt::format("VFIO_IOMMU_SPAPR_TCE_REMOVE {:#x}", s.iova), io(VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm), out);
        return;
    }
    case vfio_op::eeh_pe_op: {
        vfio_eeh_pe_op op{};
        op.argsz = sizeof op;
        op.op = eeh_op_code(s.action);
        op.err.type = u32(s.err_type);
        op.err.func = u32(s.err_func);
        op.err.addr = s.value;
        op.err.mask = s.mask;
        const long rc = io(VFIO_EEH_PE_OP, &op);
        if (!check(s, "VFIO_EEH_PE_OP " + s.action, rc, out)) return;
        if (s.action == "get_state") expect("PE state", u64(rc), s.expect_value);
        return;
    }
    default: fail(out, fmt::format("{} is not a sPAPR step", to_string(s.op)));
    }
}

} // namespace iommusim::scenario

#include "models/iommu/amdvi/amdvi_cmd.h"

namespace iommusim::amdvi {

void command_processor::on_control(u64 old_c, u64 new_c) {
    const u64 need = control::IOMMU_EN | control::CMD_BUF_EN;
    const bool was = (old_c & need) == need, now = (new_c & need) == need;
    if (now && !was) m_regs.update(reg_id::STATUS, status::CMD_BUF_RUN, 0);
    if (!now) m_regs.update(reg_id::STATUS, 0, status::CMD_BUF_RUN);
}

bool command_processor::legal(const command& c) const {
    if (c.reserved_lo() || c.reserved_hi()) return false;
    switch (static_cast<cmd_opcode>(c.opcode())) {
    case cmd_opcode::prefetch_iommu_pages: return m_params.pref_sup;
    case cmd_opcode::complete_ppr_request: return m_params.ppr_sup;
    case cmd_opcode::invalidate_iommu_all: return m_params.ia_sup;
    case cmd_opcode::invalidate_iotlb_pages: return m_params.iotlb_sup;
    case cmd_opcode::completion_wait:
        // §2.4.1: the store address must be 8-byte aligned (bits 2:0 are s, i, f) - always true here.
        return true;
    default: return true;
    }
}

command_processor::result command_processor::process(cmd_sink& sink, unsigned max_commands) {
    result r;
    if (!(m_regs.get(reg_id::STATUS) & status::CMD_BUF_RUN)) return r;
    const u64 base_reg = m_regs.get(reg_id::CMD_BUF_BASE);
    const u64 bytes = ring_base::entries(base_reg) * command::size;
    if (!bytes) return r;  // reserved ComLen: nothing to fetch
    const u64 base = base_reg & ring_base::BASE;
    auto halt = [&](const event& ev) {
        sink.log_event(ev);
        m_regs.update(reg_id::STATUS, 0, status::CMD_BUF_RUN);
        r.halted = true;
    };
    for (;;) {
        const u64 head = (m_regs.get(reg_id::CMD_BUF_HEAD) & RING_PTR) % bytes;
        const u64 tail = (m_regs.get(reg_id::CMD_BUF_TAIL) & RING_PTR) % bytes;
        if (head == tail || (max_commands && r.executed >= max_commands)) return r;
        const u64 addr = base + head;
        unsigned char buf[16];
        if (!sink.read_memory(addr, buf, 16)) {
            ++m_counters.hw_errors;
            halt(event::command_hw_error(addr, hw_error_type::target_abort));
            return r;
        }
        command c;
        for (unsigned i = 0; i < 8; ++i) {
            c.lo |= u64(buf[i]) << (8 * i);
            c.hi |= u64(buf[8 + i]) << (8 * i);
        }
        if (!legal(c)) {
            ++m_counters.illegal;
            halt(event::illegal_command_error(addr));
            return r;
        }
        ++m_counters.by_opcode[c.opcode()];
        switch (static_cast<cmd_opcode>(c.opcode())) {
        case cmd_opcode::completion_wait: {
            // §2.4.1: every earlier command has completed (commands run in order here); then the store,
            // then the interrupt.
            if (c.cw_s()) {
                const u64 data = c.cw_store_data();
                unsigned char d[8];
                for (unsigned i = 0; i < 8; ++i) d[i] = static_cast<unsigned char>(data >> (8 * i));
                if (!sink.write_memory(c.cw_store_address(), d, 8)) {
                    ++m_counters.hw_errors;
                    halt(event::command_hw_error(c.cw_store_address(), hw_error_type::target_abort));
                    return r;
                }
                ++m_counters.completion_stores;
            }
            if (c.cw_i()) {
                ++m_counters.completion_interrupts;
                m_regs.update(reg_id::STATUS, status::COM_WAIT_INT, 0);
                sink.completion_interrupt();
            }
            break;
        }
        case cmd_opcode::invalidate_devtab_entry: sink.invalidate_devtab_entry(c.device_id()); break;
        case cmd_opcode::invalidate_iommu_pages:
            sink.invalidate_iommu_pages(c.domain_id(), decode_inv_range(c.address(), c.s()), c.pde());
            break;
        case cmd_opcode::invalidate_iotlb_pages:
            sink.invalidate_iotlb_pages(c.device_id(), decode_inv_range(c.address(), c.s()));
            break;
        case cmd_opcode::invalidate_interrupt_table: sink.invalidate_interrupt_table(c.device_id()); break;
        case cmd_opcode::prefetch_iommu_pages: sink.prefetch_iommu_pages(c.device_id(), c.address()); break;
        case cmd_opcode::complete_ppr_request: break;  // unreachable: PPRSup is never set
        case cmd_opcode::invalidate_iommu_all: sink.invalidate_iommu_all(); break;
        }
        ++r.executed;
        m_regs.set(reg_id::CMD_BUF_HEAD, (head + command::size) % bytes);
    }
}

} // namespace iommusim::amdvi

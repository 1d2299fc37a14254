#include "models/iommu/amdvi/amdvi_event_log.h"

namespace iommusim::amdvi {

void event_log::on_control(u64 old_c, u64 new_c) {
    const u64 need = control::IOMMU_EN | control::EVENT_LOG_EN;
    const bool was = (old_c & need) == need, now = (new_c & need) == need;
    if (now && !was) m_regs.update(reg_id::STATUS, amdvi::status::EVENT_LOG_RUN, 0);
    if (!now) m_regs.update(reg_id::STATUS, 0, amdvi::status::EVENT_LOG_RUN);
}

event_log::result event_log::write(const event& ev, const write_mem_fn& write) {
    result r;
    if (!(m_regs.get(reg_id::STATUS) & amdvi::status::EVENT_LOG_RUN)) {
        ++m_lost;
        return r;
    }
    const u64 base_reg = m_regs.get(reg_id::EVENT_LOG_BASE);
    const u64 bytes = ring_base::entries(base_reg) * event::size;
    const bool int_en = m_regs.get(reg_id::CONTROL) & control::EVENT_INT_EN;
    // A reserved EventLen leaves no usable ring: treated as full.
    const u64 head = m_regs.get(reg_id::EVENT_LOG_HEAD) & RING_PTR;
    const u64 tail = m_regs.get(reg_id::EVENT_LOG_TAIL) & RING_PTR;
    const u64 next = bytes ? (tail + event::size) % bytes : 0;
    if (!bytes || next == (bytes ? head % bytes : 0)) {
        ++m_lost;
        const bool first = !(m_regs.get(reg_id::STATUS) & amdvi::status::EVENT_OVERFLOW);
        m_regs.update(reg_id::STATUS, amdvi::status::EVENT_OVERFLOW, amdvi::status::EVENT_LOG_RUN);
        r.st = outcome::overflow;
        r.interrupt = int_en && first;
        return r;
    }
    unsigned char buf[16];
    for (unsigned i = 0; i < 8; ++i) {
        buf[i] = static_cast<unsigned char>(ev.lo >> (8 * i));
        buf[8 + i] = static_cast<unsigned char>(ev.hi >> (8 * i));
    }
    if (!write((base_reg & ring_base::BASE) + tail % bytes, buf, 16)) {
        ++m_lost;
        r.st = outcome::memory_error;
        return r;
    }
    ++m_written;
    m_regs.set(reg_id::EVENT_LOG_TAIL, next);
    const bool first = !(m_regs.get(reg_id::STATUS) & amdvi::status::EVENT_LOG_INT);
    m_regs.update(reg_id::STATUS, amdvi::status::EVENT_LOG_INT, 0);
    r.st = outcome::written;
    // One interrupt per EventLogInt edge: software clears EventLogInt (RW1C) before draining the log.
    r.interrupt = int_en && first;
    return r;
}

} // namespace iommusim::amdvi

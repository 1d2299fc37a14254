// The event log (spec #48882 rev 3.0x §2.5, §3.4.3, §3.4.11 - §3.4.13): a ring of 16-byte entries at
// EventBase with 2^EventLen entries; the IOMMU writes at EventTailPtr, software consumes at EventHdPtr. It
// runs while IommuEn and EventLogEn are set (Status.EventLogRun); an entry that would make the tail reach
// the head is lost instead: Status.EventOverflow is set and logging stops (EventLogRun = 0) until software
// restarts it by clearing and setting EventLogEn (Linux amd_iommu_restart_event_logging). A written entry
// sets Status.EventLogInt; with Control.EventIntEn that (and an overflow) is an interrupt.
#pragma once
#include "models/iommu/amdvi/amdvi_defs.h"
#include "models/iommu/amdvi/amdvi_regs.h"

#include <functional>

namespace iommusim::amdvi {

// Writes `len` bytes of memory; false on an error response.
using write_mem_fn = std::function<bool(u64 address, const void* data, unsigned len)>;

class event_log {
public:
    enum class outcome : u8 { written, overflow, disabled, memory_error };
    struct result {
        outcome st = outcome::disabled;
        bool interrupt = false;  // raise the IOMMU's event interrupt (EventIntEn and a new EventLogInt/Overflow)
    };

    explicit event_log(register_file& regs) : m_regs(regs) {}

    // Control changed (old -> new): EventLogEn with IommuEn sets EventLogRun; clearing either stops it.
    void on_control(u64 old_control, u64 new_control);
    result write(const event& ev, const write_mem_fn& write);

    u64 written() const { return m_written; }
    u64 lost() const { return m_lost; }

private:
    register_file& m_regs;
    u64 m_written = 0, m_lost = 0;
};

} // namespace iommusim::amdvi

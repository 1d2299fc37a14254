// The command buffer (spec #48882 rev 3.0x §2.4, §3.4.2, §3.4.9, §3.4.10): a ring of 16-byte commands at
// ComBase with 2^ComLen entries, run from CmdHdPtr to CmdTailPtr while IommuEn and CmdBufEn are set
// (Status.CmdBufRun). Each command is decoded and checked here (pure); what it does to caches and memory
// is the sink's. An unknown opcode, a command of an absent feature (PREFETCH without PreFSup,
// COMPLETE_PPR_REQUEST without PPRSup, INVALIDATE_IOMMU_ALL without IASup, INVALIDATE_IOTLB_PAGES without
// IotlbSup) or a reserved field set is an ILLEGAL_COMMAND_ERROR: the event is logged with the command's
// address, CmdHdPtr stays on it and processing halts (CmdBufRun = 0) until CmdBufEn is set again. A failed
// command read or completion store is a COMMAND_HW_ERROR and halts the same way.
#pragma once
#include "models/iommu/amdvi/amdvi_defs.h"
#include "models/iommu/amdvi/amdvi_params.h"
#include "models/iommu/amdvi/amdvi_regs.h"

namespace iommusim::amdvi {

// What commands do to the unit.
class cmd_sink {
public:
    virtual ~cmd_sink() = default;
    virtual bool read_memory(u64 address, void* data, unsigned len) = 0;
    virtual bool write_memory(u64 address, const void* data, unsigned len) = 0;
    virtual void log_event(const event& ev) = 0;
    // COMPLETION_WAIT with i = 1: Status.ComWaitInt is set here; the sink raises the interrupt when
    // Control.ComWaitIntEn is set.
    virtual void completion_interrupt() = 0;
    virtual void invalidate_devtab_entry(u16 device_id) = 0;
    virtual void invalidate_iommu_pages(u16 domain_id, const inv_range& r, bool pde) = 0;
    virtual void invalidate_iotlb_pages(u16 device_id, const inv_range& r) = 0;
    virtual void invalidate_interrupt_table(u16 device_id) = 0;
    virtual void prefetch_iommu_pages(u16 device_id, u64 address) = 0;
    virtual void invalidate_iommu_all() = 0;
};

class command_processor {
public:
    struct result {
        unsigned executed = 0;
        bool halted = false;  // an error stopped the buffer
    };
    struct counters {
        u64 by_opcode[16] = {};
        u64 illegal = 0, hw_errors = 0, completion_stores = 0, completion_interrupts = 0;
    };

    command_processor(register_file& regs, const amdvi_params& p) : m_regs(regs), m_params(p) {}

    // Control changed: CmdBufEn with IommuEn sets CmdBufRun (and clears a halt); clearing either stops.
    void on_control(u64 old_control, u64 new_control);
    // Runs commands from head to tail (at most max_commands; 0 = all).
    result process(cmd_sink& sink, unsigned max_commands = 0);

    // Decode and checks alone: true if `c` is legal for this unit.
    bool legal(const command& c) const;
    const counters& stats() const { return m_counters; }

private:
    register_file& m_regs;
    const amdvi_params& m_params;
    counters m_counters;
};

} // namespace iommusim::amdvi

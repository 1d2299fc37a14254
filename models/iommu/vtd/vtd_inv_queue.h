// Queued invalidation (Intel VT-d Architecture Specification §6.5.2) as pure state over the register file:
// the invalidation queue at IQA_REG (IQA 63:12, DW 11, QS 2:0 = 2^QS 4 KiB pages), fetched from
// IQH_REG to IQT_REG, descriptors executed in order through a sink (the unit's caches and memory), the
// invalidation wait descriptor's status write and completion event (ICS_REG.IWC, IECTL_REG.IM/IP,
// IEDATA/IEADDR/IEUADDR), and invalidation queue errors (FSTS_REG.IQE with IQERCD_REG.IQEI).
#pragma once
#include "models/iommu/vtd/vtd_fault.h"
#include "models/iommu/vtd/vtd_inv_desc.h"

#include <vector>

namespace iommusim::vtd {

// What executing a descriptor asks the unit to do. The unit implements it (its caches, its memory).
class inv_queue_sink {
public:
    virtual ~inv_queue_sink() = default;
    virtual bool read_memory(u64 address, void* data, unsigned len) = 0;         // descriptor fetch
    virtual bool write_memory(u64 address, const void* data, unsigned len) = 0;  // wait-descriptor status write
    virtual void context_cache_invalidate(inv_granularity g, u16 did, u16 sid, unsigned fm) = 0;
    virtual void iotlb_invalidate(inv_granularity g, u16 did, u64 addr, unsigned am, bool ih) = 0;
    virtual void dev_tlb_invalidate(u16 sid, u64 addr, bool size) = 0;
    virtual void iec_invalidate(bool index_selective, u16 index, unsigned im) = 0;
};

// IQERCD_REG.IQEI: why FSTS.IQE was set.
enum class iqe_info : u8 {
    not_available = 0,        // information not available
    invalid_tail = 1,         // IQT beyond the queue (QT >= number of entries)
    fetch_error = 2,          // error fetching the descriptor at IQH
    invalid_type = 3,         // descriptor type not valid for this unit (mode, capabilities)
    reserved_field = 4,       // a reserved field of the descriptor is set
    invalid_width = 5,        // IQA.DW = 1 (256-bit descriptors) without ECAP.SMTS
    tail_misaligned = 6,      // IQT not aligned to the 256-bit descriptor width
    invalid_ttm = 7,          // RTADDR.TTM reserved (scalable mode; never raised by this model)
};

class inv_queue {
public:
    inv_queue(register_file& regs, fault_logger& faults);

    struct run_result {
        unsigned executed = 0;                  // descriptors executed
        std::vector<u8> types;                  // type of each executed descriptor, in order (timing, stats)
        std::vector<event_message> interrupts;  // to send now: invalidation completion events (IEUADDR:IEADDR,
                                                // IEDATA) and fault events (FEUADDR:FEADDR, FEDATA)
        bool error = false;                     // stopped on (or found) FSTS.IQE/ITE/ICE
    };

    // Executes descriptors from IQH to IQT while GSTS.QIES is set and FSTS.IQE is clear, advancing IQH
    // past each one (wrapping at the end of the queue). An invalid descriptor (type, reserved field, a
    // capability the unit lacks), a descriptor fetch error, a failed status write, IQA.DW without
    // ECAP.SMTS or a bad IQT sets FSTS.IQE with IQERCD.IQEI and leaves IQH at the offending descriptor;
    // processing resumes from there once software clears IQE. Call after IQT writes and after FSTS
    // writes (clearing IQE).
    run_result process(inv_queue_sink& sink);

    // Side effects after software writes (the register_file's write_result): IQA written while QI is
    // disabled resets IQH; clearing ICS.IWC clears IECTL.IP; clearing IECTL.IM while IP is set sends the
    // held completion event. Returns the messages to send.
    std::vector<event_message> after_write(const write_result& w);

    // GCMD.QIE transitions (called by the unit). Both directions set GSTS.QIES to match and reset IQH to
    // 0: IQH_REG: the head is 0 whenever QI is disabled, so an enabled queue starts at 0.
    void on_enable(bool enable);

    // Decoded state, for the unit and tests.
    bool enabled() const;
    unsigned descriptor_size() const;  // 16, or 32 with IQA.DW
    u32 entries() const;               // descriptors the queue holds: 2^QS pages of descriptor_size
    u32 head() const;                  // IQH as a descriptor index
    u32 tail() const;                  // IQT as a descriptor index
    iqe_info last_error() const { return static_cast<iqe_info>(m_regs.get(reg_id::IQERCD) & 0xf); }

private:
    // Checks a descriptor before execution; iqe_info::not_available = valid.
    std::pair<bool, iqe_info> validate(const inv_desc& d, u64 upper_reserved) const;
    // Executes one valid descriptor; false when its status write failed.
    bool execute(const inv_desc& d, inv_queue_sink& sink, run_result& out);
    void raise_iqe(iqe_info why, run_result& out);
    void completion_event(run_result& out);
    event_message completion_message() const;

    register_file& m_regs;
    fault_logger& m_faults;
};

} // namespace iommusim::vtd

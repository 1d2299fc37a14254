// Fault reasons as the VT-d specification numbers them (Appendix A "Non-Recoverable Fault Reason Encodings",
// §7.1.3) and primary fault logging (§7.3.1) as pure state over the register file: fault recording
// registers at FRO, FSTS.PPF/PFO/FRI, FECTL.IM/IP and the fault event message through FEADDR/FEDATA.
#pragma once
#include "models/iommu/vtd/vtd_regs.h"

#include <optional>

namespace iommusim::vtd {

enum class fault_reason : u8 {
    none = 0x00,
    // DMA remapping, legacy mode
    root_entry_not_present = 0x01,      // P clear in the root entry
    context_entry_not_present = 0x02,   // P clear in the context entry
    context_entry_invalid = 0x03,       // invalid context-entry programming (TT, AW)
    address_beyond_agaw = 0x04,         // input address above 2^min(MGAW, AGAW of AW) - 1
    write_not_allowed = 0x05,           // write to a page without W
    read_not_allowed = 0x06,            // read from a page without R
    paging_entry_access_error = 0x07,   // error fetching a second-level paging entry
    root_table_access_error = 0x08,     // error fetching the root entry through RTADDR
    context_table_access_error = 0x09,  // error fetching the context entry through CTP
    root_entry_reserved = 0x0a,         // reserved field set in a present root entry
    context_entry_reserved = 0x0b,      // reserved field set in a present context entry
    paging_entry_reserved = 0x0c,       // reserved field set in a present second-level paging entry
    translation_type_blocked = 0x0d,    // translation or translated request blocked by the context's TT
    // Interrupt remapping
    ir_request_reserved = 0x20,         // reserved field set in a remappable-format interrupt request
    ir_index_beyond_irt = 0x21,         // interrupt index above the IRT size (IRTA.S)
    ir_irte_not_present = 0x22,         // P clear in the IRTE
    ir_irt_access_error = 0x23,         // error fetching the IRTE through IRTA
    ir_irte_reserved = 0x24,            // reserved field set in a present IRTE
    ir_compat_blocked = 0x25,           // compatibility-format interrupt blocked (GSTS.CFIS clear)
    ir_source_id_blocked = 0x26,        // source-id verification failed (SVT/SQ/SID)
    ir_pid_access_error = 0x27,         // error fetching the posted-interrupt descriptor
    // Scalable mode (named so records can be printed; the legacy-mode model never raises them)
    sm_rtaddr_invalid = 0x30,
    sm_ttm_pasid_request = 0x31,
    sm_root_entry_access_error = 0x38,
    sm_root_entry_not_present = 0x39,
    sm_root_entry_reserved = 0x3a,
    sm_context_entry_access_error = 0x40,
    sm_context_entry_not_present = 0x41,
    sm_context_entry_reserved = 0x42,
    sm_context_entry_invalid = 0x43,
    sm_pasid_dir_access_error = 0x50,
    sm_pasid_dir_not_present = 0x51,
    sm_pasid_dir_reserved = 0x52,
    sm_pasid_entry_access_error = 0x58,
    sm_pasid_entry_not_present = 0x59,
    sm_pasid_entry_reserved = 0x5a,
    sm_pasid_entry_invalid = 0x5b,
    sm_fl_entry_access_error = 0x60,
    sm_fl_entry_not_present = 0x61,
    sm_fl_entry_reserved = 0x62,
    sm_sl_entry_access_error = 0x70,
    sm_sl_entry_reserved = 0x72,
    sm_sl_pointer_invalid = 0x73,
    sm_address_beyond_max = 0x83,
    sm_write_not_allowed = 0x85,
    sm_read_not_allowed = 0x86,
};

// Spec-derived identifier ("root_entry_not_present") and one-line meaning; "unknown" for other numbers.
const char* fault_reason_name(fault_reason r);
const char* fault_reason_meaning(fault_reason r);
bool is_interrupt_remapping_fault(fault_reason r);

// One non-recoverable fault as hardware records it (§11.4.14 FRCD_REG fields).
struct fault_info {
    u16 sid = 0;                  // SID: requester of the faulting request
    fault_reason reason = fault_reason::none;
    bool write = false;           // T1: 0 = write, 1 = read (stored inverted as the spec defines it)
    u64 addr = 0;                 // FI: page address of the DMA (bits 63:12); for IR faults see ir()
    unsigned at = 0;              // AT: address type of the request
    bool pasid_present = false;   // PP
    u32 pasid = 0;                // PV
    bool exe = false, priv = false;

    // An interrupt-remapping fault: FI 63:48 holds the interrupt_index, 47:12 are clear (§11.4.14).
    static fault_info ir(u16 sid, fault_reason reason, u16 interrupt_index) {
        fault_info f;
        f.sid = sid;
        f.reason = reason;
        f.addr = static_cast<u64>(interrupt_index) << 48;
        return f;
    }
};

// The MSI write a fault event sends: FEUADDR:FEADDR, FEDATA.
struct event_message {
    u64 address = 0;
    u32 data = 0;
};

class fault_logger {
public:
    explicit fault_logger(register_file& regs) : m_regs(regs) {}

    struct outcome {
        enum class kind { recorded, suppressed_fpd, overflow } what = kind::recorded;
        unsigned index = 0;                    // record written, for kind::recorded
        std::optional<event_message> interrupt; // a fault event to deliver now
    };

    // Record a fault (§7.3.1). fpd: the context entry's or IRTE's Fault Processing Disable.
    outcome record(const fault_info& f, bool fpd = false);

    // Set an invalidation-queue error status (FSTS.IQE, ICE or ITE) and maybe send the fault event.
    std::optional<event_message> raise_status(u32 fsts_bit);

    // Side effects after software writes (call with the register_file's write_result).
    std::optional<event_message> after_write(const write_result& w);

    // Decoded view of record i.
    fault_info read_record(unsigned i) const;
    bool record_pending(unsigned i) const;
    unsigned next_index() const { return m_next; }
    void reset() { m_next = 0; }

    // FRCD encoding of a fault (§11.4.14).
    static u64 encode_lo(const fault_info& f);
    static u64 encode_hi(const fault_info& f);

private:
    std::optional<event_message> raise_event(u32 fsts_before);
    void update_ppf();
    event_message message() const;

    register_file& m_regs;
    unsigned m_next = 0;  // hardware's fault recording index
};

} // namespace iommusim::vtd

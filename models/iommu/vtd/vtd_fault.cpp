#include "models/iommu/vtd/vtd_fault.h"

#include "models/iommu/vtd/vtd_defs.h"

namespace iommusim::vtd {

namespace {

struct reason_text {
    fault_reason r;
    const char* name;
    const char* meaning;
};

// Appendix A, Non-Recoverable Fault Reason Encodings.
constexpr reason_text k_reasons[] = {
    {fault_reason::root_entry_not_present, "root_entry_not_present", "Present (P) field of the root entry is clear"},
    {fault_reason::context_entry_not_present, "context_entry_not_present", "Present (P) field of the context entry is clear"},
    {fault_reason::context_entry_invalid, "context_entry_invalid", "invalid programming of the context entry (TT or AW not supported)"},
    {fault_reason::address_beyond_agaw, "address_beyond_agaw", "input address above 2^X - 1, X = min(MGAW, AGAW of the context's AW)"},
    {fault_reason::write_not_allowed, "write_not_allowed", "write request to a page without write permission"},
    {fault_reason::read_not_allowed, "read_not_allowed", "read request to a page without read permission"},
    {fault_reason::paging_entry_access_error, "paging_entry_access_error", "error accessing a second-level paging entry"},
    {fault_reason::root_table_access_error, "root_table_access_error", "error accessing the root entry through RTADDR_REG"},
    {fault_reason::context_table_access_error, "context_table_access_error", "error accessing the context entry through the root entry's CTP"},
    {fault_reason::root_entry_reserved, "root_entry_reserved", "non-zero reserved field in a present root entry"},
    {fault_reason::context_entry_reserved, "context_entry_reserved", "non-zero reserved field in a present context entry"},
    {fault_reason::paging_entry_reserved, "paging_entry_reserved", "non-zero reserved field in a present second-level paging entry"},
    {fault_reason::translation_type_blocked, "translation_type_blocked", "translation request or translated request blocked by the context entry's TT"},
    {fault_reason::ir_request_reserved, "ir_request_reserved", "reserved field set in a remappable-format interrupt request"},
    {fault_reason::ir_index_beyond_irt, "ir_index_beyond_irt", "interrupt_index above the interrupt remapping table size (IRTA_REG.S)"},
    {fault_reason::ir_irte_not_present, "ir_irte_not_present", "Present (P) field of the IRTE is clear"},
    {fault_reason::ir_irt_access_error, "ir_irt_access_error", "error accessing the interrupt remapping table through IRTA_REG"},
    {fault_reason::ir_irte_reserved, "ir_irte_reserved", "non-zero reserved field in a present IRTE"},
    {fault_reason::ir_compat_blocked, "ir_compat_blocked", "compatibility-format interrupt blocked (GSTS_REG.CFIS clear)"},
    {fault_reason::ir_source_id_blocked, "ir_source_id_blocked", "remappable interrupt blocked by source-id verification (SVT, SQ, SID)"},
    {fault_reason::ir_pid_access_error, "ir_pid_access_error", "error accessing the posted-interrupt descriptor of the IRTE"},
    {fault_reason::sm_rtaddr_invalid, "sm_rtaddr_invalid", "scalable mode: invalid root table address"},
    {fault_reason::sm_ttm_pasid_request, "sm_ttm_pasid_request", "request with PASID while RTADDR_REG.TTM is legacy"},
    {fault_reason::sm_root_entry_access_error, "sm_root_entry_access_error", "scalable mode: error accessing the root entry"},
    {fault_reason::sm_root_entry_not_present, "sm_root_entry_not_present", "scalable mode: present bit of the root entry clear"},
    {fault_reason::sm_root_entry_reserved, "sm_root_entry_reserved", "scalable mode: reserved field set in the root entry"},
    {fault_reason::sm_context_entry_access_error, "sm_context_entry_access_error", "scalable mode: error accessing the context entry"},
    {fault_reason::sm_context_entry_not_present, "sm_context_entry_not_present", "scalable mode: present bit of the context entry clear"},
    {fault_reason::sm_context_entry_reserved, "sm_context_entry_reserved", "scalable mode: reserved field set in the context entry"},
    {fault_reason::sm_context_entry_invalid, "sm_context_entry_invalid", "scalable mode: invalid context entry programming"},
    {fault_reason::sm_pasid_dir_access_error, "sm_pasid_dir_access_error", "scalable mode: error accessing the PASID directory entry"},
    {fault_reason::sm_pasid_dir_not_present, "sm_pasid_dir_not_present", "scalable mode: present bit of the PASID directory entry clear"},
    {fault_reason::sm_pasid_dir_reserved, "sm_pasid_dir_reserved", "scalable mode: reserved field set in the PASID directory entry"},
    {fault_reason::sm_pasid_entry_access_error, "sm_pasid_entry_access_error", "scalable mode: error accessing the PASID table entry"},
    {fault_reason::sm_pasid_entry_not_present, "sm_pasid_entry_not_present", "scalable mode: present bit of the PASID table entry clear"},
    {fault_reason::sm_pasid_entry_reserved, "sm_pasid_entry_reserved", "scalable mode: reserved field set in the PASID table entry"},
    {fault_reason::sm_pasid_entry_invalid, "sm_pasid_entry_invalid", "scalable mode: invalid PASID table entry programming"},
    {fault_reason::sm_fl_entry_access_error, "sm_fl_entry_access_error", "scalable mode: error accessing a first-level paging entry"},
    {fault_reason::sm_fl_entry_not_present, "sm_fl_entry_not_present", "scalable mode: present bit of a first-level paging entry clear"},
    {fault_reason::sm_fl_entry_reserved, "sm_fl_entry_reserved", "scalable mode: reserved field set in a first-level paging entry"},
    {fault_reason::sm_sl_entry_access_error, "sm_sl_entry_access_error", "scalable mode: error accessing a second-level paging entry"},
    {fault_reason::sm_sl_entry_reserved, "sm_sl_entry_reserved", "scalable mode: reserved field set in a second-level paging entry"},
    {fault_reason::sm_sl_pointer_invalid, "sm_sl_pointer_invalid", "scalable mode: invalid second-level page table pointer"},
    {fault_reason::sm_address_beyond_max, "sm_address_beyond_max", "scalable mode: address beyond the maximum the hardware supports"},
    {fault_reason::sm_write_not_allowed, "sm_write_not_allowed", "scalable mode: write or AtomicOp request without write permission"},
    {fault_reason::sm_read_not_allowed, "sm_read_not_allowed", "scalable mode: read or AtomicOp request without read permission"},
};

const reason_text* find(fault_reason r) {
    for (const auto& t : k_reasons)
        if (t.r == r) return &t;
    return nullptr;
}

using namespace regbits;

} // namespace

const char* fault_reason_name(fault_reason r) {
    if (r == fault_reason::none) return "none";
    const auto* t = find(r);
    return t ? t->name : "unknown";
}

const char* fault_reason_meaning(fault_reason r) {
    if (r == fault_reason::none) return "no fault";
    const auto* t = find(r);
    return t ? t->meaning : "reason not defined by the specification";
}

bool is_interrupt_remapping_fault(fault_reason r) {
    const auto v = static_cast<u8>(r);
    return v >= 0x20 && v <= 0x27;
}

u64 fault_logger::encode_lo(const fault_info& f) { return f.addr & mask(63, 12); }

u64 fault_logger::encode_hi(const fault_info& f) {
    return FRCD_HI_F | (f.write ? 0 : FRCD_HI_T1) | place(f.at, 61, 60) | place(f.pasid, 59, 40) |
           place(static_cast<u8>(f.reason), 39, 32) | (f.pasid_present ? FRCD_HI_PP : 0) |
           (f.exe ? FRCD_HI_EXE : 0) | (f.priv ? FRCD_HI_PRIV : 0) | place(f.sid, 15, 0);
}

fault_info fault_logger::read_record(unsigned i) const {
    const u64 lo = m_regs.frcd_lo(i), hi = m_regs.frcd_hi(i);
    fault_info f;
    f.addr = lo & mask(63, 12);
    f.write = !(hi & FRCD_HI_T1);
    f.at = static_cast<unsigned>(bits(hi, 61, 60));
    f.pasid = static_cast<u32>(bits(hi, 59, 40));
    f.reason = static_cast<fault_reason>(bits(hi, 39, 32));
    f.pasid_present = hi & FRCD_HI_PP;
    f.exe = hi & FRCD_HI_EXE;
    f.priv = hi & FRCD_HI_PRIV;
    f.sid = static_cast<u16>(bits(hi, 15, 0));
    return f;
}

bool fault_logger::record_pending(unsigned i) const { return m_regs.frcd_hi(i) & FRCD_HI_F; }

event_message fault_logger::message() const {
    return {(m_regs.get(reg_id::FEUADDR) << 32) | m_regs.get(reg_id::FEADDR), static_cast<u32>(m_regs.get(reg_id::FEDATA))};
}

// §7.3.1.1: a fault event is generated when hardware sets a status field while no other interrupt
// condition is pending; with FECTL.IM set it is held in FECTL.IP instead.
std::optional<event_message> fault_logger::raise_event(u32 fsts_before) {
    if (fsts_before & FSTS_EVENT_BITS) return std::nullopt;
    if (m_regs.get(reg_id::FECTL) & ECTL_IM) {
        m_regs.update(reg_id::FECTL, ECTL_IP, 0);
        return std::nullopt;
    }
    return message();
}

fault_logger::outcome fault_logger::record(const fault_info& f, bool fpd) {
    outcome out;
    if (fpd) {
        out.what = outcome::kind::suppressed_fpd;
        return out;
    }
    const u32 fsts = static_cast<u32>(m_regs.get(reg_id::FSTS));
    if (record_pending(m_next)) {
        // The record at the hardware index is still in use: primary fault overflow.
        out.what = outcome::kind::overflow;
        if (!(fsts & FSTS_PFO)) {
            m_regs.update(reg_id::FSTS, FSTS_PFO, 0);
            out.interrupt = raise_event(fsts);
        }
        return out;
    }
    out.index = m_next;
    m_regs.set_frcd(m_next, encode_lo(f), encode_hi(f));
    m_next = (m_next + 1) % m_regs.nfr();
    if (!(fsts & FSTS_PPF)) {
        m_regs.update(reg_id::FSTS, FSTS_PPF | place(out.index, 15, 8), FSTS_FRI);
        out.interrupt = raise_event(fsts);
    }
    return out;
}

std::optional<event_message> fault_logger::raise_status(u32 fsts_bit) {
    const u32 fsts = static_cast<u32>(m_regs.get(reg_id::FSTS));
    if (fsts & fsts_bit) return std::nullopt;
    m_regs.update(reg_id::FSTS, fsts_bit, 0);
    return raise_event(fsts);
}

void fault_logger::update_ppf() {
    bool any = false;
    for (unsigned i = 0; i < m_regs.nfr() && !any; ++i) any = record_pending(i);
    if (!any) m_regs.update(reg_id::FSTS, 0, FSTS_PPF);
    // Software has serviced every status field: the pending interrupt is withdrawn.
    if (!(m_regs.get(reg_id::FSTS) & FSTS_EVENT_BITS)) m_regs.update(reg_id::FECTL, 0, ECTL_IP);
}

std::optional<event_message> fault_logger::after_write(const write_result& w) {
    std::optional<event_message> msg;
    for (unsigned i = 0; i < w.count; ++i) {
        const reg_write& r = w.regs[i];
        switch (r.id) {
        case reg_id::FSTS:
        case reg_id::FRCD_HI: update_ppf(); break;
        case reg_id::FECTL:
            // Clearing IM with IP set delivers the held message.
            if (!(r.new_value & ECTL_IM) && (r.new_value & ECTL_IP)) {
                m_regs.update(reg_id::FECTL, 0, ECTL_IP);
                msg = message();
            }
            break;
        default: break;
        }
    }
    return msg;
}

} // namespace iommusim::vtd

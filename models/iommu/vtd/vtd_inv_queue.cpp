#include "models/iommu/vtd/vtd_inv_queue.h"

#include "models/iommu/vtd/vtd_params.h"

namespace iommusim::vtd {

namespace {

using namespace regbits;

constexpr u64 IQA_DW = 1ull << 11;  // descriptor width: 0 = 128-bit, 1 = 256-bit (needs ECAP.SMTS)
constexpr u64 IQERCD_IQEI = 0xf;    // IQEI 3:0; ITESID 47:32 and ICESID 63:48 are left alone
constexpr u32 FSTS_QI_ERRORS = FSTS_IQE | FSTS_ICE | FSTS_ITE;

// Descriptors and the status data are little-endian in memory, whatever the host is.
u64 load_le64(const u8* p) {
    u64 v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

} // namespace

inv_queue::inv_queue(register_file& regs, fault_logger& faults) : m_regs(regs), m_faults(faults) {}

bool inv_queue::enabled() const { return m_regs.get(reg_id::GSTS) & GSTS_QIES; }

unsigned inv_queue::descriptor_size() const { return (m_regs.get(reg_id::IQA) & IQA_DW) ? 32 : 16; }

u32 inv_queue::entries() const {
    const unsigned qs = static_cast<unsigned>(m_regs.get(reg_id::IQA) & IQA_QS);
    return static_cast<u32>((PAGE_SIZE << qs) / descriptor_size());
}

u32 inv_queue::head() const { return static_cast<u32>((m_regs.get(reg_id::IQH) & IQ_QH_QT) / descriptor_size()); }

u32 inv_queue::tail() const { return static_cast<u32>((m_regs.get(reg_id::IQT) & IQ_QH_QT) / descriptor_size()); }

void inv_queue::on_enable(bool enable) {
    m_regs.update(reg_id::GSTS, enable ? GSTS_QIES : 0, enable ? 0 : GSTS_QIES);
    m_regs.set(reg_id::IQH, 0);
}

event_message inv_queue::completion_message() const {
    return {(m_regs.get(reg_id::IEUADDR) << 32) | m_regs.get(reg_id::IEADDR),
            static_cast<u32>(m_regs.get(reg_id::IEDATA))};
}

// IECTL_REG: the interrupt condition is a wait descriptor with IF completing and setting ICS.IWC; if IWC
// was already set it is not a new condition. With IECTL.IM set the message is held in IECTL.IP.
void inv_queue::completion_event(run_result& out) {
    if (m_regs.get(reg_id::ICS) & ICS_IWC) return;
    m_regs.update(reg_id::ICS, ICS_IWC, 0);
    if (m_regs.get(reg_id::IECTL) & ECTL_IM) {
        m_regs.update(reg_id::IECTL, ECTL_IP, 0);
        return;
    }
    out.interrupts.push_back(completion_message());
}

void inv_queue::raise_iqe(iqe_info why, run_result& out) {
    m_regs.update(reg_id::IQERCD, static_cast<u64>(why), IQERCD_IQEI);
    if (auto msg = m_faults.raise_status(FSTS_IQE)) out.interrupts.push_back(*msg);
    out.error = true;
}

std::pair<bool, iqe_info> inv_queue::validate(const inv_desc& d, u64 upper_reserved) const {
    const u64 cap = m_regs.get(reg_id::CAP), ecap = m_regs.get(reg_id::ECAP);
    // Legacy mode executes types 1-5. The PASID-based (6, 7, 8) types belong to scalable mode and the page
    // group response (9) to page requests, neither modelled; every other number is reserved.
    if (!d.legacy_type()) return {false, iqe_info::invalid_type};
    const auto t = static_cast<inv_type>(d.type());
    // A descriptor for a cache the unit does not have is treated as invalid (implementation choice; the
    // spec makes these types meaningful only with ECAP.DT / ECAP.IR).
    if (t == inv_type::dev_tlb && !ecap::dt(ecap)) return {false, iqe_info::invalid_type};
    if (t == inv_type::iec && !ecap::ir(ecap)) return {false, iqe_info::invalid_type};

    // In 256-bit mode the legacy descriptors occupy the low 128 bits; bits 255:128 are reserved.
    bool bad = (d.reserved() | upper_reserved) != 0;
    switch (t) {
    case inv_type::context_cache:
        // §6.5.2.1 G = 00b is a reserved encoding.
        bad |= d.granularity() == inv_granularity::reserved;
        break;
    case inv_type::iotlb:
        // §6.5.2.2 G = 00b is reserved; an address mask above CAP.MAMV is not a valid request.
        bad |= d.granularity() == inv_granularity::reserved;
        if (d.granularity() == inv_granularity::device_or_page && cap::psi(cap))
            bad |= d.iotlb_am() > cap::mamv(cap);
        break;
    case inv_type::iec:
        // §6.5.2.7 index-selective with IM above ECAP.MHMV is not a valid request.
        bad |= d.iec_index_selective() && d.iec_im() > ecap::mhmv(ecap);
        break;
    case inv_type::inv_wait:
        // §6.5.2.8 PD (page-request drain) is defined only with ECAP.PDS; page requests are not modelled.
        bad |= d.wait_pd();
        break;
    default: break;
    }
    if (bad) return {false, iqe_info::reserved_field};
    return {true, iqe_info::not_available};
}

bool inv_queue::execute(const inv_desc& d, inv_queue_sink& sink, run_result& out) {
    const u64 cap = m_regs.get(reg_id::CAP);
    switch (static_cast<inv_type>(d.type())) {
    case inv_type::context_cache:
        sink.context_cache_invalidate(d.granularity(), d.did(), d.cc_sid(), d.cc_fm());
        break;
    case inv_type::iotlb: {
        // Without CAP.PSI a page-selective request is performed at domain granularity, the coarser
        // granularity hardware may always choose (§6.5.2.2).
        inv_granularity g = d.granularity();
        if (g == inv_granularity::device_or_page && !cap::psi(cap)) g = inv_granularity::domain;
        sink.iotlb_invalidate(g, d.did(), d.iotlb_addr(), d.iotlb_am(), d.iotlb_ih());
        break;
    }
    case inv_type::dev_tlb: sink.dev_tlb_invalidate(d.dtlb_sid(), d.dtlb_addr(), d.dtlb_s()); break;
    case inv_type::iec: sink.iec_invalidate(d.iec_index_selective(), d.iec_iidx(), d.iec_im()); break;
    case inv_type::inv_wait: {
        // §6.5.2.8: everything before this descriptor has completed (the model executes in order and
        // synchronously, so FN's fence holds by construction). SW: write the 32-bit status data to the
        // dword-aligned status address; then IF: the invalidation completion event. Linux's
        // qi_submit_sync polls for that status write (SW | FN, status address in its desc_status array).
        if (d.wait_sw()) {
            const u32 v = d.wait_status_data();
            const u8 bytes[4] = {static_cast<u8>(v), static_cast<u8>(v >> 8), static_cast<u8>(v >> 16),
                                 static_cast<u8>(v >> 24)};
            if (!sink.write_memory(d.wait_status_addr(), bytes, 4)) return false;
        }
        if (d.wait_if()) completion_event(out);
        break;
    }
    default: break;  // validate() admits only types 1-5
    }
    return true;
}

inv_queue::run_result inv_queue::process(inv_queue_sink& sink) {
    run_result out;
    if (!enabled()) return out;
    // FSTS.IQE: hardware fetches nothing until software clears it (§6.5.2.10). ITE and ICE are never
    // raised by this model (no device-TLB completion timing); if set they do not stop the queue.
    if (m_regs.get(reg_id::FSTS) & FSTS_IQE) {
        out.error = true;
        return out;
    }
    const u64 iqa = m_regs.get(reg_id::IQA);
    // Checks of the queue itself, before any fetch. IQA.DW = 1 needs ECAP.SMTS (never set by this model,
    // but the check reads the register so a scalable-capable ECAP would admit 256-bit descriptors).
    if ((iqa & IQA_DW) && !ecap::smts(m_regs.get(reg_id::ECAP))) {
        raise_iqe(iqe_info::invalid_width, out);
        return out;
    }
    const unsigned dsz = descriptor_size();
    const u64 qt = m_regs.get(reg_id::IQT) & IQ_QH_QT;
    if (qt % dsz) {
        raise_iqe(iqe_info::tail_misaligned, out);
        return out;
    }
    const u32 n = entries();
    const u32 t = static_cast<u32>(qt / dsz);
    if (t >= n) {
        raise_iqe(iqe_info::invalid_tail, out);
        return out;
    }
    // A head left beyond a queue that software shrank (IQA rewritten while enabled, which the spec leaves
    // undefined) wraps into it.
    u32 h = head() % n;
    const u64 base = iqa & IQA_IQA;
    while (h != t) {
        u8 raw[32] = {};
        if (!sink.read_memory(base + static_cast<u64>(h) * dsz, raw, dsz)) {
            raise_iqe(iqe_info::fetch_error, out);
            break;
        }
        const inv_desc d{load_le64(raw), load_le64(raw + 8)};
        const u64 upper = dsz == 32 ? (load_le64(raw + 16) | load_le64(raw + 24)) : 0;
        const auto [ok, why] = validate(d, upper);
        if (!ok) {
            raise_iqe(why, out);
            break;
        }
        if (!execute(d, sink, out)) {
            // A status write that fails: the spec gives no IQEI code for it (implementation-defined). The
            // queue stops at the wait descriptor with IQE so software polling the status sees an error
            // instead of waiting forever.
            raise_iqe(iqe_info::not_available, out);
            break;
        }
        ++out.executed;
        out.types.push_back(d.type());
        h = (h + 1) % n;  // wrap at the end of the queue
        m_regs.set(reg_id::IQH, static_cast<u64>(h) * dsz);
    }
    return out;
}

std::vector<event_message> inv_queue::after_write(const write_result& w) {
    std::vector<event_message> msgs;
    for (unsigned i = 0; i < w.count; ++i) {
        const reg_write& r = w.regs[i];
        switch (r.id) {
        case reg_id::IQA:
            if (!enabled()) m_regs.set(reg_id::IQH, 0);
            break;
        case reg_id::ICS:
            // Software servicing IWC withdraws a held completion event.
            if ((r.old_value & ICS_IWC) && !(r.new_value & ICS_IWC)) m_regs.update(reg_id::IECTL, 0, ECTL_IP);
            break;
        case reg_id::IECTL:
            // Unmasking with the event held sends it now.
            if (!(r.new_value & ECTL_IM) && (r.new_value & ECTL_IP)) {
                m_regs.update(reg_id::IECTL, 0, ECTL_IP);
                msgs.push_back(completion_message());
            }
            break;
        default: break;
        }
    }
    return msgs;
}

} // namespace iommusim::vtd

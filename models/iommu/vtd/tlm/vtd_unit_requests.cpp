// vtd_unit: the upstream request paths (DMA remapping, interrupt remapping, ATS translation requests),
// fault recording and the messages the unit sends through `out`.
#include "models/iommu/vtd/tlm/vtd_unit.h"

#include "sim/tlm/payload_data.h"
#include "sim/tlm/pci_extension.h"

#include <algorithm>

namespace iommusim::vtd {

using namespace regbits;
using sc_core::sc_time;

void vtd_unit::dma_transport(int, tlm::tlm_generic_payload& gp, sc_time& delay) {
    const auto* ext = gp.get_extension<tlmx::pci_extension>();
    const u16 sid = ext ? ext->requester_id : 0;
    const auto at = ext ? static_cast<address_type>(ext->at) : address_type::untranslated;
    // §3.14 / §5.1: untranslated requests to 0xFEEx_xxxx are interrupt requests, never DMA. Writes go to
    // interrupt remapping; a read of the interrupt range is an error (not recorded as a fault).
    if (at == address_type::untranslated && interrupt_remapper::is_interrupt_address(gp.get_address())) {
        if (gp.is_write()) {
            interrupt_path(gp, sid, delay);
        } else {
            gp.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
        }
        return;
    }
    if (at == address_type::translation_request) {
        translation_request(gp, sid, delay);
        return;
    }
    dma_request(gp, sid, at, delay);
}

// DMA may not be cached by the initiator across the unit: every access must be translated.
bool vtd_unit::dma_dmi(int, tlm::tlm_generic_payload&, tlm::tlm_dmi&) { return false; }

// §3.4 - §3.6: each 4 KiB page of the input range is translated on its own and forwarded at its
// translated address. A fault stops the request: it is recorded, the rest is not performed, and the
// requester gets an error (the root complex completes it with UR/CA; a device reports a master abort).
void vtd_unit::dma_request(tlm::tlm_generic_payload& gp, u16 sid, address_type at, sc_time& delay) {
    ++m_stats.dma_requests;
    const u64 addr = gp.get_address();
    const unsigned len = gp.get_data_length();
    // GSTS.TES clear: DMA remapping is off, requests pass untranslated (§10.4.5).
    if (!(m_regs.get(reg_id::GSTS) & GSTS_TES)) {
        ++m_stats.dma_pieces;
        ++m_stats.passed_through;
        out->b_transport(gp, delay);
        return;
    }
    xlate_request req;
    req.sid = sid;
    req.write = gp.is_write();
    req.at = at;
    // The common case, a request within one 4 KiB page: translate once and forward the payload as it is.
    if (len && (addr & (PAGE_SIZE - 1)) + len <= PAGE_SIZE) {
        ++m_stats.dma_pieces;
        req.addr = addr;
        const xlate_result x = m_dma.translate(m_root, req, delay);
        if (!x.ok()) {
            dma_fault(sid, req, x, delay);
            gp.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
            return;
        }
        ++(x.pass_through ? m_stats.passed_through : m_stats.translated);
        gp.set_address(x.addr);
        out->b_transport(gp, delay);
        gp.set_address(addr);
        return;
    }
    unsigned char* const data = gp.get_data_ptr();
    unsigned char* const be = gp.get_byte_enable_ptr();
    const unsigned be_len = gp.get_byte_enable_length();
    const unsigned width = gp.get_streaming_width();
    tlm::tlm_response_status status = tlm::TLM_OK_RESPONSE;
    unsigned done = 0;
    do {
        const u64 in = addr + done;
        const unsigned n = static_cast<unsigned>(std::min<u64>(len - done, PAGE_SIZE - (in & (PAGE_SIZE - 1))));
        ++m_stats.dma_pieces;
        req.addr = in;
        const xlate_result x = m_dma.translate(m_root, req, delay);
        if (!x.ok()) {
            dma_fault(sid, req, x, delay);
            status = tlm::TLM_COMMAND_ERROR_RESPONSE;
            break;
        }
        ++(x.pass_through ? m_stats.passed_through : m_stats.translated);
        gp.set_address(x.addr);
        gp.set_data_ptr(data + done);
        gp.set_data_length(n);
        gp.set_streaming_width(std::min(width, n));
        // Byte enables repeat every be_len bytes (IEEE 1666 §14.15): keep each piece's phase.
        if (be && be_len) gp.set_byte_enable_ptr(be + (done % be_len));
        gp.set_byte_enable_length(be && be_len ? be_len - (done % be_len) : 0);
        gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
        out->b_transport(gp, delay);
        status = gp.get_response_status();
        done += n;
    } while (status == tlm::TLM_OK_RESPONSE && done < len);
    gp.set_address(addr);
    gp.set_data_ptr(data);
    gp.set_data_length(len);
    gp.set_streaming_width(width);
    gp.set_byte_enable_ptr(be);
    gp.set_byte_enable_length(be_len);
    gp.set_response_status(status);
}

void vtd_unit::dma_fault(u16 sid, const xlate_request& req, const xlate_result& x, sc_time& delay) {
    ++m_stats.faulted;
    fault_info f;
    f.sid = sid;
    f.reason = x.fault;
    f.write = req.write;
    f.addr = req.addr;
    f.at = static_cast<unsigned>(req.at);
    record_fault(f, x.fpd, delay);
}

// An ATS translation request (AT = 01b) is answered by the unit itself: the payload, a read of 8 bytes,
// receives a simplified translation completion (translated page address 63:12, W bit 1, R bit 0;
// R = W = 0 when not mapped). Faults of the context (TT, presence, reserved bits) are recorded as for DMA.
void vtd_unit::translation_request(tlm::tlm_generic_payload& gp, u16 sid, sc_time& delay) {
    ++m_stats.translation_requests;
    xlate_request req;
    req.sid = sid;
    req.addr = gp.get_address();
    req.at = address_type::translation_request;
    req.write = gp.is_write();
    if (!(m_regs.get(reg_id::GSTS) & GSTS_TES) || !gp.is_read() || gp.get_data_length() < 8) {
        gp.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
        return;
    }
    const xlate_result x = m_dma.translate(m_root, req, delay);
    if (!x.ok()) {
        ++m_stats.faulted;
        fault_info f;
        f.sid = sid;
        f.reason = x.fault;
        f.addr = req.addr;
        f.at = static_cast<unsigned>(address_type::translation_request);
        record_fault(f, x.fpd, delay);
        gp.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
        return;
    }
    const u64 completion = (x.addr & ~(PAGE_SIZE - 1)) | (x.w ? 2 : 0) | (x.r ? 1 : 0);
    tlmx::put_le(gp.get_data_ptr(), 8, completion);
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

// §5.1: interrupt remapping of one interrupt request. The IRTE comes from the interrupt entry cache or
// one 16-byte read at IRTA + 16 * index. A blocked request is dropped (posted write: the requester gets
// no error) and recorded as a fault unless the IRTE's FPD says otherwise.
void vtd_unit::interrupt_path(tlm::tlm_generic_payload& gp, u16 sid, sc_time& delay) {
    ++m_stats.interrupts;
    interrupt_request req;
    req.sid = sid;
    req.address = gp.get_address();
    req.data = static_cast<u32>(tlmx::get_le(gp.get_data_ptr(), std::min(gp.get_data_length(), 4u)));
    ir_state s;
    const u32 gsts = static_cast<u32>(m_regs.get(reg_id::GSTS));
    s.enabled = gsts & GSTS_IRES;
    s.irta = m_irta;
    s.cfis = gsts & GSTS_CFIS;
    s.eim = m_params.hw.eim;
    s.haw = m_params.hw.haw;
    s.pi = m_params.hw.pi;
    const u64 table = m_irta & IRTA_IRTA;
    const irte_fetch_fn fetch = [&](u64 address) -> std::optional<std::pair<u64, u64>> {
        const u16 index = static_cast<u16>((address - table) / irte::size);
        engine.charge_lookup(m_params.iec.lookup_cycles, delay);
        if (auto e = m_caches.iec_lookup(index)) return std::make_pair(e->lo, e->hi);
        unsigned char buf[16];
        if (!m_dma.read_table(address, buf, 16, delay)) return std::nullopt;
        const irte e{tlmx::get_le(buf, 8), tlmx::get_le(buf + 8, 8)};
        if (e.present()) m_caches.iec_fill(index, e);  // not-present entries are not cached
        return std::make_pair(e.lo, e.hi);
    };
    const ir_result r = interrupt_remapper::remap(s, req, fetch);
    if (s.enabled) delay += engine.cycles(m_params.ir_cycles);
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
    if (!r.ok()) {
        ++m_stats.interrupts_blocked;
        record_fault(fault_info::ir(sid, r.fault, r.index), r.fpd, delay);
        return;
    }
    if (!r.remapped) {
        ++m_stats.interrupts_passed;
        out->b_transport(gp, delay);
        return;
    }
    if (r.posted) {
        // Posting into the posted-interrupt descriptor (§9.11, §5.2) is not modelled: counted, not delivered.
        ++m_stats.interrupts_posted;
        return;
    }
    ++m_stats.interrupts_remapped;
    unsigned char buf[4];
    tlmx::put_le(buf, 4, r.message.data);
    write_out(r.message.address, buf, 4, delay);
}

void vtd_unit::record_fault(const fault_info& f, bool fpd, sc_time& delay) {
    ++m_stats.faults_by_reason[static_cast<u8>(f.reason)];
    const auto o = m_faults.record(f, fpd);
    switch (o.what) {
    case fault_logger::outcome::kind::recorded: ++m_stats.faults_recorded; break;
    case fault_logger::outcome::kind::suppressed_fpd: ++m_stats.faults_suppressed_fpd; break;
    case fault_logger::outcome::kind::overflow: ++m_stats.faults_overflow; break;
    }
    if (o.interrupt) send_message(*o.interrupt, delay);
}

// An interrupt message of the unit's own (fault event, invalidation completion): a DWORD write of the
// data register to the address registers (§5.1.6 / §7.3.1.2).
void vtd_unit::send_message(const event_message& m, sc_time& delay) {
    ++m_stats.fault_events;
    unsigned char buf[4];
    tlmx::put_le(buf, 4, m.data);
    write_out(m.address, buf, 4, delay);
}

bool vtd_unit::write_out(u64 address, const void* data, unsigned len, sc_time& delay) {
    unsigned char buf[16] = {};
    len = std::min(len, 16u);
    std::copy_n(static_cast<const unsigned char*>(data), len, buf);
    tlm::tlm_generic_payload gp;
    tlmx::init_payload(gp, tlm::TLM_WRITE_COMMAND, address, buf, len);
    out->b_transport(gp, delay);
    if (gp.is_response_error()) {
        ++m_stats.messages_refused;
        return false;
    }
    return true;
}

} // namespace iommusim::vtd

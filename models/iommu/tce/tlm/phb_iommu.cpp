#include "models/iommu/tce/tlm/phb_iommu.h"

#include "sim/tlm/payload_data.h"
#include "sim/tlm/pci_extension.h"

#include <algorithm>

namespace iommusim::tce {

using sc_core::sc_time;

namespace {
const tce_unit_params& checked(const tce_unit_params& p) {
    p.validate();
    return p;
}
} // namespace

phb_iommu::phb_iommu(sc_core::sc_module_name name, u64 reg_base, const tce_unit_params& params)
    : sc_module(name), dma("dma"), out("out"), regs("regs"), engine("engine", checked(params).phb.timing),
      m_params(params), m_reg_base(reg_base), m_phb(m_params.phb), m_path(m_params, engine) {
    m_phb.set_listener(this);
    regs.register_b_transport(this, &phb_iommu::reg_transport);
    dma.register_b_transport(this, &phb_iommu::dma_transport);
    dma.register_get_direct_mem_ptr(this, &phb_iommu::dma_dmi);
}

const phb_iommu::statistics& phb_iommu::stats() const {
    if (const auto* c = m_path.tce_cache()) m_stats.tce_cache = c->stats();
    if (const auto* r = m_path.rtc_stats()) m_stats.rtc = *r;
    m_stats.walks = engine.walk_stats();
    m_stats.tce_cache_hits = m_path.stats().tce_hits;
    m_stats.tce_walks = m_path.stats().walks;
    m_stats.rtc_hits = m_path.stats().rtc_hits;
    m_stats.rtc_misses = m_path.stats().rtc_misses;
    m_stats.tce_kills = m_path.stats().kills;
    m_stats.tce_kill_entries = m_path.stats().killed_entries;
    m_stats.table_read_errors = engine.memory_errors();
    m_stats.freezes = 0;
    for (unsigned pe = 0; pe < m_phb.num_pes(); ++pe) m_stats.freezes += m_phb.eeh(pe).stats().freezes;
    return m_stats;
}

// ---- firmware side --------------------------------------------------------------------------------------

i64 phb_iommu::tce_kill(int kill_type, unsigned pe, u64 tce_size, u64 dma_addr, u64 npages, sc_time& delay) {
    m_kill_delay = &delay;
    const i64 rc = m_phb.tce_kill(kill_type, pe, tce_size, dma_addr, npages);
    m_kill_delay = nullptr;
    return rc;
}

void phb_iommu::tce_kill(const tce_kill_request& r) {
    sc_time local = sc_core::SC_ZERO_TIME;
    m_path.kill(r, m_kill_delay ? *m_kill_delay : local);
}

void phb_iommu::rtt_changed() { m_path.rtt_changed(); }

mmio_verdict phb_iommu::mmio_check(u64 pci_addr, unsigned size, bool write, sc_time& delay) {
    ++m_stats.mmio_checks;
    delay += engine.cycles(m_params.phb.mmio_check_cycles);
    const mmio_verdict v = m_phb.mmio_access(pci_addr, size, write);
    switch (v.what) {
    case mmio_verdict::kind::all_ones: ++m_stats.mmio_all_ones; break;
    case mmio_verdict::kind::dropped: ++m_stats.mmio_dropped; break;
    case mmio_verdict::kind::unowned: ++m_stats.mmio_unowned; break;
    case mmio_verdict::kind::forward: break;
    }
    return v;
}

bool phb_iommu::cfg_check(u16 rid, u64 cfg_addr, bool write, sc_time& delay) {
    delay += engine.cycles(m_params.phb.mmio_check_cycles);
    const bool ok = m_phb.cfg_access(rid, cfg_addr, write);
    if (!ok) ++m_stats.cfg_blocked;
    return ok;
}

// ---- register window ------------------------------------------------------------------------------------

// Only the TCE Kill register has an effect: the rest of the PHB's registers (IODA table access, LEM,
// error traps) are behind firmware() as OPAL operations. Registers are big-endian, 8 bytes.
void phb_iommu::reg_transport(tlm::tlm_generic_payload& gp, sc_time& delay) {
    const u64 addr = gp.get_address();
    const unsigned len = gp.get_data_length();
    if (addr < m_reg_base || addr - m_reg_base >= reg_size() || (len != 4 && len != 8) ||
        addr - m_reg_base + len > reg_size()) {
        gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    if (gp.get_byte_enable_ptr() || gp.get_streaming_width() < len) {
        gp.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
        return;
    }
    delay += engine.cycles(m_params.reg_access_cycles);
    const u64 off = addr - m_reg_base;
    if (gp.is_read()) {
        ++m_stats.register_reads;
        std::fill_n(gp.get_data_ptr(), len, 0); // TCE Kill reads back 0: no kill pending (kills finish at once)
    } else if (gp.is_write()) {
        ++m_stats.register_writes;
        if (off == PHB_TCE_KILL && len == 8) {
            m_kill_delay = &delay;
            m_phb.tce_kill_register(load_be64(gp.get_data_ptr()));
            m_kill_delay = nullptr;
        }
    }
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

// ---- upstream requests ----------------------------------------------------------------------------------

// DMA must not bypass the PHB through DMI: every access is translated.
bool phb_iommu::dma_dmi(int, tlm::tlm_generic_payload&, tlm::tlm_dmi&) { return false; }

void phb_iommu::dma_transport(int, tlm::tlm_generic_payload& gp, sc_time& delay) {
    const auto* ext = gp.get_extension<tlmx::pci_extension>();
    const u16 rid = ext ? ext->requester_id : 0;
    const u64 addr = gp.get_address();
    const dma_route r = m_phb.route(rid, addr);
    m_path.rid_lookup(rid, r.pe, delay);
    if (r.what == dma_route::kind::msi) {
        msi_path(gp, rid, r.pe, delay);
        return;
    }
    ++m_stats.dma_requests;
    // A frozen (or resetting) PE's DMA stops before translation; an armed DMA injection fires here.
    if (!m_phb.eeh(r.pe).dma_allowed(addr, gp.is_write())) {
        ++m_stats.dma_blocked;
        gp.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
        return;
    }
    switch (r.what) {
    case dma_route::kind::fault: dma_fault(gp, r.pe, r.fault, addr); return;
    case dma_route::kind::bypass: {
        const dma_window_state& st = m_phb.window(r.pe, r.window);
        const u64 len = gp.get_data_length() ? gp.get_data_length() : 1;
        const u64 last = (addr & ((u64(1) << TVE_SELECT_BIT) - 1)) + len - 1;
        if (last >= st.bypass_end) {
            dma_fault(gp, r.pe, tce_fault::out_of_window, addr); // the request runs off the window's end
            return;
        }
        m_path.charge_tve(delay);
        ++m_stats.bypassed;
        gp.set_address(r.address);
        out->b_transport(gp, delay);
        gp.set_address(addr);
        return;
    }
    default: translate_and_forward(gp, rid, r, delay); return;
    }
}

void phb_iommu::dma_fault(tlm::tlm_generic_payload& gp, unsigned pe, tce_fault f, u64 addr) {
    ++m_stats.faulted;
    ++m_stats.faults_by_reason[f];
    const auto* ext = gp.get_extension<tlmx::pci_extension>();
    m_phb.eeh(pe).on_dma_fault(f, addr, ext ? ext->requester_id : 0, gp.is_write());
    gp.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
}

// Each IOMMU page of the request is translated on its own and forwarded at its translated address. A fault
// stops the request: the PE freezes, the rest is not performed, the requester gets an error.
void phb_iommu::translate_and_forward(tlm::tlm_generic_payload& gp, u16 rid, const dma_route& r, sc_time& delay) {
    const tce_window& w = *r.tce;
    const u64 ps = w.page_size();
    const u64 addr = gp.get_address();
    const unsigned len = gp.get_data_length();
    const bool write = gp.is_write();
    // The common case: one page, the payload forwarded as it is.
    if ((addr & (ps - 1)) + (len ? len : 1) <= ps) {
        ++m_stats.dma_pieces;
        const tce_xlate_result x = m_path.translate(r.pe, r.window, w, rid, addr, write, delay);
        if (!x.ok()) {
            dma_fault(gp, r.pe, x.fault, addr);
            return;
        }
        ++m_stats.translated;
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
    bool faulted = false;
    unsigned done = 0;
    do {
        const u64 in = addr + done;
        const unsigned n = unsigned(std::min<u64>(len - done, ps - (in & (ps - 1))));
        ++m_stats.dma_pieces;
        tce_xlate_result x;
        if (!w.contains(in)) x.fault = tce_fault::out_of_window; // the request runs off the window's end
        else x = m_path.translate(r.pe, r.window, w, rid, in, write, delay);
        if (!x.ok()) {
            faulted = true;
            gp.set_address(addr);
            dma_fault(gp, r.pe, x.fault, in);
            status = tlm::TLM_COMMAND_ERROR_RESPONSE;
            break;
        }
        ++m_stats.translated;
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
    gp.set_response_status(faulted ? tlm::TLM_COMMAND_ERROR_RESPONSE : status);
}

// An MSI is a DMA write into an MSI window: the PE must be allowed to do DMA, the interrupt source its
// address and data name must belong to the requester's PE (QEMU pnv_phb3_msi_send); a valid one goes to
// the sink. A rejected MSI is dropped like a posted write (the device sees nothing).
void phb_iommu::msi_path(tlm::tlm_generic_payload& gp, u16 rid, unsigned pe, sc_time& delay) {
    ++m_stats.msi_received;
    const u64 addr = gp.get_address();
    if (!gp.is_write() || gp.get_data_length() == 0) { // the PCI spec leaves an MSI-window read undefined
        gp.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
        return;
    }
    if (!m_phb.eeh(pe).dma_allowed(addr, true)) {
        ++m_stats.dma_blocked;
        gp.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
        return;
    }
    delay += engine.cycles(m_params.phb.msi_check_cycles);
    const u32 data = u32(tlmx::get_le(gp.get_data_ptr(), std::min(gp.get_data_length(), 4u)));
    const msi_check c = m_phb.pe_map().check_msi(rid, addr, data);
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
    if (!c.ok()) {
        ++m_stats.msi_rejected[c.result];
        return;
    }
    msi_message m;
    m.source = c.source;
    m.pe = c.rid_pe;
    m.rid = rid;
    m.address = addr;
    m.data = data;
    if (m_msi_sink && m_msi_sink(m, delay)) ++m_stats.msi_delivered;
    else ++m_stats.msi_refused;
}

} // namespace iommusim::tce

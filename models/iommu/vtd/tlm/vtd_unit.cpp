// vtd_unit: construction, the register window and its side effects (GCMD, register-based invalidation,
// the invalidation queue), and the queue's sink. The request paths are in vtd_unit_requests.cpp.
#include "models/iommu/vtd/tlm/vtd_unit.h"

#include "sim/tlm/payload_data.h"

namespace iommusim::vtd {

using namespace regbits;
using sc_core::sc_time;

namespace {
const vtd_unit_params& checked(const vtd_unit_params& p) {
    p.validate();
    return p;
}
} // namespace

vtd_unit::vtd_unit(sc_core::sc_module_name name, u64 reg_base, const vtd_unit_params& params)
    : sc_module(name), regs("regs"), dma("dma"), out("out"), engine("engine", checked(params).timing),
      m_params(params), m_reg_base(reg_base), m_regs(m_params.hw), m_faults(m_regs), m_queue(m_regs, m_faults),
      m_caches(m_params), m_dma(m_params, engine, m_caches) {
    regs.register_b_transport(this, &vtd_unit::reg_transport);
    regs.register_transport_dbg(this, &vtd_unit::reg_debug);
    dma.register_b_transport(this, &vtd_unit::dma_transport);
    dma.register_get_direct_mem_ptr(this, &vtd_unit::dma_dmi);
}

const vtd_unit::statistics& vtd_unit::stats() const {
    m_stats.context_cache = m_caches.context_cache().stats();
    m_stats.iotlb = m_caches.iotlb().stats();
    m_stats.iotlb_large = m_caches.iotlb_large() ? m_caches.iotlb_large()->stats() : iommu::cache_stats{};
    m_stats.psc = m_caches.psc().total_stats();
    m_stats.iec = m_caches.iec().stats();
    m_stats.walks = engine.walk_stats();
    m_stats.iotlb_hits = m_dma.stats().iotlb_hits;
    m_stats.page_walks = m_dma.stats().walks;
    m_stats.context_fetches = m_dma.stats().context_fetches;
    m_stats.table_read_errors = m_dma.stats().memory_errors + engine.memory_errors();
    return m_stats;
}

std::vector<fault_info> vtd_unit::fault_records() const {
    std::vector<fault_info> v;
    for (unsigned i = 0; i < m_regs.nfr(); ++i)
        if (m_faults.record_pending(i)) v.push_back(m_faults.read_record(i));
    return v;
}

// ---- register window

void vtd_unit::reg_transport(tlm::tlm_generic_payload& gp, sc_time& delay) {
    const u64 addr = gp.get_address();
    const unsigned len = gp.get_data_length();
    if (addr < m_reg_base || addr - m_reg_base >= reg_size() || len > 8 || addr - m_reg_base + len > reg_size()) {
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
        tlmx::put_le(gp.get_data_ptr(), len, m_regs.read(off, len));
    } else if (gp.is_write()) {
        ++m_stats.register_writes;
        const write_result w = m_regs.write(off, tlmx::get_le(gp.get_data_ptr(), len), len);
        after_write(w, delay);
    }
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

unsigned vtd_unit::reg_debug(tlm::tlm_generic_payload& gp) {
    const u64 addr = gp.get_address();
    const unsigned len = gp.get_data_length();
    if (!gp.is_read() || addr < m_reg_base || len > 8 || addr - m_reg_base + len > reg_size()) return 0;
    tlmx::put_le(gp.get_data_ptr(), len, m_regs.read(addr - m_reg_base, len));
    return len;
}

void vtd_unit::after_write(const write_result& w, sc_time& delay) {
    for (unsigned i = 0; i < w.count; ++i) {
        const reg_write& r = w.regs[i];
        switch (r.id) {
        case reg_id::GCMD: handle_gcmd(static_cast<u32>(r.new_value)); break;
        case reg_id::CCMD:
            if (r.new_value & CCMD_ICC) handle_ccmd(r.new_value, delay);
            break;
        case reg_id::IOTLB:
            if (r.new_value & IOTLB_IVT) handle_iotlb(r.new_value, delay);
            break;
        default: break;
        }
    }
    // FSTS / FECTL / FRCD: the fault logger's side effects (PPF, IP, the held fault event).
    if (auto m = m_faults.after_write(w)) send_message(*m, delay);
    // IQA / ICS / IECTL ...: the queue's (IQH reset, IWC/IP, the held completion event).
    for (const auto& m : m_queue.after_write(w)) send_message(m, delay);
    // §6.5.2: new descriptors (IQT), or software cleared IQE after fixing the bad descriptor.
    if (w.touched(reg_id::IQT) || w.touched(reg_id::FSTS)) run_queue(delay);
}

// §11.4.4 GCMD_REG. Software changes one command per write, rewriting the others as GSTS shows them
// (§10.4.4). A write that changes several is not defined by the spec; like QEMU (vtd_handle_gcmd_write)
// the unit performs each change, in the order TE, SRTP, QIE, SIRTP, IRE, CFI: enable bits act when they
// differ from GSTS, one-shot bits (SRTP, SIRTP, WBF) whenever written as 1. Commands of absent features
// (QI, IR, CFI without ECAP.IR, WBF without CAP.RWBF, SFL/EAFL: no advanced fault logging) are ignored.
void vtd_unit::handle_gcmd(u32 value) {
    const u32 status = static_cast<u32>(m_regs.get(reg_id::GSTS));
    const u32 changed = status ^ value;
    auto set_status = [&](u32 bit, bool on) { m_regs.update(reg_id::GSTS, on ? bit : 0, on ? 0 : bit); };
    if (changed & GCMD_TE) set_status(GSTS_TES, value & GCMD_TE);
    if (value & GCMD_SRTP) {
        // §11.4.4 SRTP: the root-table pointer is latched from RTADDR_REG; caches are not invalidated
        // (software follows with global context-cache and IOTLB invalidations, §6.5).
        m_root = m_regs.get(reg_id::RTADDR) & RTADDR_RTA;
        set_status(GSTS_RTPS, true);
    }
    if (m_params.hw.qi && (changed & GCMD_QIE)) {
        const bool on = value & GCMD_QIE;
        m_queue.on_enable(on);
        set_status(GSTS_QIES, on);
    }
    if (m_params.hw.ir && (value & GCMD_SIRTP)) {
        m_irta = m_regs.get(reg_id::IRTA);
        set_status(GSTS_IRTPS, true);
    }
    if (m_params.hw.ir && (changed & GCMD_IRE)) set_status(GSTS_IRES, value & GCMD_IRE);
    if (m_params.hw.ir && (changed & GCMD_CFI)) set_status(GSTS_CFIS, value & GCMD_CFI);
    // WBF: the write buffer is flushed at once (b_transport writes are never buffered), so WBFS reads 0.
    if (value & GCMD_WBF) set_status(GSTS_WBFS, false);
}

// §11.4.7 CCMD_REG: register-based context-cache invalidation, done when the write returns; ICC clears
// and CAIG reports the granularity performed. While queued invalidation is enabled software must not use
// it (§6.5.2); the unit then performs nothing and reports CAIG = 00b.
void vtd_unit::handle_ccmd(u64 value, sc_time& delay) {
    ++m_stats.context_invalidations;
    inv_granularity done = inv_granularity::reserved;
    if (!(m_regs.get(reg_id::GSTS) & GSTS_QIES)) {
        const auto g = static_cast<inv_granularity>(bits(value, 62, 61));
        done = m_caches.invalidate_context(g, static_cast<u16>(bits(value, 15, 0)),
                                           static_cast<u16>(bits(value, 31, 16)), static_cast<unsigned>(bits(value, 33, 32)));
        engine.invalidate(m_params.inval_cycles, delay);
    }
    const u64 caig_mask = mask(60, 59);
    m_regs.set(reg_id::CCMD, (value & ~(CCMD_ICC | caig_mask)) | place(static_cast<u64>(done), 60, 59));
}

// §11.4.8.1 IOTLB_REG with §11.4.8.2 IVA_REG: register-based IOTLB invalidation; IVT clears and IAIG
// reports the granularity performed. DR/DW draining is immediate (no request is ever in flight inside
// the unit). Ignored with IAIG = 00b while queued invalidation is enabled, as for CCMD.
void vtd_unit::handle_iotlb(u64 value, sc_time& delay) {
    ++m_stats.iotlb_invalidations;
    inv_granularity done = inv_granularity::reserved;
    if (!(m_regs.get(reg_id::GSTS) & GSTS_QIES)) {
        const auto g = static_cast<inv_granularity>(bits(value, 61, 60));
        const u64 iva = m_regs.get(reg_id::IVA);
        done = m_caches.invalidate_iotlb(g, static_cast<u16>(bits(value, 47, 32)), iva & IVA_ADDR,
                                         static_cast<unsigned>(iva & IVA_AM), iva & IVA_IH);
        engine.invalidate(m_params.inval_cycles, delay);
    }
    const u64 iaig_mask = mask(58, 57);
    m_regs.set(reg_id::IOTLB, (value & ~(IOTLB_IVT | iaig_mask)) | place(static_cast<u64>(done), 58, 57));
}

// §6.5.2: the queue runs from IQH to IQT. The IQT write that starts it returns when the queue has drained,
// so the time the driver would spin on the wait descriptor's status (qi_submit_sync) is in its delay.
void vtd_unit::run_queue(sc_time& delay) {
    if (!m_params.hw.qi || !(m_regs.get(reg_id::GSTS) & GSTS_QIES)) return;
    m_queue_delay = &delay;
    const auto r = m_queue.process(*this);
    m_queue_delay = nullptr;
    m_stats.queue_descriptors += r.executed;
    if (r.error) ++m_stats.queue_errors;
    for (const auto& m : r.interrupts) send_message(m, delay);
}

// ---- inv_queue_sink

bool vtd_unit::read_memory(u64 address, void* data, unsigned len) {
    sc_time local = sc_core::SC_ZERO_TIME;
    sc_time& delay = m_queue_delay ? *m_queue_delay : local;
    auto* p = static_cast<unsigned char*>(data);
    while (len) {  // descriptors are 16 bytes; 256-bit ones arrive as two reads
        const unsigned n = len < 16 ? len : 16;
        if (!m_dma.read_table(address, p, n, delay)) return false;
        address += n, p += n, len -= n;
    }
    return true;
}

bool vtd_unit::write_memory(u64 address, const void* data, unsigned len) {
    sc_time local = sc_core::SC_ZERO_TIME;
    ++m_stats.wait_status_writes;
    return write_out(address, data, len, m_queue_delay ? *m_queue_delay : local);
}

void vtd_unit::context_cache_invalidate(inv_granularity g, u16 did, u16 sid, unsigned fm) {
    ++m_stats.context_invalidations;
    m_caches.invalidate_context(g, did, sid, fm);
    if (m_queue_delay) engine.invalidate(m_params.inval_cycles, *m_queue_delay);
}

void vtd_unit::iotlb_invalidate(inv_granularity g, u16 did, u64 addr, unsigned am, bool ih) {
    ++m_stats.iotlb_invalidations;
    m_caches.invalidate_iotlb(g, did, addr, am, ih);
    if (m_queue_delay) engine.invalidate(m_params.inval_cycles, *m_queue_delay);
}

// No device-TLBs are modelled (devices do not cache translations): the descriptor completes at once.
void vtd_unit::dev_tlb_invalidate(u16, u64, bool) {
    ++m_stats.dev_tlb_invalidations;
    if (m_queue_delay) engine.invalidate(m_params.inval_cycles, *m_queue_delay);
}

void vtd_unit::iec_invalidate(bool index_selective, u16 index, unsigned im) {
    ++m_stats.iec_invalidations;
    m_caches.invalidate_iec(index_selective, index, im);
    if (m_queue_delay) engine.invalidate(m_params.inval_cycles, *m_queue_delay);
}

} // namespace iommusim::vtd

// amdvi_unit: construction, the register window and its side effects, the command buffer's sink, the
// event log and the unit's own interrupt. The request paths are in amdvi_unit_requests.cpp.
#include "models/iommu/amdvi/tlm/amdvi_unit.h"

#include "sim/tlm/payload_data.h"

#include <algorithm>

namespace iommusim::amdvi {

using sc_core::sc_time;

namespace {
const amdvi_unit_params& checked(const amdvi_unit_params& p) {
    p.validate();
    return p;
}
} // namespace

amdvi_unit::amdvi_unit(sc_core::sc_module_name name, u64 reg_base, const amdvi_unit_params& params)
    : sc_module(name), regs("regs"), dma("dma"), out("out"), engine("engine", checked(params).timing),
      m_params(params), m_reg_base(reg_base), m_regs(m_params.hw), m_cmds(m_regs, m_params.hw), m_log(m_regs),
      m_caches(m_params), m_xlate(build_efr(m_params.hw)) {
    regs.register_b_transport(this, &amdvi_unit::reg_transport);
    regs.register_transport_dbg(this, &amdvi_unit::reg_debug);
    dma.register_b_transport(this, &amdvi_unit::dma_transport);
    dma.register_get_direct_mem_ptr(this, &amdvi_unit::dma_dmi);
}

const amdvi_unit::statistics& amdvi_unit::stats() const {
    m_stats.dte_cache = m_caches.dte_cache().stats();
    m_stats.iotlb = m_caches.iotlb().stats();
    m_stats.pde = m_caches.pde().total_stats();
    m_stats.irt_cache = m_caches.irt_cache().stats();
    m_stats.table_read_errors += 0;
    const auto& c = m_cmds.stats();
    m_stats.illegal_commands = c.illegal;
    m_stats.command_hw_errors = c.hw_errors;
    m_stats.completion_stores = c.completion_stores;
    return m_stats;
}

// ---- register window

void amdvi_unit::reg_transport(tlm::tlm_generic_payload& gp, sc_time& delay) {
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
        after_write(m_regs.write(off, tlmx::get_le(gp.get_data_ptr(), len), len), delay);
    }
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

unsigned amdvi_unit::reg_debug(tlm::tlm_generic_payload& gp) {
    const u64 addr = gp.get_address();
    const unsigned len = gp.get_data_length();
    if (!gp.is_read() || addr < m_reg_base || len > 8 || addr - m_reg_base + len > reg_size()) return 0;
    tlmx::put_le(gp.get_data_ptr(), len, m_regs.read(addr - m_reg_base, len));
    return len;
}

void amdvi_unit::after_write(const reg_write& w, sc_time& delay) {
    switch (w.id) {
    case reg_id::CONTROL:
        // §3.4.4: CmdBufEn / EventLogEn with IommuEn start the buffer and the log (CmdBufRun, EventLogRun);
        // clearing them stops both. A (re)started buffer runs what is already between head and tail.
        m_cmds.on_control(w.old_value, w.new_value);
        m_log.on_control(w.old_value, w.new_value);
        run_commands(delay);
        break;
    case reg_id::CMD_BUF_TAIL: run_commands(delay); break;  // §3.4.10: new commands
    default: break;
    }
}

// §2.4: commands run from head to tail. The CmdBufTail write that starts them returns when the buffer has
// drained, so the time a driver would poll the completion-wait store is in its delay.
void amdvi_unit::run_commands(sc_time& delay) {
    m_cmd_delay = &delay;
    const auto r = m_cmds.process(*this);
    m_cmd_delay = nullptr;
    m_stats.commands += r.executed;
    if (r.executed) delay += engine.cycles(u64(m_params.cmd_cycles) * r.executed);
}

// The unit's own interrupt (§2.8 / §3.4.15): the XT general interrupt control register with IntCapXTEn,
// otherwise the MSI its PCI function's MSI capability holds (dropped when MSI is not enabled).
void amdvi_unit::raise_interrupt(sc_time& delay) {
    const u64 ctl = m_regs.get(reg_id::CONTROL);
    u64 address = 0;
    u32 data = 0;
    if (m_params.hw.xt_sup && (ctl & control::INT_CAP_XT_EN)) {
        const u64 x = m_regs.get(reg_id::XT_GEN_INTR_CTRL);
        const u32 dest = static_cast<u32>(bits(x, 31, 8) | (bits(x, 63, 56) << 24));
        const auto m = interrupt_remapper::message(dest, static_cast<u8>(bits(x, 39, 32)), msi::FIXED, x & bit(2), true);
        address = m.address;
        data = m.data;
    } else {
        auto m = m_msi_source ? m_msi_source() : std::nullopt;
        if (!m) return;
        address = m->address;
        data = m->data;
    }
    ++m_stats.iommu_interrupts;
    unsigned char buf[4];
    tlmx::put_le(buf, 4, data);
    write_out(address, buf, 4, delay);
}

void amdvi_unit::log(const event& ev, sc_time& delay) {
    ++m_stats.events_by_code[ev.code()];
    const auto r = m_log.write(ev, [&](u64 a, const void* d, unsigned n) { return write_out(a, d, n, delay); });
    if (r.st == event_log::outcome::written) {
        ++m_stats.events_logged;
        m_logged.push_back(ev);
    } else {
        ++m_stats.events_lost;
    }
    if (r.interrupt) raise_interrupt(delay);
}

bool amdvi_unit::write_out(u64 address, const void* data, unsigned len, sc_time& delay) {
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

bool amdvi_unit::read_mem(u64 address, void* data, unsigned len, sc_time& delay) {
    auto* p = static_cast<unsigned char*>(data);
    while (len) {
        const unsigned n = std::min(len, 8u);
        if (!engine.read_entry(address, p, n, delay)) {
            ++m_stats.table_read_errors;
            return false;
        }
        address += n, p += n, len -= n;
    }
    return true;
}

// ---- cmd_sink

bool amdvi_unit::read_memory(u64 address, void* data, unsigned len) {
    sc_time local = sc_core::SC_ZERO_TIME;
    return read_mem(address, data, len, m_cmd_delay ? *m_cmd_delay : local);
}

bool amdvi_unit::write_memory(u64 address, const void* data, unsigned len) {
    sc_time local = sc_core::SC_ZERO_TIME;
    return write_out(address, data, len, m_cmd_delay ? *m_cmd_delay : local);
}

void amdvi_unit::log_event(const event& ev) {
    sc_time local = sc_core::SC_ZERO_TIME;
    log(ev, m_cmd_delay ? *m_cmd_delay : local);
}

// §2.4.1: Status.ComWaitInt is set by the processor; an interrupt only with Control.ComWaitIntEn.
void amdvi_unit::completion_interrupt() {
    if (!(m_regs.get(reg_id::CONTROL) & control::COM_WAIT_INT_EN)) return;
    sc_time local = sc_core::SC_ZERO_TIME;
    raise_interrupt(m_cmd_delay ? *m_cmd_delay : local);
}

void amdvi_unit::invalidate_devtab_entry(u16 device_id) {
    ++m_stats.dte_invalidations;
    m_caches.invalidate_dte(device_id);
    m_se_reported.erase(device_id);
    if (m_cmd_delay) engine.invalidate(m_params.inval_cycles, *m_cmd_delay);
}

void amdvi_unit::invalidate_iommu_pages(u16 domain_id, const inv_range& r, bool pde) {
    ++m_stats.page_invalidations;
    m_caches.invalidate_pages(domain_id, r, pde);
    if (m_cmd_delay) engine.invalidate(m_params.inval_cycles, *m_cmd_delay);
}

// Remote IOTLBs (ATS) are not modelled: devices cache nothing, the command completes at once.
void amdvi_unit::invalidate_iotlb_pages(u16, const inv_range&) {
    ++m_stats.iotlb_invalidations;
    if (m_cmd_delay) engine.invalidate(m_params.inval_cycles, *m_cmd_delay);
}

void amdvi_unit::invalidate_interrupt_table(u16 device_id) {
    ++m_stats.irt_invalidations;
    m_caches.invalidate_irt(device_id);
    if (m_cmd_delay) engine.invalidate(m_params.inval_cycles, *m_cmd_delay);
}

// A prefetch is a hint; the model does not load the IOTLB ahead of use.
void amdvi_unit::prefetch_iommu_pages(u16, u64) { ++m_stats.prefetches; }

void amdvi_unit::invalidate_iommu_all() {
    ++m_stats.all_invalidations;
    m_caches.invalidate_all();
    m_se_reported.clear();
    if (m_cmd_delay) engine.invalidate(m_params.inval_cycles, *m_cmd_delay);
}

} // namespace iommusim::amdvi

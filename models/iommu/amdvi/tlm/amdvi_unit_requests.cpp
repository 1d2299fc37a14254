// amdvi_unit: the upstream request paths (DMA translation, interrupt remapping) and event reporting.
#include "models/iommu/amdvi/tlm/amdvi_unit.h"

#include "sim/tlm/payload_data.h"
#include "sim/tlm/pci_extension.h"

#include <algorithm>

namespace iommusim::amdvi {

using sc_core::sc_time;

void amdvi_unit::dma_transport(int, tlm::tlm_generic_payload& gp, sc_time& delay) {
    const auto* ext = gp.get_extension<tlmx::pci_extension>();
    const u16 devid = ext ? ext->requester_id : 0;
    // §2.2.5: untranslated writes to 0xFEEx_xxxx are interrupt requests; a read there is an error.
    if (msi::is_interrupt_address(gp.get_address())) {
        if (gp.is_write()) interrupt_path(gp, devid, delay);
        else gp.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
        return;
    }
    // ATS translation requests and pre-translated requests (IotlbSup) are not modelled.
    if (ext && ext->at != tlmx::address_type::untranslated) {
        gp.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
        return;
    }
    dma_path(gp, devid, delay);
}

bool amdvi_unit::dma_dmi(int, tlm::tlm_generic_payload&, tlm::tlm_dmi&) { return false; }

// Every 4 KiB piece of the input range is translated on its own and forwarded at its translated address;
// a fault stops the request (logged, the rest is not performed, the requester gets an error: target abort).
void amdvi_unit::dma_path(tlm::tlm_generic_payload& gp, u16 devid, sc_time& delay) {
    ++m_stats.dma_requests;
    const u64 addr = gp.get_address();
    const unsigned len = gp.get_data_length();
    if (!(m_regs.get(reg_id::CONTROL) & control::IOMMU_EN)) {  // §3.4.4: IommuEn clear, untranslated
        ++m_stats.dma_pieces;
        ++m_stats.passed_through;
        out->b_transport(gp, delay);
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
        const xlate_result x = translate({devid, in, gp.is_write()}, delay);
        if (!x.ok()) {
            ++m_stats.faulted;
            status = tlm::TLM_COMMAND_ERROR_RESPONSE;
            break;
        }
        ++(x.pass_through ? m_stats.passed_through : m_stats.translated);
        gp.set_address(x.addr);
        gp.set_data_ptr(data + done);
        gp.set_data_length(n);
        gp.set_streaming_width(std::min(width, n));
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

// The DTE from the DTE cache or four 8-byte reads of the device table; a fetch fault is reported here.
std::optional<dte> amdvi_unit::get_dte(u16 devid, u64 addr, bool write, bool interrupt, sc_time& delay) {
    engine.charge_lookup(m_params.dte_cache.lookup_cycles, delay);
    if (auto d = m_caches.dte_lookup(devid)) return d;
    ++m_stats.dte_fetches;
    const read_u64_fn read = [&](u64 pa) -> std::optional<u64> {
        unsigned char b[8];
        if (!read_mem(pa, b, 8, delay)) return std::nullopt;
        return tlmx::get_le(b, 8);
    };
    const auto l = m_xlate.fetch_dte(m_regs.get(reg_id::DEV_TABLE_BASE), devid, addr, write, interrupt, read);
    if (l.fault) {
        report(*l.fault, nullptr, devid, delay);
        return std::nullopt;
    }
    m_caches.dte_fill(devid, l.entry);
    return l.entry;
}

xlate_result amdvi_unit::translate(const dma_request& req, sc_time& delay) {
    xlate_result x;
    const auto d = get_dte(req.device_id, req.addr, req.write, false, delay);
    if (!d) {
        x.fault = xlate_fault{};  // already reported
        return x;
    }
    const xlate_regs xr{m_regs.get(reg_id::DEV_TABLE_BASE), m_regs.get(reg_id::EXCL_BASE),
                        m_regs.get(reg_id::EXCL_LIMIT), efr()};
    // Walked translations go through the IOTLB first; DTE-only outcomes (V = 0, TV = 0, Mode 0 or invalid,
    // the exclusion range) are decided from the cached DTE alone.
    bool walks = d->v() && d->tv() && d->mode() >= 1 && d->mode() <= m_xlate.max_levels() &&
                 !m_xlate.check_translation(*d, req);
    if (walks && (xr.excl_base & exclusion::EX_EN)) {
        const u64 lo = xr.excl_base & exclusion::BASE, hi = (xr.excl_limit & exclusion::LIMIT) | exclusion::LIMIT_LOW_ONES;
        if (req.addr >= lo && req.addr <= hi && ((xr.excl_base & exclusion::ALLOW) || d->ex())) walks = false;
    }
    if (walks) {
        engine.charge_lookup(m_params.iotlb.lookup_cycles, delay);
        if (auto t = m_caches.iotlb_lookup(d->domain_id(), req.addr)) {
            const bool ok = req.write ? (t->perms & iommu::perm_write) : (t->perms & iommu::perm_read);
            if (ok) {
                ++m_stats.iotlb_hits;
                x.addr = t->address;
                x.page_shift = t->page_shift;
                x.ir = t->perms & iommu::perm_read;
                x.iw = t->perms & iommu::perm_write;
                x.domain = d->domain_id();
                return x;
            }
            // Rights the cached entry lacks: walk again (the tables decide, and report the fault).
        }
    }
    // A walk holds a walk slot from its start (after psc_lookup_cycles of PDE-cache probe and miss
    // handling) to its last read; in functional mode nothing is booked.
    const bool timed = walks && !engine.functional();
    const u64 now = iommu::xlate_engine::to_ps(sc_core::sc_time_stamp());
    iommu::counted_resource::grant g{};
    sc_time wd = delay;
    if (timed) {
        g = engine.walk_slots().acquire(now + iommu::xlate_engine::to_ps(delay));
        wd = iommu::xlate_engine::ps(g.start_ps - now) + engine.cycles(m_params.timing.psc_lookup_cycles);
    }
    const read_u64_fn read = [&](u64 pa) -> std::optional<u64> {
        unsigned char b[8];
        if (!read_mem(pa, b, 8, wd)) return std::nullopt;
        return tlmx::get_le(b, 8);
    };
    x = m_xlate.translate(xr, *d, req, read, &m_caches.pde());
    if (walks) {
        ++m_stats.page_walks;
        m_stats.walk_reads += x.reads;
    }
    if (timed) {
        engine.walk_slots().release(g, now + iommu::xlate_engine::to_ps(wd));
        delay = wd;
    } else {
        delay = wd;
    }
    if (!x.ok()) {
        report(*x.fault, &*d, req.device_id, delay);
        return x;
    }
    if (walks && !x.pass_through) {
        iommu::translation t;
        t.address = x.addr;
        t.page_shift = x.page_shift;
        t.perms = (x.ir ? iommu::perm_read : 0) | (x.iw ? iommu::perm_write : 0);
        m_caches.iotlb_fill(d->domain_id(), req.device_id, req.addr, t);
    }
    return x;
}

// Logs an event, applying the DTE's IO_PAGE_FAULT suppression: SA suppresses all, SE all after the first
// (until the DTE is invalidated).
void amdvi_unit::report(const xlate_fault& f, const dte* d, u16 devid, sc_time& delay) {
    if (f.ev.code() == 0) return;  // already reported
    if (f.io_page_fault && d && d->v()) {
        if (d->sa()) {
            ++m_stats.events_by_code[f.ev.code()];
            ++m_stats.events_suppressed;
            return;
        }
        if (d->se()) {
            if (m_se_reported.count(devid)) {
                ++m_stats.events_by_code[f.ev.code()];
                ++m_stats.events_suppressed;
                return;
            }
            m_se_reported.insert(devid);
        }
    }
    log(f.ev, delay);
}

// §2.2.5: interrupt remapping of one interrupt request. A blocked request is dropped (a posted write: the
// requester sees no error) and logged when the spec names an event.
void amdvi_unit::interrupt_path(tlm::tlm_generic_payload& gp, u16 devid, sc_time& delay) {
    ++m_stats.interrupts;
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
    const u64 ctl = m_regs.get(reg_id::CONTROL);
    if (!(ctl & control::IOMMU_EN)) {
        ++m_stats.interrupts_passed;
        out->b_transport(gp, delay);
        return;
    }
    interrupt_request req;
    req.device_id = devid;
    req.address = gp.get_address();
    req.data = static_cast<u32>(tlmx::get_le(gp.get_data_ptr(), std::min(gp.get_data_length(), 4u)));
    const auto d = get_dte(devid, req.address, true, true, delay);
    if (!d) {
        ++m_stats.interrupts_blocked;
        return;
    }
    ir_mode mode;
    mode.ga = m_params.hw.ga_sup && (ctl & control::GA_EN);
    mode.xt = m_params.hw.xt_sup && (ctl & control::XT_EN);
    const u64 root = d->int_table_root();
    const irte_fetch_fn fetch = [&](u64 address, unsigned bytes) -> std::optional<irte_raw> {
        const u32 index = static_cast<u32>((address - root) / bytes);
        engine.charge_lookup(m_params.irt_cache.lookup_cycles, delay);
        if (auto e = m_caches.irt_lookup(devid, index)) return e;
        irte_raw e;
        unsigned char b[16] = {};
        if (!read_mem(address, b, bytes, delay)) return std::nullopt;
        e.lo = bytes == 16 ? tlmx::get_le(b, 8) : tlmx::get_le(b, 4);
        e.hi = bytes == 16 ? tlmx::get_le(b + 8, 8) : 0;
        if (e.lo & 1) m_caches.irt_fill(devid, index, e);  // RemapEn = 0 entries are not cached
        return e;
    };
    const ir_result r = interrupt_remapper::remap(*d, req, mode, fetch);
    delay += engine.cycles(m_params.ir_cycles);
    if (r.ev) {
        if (r.log) log(*r.ev, delay);
        else {
            ++m_stats.events_by_code[r.ev->code()];
            ++m_stats.events_suppressed;
        }
    }
    switch (r.result) {
    case ir_result::outcome::aborted: ++m_stats.interrupts_blocked; return;
    case ir_result::outcome::passed: ++m_stats.interrupts_passed; out->b_transport(gp, delay); return;
    case ir_result::outcome::remapped: {
        ++m_stats.interrupts_remapped;
        unsigned char buf[4];
        tlmx::put_le(buf, 4, r.message.data);
        write_out(r.message.address, buf, 4, delay);
        return;
    }
    }
}

} // namespace iommusim::amdvi

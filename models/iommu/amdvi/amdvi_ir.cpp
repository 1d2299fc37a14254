#include "models/iommu/amdvi/amdvi_ir.h"

namespace iommusim::amdvi {

namespace {
event_flags int_flags(bool pr = false, bool rz = false) {
    event_flags f;
    f.i = true;
    f.rw = true;  // interrupt requests are writes
    f.pr = pr;
    f.rz = rz;
    return f;
}
ir_result aborted(std::optional<event> ev = std::nullopt, bool log = true) {
    ir_result r;
    r.result = ir_result::outcome::aborted;
    r.ev = ev;
    r.log = log;
    return r;
}
} // namespace

interrupt_message interrupt_remapper::decode(u64 address, u32 data) {
    interrupt_message m;
    m.address = address;
    m.data = data;
    // Destination 19:12, and the extended destination ID in 11:5 (x2APIC IDs up to 32767 without remapping).
    m.destination = static_cast<u32>(bits(address, 19, 12) | (bits(address, 11, 5) << 8));
    m.logical = address & 4;
    m.vector = static_cast<u8>(data & 0xff);
    m.delivery_mode = msi::delivery(data);
    return m;
}

interrupt_message interrupt_remapper::message(u32 destination, u8 vector, u8 int_type, bool dm, bool xt) {
    interrupt_message m;
    const u32 dest = xt ? destination : (destination & 0xff);
    m.destination = dest;
    m.vector = vector;
    m.delivery_mode = int_type;
    m.logical = dm;
    // Destination 7:0 in 19:12; above 255 the bits 14:8 go to 11:5 (extended destination ID) and the full
    // 32-bit value travels in `destination` for an x2APIC-aware interrupt controller.
    m.address = 0xfee00000ull | (u64(dest & 0xff) << 12) | (u64((dest >> 8) & 0x7f) << 5) | (dm ? 4 : 0);
    m.data = msi::make_data(vector, int_type);
    return m;
}

ir_result interrupt_remapper::remap(const dte& d, const interrupt_request& req, ir_mode mode,
                                    const irte_fetch_fn& fetch) {
    ir_result r;
    auto pass = [&] {
        r.result = ir_result::outcome::passed;
        r.message = decode(req.address, req.data);
        return r;
    };
    if (!d.v() || !d.iv()) return pass();
    u64 r2 = 0, r3 = 0;
    dte_format{}.reserved_interrupt(d, r2, r3);
    if (r2 || r3) return aborted(event::illegal_dev_table_entry(req.device_id, req.address, int_flags(false, true)));

    switch (msi::delivery(req.data)) {
    case msi::FIXED:
    case msi::ARBITRATED: break;
    case msi::SMI: return pass();  // no SMI filter is modelled: SMIs pass unmapped
    case msi::NMI: return d.nmi_pass() ? pass() : aborted();
    case msi::INIT: return d.init_pass() ? pass() : aborted();
    case msi::EXTINT: return d.eint_pass() ? pass() : aborted();
    default: return aborted();     // reserved delivery modes 011b, 110b
    }
    switch (d.intctl()) {
    case int_ctl::target_abort: return aborted();
    case int_ctl::forward_unmapped: return pass();
    case int_ctl::reserved:
        return aborted(event::illegal_dev_table_entry(req.device_id, req.address, int_flags(false, true)));
    case int_ctl::remap: break;
    }
    if (d.int_tab_len() > dte::MAX_INT_TAB_LEN)
        return aborted(event::illegal_dev_table_entry(req.device_id, req.address, int_flags(false, false)));
    const u16 dom = d.domain_id();
    r.index = msi::index(req.data);
    if (r.index >= d.int_table_entries()) {
        auto a = aborted(event::io_page_fault(req.device_id, dom, req.address, int_flags()));
        a.index = r.index;
        return a;
    }
    const unsigned bytes = mode.ga ? 16 : 4;
    r.irte_address = d.int_table_root() + u64(r.index) * bytes;
    auto raw = fetch(r.irte_address, bytes);
    if (!raw) {
        auto a = aborted(event::page_tab_hw_error(req.device_id, dom, r.irte_address, int_flags(), hw_error_type::target_abort));
        a.index = r.index, a.irte_address = r.irte_address;
        return a;
    }
    bool remap_en, sup_iopf, dm, guest, reserved;
    u8 int_type, vector;
    u32 dest;
    if (mode.ga) {
        const irte_ga e{raw->lo, raw->hi};
        remap_en = e.remap_en(), sup_iopf = e.sup_iopf(), dm = e.dm(), guest = e.guest_mode();
        reserved = e.reserved_lo() || e.reserved_hi();
        int_type = e.int_type(), vector = e.vector(), dest = e.destination();
    } else {
        const irte32 e{static_cast<u32>(raw->lo)};
        remap_en = e.remap_en(), sup_iopf = e.sup_iopf(), dm = e.dm(), guest = false;
        reserved = e.reserved() != 0;
        int_type = e.int_type(), vector = e.vector(), dest = e.destination();
    }
    auto fault = [&](event_flags f, bool log) {
        auto a = aborted(event::io_page_fault(req.device_id, dom, req.address, f), log);
        a.index = r.index, a.irte_address = r.irte_address;
        return a;
    };
    // RemapEn = 0: IO_PAGE_FAULT with I = 1, unless the IRTE's SupIOPF or the DTE's IG suppresses it.
    if (!remap_en) return fault(int_flags(), !(sup_iopf || d.ig()));
    if (reserved || guest || int_type > msi::ARBITRATED) return fault(int_flags(true, true), !sup_iopf);
    r.result = ir_result::outcome::remapped;
    r.message = message(dest, vector, int_type, dm, mode.ga && mode.xt);
    return r;
}

} // namespace iommusim::amdvi

#include "models/iommu/vtd/vtd_ir.h"

namespace iommusim::vtd {

namespace {

constexpr u64 k_msi_base = 0xfee00000ull;

ir_result fault(fault_reason r, u32 index = 0) {
    ir_result out;
    out.fault = r;
    out.index = static_cast<u16>(index);
    return out;
}

} // namespace

interrupt_message interrupt_remapper::decode_compat(u64 address, u32 data) {
    // §5.1.2.1 compatibility format: destination ID 19:12, RH 3, DM 2; data: vector 7:0, delivery mode
    // 10:8, trigger mode 15.
    const msi_address a{address};
    interrupt_message m;
    m.address = address;
    m.data = data;
    m.destination = a.dest_id();
    m.vector = static_cast<u8>(data & 0xff);
    m.delivery_mode = static_cast<u8>(bits(data, 10, 8));
    m.level = (data >> 15) & 1;
    m.logical = a.dm();
    m.redirection_hint = a.rh();
    return m;
}

interrupt_message interrupt_remapper::message_from_irte(const irte& e, bool eime) {
    interrupt_message m;
    // §9.10 DST: x2APIC mode uses all 32 bits; xAPIC mode carries the 8-bit APIC ID in DST 15:8.
    m.destination = eime ? e.dst() : e.xapic_dst();
    m.vector = e.vector();
    m.delivery_mode = static_cast<u8>(e.dlm());
    m.level = e.tm();
    m.logical = e.dm();
    m.redirection_hint = e.rh();
    // The interrupt controller sees a compatibility-format MSI. Destination ID bits 31:8 have no place in
    // that format; they go to address bits 63:40, the extended-destination convention of QEMU/KVM and
    // VirtualBox (implementation-defined: real hardware hands the remapped interrupt over internally).
    m.address = k_msi_base | place(m.destination & 0xff, 19, 12) | (m.redirection_hint ? 1ull << 3 : 0) |
                (m.logical ? 1ull << 2 : 0);
    if (eime) m.address |= static_cast<u64>(m.destination & 0xffffff00u) << 32;
    // Data: vector 7:0, delivery mode 10:8, level 14 (assert), trigger mode 15.
    m.data = m.vector | (static_cast<u32>(m.delivery_mode) << 8) | (1u << 14) | (m.level ? 1u << 15 : 0);
    return m;
}

ir_result interrupt_remapper::remap(const ir_state& s, const interrupt_request& req, const irte_fetch_fn& fetch) {
    // §5.1.4: with interrupt remapping disabled every request is processed in compatibility format. So
    // is anything outside 0xFEEx_xxxx, which is not an interrupt request at all (the caller routes only
    // interrupt writes here).
    if (!s.enabled || !is_interrupt_address(req.address)) {
        ir_result out;
        out.message = decode_compat(req.address, req.data);
        return out;
    }
    const msi_address a{req.address};
    const bool eime = s.eime();

    // §5.1.4 compatibility format (Interrupt Format bit 4 clear): blocked while extended interrupt mode is
    // enabled or GSTS.CFIS is clear (fault 25h, not qualified), otherwise passed through.
    if (!a.remappable()) {
        if (eime || !s.cfis) return fault(fault_reason::ir_compat_blocked);
        ir_result out;
        out.message = decode_compat(req.address, req.data);
        return out;
    }

    // §5.1.2.2 remappable format: data bits 31:16 are reserved (fault 20h, not qualified). Address bits
    // 1:0 are "don't care".
    if (req.data & k_request_data_reserved) return fault(fault_reason::ir_request_reserved);

    // §5.1.3 interrupt_index = handle (+ sub-handle when SHV); bounded by the table size in IRTA.S (21h).
    // Computed in 32 bits: handle + sub-handle may exceed 16 bits, which is beyond any table.
    const u32 index = a.interrupt_index(req.data);
    if (index >= s.entries()) return fault(fault_reason::ir_index_beyond_irt, index);

    // IRTE fetch (23h, not qualified). An entry above the host address width is not memory at all.
    const u64 irte_addr = s.table_base() + irte::size * index;
    if (irte_addr & above_haw(s.haw)) return fault(fault_reason::ir_irt_access_error, index);
    const auto raw = fetch ? fetch(irte_addr) : std::nullopt;
    if (!raw) return fault(fault_reason::ir_irt_access_error, index);
    const irte e{raw->first, raw->second};

    ir_result out;
    out.index = static_cast<u16>(index);
    out.irte_lo = e.lo;
    out.irte_hi = e.hi;
    // Qualified faults (22h, 24h, 26h): the IRTE's FPD is evaluated whatever P says (§9.10 FPD).
    out.fpd = e.fpd();
    if (!e.present()) {
        out.fault = fault_reason::ir_irte_not_present;
        return out;
    }
    // Reserved fields by format: DST 7:0 and 31:16 in xAPIC mode (IRTA.EIME clear), reserved SVT, and
    // IM = 1 when posted interrupts are not supported (CAP.PI clear: bit 15 is reserved).
    if (e.reserved(eime, s.pi)) {
        out.fault = fault_reason::ir_irte_reserved;
        return out;
    }
    // Source-id verification by SVT/SQ/SID (26h): requester-ID with SQ masks, or an inclusive bus range.
    if (!e.source_ok(req.sid)) {
        out.fault = fault_reason::ir_source_id_blocked;
        return out;
    }
    out.remapped = true;
    if (e.im()) {
        // Posted format (only reachable with CAP.PI). The posted-interrupt descriptor is the unit's to
        // update, so this class never raises 27h.
        out.posted = true;
        out.pda = e.pda();
        out.urgent = e.urg();
        out.message.vector = e.vector();
        return out;
    }
    out.message = message_from_irte(e, eime);
    return out;
}

} // namespace iommusim::vtd

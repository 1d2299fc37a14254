#include "models/iommu/amdvi/amdvi_defs.h"

namespace iommusim::amdvi {

namespace {
constexpr u64 b(bool v, unsigned n) { return v ? bit(n) : 0; }
} // namespace

// ---- §2.2.2.2 DTE

dte dte::make_translation(u64 root, unsigned mode, u16 domain, bool ir, bool iw) {
    dte d;
    d.w[0] = bit(0) | bit(1) | place(mode, 11, 9) | (root & ADDR_51_12) | b(ir, 61) | b(iw, 62);
    d.w[1] = domain;
    return d;
}

dte dte::make_passthrough(u16 domain, bool ir, bool iw) { return make_translation(0, 0, domain, ir, iw); }

dte& dte::with_interrupts(u64 table, unsigned len, int_ctl ctl, bool ig_) {
    w[2] &= ~(mask(5, 0) | mask(51, 6) | mask(61, 60));
    w[2] |= bit(0) | place(len, 4, 1) | b(ig_, 5) | (table & mask(51, 6)) | place(static_cast<u64>(ctl), 61, 60);
    return *this;
}

dte& dte::with_pass(bool init, bool eint, bool nmi, bool lint0, bool lint1) {
    w[2] &= ~(mask(58, 56) | mask(63, 62));
    w[2] |= b(init, 56) | b(eint, 57) | b(nmi, 58) | b(lint0, 62) | b(lint1, 63);
    return *this;
}

dte& dte::with_sysmgt(sys_mgt s) {
    w[1] = (w[1] & ~mask(41, 40)) | place(static_cast<u64>(s), 41, 40);
    return *this;
}

dte& dte::with_flags(bool i_, bool se_, bool sa_, bool ex_, bool sd_, bool cache_) {
    w[1] &= ~(bit(32) | bit(33) | bit(34) | bit(37) | bit(38) | bit(39));
    w[1] |= b(i_, 32) | b(se_, 33) | b(sa_, 34) | b(cache_, 37) | b(sd_, 38) | b(ex_, 39);
    return *this;
}

dte_format dte_format::from_efr(u64 e) {
    dte_format f;
    f.gt_sup = e & efr::GT_SUP;
    f.ppr_sup = e & efr::PPR_SUP;
    f.hd_sup = (e & efr::HD_SUP) || (e & efr::HA_SUP);
    f.gio_sup = e & efr::GIO_SUP;
    f.eph_sup = e & efr::EPH_SUP;
    return f;
}

// §2.2.2.2 reserved fields of qwords 1:0: 6:2, 63, 106; the feature fields reserved without their feature.
void dte_format::reserved_translation(const dte& d, u64& r0, u64& r1) const {
    u64 m0 = mask(6, 2) | bit(63);
    u64 m1 = bit(42);  // bit 106
    if (!hd_sup) m0 |= mask(8, 7);
    if (!ppr_sup) m0 |= bit(52);
    if (!eph_sup) m0 |= bit(53);
    if (!gio_sup) m0 |= bit(54);
    if (!gt_sup) {
        m0 |= mask(60, 55);
        m1 |= mask(31, 16) | mask(63, 43);
    }
    r0 = d.w[0] & m0;
    r1 = d.w[1] & m1;
}

// Qword 2: 183:180 and 187 reserved; qword 3: 245:192 reserved (AttrV, Mode0FC and the snoop attribute
// in 255:246 are accepted and ignored).
void dte_format::reserved_interrupt(const dte& d, u64& r2, u64& r3) const {
    r2 = d.w[2] & (mask(55, 52) | bit(59));
    r3 = d.w[3] & mask(53, 0);
}

// ---- §2.2.3 page-table entries

pte pte::pde(u64 next_table, unsigned next_level, bool ir_, bool iw_) {
    return {bit(0) | place(next_level, 11, 9) | (next_table & ADDR_51_12) | b(ir_, 61) | b(iw_, 62)};
}

pte pte::page(u64 addr_, bool ir_, bool iw_, bool fc_, bool u_) {
    return {bit(0) | (addr_ & ADDR_51_12) | b(u_, 59) | b(fc_, 60) | b(ir_, 61) | b(iw_, 62)};
}

pte pte::large(u64 addr_, unsigned shift, bool ir_, bool iw_, bool fc_) {
    // Linux PAGE_SIZE_PTE: address | (size - 1) with bit (shift - 1) cleared, then bits 11:0 dropped.
    const u64 size = shift >= 64 ? 0 : 1ull << shift;
    u64 a = (addr_ & ~(size - 1)) | ((size - 1) & ~(size >> 1));
    return {bit(0) | place(7, 11, 9) | (a & ADDR_51_12) | b(fc_, 60) | b(ir_, 61) | b(iw_, 62)};
}

unsigned large_page_shift(u64 v) {
    for (unsigned n = PAGE_SHIFT; n <= 51; ++n)
        if (!(v & bit(n))) return n + 1;
    return 0;
}

// ---- §2.4 commands

const char* cmd_name(u8 op) {
    switch (op) {
    case 0x1: return "COMPLETION_WAIT";
    case 0x2: return "INVALIDATE_DEVTAB_ENTRY";
    case 0x3: return "INVALIDATE_IOMMU_PAGES";
    case 0x4: return "INVALIDATE_IOTLB_PAGES";
    case 0x5: return "INVALIDATE_INTERRUPT_TABLE";
    case 0x6: return "PREFETCH_IOMMU_PAGES";
    case 0x7: return "COMPLETE_PPR_REQUEST";
    case 0x8: return "INVALIDATE_IOMMU_ALL";
    default: return "reserved";
    }
}

// §2.4.1 - §2.4.8: the fields each command leaves reserved.
u64 command::reserved_lo() const {
    switch (opcode()) {
    case 0x1: return lo & mask(59, 52);
    case 0x2: return lo & mask(59, 16);
    case 0x3: return lo & (mask(31, 20) | mask(59, 48));
    case 0x4: return lo & mask(59, 56);
    case 0x5: return lo & mask(59, 16);
    case 0x6: return lo & (mask(23, 16) | mask(59, 52));
    case 0x7: return lo & (mask(31, 16) | mask(59, 52));
    case 0x8: return lo & mask(59, 0);
    default: return lo | 1;  // an unknown opcode is illegal whatever its operands
    }
}

u64 command::reserved_hi() const {
    switch (opcode()) {
    case 0x1: return 0;
    case 0x2: return hi;
    case 0x3: return hi & mask(11, 3);
    case 0x4: return hi & (bit(1) | bit(3) | mask(11, 6));  // Type 5:4 only with InvIotlbTypeSup (not modelled)
    case 0x5: return hi;
    case 0x6: return hi & (bit(1) | bit(3) | mask(11, 5));
    case 0x7: return hi & (mask(1, 0) | mask(31, 3) | mask(43, 41) | mask(63, 48));
    case 0x8: return hi;
    default: return hi;
    }
}

namespace {
constexpr u64 op(cmd_opcode o) { return place(static_cast<u64>(o), 63, 60); }
} // namespace

command command::completion_wait(u64 store_address, u64 store_data, bool s_, bool i_, bool f_) {
    return {op(cmd_opcode::completion_wait) | (store_address & mask(51, 3)) | b(s_, 0) | b(i_, 1) | b(f_, 2),
            store_data};
}

command command::invalidate_devtab_entry(u16 device_id) { return {op(cmd_opcode::invalidate_devtab_entry) | device_id, 0}; }

command command::invalidate_iommu_pages(u16 domain_id, u64 address, bool s_, bool pde_, bool gn_, u32 pasid_) {
    return {op(cmd_opcode::invalidate_iommu_pages) | place(domain_id, 47, 32) | place(pasid_, 19, 0),
            (address & mask(63, 12)) | b(s_, 0) | b(pde_, 1) | b(gn_, 2)};
}

command command::invalidate_iotlb_pages(u16 device_id, u8 maxpend_, u64 address, bool s_, bool gn_, u32 pasid_) {
    // Linux build_inv_iotlb_pages: QueueID = DeviceID; PASID[15:8] in 23:16, PASID[7:0] in 55:48.
    return {op(cmd_opcode::invalidate_iotlb_pages) | device_id | place(pasid_ >> 8, 23, 16) | place(maxpend_, 31, 24) |
                place(device_id, 47, 32) | place(pasid_ & 0xff, 55, 48),
            (address & mask(63, 12)) | b(s_, 0) | b(gn_, 2)};
}

command command::invalidate_interrupt_table(u16 device_id) {
    return {op(cmd_opcode::invalidate_interrupt_table) | device_id, 0};
}

command command::prefetch_iommu_pages(u16 device_id, u8 pf_count_, u64 address, bool s_, bool inv) {
    return {op(cmd_opcode::prefetch_iommu_pages) | device_id | place(pf_count_, 31, 24),
            (address & mask(63, 12)) | b(s_, 0) | b(inv, 4)};
}

command command::complete_ppr_request(u16 device_id, u32 pasid_, bool gn_, u16 tag, u8 status_) {
    return {op(cmd_opcode::complete_ppr_request) | device_id | place(pasid_, 51, 32),
            b(gn_, 2) | place(tag, 40, 32) | place(status_, 47, 44)};
}

command command::invalidate_iommu_all() { return {op(cmd_opcode::invalidate_iommu_all), 0}; }

inv_range decode_inv_range(u64 address, bool s) {
    const u64 a = address & mask(63, 12);
    if (!s) return {a, PAGE_SIZE};
    for (unsigned n = PAGE_SHIFT; n <= 62; ++n) {
        if (!(a & bit(n))) {
            if (n + 1 >= 63) return {0, 0};
            const u64 size = 1ull << (n + 1);
            return {a & ~(size - 1), size};
        }
    }
    return {0, 0};
}

u64 encode_inv_range(u64 base, unsigned shift) {
    if (shift <= PAGE_SHIFT) return base & mask(63, 12);
    if (shift > 62) return INV_ALL_PAGES_ADDRESS;
    const u64 size = 1ull << shift;
    return ((base & ~(size - 1)) | ((size >> 1) - 1)) & mask(63, 12);
}

// ---- §2.5 events

const char* event_name(u8 code) {
    switch (code) {
    case 0x1: return "ILLEGAL_DEV_TABLE_ENTRY";
    case 0x2: return "IO_PAGE_FAULT";
    case 0x3: return "DEV_TAB_HW_ERROR";
    case 0x4: return "PAGE_TAB_HW_ERROR";
    case 0x5: return "ILLEGAL_COMMAND_ERROR";
    case 0x6: return "COMMAND_HW_ERROR";
    case 0x7: return "IOTLB_INV_TIMEOUT";
    case 0x8: return "INVALID_DEVICE_REQUEST";
    case 0x9: return "INVALID_PPR_REQUEST";
    default: return "reserved";
    }
}

u64 event_flags::encode() const {
    return b(gn, 48) | b(nx, 49) | b(us, 50) | b(i, 51) | b(pr, 52) | b(rw, 53) | b(pe, 54) | b(rz, 55) | b(tr, 56);
}

event_flags event_flags::decode(u64 lo) {
    event_flags f;
    f.gn = lo & bit(48);
    f.nx = lo & bit(49);
    f.us = lo & bit(50);
    f.i = lo & bit(51);
    f.pr = lo & bit(52);
    f.rw = lo & bit(53);
    f.pe = lo & bit(54);
    f.rz = lo & bit(55);
    f.tr = lo & bit(56);
    return f;
}

namespace {
constexpr u64 ev_code(event_code c) { return place(static_cast<u64>(c), 63, 60); }
} // namespace

// §2.5.2: DeviceID 15:0, PASID[19:16] 19:16, PASID[15:0] 47:32, GN, I, RW, RZ, TN; Address = the DVA.
event event::illegal_dev_table_entry(u16 device_id, u64 address, event_flags f, u32 pasid_) {
    event_flags g;
    g.gn = f.gn, g.i = f.i, g.rw = f.rw, g.rz = f.rz, g.tr = f.tr;
    return {ev_code(event_code::illegal_dev_table_entry) | device_id | place(pasid_ >> 16, 19, 16) |
                place(pasid_ & 0xffff, 47, 32) | g.encode(),
            address};
}

// §2.5.3: DeviceID 15:0, DomainID (PASID with GN) 47:32, GN NX US I PR RW PE RZ TR; Address = the DVA.
event event::io_page_fault(u16 device_id, u16 domain_id, u64 address, event_flags f) {
    return {ev_code(event_code::io_page_fault) | device_id | place(domain_id, 47, 32) | f.encode(), address};
}

// §2.5.4: DeviceID, I, RW, TR, TYPE; Address = the DTE's system physical address (bits 63:4).
event event::dev_tab_hw_error(u16 device_id, u64 dte_address, event_flags f, hw_error_type t) {
    event_flags g;
    g.i = f.i, g.rw = f.rw, g.tr = f.tr;
    return {ev_code(event_code::dev_tab_hw_error) | device_id | g.encode() | place(static_cast<u64>(t), 58, 57),
            dte_address & mask(63, 4)};
}

// §2.5.5: DeviceID, DomainID 47:32, GN, I, RW, TR, TYPE; Address = the PTE's system physical address.
event event::page_tab_hw_error(u16 device_id, u16 domain_id, u64 pte_address, event_flags f, hw_error_type t) {
    event_flags g;
    g.gn = f.gn, g.i = f.i, g.rw = f.rw, g.tr = f.tr;
    return {ev_code(event_code::page_tab_hw_error) | device_id | place(domain_id, 47, 32) | g.encode() |
                place(static_cast<u64>(t), 58, 57),
            pte_address & mask(63, 3)};
}

// §2.5.6: only the command's system physical address.
event event::illegal_command_error(u64 command_address) {
    return {ev_code(event_code::illegal_command_error), command_address & mask(63, 4)};
}

// §2.5.7: TYPE and the address of the failed access.
event event::command_hw_error(u64 address, hw_error_type t) {
    return {ev_code(event_code::command_hw_error) | place(static_cast<u64>(t), 58, 57), address & mask(63, 4)};
}

// §2.5.8: DeviceID and the address of the INVALIDATE_IOTLB_PAGES command (127:68).
event event::iotlb_inv_timeout(u16 device_id, u64 command_address) {
    return {ev_code(event_code::iotlb_inv_timeout) | device_id, command_address & mask(63, 4)};
}

// §2.5.9: DeviceID, PASID, GN, US, TR, TYPE 59:57; Address = the request's address.
event event::invalid_device_request(u16 device_id, u64 address, event_flags f, unsigned type, u32 pasid_) {
    event_flags g;
    g.gn = f.gn, g.us = f.us, g.tr = f.tr;
    return {ev_code(event_code::invalid_device_request) | device_id | place(pasid_ >> 16, 19, 16) |
                place(pasid_ & 0xffff, 47, 32) | g.encode() | place(type, 59, 57),
            address};
}

// ---- §2.2.5 IRTEs

irte32 irte32::make(u8 vector_, u8 destination_, bool dm_, u8 int_type_, bool rq_eoi_, bool sup_iopf_) {
    return {static_cast<u32>(1u | (sup_iopf_ ? 2u : 0) | (u32(int_type_ & 7) << 2) | (rq_eoi_ ? 0x20u : 0) |
                             (dm_ ? 0x40u : 0) | (u32(destination_) << 8) | (u32(vector_) << 16))};
}

irte_ga irte_ga::make(u8 vector_, u32 destination_, bool dm_, u8 int_type_, bool rq_eoi_, bool sup_iopf_) {
    irte_ga e;
    e.lo = 1u | b(sup_iopf_, 1) | place(int_type_, 4, 2) | b(rq_eoi_, 5) | b(dm_, 6) | place(destination_ & 0xffffff, 31, 8);
    e.hi = vector_ | place(destination_ >> 24, 63, 56);
    return e;
}

} // namespace iommusim::amdvi

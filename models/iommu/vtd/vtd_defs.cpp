#include "models/iommu/vtd/vtd_defs.h"

namespace iommusim::vtd {

root_entry root_entry::make(u64 context_table) { return {(context_table & mask(63, 12)) | 1, 0}; }

u64 context_entry::reserved(unsigned haw) const {
    u64 r = lo & mask(11, 4);
    if (tt() != translation_type::pass_through) r |= lo & above_haw(haw);
    r |= hi & (mask(7, 7) | mask(63, 24));
    return r;
}

context_entry context_entry::make(u64 slptptr, unsigned aw, u16 did, translation_type tt, bool fpd) {
    context_entry c;
    c.lo = (slptptr & mask(63, 12)) | place(static_cast<u64>(tt), 3, 2) | (fpd ? 2 : 0) | 1;
    c.hi = place(aw, 2, 0) | place(did, 23, 8);
    return c;
}

sl_entry sl_entry::table(u64 next, bool r, bool w) {
    return {(next & mask(51, 12)) | (r ? 1 : 0) | (w ? 2 : 0)};
}

sl_entry sl_entry::page(u64 addr, bool r, bool w, bool large, bool snp, bool tm) {
    return {(addr & mask(51, 12)) | (r ? 1 : 0) | (w ? 2 : 0) | (large ? 1ull << 7 : 0) | (snp ? 1ull << 11 : 0) |
            (tm ? 1ull << 62 : 0)};
}

bool sl_format::large_page_ok(unsigned level) const {
    if (level == 2) return sllps & 0x1;
    if (level == 3) return sllps & 0x2;
    return false;
}

u64 sl_format::reserved(sl_entry e, unsigned level) const {
    const u64 v = e.v;
    u64 r = v & above_haw(haw);
    const bool leaf = level == 1 || e.ps();
    if (!leaf) {
        // Non-leaf: bit 11 and bit 62 reserved; bits 6:3, 8 (A), 10:9, 61:52, 63 ignored.
        r |= v & ((1ull << 11) | (1ull << 62));
        return r;
    }
    if (level > 1 && !large_page_ok(level)) return r | (v & (1ull << 7));
    if (!sc) r |= v & (1ull << 11);   // SNP reserved without snoop control
    if (!dt) r |= v & (1ull << 62);   // TM reserved without device-TLB support
    if (level > 1) r |= v & mask(PAGE_SHIFT + 9 * (level - 1) - 1, 12);  // large page: address low bits
    return r;
}

u64 irte::reserved(bool eime, bool pi) const {
    // Bits 127:84 are reserved in the remapped format; 95:84 in the posted one (PDAH is 127:96).
    u64 r = hi & (im() ? mask(31, 20) : mask(63, 20));
    if (svt() == irte_svt::reserved) r |= hi & mask(19, 18);
    if (im()) {
        if (!pi) return r | (lo & (1ull << 15));
        r |= lo & (mask(7, 2) | mask(13, 12) | mask(37, 24));
        return r;
    }
    r |= lo & (mask(14, 12) | mask(31, 24));
    // xAPIC mode: only DST 15:8 carries the destination.
    if (!eime) r |= lo & (mask(39, 32) | mask(63, 48));
    return r;
}

bool irte::source_ok(u16 requester) const {
    switch (svt()) {
    case irte_svt::none: return true;
    case irte_svt::sid_sq: {
        // SQ: 00 all 16 bits, 01 ignore bit 2, 10 ignore bits 2:1, 11 ignore bits 2:0 (function number).
        static constexpr u16 ignore[4] = {0x0, 0x4, 0x6, 0x7};
        const u16 m = static_cast<u16>(~ignore[sq()]);
        return (requester & m) == (sid() & m);
    }
    case irte_svt::bus_range: {
        // SID 15:8 start bus, 7:0 end bus, inclusive.
        const unsigned bus = requester >> 8;
        return bus >= (sid() >> 8) && bus <= (sid() & 0xff);
    }
    case irte_svt::reserved: return false;
    }
    return false;
}

irte irte::make_remapped(u8 vector, u32 dst, unsigned dlm, bool dm, bool tm, bool rh, bool fpd) {
    irte e;
    e.lo = 1 | (fpd ? 2 : 0) | (dm ? 4 : 0) | (rh ? 8 : 0) | (tm ? 16 : 0) | place(dlm, 7, 5) |
           place(vector, 23, 16) | place(dst, 63, 32);
    return e;
}

irte irte::make_posted(u8 vector, u64 pda, bool urg, bool fpd) {
    irte e;
    e.lo = 1 | (fpd ? 2 : 0) | (urg ? 1ull << 14 : 0) | (1ull << 15) | place(vector, 23, 16) |
           place(bits(pda, 31, 6), 63, 38);
    e.hi = place(bits(pda, 63, 32), 63, 32);
    return e;
}

irte& irte::with_source(irte_svt svt, unsigned sq, u16 sid) {
    hi = (hi & ~mask(19, 0)) | place(sid, 15, 0) | place(sq, 17, 16) | place(static_cast<u64>(svt), 19, 18);
    return *this;
}

msi_address msi_address::make_remappable(u16 handle, bool shv) {
    return {0xfee00000ull | place(handle & 0x7fff, 19, 5) | (1ull << 4) | (shv ? 8 : 0) |
            (static_cast<u64>(handle >> 15) << 2)};
}

msi_address msi_address::make_compat(u8 dest_id, bool rh, bool dm) {
    return {0xfee00000ull | place(dest_id, 19, 12) | (rh ? 8 : 0) | (dm ? 4 : 0)};
}

} // namespace iommusim::vtd

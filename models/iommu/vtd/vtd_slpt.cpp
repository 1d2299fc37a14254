#include "models/iommu/vtd/vtd_slpt.h"

#include "models/iommu/vtd/vtd_params.h"

#include <algorithm>

namespace iommusim::vtd {

xlate_caps xlate_caps::from_registers(u64 c, u64 e, unsigned haw) {
    xlate_caps x;
    x.haw = haw;
    x.mgaw = cap::mgaw(c);
    x.sagaw = static_cast<u8>(cap::sagaw(c));
    x.sllps = static_cast<u8>(cap::sllps(c));
    x.pt = ecap::pt(e);
    x.dt = ecap::dt(e);
    x.sc = ecap::sc(e);
    return x;
}

namespace {
xlate_result fail(fault_reason r, unsigned level = 0, u64 entry = 0) { return xlate_result::faulted(r, level, entry); }
} // namespace

xlate_result slpt_translator::lookup_context(u64 rtaddr, u16 sid, const read_u64_fn& read,
                                             context_entry& out) const {
    // §3.4.2: the root table (4 KiB, 256 entries) is indexed by bus, the context table by devfn.
    const u64 root_pa = (rtaddr & mask(63, 12)) + (sid >> 8) * root_entry::size;
    auto rlo = read(root_pa), rhi = read(root_pa + 8);
    if (!rlo || !rhi) return fail(fault_reason::root_table_access_error);
    const root_entry re{*rlo, *rhi};
    if (!re.present()) return fail(fault_reason::root_entry_not_present, 0, re.lo);
    if (re.reserved(m_caps.haw)) return fail(fault_reason::root_entry_reserved, 0, re.lo);

    const u64 ctx_pa = re.ctp() + (sid & 0xff) * context_entry::size;
    auto clo = read(ctx_pa), chi = read(ctx_pa + 8);
    if (!clo || !chi) return fail(fault_reason::context_table_access_error);
    const context_entry ce{*clo, *chi};
    if (!ce.present()) return fail(fault_reason::context_entry_not_present, 0, ce.lo);
    if (ce.reserved(m_caps.haw)) return fail(fault_reason::context_entry_reserved, 0, ce.lo);

    // From here on the entry is valid enough for its FPD and DID to govern the fault.
    xlate_result x;
    x.fpd = ce.fpd();
    x.did = ce.did();
    x.entry = ce.lo;
    const translation_type tt = ce.tt();
    bool tt_ok = tt == translation_type::untranslated_only || (tt == translation_type::device_tlb && m_caps.dt) ||
                 (tt == translation_type::pass_through && m_caps.pt);
    // AW must name an AGAW the hardware supports (SAGAW); under pass-through hardware ignores SLPTPTR
    // but software still programs the largest AGAW.
    const unsigned aw = ce.aw();
    if (aw < 1 || aw > 3 || !(m_caps.sagaw & (1u << aw))) tt_ok = false;
    if (!tt_ok) x.fault = fault_reason::context_entry_invalid;
    out = ce;
    return x;
}

xlate_result slpt_translator::walk(u64 slptptr, unsigned levels, const xlate_request& req,
                                   const read_u64_fn& read) const {
    const sl_format fmt{m_caps.haw, m_caps.sllps, m_caps.sc, m_caps.dt};
    const bool ats = req.at == address_type::translation_request;
    u64 table = slptptr & mask(63, 12);
    bool r = true, w = true;
    for (unsigned level = levels; level >= 1; --level) {
        const u64 pa = table + level_index(req.addr, level) * 8;
        auto v = read(pa);
        if (!v) return fail(fault_reason::paging_entry_access_error, level);
        const sl_entry e{*v};
        if (!e.present()) {
            // §3.6: R = W = 0 is not present; it faults as a missing permission of the request's kind.
            // A translation request gets a completion with R = W = 0 instead.
            if (ats) {
                xlate_result x;
                x.level = level;
                x.page_size = level_page_size(level);
                x.addr = req.addr & ~(x.page_size - 1);
                return x;
            }
            return fail(req.write ? fault_reason::write_not_allowed : fault_reason::read_not_allowed, level, e.v);
        }
        if (fmt.reserved(e, level)) return fail(fault_reason::paging_entry_reserved, level, e.v);
        r = r && e.r();
        w = w && e.w();
        if (!ats) {
            if (req.write && !w) return fail(fault_reason::write_not_allowed, level, e.v);
            if (!req.write && !r) return fail(fault_reason::read_not_allowed, level, e.v);
        }
        const bool leaf = level == 1 || e.ps();
        if (leaf) {
            xlate_result x;
            x.level = level;
            x.page_size = level_page_size(level);
            x.addr = (e.addr() & ~(x.page_size - 1)) | (req.addr & (x.page_size - 1));
            x.r = r;
            x.w = w;
            x.snp = m_caps.sc && e.snp();
            x.tm = m_caps.dt && e.tm();
            x.entry = e.v;
            return x;
        }
        table = e.addr();
    }
    return fail(fault_reason::paging_entry_reserved, 1);  // not reached: level 1 is always a leaf
}

xlate_result slpt_translator::translate(u64 rtaddr, const xlate_request& req, const read_u64_fn& read) const {
    context_entry ce;
    xlate_result x = lookup_context(rtaddr, req.sid, read, ce);
    if (!x.ok()) return x;
    const bool fpd = x.fpd;
    const u16 did = x.did;
    auto with_context = [&](xlate_result y) {
        y.fpd = fpd;
        y.did = did;
        return y;
    };
    const translation_type tt = ce.tt();

    // §9.3 TT: which address types each translation type accepts.
    if (req.at != address_type::untranslated && tt != translation_type::device_tlb)
        return with_context(fail(fault_reason::translation_type_blocked, 0, ce.lo));
    if (req.at == address_type::translated) {
        // TT = 01b: translated requests bypass translation.
        xlate_result y;
        y.addr = req.addr;
        y.r = y.w = true;
        y.pass_through = true;
        return with_context(y);
    }
    if (tt == translation_type::pass_through) {
        xlate_result y;
        y.addr = req.addr;
        y.r = y.w = true;
        y.pass_through = true;
        return with_context(y);
    }
    // §3.6: the input address must fit X = min(MGAW, AGAW) bits.
    const unsigned x_bits = std::min(m_caps.mgaw, agaw_bits(ce.aw()));
    if (x_bits < 64 && (req.addr >> x_bits) != 0)
        return with_context(fail(fault_reason::address_beyond_agaw, 0, ce.lo));
    return with_context(walk(ce.slptptr(), agaw_levels(ce.aw()), req, read));
}

} // namespace iommusim::vtd

#include "models/iommu/amdvi/amdvi_xlate.h"

namespace iommusim::amdvi {

event_flags dma_flags(const dma_request& req, bool pr, bool pe, bool rz) {
    event_flags f;
    f.rw = req.write;
    f.pr = pr;
    f.pe = pe;
    f.rz = rz;
    return f;
}

namespace {
xlate_result faulted(const event& ev, bool iopf, unsigned level = 0) {
    xlate_result x;
    x.fault = xlate_fault{ev, iopf};
    x.level = level;
    return x;
}
xlate_result page_fault(const dma_request& req, u16 domain, event_flags f, unsigned level = 0) {
    return faulted(event::io_page_fault(req.device_id, domain, req.addr, f), true, level);
}
} // namespace

dte_lookup v1_translator::fetch_dte(u64 dev_table_base, u16 device_id, u64 request_addr, bool write, bool interrupt,
                                    const read_u64_fn& read) const {
    dte_lookup out;
    out.address = (dev_table_base & devtab_base::BASE) + u64(device_id) * dte::size;
    event_flags f;
    f.rw = write;
    f.i = interrupt;
    // A DeviceID beyond the table's Size: the request cannot be looked up; reported as an IO_PAGE_FAULT
    // without PR (as VirtualBox's model does; the spec leaves the event unnamed).
    if (u64(device_id) * dte::size >= devtab_base::bytes(dev_table_base)) {
        out.fault = xlate_fault{event::io_page_fault(device_id, 0, request_addr, f), true};
        return out;
    }
    for (unsigned q = 0; q < 4; ++q) {
        auto v = read(out.address + 8 * q);
        if (!v) {
            // §2.5.4 DEV_TAB_HW_ERROR: the DTE's address, TYPE = target abort of the read.
            out.fault = xlate_fault{event::dev_tab_hw_error(device_id, out.address, f, hw_error_type::target_abort), false};
            return out;
        }
        out.entry.w[q] = *v;
    }
    return out;
}

std::optional<xlate_fault> v1_translator::check_translation(const dte& d, const dma_request& req) const {
    u64 r0 = 0, r1 = 0;
    m_fmt.reserved_translation(d, r0, r1);
    if (r0 || r1) {
        event_flags f = dma_flags(req, false);
        f.rz = true;
        return xlate_fault{event::illegal_dev_table_entry(req.device_id, req.addr, f), false};
    }
    // Mode is only meaningful with TV = 1; 7 is reserved and levels beyond HATS are not walked (RZ = 0:
    // illegal level encoding).
    if (d.tv() && (d.mode() == 7 || d.mode() > max_levels()))
        return xlate_fault{event::illegal_dev_table_entry(req.device_id, req.addr, dma_flags(req, false)), false};
    return std::nullopt;
}

xlate_result v1_translator::translate(const xlate_regs& regs, const dte& d, const dma_request& req,
                                      const read_u64_fn& read, iommu::paging_structure_cache* psc) const {
    // §2.2.2.2 V = 0: the DTE is not valid; DMA passes untranslated.
    if (!d.v()) {
        xlate_result x;
        x.addr = req.addr;
        x.ir = x.iw = true;
        x.pass_through = true;
        return x;
    }
    if (auto f = check_translation(d, req)) {
        xlate_result x;
        x.fault = f;
        return x;
    }
    const u16 dom = d.domain_id();
    // TV = 0: no translation information; the access is aborted with an IO_PAGE_FAULT (PR = 0).
    if (!d.tv()) return page_fault(req, dom, dma_flags(req, false));
    // §2.2.1.3 exclusion range: addresses in [base, limit] pass untranslated for every device (Allow) or
    // for devices whose DTE has EX.
    if (regs.excl_base & exclusion::EX_EN) {
        const u64 lo = regs.excl_base & exclusion::BASE;
        const u64 hi = (regs.excl_limit & exclusion::LIMIT) | exclusion::LIMIT_LOW_ONES;
        if (req.addr >= lo && req.addr <= hi && ((regs.excl_base & exclusion::ALLOW) || d.ex())) {
            xlate_result x;
            x.addr = req.addr;
            x.ir = x.iw = true;
            x.pass_through = true;
            x.domain = dom;
            return x;
        }
    }
    // Mode 0: no translation; IR/IW of the DTE decide (Linux's blocked / identity entries).
    if (d.mode() == 0) {
        if (req.write ? !d.iw() : !d.ir()) return page_fault(req, dom, dma_flags(req, false));
        xlate_result x;
        x.addr = req.addr;
        x.ir = d.ir();
        x.iw = d.iw();
        x.pass_through = true;
        x.domain = dom;
        return x;
    }
    return walk(d, req, read, psc);
}

xlate_result v1_translator::translate(const xlate_regs& regs, const dma_request& req, const read_u64_fn& read) const {
    auto l = fetch_dte(regs.dev_table_base, req.device_id, req.addr, req.write, false, read);
    if (l.fault) {
        xlate_result x;
        x.fault = l.fault;
        return x;
    }
    return translate(regs, l.entry, req, read, nullptr);
}

// PDE caches, in the framework's numbering: the entry at level L points at a table of level L-1 and is
// tagged by the level_shift(L) input region that table covers. With level skipping the table it points at
// may be of a lower level; that level rides in the low bits of the 4 KiB aligned table address.
namespace {
constexpr u64 PSC_LEVEL_BITS = 0x7;
unsigned psc_region(unsigned psc_level) { return level_shift(psc_level) >= 64 ? 63 : level_shift(psc_level); }
} // namespace

xlate_result v1_translator::walk(const dte& d, const dma_request& req, const read_u64_fn& read,
                                 iommu::paging_structure_cache* psc) const {
    const u16 dom = d.domain_id();
    const unsigned mode = d.mode();
    // §2.2.3: the address must fit the tables' reach (Mode levels of 9 bits above the 4 KiB offset).
    const unsigned reach = mode_address_bits(mode);
    if (reach < 64 && (req.addr >> reach)) return page_fault(req, dom, dma_flags(req, false));
    // The DTE's IR/IW are the root's rights (§2.2.3.1: permissions combine from the DTE down).
    bool ir = d.ir(), iw = d.iw();
    if (req.write ? !iw : !ir) return page_fault(req, dom, dma_flags(req, true, true), mode);

    unsigned level = mode;  // level of the table read next
    u64 table = d.page_table_root();
    xlate_result x;
    x.domain = dom;
    // PDE caches: the lowest cached table covering the address (probed in parallel by the caller's timing).
    if (psc) {
        for (unsigned l = 2; l <= mode; ++l) {
            if (!psc->caches_level(l)) continue;
            if (auto e = psc->lookup(l, dom, iommu::no_pasid, req.addr, psc_region(l))) {
                table = e->table & ~PSC_LEVEL_BITS;
                level = static_cast<unsigned>(e->table & PSC_LEVEL_BITS);
                ir = e->perms & iommu::perm_read;
                iw = e->perms & iommu::perm_write;
                x.psc_hit_level = level;
                break;
            }
        }
    }
    for (;;) {
        const u64 pa = (table & ADDR_51_12) + level_index(req.addr, level) * 8;
        auto raw = read(pa);
        ++x.reads;
        if (!raw) {
            // §2.5.5 PAGE_TAB_HW_ERROR: the entry's address.
            event_flags f = dma_flags(req, false);
            auto ev = event::page_tab_hw_error(req.device_id, dom, pa, f, hw_error_type::target_abort);
            auto r = faulted(ev, false, level);
            r.reads = x.reads;
            return r;
        }
        const pte e{*raw};
        auto fail = [&](event_flags f) {
            auto r = page_fault(req, dom, f, level);
            r.reads = x.reads;
            return r;
        };
        if (!e.pr()) return fail(dma_flags(req, false));
        if (e.reserved()) return fail(dma_flags(req, true, false, true));
        ir = ir && e.ir();
        iw = iw && e.iw();
        if (req.write ? !iw : !ir) return fail(dma_flags(req, true, true));
        const unsigned next = e.next_level();
        if (next == 0 || next == 7) {
            unsigned shift = level_shift(level);
            if (next == 7) {
                // §2.2.3.2: a size strictly between this level's default and the next level's.
                shift = large_page_shift(e.v);
                const unsigned upper = level + 1 <= MAX_LEVELS ? level_shift(level + 1) : 64;
                if (shift == 0 || shift <= level_shift(level) || shift >= upper) return fail(dma_flags(req, true));
            }
            const u64 size_mask = shift >= 64 ? ~0ull : (1ull << shift) - 1;
            x.addr = (e.addr() & ~size_mask) | (req.addr & size_mask);
            x.page_shift = shift;
            x.ir = ir;
            x.iw = iw;
            x.fc = e.fc();
            x.level = level;
            return x;
        }
        // A PDE: NextLevel must be below this level; the index bits of skipped levels must be zero.
        if (next >= level) return fail(dma_flags(req, true));
        const unsigned skip_lo = level_shift(next + 1), skip_hi = level_shift(level);
        if (skip_hi > skip_lo && (req.addr & mask(skip_hi - 1, skip_lo))) return fail(dma_flags(req, true));
        if (psc && psc->caches_level(next + 1)) {
            const iommu::perm_mask p = (ir ? iommu::perm_read : 0) | (iw ? iommu::perm_write : 0);
            psc->fill(next + 1, dom, iommu::no_pasid, req.device_id, req.addr, psc_region(next + 1),
                      {e.addr() | next, p});
        }
        table = e.addr();
        level = next;
    }
}

} // namespace iommusim::amdvi

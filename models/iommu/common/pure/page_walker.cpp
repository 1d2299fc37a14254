#include "models/iommu/common/pure/page_walker.h"

#include <stdexcept>

namespace iommusim::iommu {

namespace {
u64 decode_bytes(const unsigned char* p, unsigned len, byte_order order) {
    u64 v = 0;
    for (unsigned i = 0; i < len; ++i) {
        const unsigned byte = order == byte_order::little ? i : len - 1 - i;
        v |= u64(p[i]) << (8 * byte);
    }
    return v;
}

bool default_permits(const xlate_request& req, perm_mask granted) {
    const perm_mask want = req.access & perm_all;
    return (want & granted) == want;
}
} // namespace

walk_outcome page_walker::fail(walk_outcome& out, const xlate_request& req, fault_kind k, u32 reason,
                               unsigned level, u64 entry_addr) {
    xlate_fault f;
    f.kind = k;
    f.reason = reason;
    f.level = level;
    f.address = req.address;
    f.entry_address = entry_addr;
    f.access = req.access;
    out.result = xlate_result::failure(f);
    ++m_stats.faults;
    ++m_stats.faults_by_kind[size_t(k) & 15];
    return out;
}

walk_outcome page_walker::walk(const walk_format& fmt, u64 root, const xlate_request& req, const walk_context& ctx) {
    if (!fmt.decode || fmt.levels == 0 || fmt.levels > 8 || (fmt.entry_bytes != 8 && fmt.entry_bytes != 4))
        throw std::invalid_argument("page_walker: unusable walk_format");
    ++m_stats.walks;
    walk_outcome out;

    // The input address relative to the table's base, and the reach check.
    const unsigned top_shift = fmt.region_shift(fmt.levels) + fmt.bits_per_level;
    const u64 reach = fmt.input_size ? fmt.input_size : (top_shift >= 64 ? ~u64(0) : u64(1) << top_shift);
    if (req.address < fmt.input_offset || req.address - fmt.input_offset >= reach ||
        (req.size > 1 && req.address - fmt.input_offset + (req.size - 1) >= reach))
        return fail(out, req, fmt.beyond_kind, fmt.beyond_reason, fmt.levels, 0);
    const u64 in = req.address - fmt.input_offset;

    unsigned level = fmt.levels;
    u64 table = root;
    perm_mask granted = perm_all;

    // Paging-structure caches: probe every cached level (in parallel, one latency), take the lowest hit.
    if (ctx.psc) {
        out.elapsed_ps += m_clock.cycles(m_psc_cycles);
        for (unsigned l = 2; l <= fmt.levels; ++l) {
            if (!ctx.psc->caches_level(l)) continue;
            if (auto e = ctx.psc->lookup(l, ctx.domain, ctx.pasid, in, fmt.region_shift(l))) {
                ++m_stats.psc_hits;
                level = l - 1;
                table = e->table;
                granted = e->perms;
                break;
            }
        }
    }
    out.start_level = level;

    for (;; --level) {
        const unsigned shift = fmt.region_shift(level);
        const u64 index_mask = (u64(1) << fmt.bits_per_level) - 1;
        const u64 index = shift >= 64 ? 0 : (in >> shift) & index_mask;
        const u64 entry_addr = table + index * fmt.entry_bytes;

        unsigned char buf[8] = {};
        u64 delay = 0;
        const bool ok = m_mem.read(entry_addr, buf, fmt.entry_bytes, delay);
        ++out.reads;
        ++m_stats.reads;
        if (!m_clock.functional()) out.elapsed_ps += delay;
        if (!ok) return fail(out, req, fault_kind::walk_memory_error, fmt.memory_error_reason, level, entry_addr);

        const pte_info pte = fmt.decode(decode_bytes(buf, fmt.entry_bytes, fmt.order), level, req);
        if (pte.kind == pte_info::type::fault) return fail(out, req, pte.fault, pte.reason, level, entry_addr);
        granted &= pte.perms;

        if (pte.kind == pte_info::type::table) {
            if (level == 1) // a table pointer where only leaves can be: the format's decode is wrong or lax
                return fail(out, req, fault_kind::invalid_entry, 0, level, entry_addr);
            if (ctx.psc)
                ctx.psc->fill(level, ctx.domain, ctx.pasid, req.requester_id, in, shift, psc_entry{pte.address, granted});
            table = pte.address;
            continue;
        }

        // Leaf. A large page may not be larger than the region the entry covers.
        if (pte.page_shift > shift || pte.page_shift >= 64)
            return fail(out, req, fault_kind::invalid_entry, 0, level, entry_addr);
        const bool allowed = fmt.permits ? fmt.permits(req, granted) : default_permits(req, granted);
        if (!allowed)
            return fail(out, req, fault_kind::permission, fmt.permission_reason ? fmt.permission_reason(req, granted) : 0,
                        level, entry_addr);
        translation t;
        t.page_shift = pte.page_shift;
        t.address = (pte.address & ~t.page_mask()) | (in & t.page_mask());
        t.perms = granted;
        t.attrs = pte.attrs;
        out.result = xlate_result::success(t);
        return out;
    }
}

} // namespace iommusim::iommu

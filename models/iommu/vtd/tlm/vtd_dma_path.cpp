#include "models/iommu/vtd/tlm/vtd_dma_path.h"

#include "sim/tlm/payload_data.h"

#include <algorithm>
#include <cstring>

namespace iommusim::vtd {

namespace {

// Leaf attributes carried in iommu::translation::attrs through the IOTLB.
constexpr u64 ATTR_SNP = 1u << 0, ATTR_TM = 1u << 1;

xlate_result fail(fault_reason r, unsigned level = 0, u64 entry = 0) { return xlate_result::faulted(r, level, entry); }

u32 permission_reason(bool write) {
    return static_cast<u32>(write ? fault_reason::write_not_allowed : fault_reason::read_not_allowed);
}

} // namespace

dma_path::dma_path(const vtd_unit_params& p, iommu::xlate_engine& engine, vtd_caches& caches)
    : m_params(p), m_engine(engine), m_caches(caches),
      m_ref(xlate_caps::from_registers(build_cap(p.hw), build_ecap(p.hw), p.hw.haw)),
      m_sl{p.hw.haw, p.hw.sllps, p.hw.sc, p.hw.dt},
      m_formats{make_format(3), make_format(4), make_format(5)} {}

bool dma_path::read_table(u64 address, void* data, unsigned len, sc_core::sc_time& delay) {
    unsigned char buf[16] = {};
    len = std::min(len, 16u);
    tlm::tlm_generic_payload gp;
    tlmx::init_payload(gp, tlm::TLM_READ_COMMAND, address, buf, len);
    sc_core::sc_time t = delay;
    m_engine.mem->b_transport(gp, t);
    if (!m_engine.functional()) delay = t;
    if (gp.is_response_error()) {
        ++m_counters.memory_errors;
        return false;
    }
    std::memcpy(data, buf, len);
    return true;
}

// §9.8: one second-level entry, in the order slpt_translator checks it: present (R or W), reserved bits
// of its level, the request's right at this level, then table or leaf (PS with SLLPS).
iommu::pte_info dma_path::decode(u64 raw, unsigned level, const iommu::xlate_request& req) const {
    using iommu::fault_kind;
    using iommu::pte_info;
    const sl_entry e{raw};
    const bool write = req.is_write();
    if (!e.present()) return pte_info::failure(fault_kind::not_present, permission_reason(write));
    if (m_sl.reserved(e, level))
        return pte_info::failure(fault_kind::reserved_bit, static_cast<u32>(fault_reason::paging_entry_reserved));
    if ((write && !e.w()) || (!write && !e.r()))
        return pte_info::failure(fault_kind::permission, permission_reason(write));
    // X is ignored in legacy mode: exec is always granted so the walker's AND keeps R/W only.
    const iommu::perm_mask perms = (e.r() ? iommu::perm_read : 0) | (e.w() ? iommu::perm_write : 0) | iommu::perm_exec;
    if (level == 1 || e.ps()) {
        const unsigned shift = static_cast<unsigned>(PAGE_SHIFT + 9 * (level - 1));
        const u64 attrs = (m_sl.sc && e.snp() ? ATTR_SNP : 0) | (m_sl.dt && e.tm() ? ATTR_TM : 0);
        return pte_info::leaf(e.addr() & ~((u64(1) << shift) - 1), shift, perms, attrs);
    }
    return pte_info::table(e.addr(), perms);
}

iommu::walk_format dma_path::make_format(unsigned levels) const {
    iommu::walk_format f;
    f.levels = levels;
    f.page_shift = 12;
    f.bits_per_level = 9;
    f.entry_bytes = 8;
    f.order = iommu::byte_order::little;
    f.beyond_kind = iommu::fault_kind::address_size;
    f.beyond_reason = static_cast<u32>(fault_reason::address_beyond_agaw);
    f.memory_error_reason = static_cast<u32>(fault_reason::paging_entry_access_error);
    f.decode = [this](u64 raw, unsigned level, const iommu::xlate_request& req) { return decode(raw, level, req); };
    // Reached only after a paging-structure-cache hit skipped levels whose rights the cached entry
    // carries: the reason is the request's kind, as at any level.
    f.permission_reason = [](const iommu::xlate_request& req, iommu::perm_mask) {
        return permission_reason(req.is_write());
    };
    f.permits = [](const iommu::xlate_request& req, iommu::perm_mask granted) {
        return req.is_write() ? (granted & iommu::perm_write) != 0 : (granted & iommu::perm_read) != 0;
    };
    return f;
}

xlate_result dma_path::walk(const context_entry& ce, const xlate_request& req, sc_core::sc_time& delay) {
    const u16 did = ce.did();
    m_engine.charge_lookup(m_caches.iotlb_lookup_cycles(), delay);
    if (auto t = m_caches.iotlb_lookup(did, req.addr)) {
        const bool ok = req.write ? (t->perms & iommu::perm_write) : (t->perms & iommu::perm_read);
        // A cached translation without the right the request needs is not used: the walk decides (the
        // IOTLB never caches a fault, so a changed table can only grant more).
        if (ok) {
            ++m_counters.iotlb_hits;
            xlate_result x;
            x.level = 1 + (t->page_shift - 12) / 9;
            x.page_size = t->page_size();
            x.addr = t->address;
            x.r = t->perms & iommu::perm_read;
            x.w = t->perms & iommu::perm_write;
            x.snp = t->attrs & ATTR_SNP;
            x.tm = t->attrs & ATTR_TM;
            return x;
        }
    }
    ++m_counters.walks;
    iommu::xlate_request wr;
    wr.requester_id = req.sid;
    wr.address = req.addr;
    wr.size = 1;  // the caller never crosses a 4 KiB page; AGAW was checked against the whole address
    wr.access = req.write ? iommu::perm_write : iommu::perm_read;
    wr.at = iommu::address_type::untranslated;
    iommu::walk_context ctx;
    ctx.domain = did;
    ctx.psc = &m_caches.psc();
    const unsigned levels = agaw_levels(ce.aw());
    const auto out = m_engine.walk(m_formats[levels - 3], ce.slptptr(), wr, ctx, delay);
    if (!out.result.ok()) {
        const auto& f = out.result.fault();
        // The decode callback only produces spec reasons; a walker-internal fault (none can occur with
        // this decode) is reported as a malformed entry.
        const auto reason = f.reason ? static_cast<fault_reason>(f.reason) : fault_reason::paging_entry_reserved;
        return fail(reason, f.level);
    }
    const iommu::translation& t = out.result.value();
    m_caches.iotlb_fill(did, req.sid, req.addr, t);
    xlate_result x;
    x.level = 1 + (t.page_shift - 12) / 9;
    x.page_size = t.page_size();
    x.addr = t.address;
    x.r = t.perms & iommu::perm_read;
    x.w = t.perms & iommu::perm_write;
    x.snp = t.attrs & ATTR_SNP;
    x.tm = t.attrs & ATTR_TM;
    return x;
}

xlate_result dma_path::translate(u64 rtaddr, const xlate_request& req, sc_core::sc_time& delay) {
    // Root and context entries are 16 bytes: one memory read each, both halves served from it. Built
    // only off the hit path (a std::function capturing this much allocates).
    u64 line_addr = ~u64(0);
    unsigned char line[16];
    auto reader = [&]() -> read_u64_fn {
        return [&](u64 pa) -> std::optional<u64> {
            const u64 base = pa & ~u64(15);
            if (base != line_addr) {
                line_addr = ~u64(0);
                if (!read_table(base, line, 16, delay)) return std::nullopt;
                line_addr = base;
            }
            return tlmx::get_le(line + (pa - base), 8);
        };
    };

    const u64 page = req.addr >> PAGE_SHIFT;
    memo& mm = m_memo[memo_index(req.sid, page)];
    if (req.at == address_type::untranslated && mm.page == page && mm.sid == req.sid &&
        (req.write ? mm.result.w : mm.result.r) && m_caches.unchanged(mm.lookups)) {
        m_engine.charge_lookup(m_params.context_cache.lookup_cycles, delay);
        m_engine.charge_lookup(m_caches.iotlb_lookup_cycles(), delay);
        m_caches.replay(mm.lookups);
        ++m_counters.iotlb_hits;
        xlate_result x = mm.result;
        x.addr |= req.addr & (PAGE_SIZE - 1);
        return x;
    }

    // §6.1: the context cache holds only entries that passed every check, so a hit needs none.
    m_engine.charge_lookup(m_params.context_cache.lookup_cycles, delay);
    context_entry ce;
    bool context_hit = false;
    if (auto hit = m_caches.context_lookup(req.sid)) {
        ce = *hit;
        context_hit = true;
    } else {
        ++m_counters.context_fetches;
        const xlate_result x = m_ref.lookup_context(rtaddr, req.sid, reader(), ce);
        if (!x.ok()) return x;
        m_caches.context_fill(req.sid, ce);
    }
    auto with_context = [&](xlate_result y) {
        y.fpd = ce.fpd();
        y.did = ce.did();
        return y;
    };
    const translation_type tt = ce.tt();

    // §9.3 TT: which address types each translation type accepts (as slpt_translator::translate).
    if (req.at != address_type::untranslated && tt != translation_type::device_tlb)
        return with_context(fail(fault_reason::translation_type_blocked, 0, ce.lo));
    if (req.at == address_type::translated || tt == translation_type::pass_through) {
        xlate_result y;
        y.addr = req.addr;
        y.r = y.w = true;
        y.pass_through = true;
        return with_context(y);
    }
    // §3.6: the input address must fit X = min(MGAW, AGAW of AW) bits.
    const unsigned x_bits = std::min(m_ref.caps().mgaw, agaw_bits(ce.aw()));
    if (x_bits < 64 && (req.addr >> x_bits) != 0)
        return with_context(fail(fault_reason::address_beyond_agaw, 0, ce.lo));
    // Translation requests (ATS) report the mapping's rights instead of faulting; they are rare enough to
    // walk uncached (the IOTLB and PSC serve untranslated requests only).
    if (req.at == address_type::translation_request)
        return with_context(m_ref.walk(ce.slptptr(), agaw_levels(ce.aw()), req, reader()));
    const u64 walks_before = m_counters.walks;
    const xlate_result x = with_context(walk(ce, req, delay));
    if (context_hit && x.ok() && m_counters.walks == walks_before) { // both caches hit: remember where
        mm.page = page;
        mm.sid = req.sid;
        mm.lookups = m_caches.record_hits();
        mm.result = x;
        mm.result.addr &= ~(PAGE_SIZE - 1);
    }
    return x;
}

} // namespace iommusim::vtd

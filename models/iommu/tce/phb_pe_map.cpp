#include "models/iommu/tce/phb_pe_map.h"

namespace iommusim::tce {

phb_pe_map::phb_pe_map(unsigned num_pes, unsigned reserved_pe, unsigned num_msi, unsigned num_m64)
    : m_num_pes(num_pes), m_reserved_pe(reserved_pe), m_rtt(0x10000, u16(reserved_pe)), m_m64(num_m64),
      m_ivt(num_msi, -1) {}

opal_status phb_pe_map::set_pe(unsigned pe, u16 bdfn, bus_compare bcomp, bool compare_device, bool compare_function,
                               bool map) {
    if (pe >= m_num_pes || bcomp == bus_compare::reserved || u8(bcomp) > u8(bus_compare::all))
        return opal_status::parameter;
    // The RID is bus 15:8, device 7:3, function 2:0; each part is compared under its mask.
    const u16 mask = u16((u16(bus_compare_mask(bcomp)) << 8) | (compare_device ? 0xf8 : 0) | (compare_function ? 0x07 : 0));
    const u16 want = bdfn & mask;
    for (u32 rid = 0; rid < 0x10000; ++rid) {
        if ((rid & mask) != want) continue;
        if (map) m_rtt[rid] = u16(pe);
        else if (m_rtt[rid] == pe) m_rtt[rid] = u16(m_reserved_pe);
    }
    return opal_status::success;
}

std::vector<u16> phb_pe_map::rids_of(unsigned pe) const {
    std::vector<u16> out;
    for (u32 rid = 0; rid < 0x10000; ++rid)
        if (m_rtt[rid] == pe) out.push_back(u16(rid));
    return out;
}

opal_status phb_pe_map::configure_m32(u64 base, u64 size, unsigned segments) {
    if (segments == 0 || segments > m_num_pes || size % segments || base + size < base)
        return opal_status::parameter;
    m_m32_base = base;
    m_m32_size = size;
    m_m32_segments = segments;
    m_m32_map.assign(segments, -1);
    return opal_status::success;
}

opal_status phb_pe_map::map_m32_segment(unsigned segment, unsigned pe) {
    if (segment >= m_m32_segments || pe >= m_num_pes) return opal_status::parameter;
    m_m32_map[segment] = int(pe);
    return opal_status::success;
}

opal_status phb_pe_map::set_m64_bar(unsigned bar, u64 base, u64 size, m64_mode mode, unsigned single_pe) {
    if (bar >= m_m64.size()) return opal_status::parameter;
    if (mode == m64_mode::disabled) {
        m_m64[bar] = {};
        return opal_status::success;
    }
    if (size == 0 || (size & (size - 1)) || (base & (size - 1))) return opal_status::parameter;
    if (mode == m64_mode::single_pe && single_pe >= m_num_pes) return opal_status::parameter;
    if (mode == m64_mode::split && size % m_num_pes) return opal_status::parameter;
    m_m64[bar] = {base, size, mode, single_pe};
    return opal_status::success;
}

std::optional<unsigned> phb_pe_map::mmio_owner(u64 a) const {
    for (const auto& b : m_m64) {
        if (b.mode == m64_mode::disabled || a < b.base || a - b.base >= b.size) continue;
        if (b.mode == m64_mode::single_pe) return b.single_pe;
        return unsigned((a - b.base) / (b.size / m_num_pes)); // pnv_ioda_reserve_dev_m64_pe: segment = PE
    }
    if (m_m32_segments && a >= m_m32_base && a - m_m32_base < m_m32_size) {
        const int pe = m_m32_map[(a - m_m32_base) / m32_segment_size()];
        if (pe >= 0) return unsigned(pe);
    }
    return std::nullopt;
}

opal_status phb_pe_map::set_ive_pe(u32 ive, unsigned pe) {
    if (ive >= m_ivt.size() || pe >= m_num_pes) return opal_status::parameter;
    m_ivt[ive] = int(pe);
    return opal_status::success;
}

std::optional<unsigned> phb_pe_map::ive_pe(u32 ive) const {
    if (ive >= m_ivt.size() || m_ivt[ive] < 0) return std::nullopt;
    return unsigned(m_ivt[ive]);
}

msi_check phb_pe_map::check_msi(u16 rid, u64 addr, u32 data) const {
    msi_check c;
    c.rid_pe = pe_of(rid);
    if (!is_msi_address(addr)) return c;
    c.source = msi_source(addr, data);
    if (c.source >= m_ivt.size()) {
        c.result = msi_check::verdict::out_of_range;
        return c;
    }
    if (m_ivt[c.source] < 0) {
        c.result = msi_check::verdict::unassigned;
        return c;
    }
    c.ive_pe = unsigned(m_ivt[c.source]);
    c.result = c.ive_pe == c.rid_pe ? msi_check::verdict::ok : msi_check::verdict::pe_mismatch;
    return c;
}

const char* to_string(msi_check::verdict v) {
    switch (v) {
    case msi_check::verdict::ok: return "ok";
    case msi_check::verdict::not_msi: return "not an MSI";
    case msi_check::verdict::out_of_range: return "interrupt source out of range";
    case msi_check::verdict::pe_mismatch: return "the source belongs to another PE";
    case msi_check::verdict::unassigned: return "the source is assigned to no PE";
    }
    return "?";
}

} // namespace iommusim::tce

#include "models/iommu/tce/phb.h"

namespace iommusim::tce {

namespace {
bool pow2(u64 v) { return v && !(v & (v - 1)); }
unsigned log2u(u64 v) {
    unsigned s = 0;
    while (v >>= 1) ++s;
    return s;
}
const tce_params& checked(const tce_params& p) {
    p.validate();
    return p;
}
// The RTAS status of an eeh_pe_state operation as OPAL reports it.
i64 opal_of(int rtas) {
    switch (rtas) {
    case RTAS_OUT_SUCCESS: return OPAL_SUCCESS;
    case RTAS_OUT_BUSY: return OPAL_BUSY;
    case RTAS_OUT_PARAM_ERROR: return OPAL_PARAMETER;
    default: return OPAL_HARDWARE;
    }
}
} // namespace

phb::phb(const tce_params& p)
    : m_params(checked(p)), m_map(p.num_pes, p.reserved_pe, p.num_msi, p.m64_bars) {
    reset_tables();
}

// skiboot phb3_ioda_reset(purge): RTT back to the reserved PE, TVT, M32DT, M64BT and IVT cleared, PESTA/B
// cleared. The M32 window itself is the PHB's fixed configuration (the parameters).
void phb::reset_tables() {
    m_map = phb_pe_map(m_params.num_pes, m_params.reserved_pe, m_params.num_msi, m_params.m64_bars);
    m_map.configure_m32(m_params.m32_pci_base, m_params.m32_size, m_params.m32_segments);
    m_windows.assign(size_t(m_params.num_pes) * 2, dma_window_state{});
    m_eeh.assign(m_params.num_pes, eeh_pe_state{});
    for (unsigned pe = 0; pe < m_params.num_pes; ++pe) m_eeh[pe].on_error_freeze([this, pe](u64 addr) { freeze_domain(pe, addr); });
    m_peltv.assign(size_t(m_params.num_pes) * m_params.num_pes, false);
    m_m64.assign(m_params.m64_bars, m64_setup{});
}

i64 phb::set_peltv(unsigned parent_pe, unsigned child_pe, u8 state) {
    if (parent_pe >= m_params.num_pes || child_pe >= m_params.num_pes) return OPAL_PARAMETER;
    if (state != OPAL_ADD_PE_TO_DOMAIN && state != OPAL_REMOVE_PE_FROM_DOMAIN) return OPAL_PARAMETER;
    m_peltv[size_t(parent_pe) * m_params.num_pes + child_pe] = state == OPAL_ADD_PE_TO_DOMAIN;
    return OPAL_SUCCESS;
}

// The PHB freezes every PE of the erring PE's PELT-V with it (one level: a PE frozen this way does not
// spread further).
void phb::freeze_domain(unsigned pe, u64 addr) {
    const size_t row = size_t(pe) * m_params.num_pes;
    for (unsigned child = 0; child < m_params.num_pes; ++child)
        if (child != pe && m_peltv[row + child]) m_eeh[child].freeze(freeze_reason::domain, addr);
}

// ---- RTT ------------------------------------------------------------------------------------------------

i64 phb::set_pe(unsigned pe, u16 bdfn, bus_compare bcomp, bool compare_device, bool compare_function, int action) {
    if (action != OPAL_MAP_PE && action != OPAL_UNMAP_PE) return OPAL_PARAMETER;
    if (m_map.set_pe(pe, bdfn, bcomp, compare_device, compare_function, action == OPAL_MAP_PE) != opal_status::success)
        return OPAL_PARAMETER;
    // skiboot phb3_set_pe rewrites the RTT and invalidates the RID translation cache (QEMU
    // pnv_phb3_rtc_invalidate).
    if (m_listener) m_listener->rtt_changed();
    return OPAL_SUCCESS;
}

// ---- DMA windows ----------------------------------------------------------------------------------------

bool phb::valid_window_id(unsigned pe, unsigned window_id) const {
    // "2 window per PE" mode: window_id >> 1 == PE# (skiboot phb3/phb4_map_pe_dma_window).
    return pe < m_params.num_pes && (window_id >> 1) == pe && (window_id & 1) < m_params.max_windows;
}

i64 phb::map_pe_dma_window(unsigned pe, unsigned window_id, unsigned levels, u64 table_addr, u64 table_size,
                           u64 page_size, u64 window_size) {
    if (!valid_window_id(pe, window_id)) return OPAL_PARAMETER;
    dma_window_state& st = m_windows[window_id];
    if (table_size == 0) { // "tce_table_size == 0 is used to disable an entry"
        st = dma_window_state{};
        return OPAL_SUCCESS;
    }
    if (levels < 1 || levels > m_params.max_levels || !pow2(table_size) || table_size < 0x1000)
        return OPAL_PARAMETER;
    if (!pow2(page_size) || !(m_params.page_sizes & page_size)) return OPAL_PARAMETER;
    // The TVT keeps the table address >> 12: low bits are not stored.
    const auto t = tve::make(table_addr & ~u64(0xfff), levels, table_size, log2u(page_size));
    if (!t) return OPAL_PARAMETER;
    tce_window w;
    w.bus_offset = (window_id & 1) ? DMA64_WINDOW_BASE : DMA32_WINDOW_BASE;
    w.page_shift = log2u(page_size);
    w.levels = levels;
    w.level_shift = log2u(table_size) - 3;
    w.root = table_addr & ~u64(0xfff);
    const unsigned reach = w.reach_shift() < TVE_SELECT_BIT ? w.reach_shift() : TVE_SELECT_BIT;
    const u64 reach_bytes = u64(1) << reach;
    w.size = window_size ? window_size : reach_bytes;
    if (w.size > reach_bytes || (w.size & (page_size - 1))) return OPAL_PARAMETER;
    if (w.check()) return OPAL_PARAMETER;
    st.mode = dma_window_state::kind::tce;
    st.window = w;
    st.tve = t->v;
    st.bypass_start = st.bypass_end = 0;
    return OPAL_SUCCESS;
}

i64 phb::map_pe_dma_window_real(unsigned pe, unsigned window_id, u64 pci_start, u64 pci_size) {
    if (!valid_window_id(pe, window_id)) return OPAL_PARAMETER;
    dma_window_state& st = m_windows[window_id];
    if (pci_size == 0) {
        st = dma_window_state{};
        return OPAL_SUCCESS;
    }
    if ((pci_start >> TVE_SELECT_BIT) != (window_id & 1)) return OPAL_PARAMETER;
    const u64 start = pci_start & ((u64(1) << TVE_SELECT_BIT) - 1);
    const u64 end = start + pci_size;
    if ((start & (BYPASS_ALIGN - 1)) || (pci_size & (BYPASS_ALIGN - 1))) return OPAL_PARAMETER;
    if (end > BYPASS_LIMIT - 1 || end < start) return OPAL_PARAMETER;
    st = dma_window_state{};
    st.mode = dma_window_state::kind::bypass;
    st.bypass_start = start;
    st.bypass_end = end;
    // skiboot: start bits 49:24 into TVE[52:53]||[0:23], end bits 49:24 into TVE[54:55]||[24:47], TVE[51].
    u64 v = (start << 16) & (u64(0xffffff) << 40 << 8);
    v |= (start >> 38) & (u64(3) << 10);
    v |= (end >> 8) & (u64(0xffffff) << 16);
    v |= (end >> 40) & (u64(3) << 8);
    v |= u64(1) << 12; // PPC_BIT(51)
    st.tve = v;
    return OPAL_SUCCESS;
}

i64 phb::tce_kill(int kill_type, unsigned pe, u64 tce_size, u64 dma_addr, u64 npages) {
    tce_kill_request r;
    switch (kill_type) {
    case OPAL_PCI_TCE_KILL_PAGES:
        if (pe >= m_params.num_pes || !pow2(tce_size) || !(m_params.page_sizes & tce_size)) return OPAL_PARAMETER;
        // phb4_tce_kill: the address must be page aligned with bits 63:60 clear.
        if (dma_addr & ((u64(0xf) << 60) | (tce_size - 1))) return OPAL_PARAMETER;
        r.what = tce_kill_request::scope::pages;
        r.pe = pe;
        r.dma_addr = dma_addr;
        r.page_size = tce_size;
        r.npages = npages;
        break;
    case OPAL_PCI_TCE_KILL_PE:
        if (pe >= m_params.num_pes) return OPAL_PARAMETER;
        r.what = tce_kill_request::scope::pe;
        r.pe = pe;
        break;
    case OPAL_PCI_TCE_KILL_ALL: r.what = tce_kill_request::scope::all; break;
    default: return OPAL_PARAMETER;
    }
    notify_kill(r);
    return OPAL_SUCCESS;
}

bool phb::tce_kill_register(u64 value) {
    tce_kill_request r;
    r.pe = unsigned(value & PHB3_TCE_KILL_PE_MASK);
    if (value & PHB3_TCE_KILL_INVAL_ALL) {
        r.what = tce_kill_request::scope::all;
    } else if (value & PHB3_TCE_KILL_INVAL_PE) {
        r.what = tce_kill_request::scope::pe;
    } else if (value & PHB3_TCE_KILL_INVAL_ONE) {
        // One TCE: the DMA address sits in the bits the kill and PE fields leave (Linux ORs index << shift
        // into them); the PHB drops whatever cached TCE of the PE covers it, whatever its page size.
        r.what = tce_kill_request::scope::pages;
        r.dma_addr = value & ~(PHB3_TCE_KILL_INVAL_ALL | PHB3_TCE_KILL_INVAL_PE | PHB3_TCE_KILL_INVAL_ONE) &
                     ~u64(0xfff);
        r.page_size = 0x1000;
        r.npages = 1;
    } else {
        return false;
    }
    if (r.what != tce_kill_request::scope::all && r.pe >= m_params.num_pes) return false;
    notify_kill(r);
    return true;
}

// ---- MMIO segments --------------------------------------------------------------------------------------

i64 phb::set_phb_mem_window(int window_type, unsigned bar, u64 pci_addr, u64 size) {
    if (window_type == OPAL_M32_WINDOW_TYPE || window_type == OPAL_IO_WINDOW_TYPE) return OPAL_UNSUPPORTED;
    if (window_type != OPAL_M64_WINDOW_TYPE || bar >= m_m64.size()) return OPAL_PARAMETER;
    m64_setup& b = m_m64[bar];
    const u64 align = b.single ? M64_SINGLE_ALIGN : M64_SPLIT_ALIGN;
    if ((pci_addr & (align - 1)) || (size & (align - 1))) return OPAL_PARAMETER;
    if (!pow2(size) || (pci_addr & (size - 1))) return OPAL_PARAMETER;
    b.base = pci_addr;
    b.size = size;
    return OPAL_SUCCESS;
}

i64 phb::phb_mmio_enable(int window_type, unsigned bar, int enable) {
    if (window_type == OPAL_M32_WINDOW_TYPE || window_type == OPAL_IO_WINDOW_TYPE) return OPAL_UNSUPPORTED;
    if (window_type != OPAL_M64_WINDOW_TYPE || bar >= m_m64.size() || enable < OPAL_DISABLE_M64 ||
        enable > OPAL_ENABLE_M64_NON_SPLIT)
        return OPAL_PARAMETER;
    m64_setup& b = m_m64[bar];
    switch (enable) {
    case OPAL_DISABLE_M64:
        b.single = b.enabled = false;
        m_map.set_m64_bar(bar, 0, 0, m64_mode::disabled);
        return OPAL_SUCCESS;
    case OPAL_ENABLE_M64_SPLIT:
        if (b.single) return OPAL_PARAMETER;
        if (!b.size) return OPAL_PARTIAL;
        if (m_map.set_m64_bar(bar, b.base, b.size, m64_mode::split) != opal_status::success) return OPAL_PARAMETER;
        break;
    default: // OPAL_ENABLE_M64_NON_SPLIT
        if (!b.single) return OPAL_PARAMETER;
        if (!b.size) return OPAL_PARTIAL;
        if (m_map.set_m64_bar(bar, b.base, b.size, m64_mode::single_pe, b.pe) != opal_status::success)
            return OPAL_PARAMETER;
        break;
    }
    b.enabled = true;
    return OPAL_SUCCESS;
}

i64 phb::map_pe_mmio_window(unsigned pe, int window_type, unsigned window_num, unsigned segment) {
    if (pe >= m_params.num_pes) return OPAL_PARAMETER;
    switch (window_type) {
    case OPAL_IO_WINDOW_TYPE: return OPAL_UNSUPPORTED;
    case OPAL_M32_WINDOW_TYPE:
        if (window_num != 0 || m_map.map_m32_segment(segment, pe) != opal_status::success) return OPAL_PARAMETER;
        return OPAL_SUCCESS;
    case OPAL_M64_WINDOW_TYPE: {
        if (window_num >= m_m64.size()) return OPAL_PARAMETER;
        m64_setup& b = m_m64[window_num];
        if (b.enabled) return OPAL_PARTIAL; // "The BAR shouldn't be enabled yet"
        b.single = true;
        b.pe = pe;
        return OPAL_SUCCESS;
    }
    default: return OPAL_PARAMETER;
    }
}

// ---- MSIs -----------------------------------------------------------------------------------------------

i64 phb::set_xive_pe(unsigned pe, u32 xive) {
    return m_map.set_ive_pe(xive, pe) == opal_status::success ? OPAL_SUCCESS : OPAL_PARAMETER;
}

i64 phb::get_msi_32(unsigned pe, u32 xive, unsigned msi_range, u32& address, u32& data) const {
    if (pe >= m_params.num_pes || xive >= m_params.num_msi || msi_range != 1) return OPAL_PARAMETER;
    address = u32(msi_address(xive, false));
    data = msi_data(xive);
    return OPAL_SUCCESS;
}

i64 phb::get_msi_64(unsigned pe, u32 xive, unsigned msi_range, u64& address, u32& data) const {
    if (pe >= m_params.num_pes || xive >= m_params.num_msi || msi_range != 1) return OPAL_PARAMETER;
    address = msi_address(xive, true);
    data = msi_data(xive);
    return OPAL_SUCCESS;
}

// ---- EEH ------------------------------------------------------------------------------------------------

i64 phb::eeh_freeze_status(unsigned pe, u8& freeze_state, u16& pci_error_type, u16& severity) const {
    freeze_state = OPAL_EEH_STOPPED_NOT_FROZEN;
    pci_error_type = OPAL_EEH_NO_ERROR;
    severity = OPAL_EEH_SEV_NO_ERROR;
    if (pe >= m_params.num_pes) return OPAL_PARAMETER;
    const eeh_pe_state& s = m_eeh[pe];
    if (s.reset_active()) {
        freeze_state = OPAL_EEH_STOPPED_RESET;
        return OPAL_SUCCESS;
    }
    // PESTA (MMIO) and PESTB (DMA) of the PE.
    if (s.mmio_frozen()) freeze_state |= OPAL_EEH_STOPPED_MMIO_FREEZE;
    if (s.dma_frozen()) freeze_state |= OPAL_EEH_STOPPED_DMA_FREEZE;
    if (freeze_state != OPAL_EEH_STOPPED_NOT_FROZEN) {
        pci_error_type = OPAL_EEH_PE_ERROR;
        severity = OPAL_EEH_SEV_PE_ER;
    }
    return OPAL_SUCCESS;
}

i64 phb::eeh_freeze_clear(unsigned pe, int action) {
    if (pe >= m_params.num_pes || action < OPAL_EEH_ACTION_CLEAR_FREEZE_MMIO || action > OPAL_EEH_ACTION_CLEAR_FREEZE_ALL)
        return OPAL_PARAMETER;
    if (action & OPAL_EEH_ACTION_CLEAR_FREEZE_MMIO) m_eeh[pe].set_option(EEH_OPT_THAW_MMIO);
    if (action & OPAL_EEH_ACTION_CLEAR_FREEZE_DMA) m_eeh[pe].set_option(EEH_OPT_THAW_DMA);
    return OPAL_SUCCESS;
}

i64 phb::eeh_freeze_set(unsigned pe, int action) {
    if (pe >= m_params.num_pes || action < OPAL_EEH_ACTION_SET_FREEZE_MMIO || action > OPAL_EEH_ACTION_SET_FREEZE_ALL)
        return OPAL_PARAMETER;
    // The PHB's freeze is all-or-nothing here (eeh_pe_state freezes MMIO and DMA together); a one-sided
    // request freezes both, which only stops more than asked.
    m_eeh[pe].set_option(EEH_OPT_FREEZE_PE);
    return OPAL_SUCCESS;
}

i64 phb::pci_reset(unsigned pe, int scope, int assert_state) {
    if (assert_state != OPAL_ASSERT_RESET && assert_state != OPAL_DEASSERT_RESET) return OPAL_PARAMETER;
    switch (scope) {
    case OPAL_RESET_PHB_COMPLETE:
    case OPAL_RESET_PCI_IODA_TABLE:
        if (assert_state == OPAL_ASSERT_RESET) {
            reset_tables();
            notify_kill(tce_kill_request{});
            if (m_listener) m_listener->rtt_changed();
        }
        return OPAL_SUCCESS;
    case OPAL_RESET_PHB_ERROR: return OPAL_SUCCESS;
    case OPAL_RESET_PCI_HOT:
    case OPAL_RESET_PCI_FUNDAMENTAL:
    case OPAL_RESET_PCI_LINK:
        if (pe >= m_params.num_pes) return OPAL_PARAMETER;
        return opal_of(m_eeh[pe].reset(assert_state == OPAL_DEASSERT_RESET ? EEH_RESET_DEACTIVATE
                                        : scope == OPAL_RESET_PCI_HOT       ? EEH_RESET_HOT
                                                                            : EEH_RESET_FUNDAMENTAL));
    default: return OPAL_PARAMETER;
    }
}

i64 phb::err_inject(unsigned pe, int type, int func, u64 addr, u64 mask) {
    if (pe >= m_params.num_pes) return OPAL_PARAMETER;
    return opal_of(m_eeh[pe].inject_error(type, func, addr, mask));
}

// ---- hardware side --------------------------------------------------------------------------------------

dma_route phb::route(u16 rid, u64 pci_addr) const {
    dma_route r;
    r.pe = m_map.pe_of(rid);
    // QEMU pnv_phb3_translate_iommu: the top nibble 0 is DMA (or the 32-bit MSI window), 1 the 64-bit MSI
    // window, anything else unsupported.
    if (is_msi_address(pci_addr)) {
        r.what = dma_route::kind::msi;
        return r;
    }
    if (pci_addr >> 60) {
        r.fault = tce_fault::no_translation;
        return r;
    }
    // The RTT entry of an unassigned requester is the reserved PE, whose TVEs are never enabled.
    if (!m_map.assigned(rid)) {
        r.fault = tce_fault::rid_unassigned;
        return r;
    }
    r.window = window_of(pci_addr);
    const dma_window_state& st = m_windows[2 * r.pe + r.window];
    switch (st.mode) {
    case dma_window_state::kind::disabled: r.fault = tce_fault::out_of_window; return r;
    case dma_window_state::kind::bypass: {
        const u64 a = pci_addr & ((u64(1) << TVE_SELECT_BIT) - 1);
        if (a < st.bypass_start || a >= st.bypass_end) {
            r.fault = tce_fault::out_of_window;
            return r;
        }
        r.what = dma_route::kind::bypass;
        r.address = pci_addr & (BYPASS_LIMIT - 1); // QEMU: the real address is bits 49:0
        return r;
    }
    case dma_window_state::kind::tce:
        if (!st.window.contains(pci_addr)) {
            r.fault = tce_fault::out_of_window;
            return r;
        }
        r.what = dma_route::kind::translate;
        r.tce = &st.window;
        return r;
    }
    return r;
}

mmio_verdict phb::mmio_access(u64 pci_addr, unsigned size, bool write) {
    mmio_verdict v;
    v.pe = m_map.mmio_owner(pci_addr);
    if (!v.pe) return v;
    eeh_pe_state& s = m_eeh[*v.pe];
    if (write) {
        v.what = s.mmio_write(pci_addr) ? mmio_verdict::kind::forward : mmio_verdict::kind::dropped;
    } else {
        u64 value = 0;
        v.what = s.mmio_read(pci_addr, size, value) ? mmio_verdict::kind::forward : mmio_verdict::kind::all_ones;
        v.value = value;
    }
    return v;
}

bool phb::cfg_access(u16 rid, u64 cfg_addr, bool write) { return m_eeh[m_map.pe_of(rid)].cfg_access(cfg_addr, write); }

void phb::mmio_error(u64 pci_addr) {
    if (const auto pe = m_map.mmio_owner(pci_addr)) m_eeh[*pe].on_mmio_error(pci_addr);
}

} // namespace iommusim::tce

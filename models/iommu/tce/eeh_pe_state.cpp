#include "models/iommu/tce/eeh_pe_state.h"

namespace iommusim::tce {

const char* to_string(freeze_reason r) {
    switch (r) {
    case freeze_reason::none: return "none";
    case freeze_reason::dma_out_of_window: return "dma_out_of_window";
    case freeze_reason::dma_tce_invalid: return "dma_tce_invalid";
    case freeze_reason::dma_permission: return "dma_permission";
    case freeze_reason::dma_indirect_invalid: return "dma_indirect_invalid";
    case freeze_reason::dma_table_error: return "dma_table_error";
    case freeze_reason::dma_no_translation: return "dma_no_translation";
    case freeze_reason::mmio_error: return "mmio_error";
    case freeze_reason::injected: return "injected";
    case freeze_reason::requested: return "requested";
    case freeze_reason::domain: return "domain";
    }
    return "unknown";
}

freeze_reason freeze_reason_of(tce_fault f) {
    switch (f) {
    case tce_fault::none: return freeze_reason::none;
    case tce_fault::out_of_window: return freeze_reason::dma_out_of_window;
    case tce_fault::tce_invalid: return freeze_reason::dma_tce_invalid;
    case tce_fault::read_denied:
    case tce_fault::write_denied: return freeze_reason::dma_permission;
    case tce_fault::indirect_invalid: return freeze_reason::dma_indirect_invalid;
    case tce_fault::table_read_error: return freeze_reason::dma_table_error;
    case tce_fault::no_translation:
    case tce_fault::rid_unassigned: return freeze_reason::dma_no_translation;
    }
    return freeze_reason::dma_no_translation;
}

void eeh_pe_state::freeze(freeze_reason why, u64 addr) {
    if (why == freeze_reason::none) return;
    const bool was_frozen = m_mmio_frozen || m_dma_frozen;
    m_mmio_frozen = m_dma_frozen = true;
    if (why == freeze_reason::requested || was_frozen) return;
    ++m_stats.freezes;
    m_stats.last_reason = why;
    m_stats.last_address = addr;
    if (why != freeze_reason::domain && m_on_error) m_on_error(addr);
}

access_class eeh_pe_state::class_of(int func) {
    switch (func) {
    case EEH_ERR_FUNC_LD_MEM_ADDR: case EEH_ERR_FUNC_LD_MEM_DATA:
    case EEH_ERR_FUNC_LD_IO_ADDR: case EEH_ERR_FUNC_LD_IO_DATA: return access_class::mmio_read;
    case EEH_ERR_FUNC_LD_CFG_ADDR: case EEH_ERR_FUNC_LD_CFG_DATA: return access_class::cfg_read;
    case EEH_ERR_FUNC_ST_MEM_ADDR: case EEH_ERR_FUNC_ST_MEM_DATA:
    case EEH_ERR_FUNC_ST_IO_ADDR: case EEH_ERR_FUNC_ST_IO_DATA: return access_class::mmio_write;
    case EEH_ERR_FUNC_ST_CFG_ADDR: case EEH_ERR_FUNC_ST_CFG_DATA: return access_class::cfg_write;
    case EEH_ERR_FUNC_DMA_RD_ADDR: case EEH_ERR_FUNC_DMA_RD_DATA:
    case EEH_ERR_FUNC_DMA_RD_MASTER: case EEH_ERR_FUNC_DMA_RD_TARGET: return access_class::dma_read;
    default: return access_class::dma_write;
    }
}

bool eeh_pe_state::injection_fires(access_class c, u64 addr) {
    if (!m_armed || class_of(m_injection.func) != c) return false;
    u64 mask = m_injection.mask, want = m_injection.addr;
    if (m_injection.type == EEH_ERR_TYPE_32) { // a 32-bit bus error compares 32-bit addresses
        mask &= 0xffffffffu;
        want &= 0xffffffffu;
    }
    if ((addr & mask) != (want & mask)) return false;
    m_armed = false;
    ++m_stats.injections;
    freeze(freeze_reason::injected, addr);
    return true;
}

bool eeh_pe_state::dma_allowed(u64 pci_addr, bool write) {
    injection_fires(write ? access_class::dma_write : access_class::dma_read, pci_addr);
    if (m_dma_frozen || m_reset_active) {
        ++m_stats.dma_blocked;
        return false;
    }
    return true;
}

bool eeh_pe_state::mmio_read(u64 pci_addr, unsigned size, u64& value) {
    injection_fires(access_class::mmio_read, pci_addr);
    if (m_mmio_frozen || m_reset_active) {
        value = eeh_io_error_value(size);
        ++m_stats.mmio_reads_failed;
        return false;
    }
    return true;
}

bool eeh_pe_state::mmio_write(u64 pci_addr) {
    injection_fires(access_class::mmio_write, pci_addr);
    if (m_mmio_frozen || m_reset_active) {
        ++m_stats.mmio_writes_dropped;
        return false;
    }
    return true;
}

bool eeh_pe_state::cfg_access(u64 cfg_addr, bool write) {
    return !injection_fires(write ? access_class::cfg_write : access_class::cfg_read, cfg_addr);
}

int eeh_pe_state::set_option(int option) {
    switch (option) {
    case EEH_OPT_DISABLE: m_enabled = false; return RTAS_OUT_SUCCESS;
    case EEH_OPT_ENABLE: m_enabled = true; return RTAS_OUT_SUCCESS;
    case EEH_OPT_THAW_MMIO: m_mmio_frozen = false; return RTAS_OUT_SUCCESS;   // OPAL_EEH_ACTION_CLEAR_FREEZE_MMIO
    case EEH_OPT_THAW_DMA: m_dma_frozen = false; return RTAS_OUT_SUCCESS;     // OPAL_EEH_ACTION_CLEAR_FREEZE_DMA
    case EEH_OPT_FREEZE_PE: freeze(freeze_reason::requested); return RTAS_OUT_SUCCESS;
    default: return RTAS_OUT_PARAM_ERROR;
    }
}

int eeh_pe_state::reset(int option) {
    switch (option) {
    case EEH_RESET_HOT:
    case EEH_RESET_FUNDAMENTAL:
        if (!m_reset_active) ++m_stats.resets;
        m_reset_active = true;
        m_armed = false;
        return RTAS_OUT_SUCCESS;
    case EEH_RESET_DEACTIVATE:
        m_reset_active = false;
        return RTAS_OUT_SUCCESS;
    default: return RTAS_OUT_PARAM_ERROR;
    }
}

int eeh_pe_state::configure() { return m_reset_active ? RTAS_OUT_BUSY : RTAS_OUT_SUCCESS; }

int eeh_pe_state::inject_error(int type, int func, u64 addr, u64 mask) {
    if (type != EEH_ERR_TYPE_32 && type != EEH_ERR_TYPE_64) return RTAS_OUT_PARAM_ERROR;
    if (func < EEH_ERR_FUNC_MIN || func > EEH_ERR_FUNC_MAX) return RTAS_OUT_PARAM_ERROR;
    m_injection = {type, func, addr, mask};
    m_armed = true;
    return RTAS_OUT_SUCCESS;
}

int eeh_pe_state::state_bits() const {
    if (m_reset_active) return EEH_STATE_RESET_ACTIVE;
    int s = 0;
    if (!m_mmio_frozen) s |= EEH_STATE_MMIO_ACTIVE | EEH_STATE_MMIO_ENABLED;
    if (!m_dma_frozen) s |= EEH_STATE_DMA_ACTIVE | EEH_STATE_DMA_ENABLED;
    return s;
}

} // namespace iommusim::tce

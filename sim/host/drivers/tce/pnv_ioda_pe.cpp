#include "sim/host/drivers/tce/pnv_ioda_pe.h"

#include "models/iommu/tce/phb.h"
#include "sim/core/bits.h"
#include "sim/host/drivers/tce/pnv_phb.h"
#include "sim/host/kernel_log.h"

#include <algorithm>
#include <cerrno>
#include <fmt/format.h>

namespace iommusim::host {

namespace {
constexpr unsigned PAGE_SHIFT = 16;              // ppc64 with 64 KiB pages
constexpr unsigned MAX_ORDER = 9; // v6.1 ARCH_FORCE_MAX_ORDER default for PPC64 with 64 KiB pages (6.4: 8, redefined)
constexpr unsigned POWERNV_IOMMU_DEFAULT_LEVELS = 2;
constexpr unsigned POWERNV_IOMMU_MAX_LEVELS = 5;
} // namespace

pnv_ioda_pe::pnv_ioda_pe(pnv_phb& phb, unsigned pe_number) : m_phb(phb), m_pe(pe_number) {}

void pnv_ioda_pe::info(const std::string& msg) const {
    m_phb.log().info(fmt::format("pci {:04x}:{:02x}     : [PE# {:02x}] {}", m_phb.segment(), bus_start, m_pe, msg));
}

// pnv_pci_ioda2_setup_dma_pe.
bool pnv_ioda_pe::setup_dma() {
    const opal_phb_info& hw = m_phb.info();
    info(fmt::format("Setting up 32-bit TCE table at 0..{:08x}", hw.dma32_size));
    tce32_start = 0;
    tce32_size = u32(hw.dma32_size); // Linux: phb->ioda.m32_pci_base (see opal_phb_info)
    max_dynamic_windows_supported = IOMMU_TABLE_GROUP_MAX_TABLES;
    max_levels = POWERNV_IOMMU_MAX_LEVELS;
    pgsizes = hw.tce_pgsizes;
    if (setup_default_config()) return false;
    dma_setup_done = true;
    return true;
}

// pnv_pci_ioda2_setup_default_config: a window as large as the largest allocation allows (capped by the
// memory size), 64 KiB TCEs, at least two levels allocated on demand; then the 64-bit bypass window.
long pnv_ioda_pe::setup_default_config() {
    const u64 max_memory = rounddown_pow_of_two(m_phb.memory_size() ? m_phb.memory_size() : u64(1) << 30);
    const u64 maxblock = u64(1) << (PAGE_SHIFT + MAX_ORDER - 1);
    const u64 window_size = std::min((maxblock * 8) << PAGE_SHIFT, max_memory);
    const unsigned tces_order = ilog2(window_size >> PAGE_SHIFT);
    const unsigned tcelevel_order = ilog2(maxblock >> 3);
    unsigned levels = tces_order / tcelevel_order + (tces_order % tcelevel_order ? 1 : 0);
    levels = std::max(levels, POWERNV_IOMMU_DEFAULT_LEVELS);
    std::shared_ptr<iommu_table> tbl;
    long rc = create_table(0, PAGE_SHIFT, window_size, levels, tbl);
    if (rc) {
        info(fmt::format("Failed to create 32-bit TCE table, err {}", rc));
        return rc;
    }
    rc = set_window(0, tbl);
    if (rc) info(fmt::format("Failed to configure 32-bit TCE table, err {}", rc));
    set_bypass(true);
    return 0;
}

// pnv_pci_ioda2_set_bypass: TVE#1 maps bus address (1 << 59) + x to x for all of memory.
void pnv_ioda_pe::set_bypass(bool enable) {
    info(fmt::format("{}abling 64-bit DMA bypass", enable ? "En" : "Dis"));
    const u64 top = enable ? roundup_pow_of_two(m_phb.memory_size() ? m_phb.memory_size() : u64(1) << 30) : 0;
    const i64 rc = m_phb.opal().map_pe_dma_window_real(m_pe, (m_pe << 1) + 1, TCE_BYPASS_BASE, top);
    if (rc) info(fmt::format("OPAL error {} configuring bypass window", rc));
    else bypass_enabled = enable;
}

// pnv_pci_ioda2_get_table_size: the levels' bytes, twice (the hardware table and the userspace copy).
u64 pnv_ioda_pe::get_table_size(unsigned page_shift, u64 window_size, unsigned levels) const {
    if (!levels || levels > POWERNV_IOMMU_MAX_LEVELS || !is_power_of_2(window_size)) return 0;
    const unsigned window_shift = ilog2(window_size);
    if (window_shift < page_shift) return 0;
    unsigned entries_shift = window_shift - page_shift;
    u64 tce_table_size = std::max<u64>(0x1000, u64(1) << (entries_shift + 3));
    entries_shift = (entries_shift + levels - 1) / levels;
    const unsigned table_shift = std::max(entries_shift + 3, PAGE_SHIFT);
    const u64 direct_table_size = u64(1) << table_shift;
    u64 bytes = 0;
    for (; levels; --levels) {
        bytes += (tce_table_size + direct_table_size - 1) / direct_table_size * direct_table_size;
        tce_table_size = tce_table_size / direct_table_size * 8;
        tce_table_size = std::max(tce_table_size, direct_table_size);
    }
    return bytes + bytes;
}

// pnv_pci_ioda2_create_table_userspace.
long pnv_ioda_pe::create_table(int num, unsigned page_shift, u64 window_size, unsigned levels,
                               std::shared_ptr<iommu_table>& out) {
    if (num < 0 || num >= IOMMU_TABLE_GROUP_MAX_TABLES) return -EINVAL;
    const u64 bus_offset = num ? TCE_BYPASS_BASE : tce32_start;
    std::shared_ptr<pnv_tce_table> t;
    const long rc = pnv_tce_table::create(m_phb.ops(), m_phb.pages(), bus_offset, page_shift, window_size, levels,
                                          get_table_size(page_shift, window_size, levels), t);
    if (rc) return rc;
    out = std::move(t);
    return 0;
}

// pnv_pci_ioda2_set_window: the table into TVE (pe << 1) + num, linked, the PE's TCE cache killed.
long pnv_ioda_pe::set_window(int num, std::shared_ptr<iommu_table> table) {
    auto* t = dynamic_cast<pnv_tce_table*>(table.get());
    if (num < 0 || num >= IOMMU_TABLE_GROUP_MAX_TABLES || !t) return -EINVAL;
    info(fmt::format("Setting up window#{} {:x}..{:x} pg={:x}", num, t->bus_start(), t->bus_start() + t->bus_size() - 1,
                     u64(1) << t->page_shift()));
    const u64 bytes = t->levels() > 1 ? t->level_bytes() : t->size() * 8;
    const i64 rc = m_phb.opal().map_pe_dma_window(m_pe, (m_pe << 1) + unsigned(num), t->levels(), t->root(), bytes,
                                                  u64(1) << t->page_shift(), t->bus_size());
    if (rc) {
        info(fmt::format("Failed to configure TCE table, err {}", rc));
        return long(rc);
    }
    t->link(this);
    tables[num] = std::move(table);
    invalidate_pe();
    return 0;
}

// pnv_pci_ioda2_unset_window.
long pnv_ioda_pe::unset_window(int num) {
    if (num < 0 || num >= IOMMU_TABLE_GROUP_MAX_TABLES) return -EINVAL;
    info(fmt::format("Removing DMA window #{}", num));
    const i64 rc = m_phb.opal().map_pe_dma_window(m_pe, (m_pe << 1) + unsigned(num), 0, 0, 0, 0);
    if (rc) info(fmt::format("Unmapping failed, ret = {}", rc));
    else invalidate_pe();
    if (auto* t = dynamic_cast<pnv_tce_table*>(tables[num].get())) t->unlink(this);
    tables[num].reset();
    return long(rc);
}

// pnv_ioda2_take_ownership: the kernel's bypass and default window leave the PE.
void pnv_ioda_pe::take_ownership() {
    set_bypass(false);
    unset_window(0);
}

// pnv_ioda2_release_ownership: the default configuration comes back.
void pnv_ioda_pe::release_ownership() { setup_default_config(); }

// pnv_pci_ioda2_tce_invalidate: PHB3 writes one TCE Kill per page, PHB4 asks OPAL.
void pnv_ioda_pe::invalidate(u64 index, u64 npages, unsigned shift) {
    if (!npages || m_phb.skip_kill()) return;
    const u64 base = tce::PHB3_TCE_KILL_INVAL_ONE | (m_pe & 0xff);
    if (m_phb.info().regs) {
        for (u64 i = index; i < index + npages; ++i) m_phb.write_tce_kill(base | (i << shift));
        return;
    }
    m_phb.opal().tce_kill(tce::OPAL_PCI_TCE_KILL_PAGES, m_pe, u64(1) << shift, index << shift, npages);
}

void pnv_ioda_pe::invalidate_pe() {
    if (m_phb.write_tce_kill(tce::PHB3_TCE_KILL_INVAL_PE | (m_pe & 0xff))) return;
    m_phb.opal().tce_kill(tce::OPAL_PCI_TCE_KILL_PE, m_pe, 0, 0, 0);
}

// ---- EEH ----------------------------------------------------------------------------------------------------

// pnv_eeh_get_pe_state folded into eeh_pe_get_state's PE states.
int pnv_ioda_pe::freeze_state() {
    u8 state = 0;
    u16 pcierr = 0, severity = 0;
    if (m_phb.opal().eeh_freeze_status(m_pe, state, pcierr, severity) != tce::OPAL_SUCCESS)
        return tce::OPAL_EEH_STOPPED_TEMP_UNAVAIL;
    for (pnv_ioda_pe* s : slaves) {
        u8 fstate = 0;
        if (m_phb.opal().eeh_freeze_status(s->number(), fstate, pcierr, severity) != tce::OPAL_SUCCESS)
            return tce::OPAL_EEH_STOPPED_TEMP_UNAVAIL;
        state = std::max(state, fstate); // "override the result based on the ascending priority"
    }
    return state;
}

int pnv_ioda_pe::get_state() {
    const int fstate = freeze_state();
    switch (fstate) {
    case tce::OPAL_EEH_STOPPED_NOT_FROZEN: return tce::EEH_PE_STATE_NORMAL;
    case tce::OPAL_EEH_STOPPED_MMIO_FREEZE: return tce::EEH_PE_STATE_UNAVAIL; // DMA enabled, MMIO not
    case tce::OPAL_EEH_STOPPED_DMA_FREEZE: return tce::EEH_PE_STATE_STOPPED_DMA;
    case tce::OPAL_EEH_STOPPED_RESET: return tce::EEH_PE_STATE_RESET;
    default: return tce::EEH_PE_STATE_STOPPED_IO_DMA;
    }
}

// eeh_pci_enable(THAW_*) -> pnv_eeh_set_option: nothing to do when already active; OPAL clears one freeze.
int pnv_ioda_pe::thaw(int opt) {
    int fstate = freeze_state();
    const bool mmio = opt == tce::OPAL_EEH_ACTION_CLEAR_FREEZE_MMIO;
    const bool active = fstate == tce::OPAL_EEH_STOPPED_NOT_FROZEN ||
                        (mmio ? fstate == tce::OPAL_EEH_STOPPED_DMA_FREEZE : fstate == tce::OPAL_EEH_STOPPED_MMIO_FREEZE);
    if (active) return 0;
    // pnv_ioda_unfreeze_pe: the master, then every slave.
    if (m_phb.opal().eeh_freeze_clear(m_pe, opt) != tce::OPAL_SUCCESS) return -EIO;
    for (pnv_ioda_pe* s : slaves)
        if (m_phb.opal().eeh_freeze_clear(s->number(), opt) != tce::OPAL_SUCCESS) return -EIO;
    // eeh_wait_state: the function must be active now.
    fstate = freeze_state();
    const bool now = fstate == tce::OPAL_EEH_STOPPED_NOT_FROZEN ||
                     (mmio ? fstate == tce::OPAL_EEH_STOPPED_DMA_FREEZE : fstate == tce::OPAL_EEH_STOPPED_MMIO_FREEZE);
    return now ? 0 : -EIO;
}

// eeh_pe_set_option.
int pnv_ioda_pe::set_option(int option) {
    switch (option) {
    case tce::EEH_OPT_ENABLE:  // EEH is enabled on powernv: eeh_pe_change_owner has nothing to undo here
    case tce::EEH_OPT_DISABLE: return 0;
    case tce::EEH_OPT_THAW_MMIO: return thaw(tce::OPAL_EEH_ACTION_CLEAR_FREEZE_MMIO);
    case tce::EEH_OPT_THAW_DMA: return thaw(tce::OPAL_EEH_ACTION_CLEAR_FREEZE_DMA);
    case tce::EEH_OPT_FREEZE_PE: // pnv_ioda_freeze_pe: the master, then every slave
        if (m_phb.opal().eeh_freeze_set(m_pe, tce::OPAL_EEH_ACTION_SET_FREEZE_ALL) != tce::OPAL_SUCCESS) return -EIO;
        for (pnv_ioda_pe* s : slaves) m_phb.opal().eeh_freeze_set(s->number(), tce::OPAL_EEH_ACTION_SET_FREEZE_ALL);
        return 0;
    default: return -EINVAL;
    }
}

// eeh_pe_reset: assert freezes the PE first (no MMIO during reset); deactivate releases the reset and
// re-enables the PE (eeh_pe_reenable_devices -> eeh_unfreeze_pe: thaw MMIO, then DMA).
int pnv_ioda_pe::reset(int option) {
    tce::phb& opal = m_phb.opal();
    switch (option) {
    case tce::EEH_RESET_DEACTIVATE: {
        if (opal.pci_reset(m_pe, tce::OPAL_RESET_PCI_HOT, tce::OPAL_DEASSERT_RESET) != tce::OPAL_SUCCESS) return -EIO;
        const int rc = thaw(tce::OPAL_EEH_ACTION_CLEAR_FREEZE_MMIO);
        return rc ? rc : thaw(tce::OPAL_EEH_ACTION_CLEAR_FREEZE_DMA);
    }
    case tce::EEH_RESET_HOT:
    case tce::EEH_RESET_FUNDAMENTAL:
        set_option(tce::EEH_OPT_FREEZE_PE);
        return opal.pci_reset(m_pe, option == tce::EEH_RESET_HOT ? tce::OPAL_RESET_PCI_HOT : tce::OPAL_RESET_PCI_FUNDAMENTAL,
                              tce::OPAL_ASSERT_RESET) == tce::OPAL_SUCCESS
                   ? 0
                   : -EIO;
    default: return -EINVAL;
    }
}

// eeh_pe_configure: nothing left to do on v6.1 (BARs are restored by the reset path).
int pnv_ioda_pe::configure() { return 0; }

// eeh_pe_inject_err -> pnv_eeh_err_inject -> opal_pci_err_inject.
int pnv_ioda_pe::inject_err(int type, int func, u64 addr, u64 mask) {
    if (type != tce::EEH_ERR_TYPE_32 && type != tce::EEH_ERR_TYPE_64) return -EINVAL;
    if (func < tce::EEH_ERR_FUNC_MIN || func > tce::EEH_ERR_FUNC_MAX) return -EINVAL;
    const int opal_type = type == tce::EEH_ERR_TYPE_32 ? tce::OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR
                                                       : tce::OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR64;
    return m_phb.opal().err_inject(m_pe, opal_type, func, addr, mask) == tce::OPAL_SUCCESS ? 0 : -EIO;
}

} // namespace iommusim::host

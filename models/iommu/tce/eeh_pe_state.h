// The EEH (Enhanced Error Handling) state of one Partitionable Endpoint as the PHB keeps it (IODA2 PESTA =
// MMIO frozen, PESTB = DMA stopped; Linux pci.h PNV_IODA_STOPPED_STATE) and as firmware operates on it
// (OPAL opal_pci_eeh_freeze_set/clear/status, opal_pci_reset, opal_pci_err_inject; PAPR RTAS
// ibm,set-eeh-option, ibm,set-slot-reset, ibm,read-slot-reset-state2, ibm,configure-pe, ibm,errinjct).
//
// An error the PE causes - DMA outside its windows, through an invalid TCE or without permission, an MMIO
// error - freezes it: MMIO loads return all ones, stores are dropped, DMA is stopped, until software thaws
// MMIO and DMA separately or resets the PE. Error injection arms a one-shot trigger that fires on the next
// matching access. The OS's policy on top (Linux eeh_pe_set_option, eeh_pe_reset re-enabling devices) is
// the simulated kernel's, not this class's.
#pragma once
#include "models/iommu/tce/tce_defs.h"

#include <functional>

namespace iommusim::tce {

enum class freeze_reason : u8 {
    none = 0,
    dma_out_of_window,     // DMA outside the windows of its PE (or a disabled window)
    dma_tce_invalid,       // leaf TCE with R = W = 0
    dma_permission,        // TCE lacks the read or write permission the DMA needs
    dma_indirect_invalid,  // an indirect entry of a multi-level table is invalid
    dma_table_error,       // the TCE fetch failed
    dma_no_translation,    // DMA address outside every window and not an MSI
    mmio_error,            // an MMIO access the PE's device failed (UR, CA, completion timeout)
    injected,              // an armed error injection fired
    requested,             // EEH_OPT_FREEZE_PE (the OS freezes the PE, e.g. before a reset)
    domain,                // another PE erred and this one is in its PELT-V (the PHB freezes the domain)
};
const char* to_string(freeze_reason r);
freeze_reason freeze_reason_of(tce_fault f);

// Which access an injected error function fires on.
enum class access_class : u8 { mmio_read, mmio_write, cfg_read, cfg_write, dma_read, dma_write };

struct eeh_statistics {
    u64 freezes = 0;              // error freezes (unfrozen -> frozen by an error or injection)
    freeze_reason last_reason = freeze_reason::none;
    u64 last_address = 0;         // address of the access that caused the last freeze
    u16 last_rid = 0;             // its requester, for a DMA error (0 otherwise)
    bool last_write = false;      // whether it was a write (DMA errors)
    u64 mmio_reads_failed = 0;    // loads answered with all ones while frozen
    u64 mmio_writes_dropped = 0;
    u64 dma_blocked = 0;          // DMAs refused while DMA stopped or in reset
    u64 resets = 0;               // reset assertions (hot or fundamental)
    u64 injections = 0;           // armed injections that fired
};

class eeh_pe_state {
public:
    struct injection {
        int type = EEH_ERR_TYPE_32;
        int func = EEH_ERR_FUNC_LD_MEM_ADDR;
        u64 addr = 0, mask = 0;
    };

    // --- hardware events ----------------------------------------------------------------------------------
    // Freezes MMIO and DMA (OPAL_EEH_ACTION_SET_FREEZE_ALL). Counts and records only an error freeze of an
    // unfrozen PE; a second error while frozen changes nothing.
    void freeze(freeze_reason why, u64 addr = 0);
    // A failed DMA translation (any tce_fault but none) freezes the PE with the matching reason.
    void on_dma_fault(tce_fault f, u64 addr, u16 rid = 0, bool write = false) {
        const bool was = m_mmio_frozen || m_dma_frozen;
        freeze(freeze_reason_of(f), addr);
        if (!was && f != tce_fault::none) {
            m_stats.last_rid = rid;
            m_stats.last_write = write;
        }
    }
    void on_mmio_error(u64 addr) { freeze(freeze_reason::mmio_error, addr); }

    // --- access gates (the PHB asks before forwarding) -------------------------------------------------
    // DMA: false = stopped (frozen, in reset, or an injection fired on it).
    bool dma_allowed(u64 pci_addr, bool write);
    // MMIO load: false = not forwarded, `value` holds all ones of `size` bytes.
    bool mmio_read(u64 pci_addr, unsigned size, u64& value);
    // MMIO store: false = dropped.
    bool mmio_write(u64 pci_addr);
    // Config access: only an injection stops it (config space stays reachable for recovery).
    bool cfg_access(u64 cfg_addr, bool write);

    // --- firmware operations (RTAS status codes) -------------------------------------------------------
    // EEH_OPT_DISABLE / ENABLE record the OS's option; THAW_MMIO / THAW_DMA clear one freeze; FREEZE_PE
    // freezes without counting an error. RTAS_OUT_PARAM_ERROR for other options.
    int set_option(int option);
    // EEH_RESET_HOT / FUNDAMENTAL assert reset (traffic stopped, state RESET); DEACTIVATE releases it. The
    // freeze stays until thawed. A pending injection is dropped by an assert.
    int reset(int option);
    // ibm,configure-pe after a reset: allowed once reset is deasserted.
    int configure();
    // ibm,errinjct ioa-bus-error(-64): type EEH_ERR_TYPE_32/64, func EEH_ERR_FUNC_*; the next access of the
    // function's class whose address matches addr under mask (32-bit type: low 32 bits) freezes the PE.
    int inject_error(int type, int func, u64 addr, u64 mask);

    // EEH_STATE_* bits (pnv_eeh_get_state / ibm,read-slot-reset-state2 as bits).
    int state_bits() const;
    // The PE state eeh_pe_get_state derives: EEH_PE_STATE_NORMAL/RESET/STOPPED_IO_DMA/STOPPED_DMA/UNAVAIL.
    int pe_state() const { return eeh_pe_state_from_bits(state_bits()); }

    bool mmio_frozen() const { return m_mmio_frozen; }
    bool dma_frozen() const { return m_dma_frozen; }
    bool reset_active() const { return m_reset_active; }
    bool eeh_enabled() const { return m_enabled; }
    bool injection_armed() const { return m_armed; }
    // Told of every error freeze of an unfrozen PE (not a requested one, not a domain one): the PHB spreads
    // it over the PE's PELT-V.
    void on_error_freeze(std::function<void(u64 addr)> fn) { m_on_error = std::move(fn); }
    const eeh_statistics& stats() const { return m_stats; }

    static access_class class_of(int func);

private:
    bool injection_fires(access_class c, u64 addr);

    bool m_enabled = true;
    bool m_mmio_frozen = false, m_dma_frozen = false, m_reset_active = false;
    std::function<void(u64)> m_on_error;
    bool m_armed = false;
    injection m_injection;
    eeh_statistics m_stats;
};

} // namespace iommusim::tce

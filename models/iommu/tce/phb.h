// One POWER PCI host bridge (IODA2 PHB3 / IODA3 PHB4 in 2-TVEs-per-PE mode) as the firmware sees and
// programs it: per PE its two TVEs (the 32-bit window at bus address 0 and the 64-bit window at 1 << 59,
// each disabled, translated by a TCE table, or a real-mode bypass), its EEH state, the RID -> PE table,
// the M32 segments and M64 BARs, the interrupt sources' PEs. Every operation Linux powernv asks of OPAL
// is here with OPAL's arguments and return codes (skiboot hw/phb3.c, hw/phb4.c as the reference for the
// checks); the simulated kernel's TCE driver and the platform call them as C++ (OPAL calls are firmware,
// not MMIO the OS touches). The hardware side - routing a DMA to its PE and window, gating MMIO of frozen
// PEs, validating MSIs - is asked by the SystemC unit (tlm/phb_iommu), which owns the caches and is told
// of every change that must reach them through phb_listener. Pure C++, no timing.
#pragma once
#include "models/iommu/tce/eeh_pe_state.h"
#include "models/iommu/tce/phb_opal.h"
#include "models/iommu/tce/phb_pe_map.h"
#include "models/iommu/tce/tce_params.h"
#include "models/iommu/tce/tce_window.h"

#include <optional>
#include <vector>

namespace iommusim::tce {

// What one TVE holds.
struct dma_window_state {
    enum class kind : u8 { disabled, tce, bypass };
    kind mode = kind::disabled;
    tce_window window;         // kind::tce: the geometry (bus offset 0 or 1 << 59, size, levels, root)
    u64 bypass_start = 0;      // kind::bypass: [start, end) of the address with bit 59 cleared
    u64 bypass_end = 0;
    u64 tve = 0;               // the TVT entry as firmware wrote it (IODA2 encodings; 0 = disabled)
};

// A TCE cache invalidation the PHB performs (opal_pci_tce_kill, the PHB3 TCE Kill register).
struct tce_kill_request {
    enum class scope : u8 { pages, pe, all };
    scope what = scope::all;
    unsigned pe = 0;
    u64 dma_addr = 0;   // pages: first PCI address (bit 59 selects the window)
    u64 page_size = 0;  // pages: the IOMMU page size of the range
    u64 npages = 0;
};

// Where one upstream DMA goes before any TCE is read.
struct dma_route {
    enum class kind : u8 { translate, bypass, msi, fault };
    kind what = kind::fault;
    unsigned pe = 0;
    unsigned window = 0;          // TVE of the PE (0: 32-bit, 1: 64-bit)
    u64 address = 0;              // bypass: the real address
    tce_fault fault = tce_fault::none;
    const tce_window* tce = nullptr; // translate: the window to walk
};

// The verdict on one MMIO (PCI memory) access below the PHB.
struct mmio_verdict {
    enum class kind : u8 { forward, all_ones, dropped, unowned };
    kind what = kind::unowned;
    std::optional<unsigned> pe; // the segment's owner
    u64 value = 0;              // all_ones: what the load returns
};

// What the caches in front of the tables must hear about (implemented by the SystemC unit).
class phb_listener {
public:
    virtual ~phb_listener() = default;
    virtual void tce_kill(const tce_kill_request& r) = 0;
    virtual void rtt_changed() = 0; // RID -> PE entries changed (the RTC must drop them)
};

class phb {
public:
    // Throws iommusim::input_error for an unusable parameter set (tce_params::validate()).
    explicit phb(const tce_params& p);
    // The PEs' EEH states call back into their PHB (PELT-V): not copyable.
    phb(const phb&) = delete;
    phb& operator=(const phb&) = delete;

    const tce_params& params() const { return m_params; }
    void set_listener(phb_listener* l) { m_listener = l; }

    // ---- OPAL: requester IDs -> PE ------------------------------------------------------------------------
    // opal_pci_set_pe(phb, pe, bdfn, bus_compare, dev_compare, func_compare, OPAL_MAP_PE / OPAL_UNMAP_PE).
    i64 set_pe(unsigned pe, u16 bdfn, bus_compare bcomp, bool compare_device, bool compare_function, int action);

    // opal_pci_set_peltv(phb, parent_pe, child_pe, OPAL_ADD_PE_TO_DOMAIN / OPAL_REMOVE_PE_FROM_DOMAIN): the
    // PE Lookup Table Vector of parent_pe - the PEs the PHB freezes along with it when it errs (skiboot
    // phb3_set_peltv: one bit per child PE). OPAL_PARAMETER for a PE out of range or another state.
    i64 set_peltv(unsigned parent_pe, unsigned child_pe, u8 state);
    bool in_peltv(unsigned parent_pe, unsigned child_pe) const { return m_peltv[size_t(parent_pe) * m_params.num_pes + child_pe]; }

    // ---- OPAL: DMA windows ------------------------------------------------------------------------------------
    // opal_pci_map_pe_dma_window(phb, pe, window_id = 2 * pe + n, levels, table address, bytes of one level,
    // IOMMU page size); table_size 0 disables the TVE. window_size is not an OPAL argument: the range the OS
    // gave the window (Linux it_size << it_page_shift), which the model checks addresses against; 0 = the
    // levels' whole reach. OPAL_PARAMETER as skiboot: PE or window id out of range, levels outside
    // 1..max_levels, level size not a power of two >= 4 KiB or above the TVE's encoding, page size not one of
    // the PHB's; and (model) a window size not page aligned or beyond the reach.
    i64 map_pe_dma_window(unsigned pe, unsigned window_id, unsigned levels, u64 table_addr, u64 table_size,
                          u64 page_size, u64 window_size = 0);
    // opal_pci_map_pe_dma_window_real: a bypass window [pci_start, pci_start + size) mapping bus address
    // (with bit 59 cleared) 1:1 to real addresses; size 0 disables. skiboot's rules: bit 59 of pci_start must
    // be the window's, start and size 16 MiB aligned, end at or below 2^50.
    i64 map_pe_dma_window_real(unsigned pe, unsigned window_id, u64 pci_start, u64 pci_size);
    const dma_window_state& window(unsigned pe, unsigned n) const { return m_windows[2 * pe + n]; }

    // opal_pci_tce_kill(phb, kill_type, pe, tce_size, dma_addr, npages): PAGES needs a page size of the PHB
    // and a DMA address aligned to it with bits 63:60 clear (phb4_tce_kill), PE a PE in range; ALL
    // ignores the rest. Forwards the invalidation to the listener.
    i64 tce_kill(int kill_type, unsigned pe, u64 tce_size, u64 dma_addr, u64 npages);
    // The PHB3 TCE Kill register value Linux writes (pnv_pci_phb3_tce_invalidate*); false when no kill bit.
    bool tce_kill_register(u64 value);

    // ---- OPAL: MMIO segments --------------------------------------------------------------------------------
    // opal_pci_set_phb_mem_window(M64, bar, pci_addr, size): OPAL_UNSUPPORTED for M32/IO (fixed on PHB3),
    // OPAL_PARAMETER for a bar out of range, a size not a power of two, misalignment (32 MiB for a
    // single-PE BAR, 1 MiB split) or a base not aligned to the size.
    i64 set_phb_mem_window(int window_type, unsigned bar, u64 pci_addr, u64 size);
    // opal_pci_phb_mmio_enable(M64, bar, OPAL_DISABLE_M64 / ENABLE_M64_SPLIT / ENABLE_M64_NON_SPLIT): split
    // needs a BAR not claimed by a PE, non-split one that is; OPAL_PARTIAL without a window set.
    i64 phb_mmio_enable(int window_type, unsigned bar, int enable);
    // opal_pci_map_pe_mmio_window(pe, M32, 0, segment) gives an M32 segment to the PE; (pe, M64, bar, _)
    // claims a disabled M64 BAR for the PE (single-PE mode; OPAL_PARTIAL if it is enabled).
    i64 map_pe_mmio_window(unsigned pe, int window_type, unsigned window_num, unsigned segment);

    // ---- OPAL: MSIs ---------------------------------------------------------------------------------------
    // opal_pci_set_xive_pe(phb, pe, xive): the PE allowed to raise interrupt source xive.
    i64 set_xive_pe(unsigned pe, u32 xive);
    // opal_get_msi_32 / opal_get_msi_64(phb, pe, xive, msi_range = 1, &address, &data).
    i64 get_msi_32(unsigned pe, u32 xive, unsigned msi_range, u32& address, u32& data) const;
    i64 get_msi_64(unsigned pe, u32 xive, unsigned msi_range, u64& address, u32& data) const;

    // ---- OPAL: EEH -----------------------------------------------------------------------------------------
    // opal_pci_eeh_freeze_status(phb, pe, &freeze_state, &pci_error_type, &severity): OPAL_EEH_STOPPED_*
    // from the PE's MMIO/DMA freeze (RESET while a reset is asserted); a frozen PE reports
    // OPAL_EEH_PE_ERROR with OPAL_EEH_SEV_PE_ER (skiboot phb3_eeh_freeze_status).
    i64 eeh_freeze_status(unsigned pe, u8& freeze_state, u16& pci_error_type, u16& severity) const;
    // opal_pci_eeh_freeze_clear / _set with OPAL_EEH_ACTION_{CLEAR,SET}_FREEZE_{MMIO,DMA,ALL}.
    i64 eeh_freeze_clear(unsigned pe, int action);
    i64 eeh_freeze_set(unsigned pe, int action);
    // opal_pci_reset for the slot of one PE: OPAL_RESET_PCI_HOT / _FUNDAMENTAL / _LINK assert or deassert
    // the PE's reset; OPAL_RESET_PCI_IODA_TABLE (assert) and OPAL_RESET_PHB_COMPLETE clear every table
    // (RTT, TVT, M32/M64, IVT, EEH states) and kill the whole TCE cache; OPAL_RESET_PHB_ERROR has nothing to
    // clear (no PHB-wide errors are modelled).
    i64 pci_reset(unsigned pe, int scope, int assert_state);
    // opal_pci_err_inject(phb, pe, type, func, addr, mask): OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR(64), function
    // EEH_ERR_FUNC_*; OPAL_PARAMETER otherwise.
    i64 err_inject(unsigned pe, int type, int func, u64 addr, u64 mask);

    // ---- hardware side (asked by the unit and the platform) ---------------------------------------------------
    // The PE, window and kind of a DMA from `rid` to `pci_addr`: an unassigned RID faults rid_unassigned
    // (its PE is the reserved PE), bits 63:60 = 1 in the 64-bit MSI window or 0xFFFF0000.. is an MSI,
    // other top bits no_translation, a disabled TVE or an address beyond the window out_of_window.
    dma_route route(u16 rid, u64 pci_addr) const;
    // An MMIO access of `size` bytes to a PCI memory address below the PHB: the owner's EEH state decides
    // (a frozen PE's loads return all ones, its stores are dropped; an armed injection fires first).
    mmio_verdict mmio_access(u64 pci_addr, unsigned size, bool write);
    // The PE of a config access by requester ID; false when an injected config error fired (the access
    // then fails, and the PE is frozen).
    bool cfg_access(u16 rid, u64 cfg_addr, bool write);
    // A device reported an MMIO error (UR, CA, completion timeout) on an address: its owner freezes.
    void mmio_error(u64 pci_addr);

    eeh_pe_state& eeh(unsigned pe) { return m_eeh[pe]; }
    const eeh_pe_state& eeh(unsigned pe) const { return m_eeh[pe]; }
    phb_pe_map& pe_map() { return m_map; }
    const phb_pe_map& pe_map() const { return m_map; }
    unsigned num_pes() const { return m_params.num_pes; }

private:
    struct m64_setup {
        u64 base = 0, size = 0;
        bool single = false, enabled = false;
        unsigned pe = 0;
    };
    bool valid_window_id(unsigned pe, unsigned window_id) const;
    void reset_tables();
    void freeze_domain(unsigned pe, u64 addr); // an error froze `pe`: freeze its PELT-V
    void notify_kill(const tce_kill_request& r) {
        if (m_listener) m_listener->tce_kill(r);
    }

    tce_params m_params;
    phb_pe_map m_map;
    std::vector<dma_window_state> m_windows; // 2 per PE, index 2 * pe + n (the TVT)
    std::vector<eeh_pe_state> m_eeh;
    std::vector<bool> m_peltv; // num_pes x num_pes, row = parent PE
    std::vector<m64_setup> m_m64;
    phb_listener* m_listener = nullptr;
};

} // namespace iommusim::tce

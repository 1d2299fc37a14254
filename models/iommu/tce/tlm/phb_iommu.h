// The IOMMU of one POWER PCI host bridge (IODA2 PHB3 / IODA3 PHB4) as a SystemC/TLM-2.0 module, built on
// the pure PHB (models/iommu/tce/phb.h) and the framework in models/iommu/common/:
//
//   dma         upstream requests from the PHB's root port(s) / host bridge(s), carrying tlmx::pci_extension
//               (requester ID): RID -> PE through the RID translation cache, then either an MSI (an MSI window
//               address: validated against the interrupt source's PE and handed to the MSI sink) or DMA
//               (the PE's window by address bit 59; a TCE window through the TCE cache and a table walk, a
//               bypass window 1:1). Every DMA error - unassigned RID, no window, outside the window, invalid
//               TCE or indirect entry, missing permission, failed TCE fetch - freezes the PE (EEH) and
//               completes with an error response; a frozen PE's DMA (and MSIs) are dropped with an error.
//   out         translated DMA towards memory.
//   engine.mem  TCE table reads.
//   regs        the PHB register window [reg_base, reg_base + 0x1000): the TCE Kill register at 0x210
//               (PHB3, big-endian, as Linux pnv_pci_phb3_tce_invalidate* writes it); every other offset reads 0
//               and ignores writes.
//
// The firmware operations (OPAL) are C++ calls on firmware() - the pure phb - and reach the caches through
// its listener (TCE kills, RTT changes); tce_kill() here does the same with a delay to charge. The platform
// asks mmio_check() before forwarding a load/store to a device below the PHB (frozen PE: loads all ones,
// stores dropped) and cfg_check() before a config access.
#pragma once
#include "models/iommu/common/xlate_engine.h"
#include "models/iommu/tce/phb.h"
#include "models/iommu/tce/tlm/tce_dma_path.h"
#include "models/iommu/tce/tlm/tce_unit_params.h"

#include <functional>
#include <map>
#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

namespace iommusim::tce {

// One validated MSI as the PHB hands it to the interrupt controller.
struct msi_message {
    u32 source = 0;   // interrupt source number within the PHB (IVE index)
    unsigned pe = 0;  // the requester's PE (= the IVE's)
    u16 rid = 0;
    u64 address = 0;  // as the device wrote it
    u32 data = 0;
};

class phb_iommu : public sc_core::sc_module, private phb_listener {
public:
    tlm_utils::multi_passthrough_target_socket<phb_iommu, 32, tlm::tlm_base_protocol_types, 0,
                                               sc_core::SC_ZERO_OR_MORE_BOUND>
        dma;
    tlm_utils::simple_initiator_socket<phb_iommu> out;
    tlm_utils::simple_target_socket<phb_iommu> regs;
    iommu::xlate_engine engine;

    // Delivers one validated MSI (e.g. to the interrupt controller); returns false if it was refused.
    using msi_sink = std::function<bool(const msi_message&, sc_core::sc_time&)>;

    // Throws iommusim::input_error for an unusable parameter set (tce_unit_params::validate()).
    phb_iommu(sc_core::sc_module_name name, u64 reg_base, const tce_unit_params& params);

    const tce_unit_params& params() const { return m_params; }
    u64 reg_base() const { return m_reg_base; }
    static constexpr u64 reg_size() { return PHB_REGS_SIZE; }

    // The firmware view (every OPAL operation, the EEH states, the RTT). Changes that concern cached state
    // reach the caches at once.
    phb& firmware() { return m_phb; }
    const phb& firmware() const { return m_phb; }
    // opal_pci_tce_kill with the kill queue's time charged to `delay`.
    i64 tce_kill(int kill_type, unsigned pe, u64 tce_size, u64 dma_addr, u64 npages, sc_core::sc_time& delay);

    void set_msi_sink(msi_sink sink) { m_msi_sink = std::move(sink); }

    // The platform's checks of downstream accesses (charged mmio_check_cycles). mmio_check: a load or store
    // of `size` bytes to a PCI memory address; kind::forward = go ahead, all_ones = answer the load with
    // verdict.value, dropped = discard the store, unowned = the address is in no PE's segment (the platform
    // decides; nothing is frozen). cfg_check: false when an injected config error fired (fail the access).
    mmio_verdict mmio_check(u64 pci_addr, unsigned size, bool write, sc_core::sc_time& delay);
    bool cfg_check(u16 rid, u64 cfg_addr, bool write, sc_core::sc_time& delay);
    // A device answered an MMIO access with an error (UR, CA, timeout): the owning PE freezes.
    void mmio_error(u64 pci_addr) { m_phb.mmio_error(pci_addr); }

    struct statistics {
        iommu::cache_stats tce_cache, rtc;
        iommu::page_walker::statistics walks;
        u64 dma_requests = 0;     // upstream DMA requests received (not MSIs)
        u64 dma_pieces = 0;       // IOMMU-page-bounded pieces translated
        u64 translated = 0;       // pieces translated through a TCE and forwarded
        u64 bypassed = 0;         // requests forwarded through a bypass window
        u64 faulted = 0;          // requests completed with an error because of a translation fault
        u64 dma_blocked = 0;      // requests (DMA or MSI) dropped because their PE was frozen or in reset
        std::map<tce_fault, u64> faults_by_reason;
        u64 freezes = 0;          // error freezes of all PEs (eeh_pe_state statistics, summed)
        u64 tce_cache_hits = 0, tce_walks = 0, table_read_errors = 0;
        u64 rtc_hits = 0, rtc_misses = 0;
        u64 tce_kills = 0, tce_kill_entries = 0;   // kill requests, cache entries they removed
        u64 msi_received = 0, msi_delivered = 0, msi_refused = 0; // refused: the sink said no (or none)
        std::map<msi_check::verdict, u64> msi_rejected; // failed validation, by verdict
        u64 mmio_checks = 0, mmio_all_ones = 0, mmio_dropped = 0, mmio_unowned = 0, cfg_blocked = 0;
        u64 register_reads = 0, register_writes = 0;
    };
    const statistics& stats() const;
    const tce_dma_path& dma_path() const { return m_path; }

private:
    void reg_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
    void dma_transport(int id, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
    bool dma_dmi(int id, tlm::tlm_generic_payload& gp, tlm::tlm_dmi& dmi);
    void msi_path(tlm::tlm_generic_payload& gp, u16 rid, unsigned pe, sc_core::sc_time& delay);
    void translate_and_forward(tlm::tlm_generic_payload& gp, u16 rid, const dma_route& r, sc_core::sc_time& delay);
    void dma_fault(tlm::tlm_generic_payload& gp, unsigned pe, tce_fault f, u64 addr);

    // phb_listener
    void tce_kill(const tce_kill_request& r) override;
    void rtt_changed() override;

    tce_unit_params m_params;
    u64 m_reg_base;
    phb m_phb;
    tce_dma_path m_path;
    msi_sink m_msi_sink;
    sc_core::sc_time* m_kill_delay = nullptr; // the delay of the access that is killing, if any
    mutable statistics m_stats;
};

} // namespace iommusim::tce

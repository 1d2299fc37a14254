// One Intel VT-d remapping hardware unit (DMAR unit) as a SystemC/TLM-2.0 module, legacy mode, built on
// the pure spec core in models/iommu/vtd/ and the framework in models/iommu/common/:
//
//   regs  MMIO register window [reg_base, reg_base + reg_size()): register_file's one generic access path,
//         then the side effects (GCMD commands, CCMD/IOTLB register invalidation, IQT queue processing,
//         fault-status and fault-record clearing).
//   dma   upstream requests from host bridges, carrying tlmx::pci_extension (requester ID, address type):
//         writes to 0xFEEx_xxxx are interrupt requests (interrupt remapping), everything else is DMA
//         (translated through the context cache, IOTLB and a second-level walk; pass-through with TE off).
//   out   what leaves the unit towards the system: translated DMA, interrupt messages (remapped MSIs,
//         fault events, invalidation-completion events), wait-descriptor status writes.
//   engine.mem  table reads: root/context entries, page-table entries, IRTEs, invalidation descriptors.
//
// Faults are spec fault records (fault_logger) and error responses, never exceptions.
#pragma once
#include "models/iommu/common/xlate_engine.h"
#include "models/iommu/vtd/tlm/vtd_caches.h"
#include "models/iommu/vtd/tlm/vtd_dma_path.h"
#include "models/iommu/vtd/tlm/vtd_unit_params.h"
#include "models/iommu/vtd/vtd_fault.h"
#include "models/iommu/vtd/vtd_inv_queue.h"
#include "models/iommu/vtd/vtd_ir.h"
#include "models/iommu/vtd/vtd_regs.h"

#include <map>
#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <vector>

namespace iommusim::vtd {

class vtd_unit : public sc_core::sc_module, private inv_queue_sink {
public:
    tlm_utils::simple_target_socket<vtd_unit> regs;
    tlm_utils::multi_passthrough_target_socket<vtd_unit, 32, tlm::tlm_base_protocol_types, 0,
                                               sc_core::SC_ZERO_OR_MORE_BOUND>
        dma;
    tlm_utils::simple_initiator_socket<vtd_unit> out;
    iommu::xlate_engine engine;

    // Throws iommusim::input_error for an unusable parameter set (vtd_unit_params::validate()).
    vtd_unit(sc_core::sc_module_name name, u64 reg_base, const vtd_unit_params& params);

    u64 reg_base() const { return m_reg_base; }
    u64 reg_size() const { return m_regs.window_size(); }
    const vtd_unit_params& params() const { return m_params; }

    struct statistics {
        iommu::cache_stats context_cache, iotlb, iotlb_large, psc, iec;
        iommu::page_walker::statistics walks;
        u64 dma_requests = 0;        // upstream non-interrupt requests received on `dma`
        u64 dma_pieces = 0;          // 4 KiB-bounded pieces they were split into
        u64 translated = 0;          // pieces translated (IOTLB hit or walk) and forwarded
        u64 passed_through = 0;      // pieces forwarded untranslated (TE off, TT pass-through, translated AT)
        u64 faulted = 0;             // requests answered with an error because of a translation fault
        u64 iotlb_hits = 0, page_walks = 0, context_fetches = 0, table_read_errors = 0;
        u64 translation_requests = 0; // ATS translation requests answered
        u64 interrupts = 0;          // interrupt requests (writes to 0xFEEx_xxxx) received
        u64 interrupts_remapped = 0, interrupts_passed = 0, interrupts_blocked = 0, interrupts_posted = 0;
        u64 faults_recorded = 0, faults_suppressed_fpd = 0, faults_overflow = 0;
        std::map<u8, u64> faults_by_reason; // every fault the unit detected, recorded or not
        u64 fault_events = 0;        // interrupt messages sent for FSTS/IQE conditions and IWC completions
        u64 messages_refused = 0;    // messages `out` answered with an error
        u64 register_reads = 0, register_writes = 0;
        u64 context_invalidations = 0, iotlb_invalidations = 0, iec_invalidations = 0, dev_tlb_invalidations = 0;
        u64 queue_descriptors = 0, queue_errors = 0, wait_status_writes = 0;
    };
    const statistics& stats() const;
    // Pending fault records (FRCD with F set), decoded, in record order.
    std::vector<fault_info> fault_records() const;

    // The latched root-table / interrupt-remapping-table pointers (GCMD.SRTP / GCMD.SIRTP).
    u64 active_root_table() const { return m_root; }
    u64 active_irta() const { return m_irta; }
    // Direct register access for tests and debuggers: no side effects, no time.
    u64 peek_reg(reg_id id) const { return m_regs.get(id); }
    const vtd_caches& caches() const { return m_caches; }

private:
    // Sockets
    void reg_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
    unsigned reg_debug(tlm::tlm_generic_payload& gp);
    void dma_transport(int id, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
    bool dma_dmi(int id, tlm::tlm_generic_payload& gp, tlm::tlm_dmi& dmi);

    // Register side effects (vtd_unit.cpp)
    void after_write(const write_result& w, sc_core::sc_time& delay);
    void handle_gcmd(u32 value);
    void handle_ccmd(u64 value, sc_core::sc_time& delay);
    void handle_iotlb(u64 value, sc_core::sc_time& delay);
    void run_queue(sc_core::sc_time& delay);

    // Requests (vtd_unit_requests.cpp)
    void interrupt_path(tlm::tlm_generic_payload& gp, u16 sid, sc_core::sc_time& delay);
    void dma_request(tlm::tlm_generic_payload& gp, u16 sid, address_type at, sc_core::sc_time& delay);
    void translation_request(tlm::tlm_generic_payload& gp, u16 sid, sc_core::sc_time& delay);
    void dma_fault(u16 sid, const xlate_request& req, const xlate_result& x, sc_core::sc_time& delay);
    void record_fault(const fault_info& f, bool fpd, sc_core::sc_time& delay);
    void send_message(const event_message& m, sc_core::sc_time& delay);
    bool write_out(u64 address, const void* data, unsigned len, sc_core::sc_time& delay);

    // inv_queue_sink: what queued descriptors do to this unit
    bool read_memory(u64 address, void* data, unsigned len) override;
    bool write_memory(u64 address, const void* data, unsigned len) override;
    void context_cache_invalidate(inv_granularity g, u16 did, u16 sid, unsigned fm) override;
    void iotlb_invalidate(inv_granularity g, u16 did, u64 addr, unsigned am, bool ih) override;
    void dev_tlb_invalidate(u16 sid, u64 addr, bool size) override;
    void iec_invalidate(bool index_selective, u16 index, unsigned im) override;

    vtd_unit_params m_params;
    u64 m_reg_base;
    register_file m_regs;
    fault_logger m_faults;
    inv_queue m_queue;
    vtd_caches m_caches;
    dma_path m_dma;
    u64 m_root = 0;   // RTADDR_REG as latched by SRTP
    u64 m_irta = 0;   // IRTA_REG as latched by SIRTP
    sc_core::sc_time* m_queue_delay = nullptr;  // the delay of the IQT write running the queue
    mutable statistics m_stats;
};

} // namespace iommusim::vtd

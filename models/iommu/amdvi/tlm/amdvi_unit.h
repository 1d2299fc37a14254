// One AMD IOMMU (AMD I/O Virtualization Technology (IOMMU) Specification #48882 rev 3.0x) as a
// SystemC/TLM-2.0 module, built on the pure spec core in models/iommu/amdvi/ and the framework in
// models/iommu/common/:
//
//   regs  MMIO register window [reg_base, reg_base + 16 KiB): register_file's generic access path, then
//         the side effects (Control: command buffer and event log run state; CmdBufTail: run commands).
//   dma   upstream requests from host bridges carrying tlmx::pci_extension (requester ID = DeviceID):
//         writes to 0xFEEx_xxxx are interrupt requests (remapped through the DTE's interrupt table),
//         everything else is DMA (DTE cache, IOTLB, v1 walk with the PDE caches).
//   out   what leaves the unit: translated DMA, interrupt messages (remapped MSIs and the IOMMU's own event /
//         completion-wait interrupt), completion-wait stores, event log entries.
//   engine.mem  table reads: DTEs, page-table entries, IRTEs, commands.
//
// The unit's own interrupt is the MSI its PCI function's MSI capability holds (the driver programs it
// through config space, Linux iommu_setup_msi); the platform hands the current message in through
// set_msi_source(). With Control.IntCapXTEn the XT general interrupt control register gives the message
// instead (Linux intcapxt_*). Faults are event log entries and error responses, never exceptions.
#pragma once
#include "models/iommu/amdvi/amdvi_cmd.h"
#include "models/iommu/amdvi/amdvi_event_log.h"
#include "models/iommu/amdvi/amdvi_ir.h"
#include "models/iommu/amdvi/amdvi_regs.h"
#include "models/iommu/amdvi/amdvi_xlate.h"
#include "models/iommu/amdvi/tlm/amdvi_caches.h"
#include "models/iommu/amdvi/tlm/amdvi_unit_params.h"
#include "models/iommu/common/xlate_engine.h"

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <vector>

namespace iommusim::amdvi {

// The MSI message of the IOMMU's PCI function, when its MSI capability is enabled.
struct msi_message {
    u64 address = 0;
    u32 data = 0;
};
using msi_source_fn = std::function<std::optional<msi_message>()>;

class amdvi_unit : public sc_core::sc_module, private cmd_sink {
public:
    tlm_utils::simple_target_socket<amdvi_unit> regs;
    tlm_utils::multi_passthrough_target_socket<amdvi_unit, 32, tlm::tlm_base_protocol_types, 0,
                                               sc_core::SC_ZERO_OR_MORE_BOUND>
        dma;
    tlm_utils::simple_initiator_socket<amdvi_unit> out;
    iommu::xlate_engine engine;

    // Throws iommusim::input_error for an unusable parameter set (amdvi_unit_params::validate()).
    amdvi_unit(sc_core::sc_module_name name, u64 reg_base, const amdvi_unit_params& params);

    u64 reg_base() const { return m_reg_base; }
    u64 reg_size() const { return m_regs.window_size(); }
    const amdvi_unit_params& params() const { return m_params; }
    u64 efr() const { return m_regs.get(reg_id::EXT_FEATURE); }

    void set_msi_source(msi_source_fn f) { m_msi_source = std::move(f); }

    struct statistics {
        iommu::cache_stats dte_cache, iotlb, pde, irt_cache;
        u64 dma_requests = 0, dma_pieces = 0, translated = 0, passed_through = 0, faulted = 0;
        u64 iotlb_hits = 0, page_walks = 0, walk_reads = 0, dte_fetches = 0, table_read_errors = 0;
        u64 interrupts = 0, interrupts_remapped = 0, interrupts_passed = 0, interrupts_blocked = 0;
        std::map<u8, u64> events_by_code;  // every event the unit detected, logged or not
        u64 events_logged = 0, events_lost = 0, events_suppressed = 0;
        u64 iommu_interrupts = 0, messages_refused = 0;
        u64 register_reads = 0, register_writes = 0;
        u64 commands = 0, illegal_commands = 0, command_hw_errors = 0, completion_stores = 0;
        u64 dte_invalidations = 0, page_invalidations = 0, iotlb_invalidations = 0, irt_invalidations = 0,
            all_invalidations = 0, prefetches = 0;
    };
    const statistics& stats() const;
    // Events written to the log so far, oldest first (a debugging view; software reads the log in memory).
    const std::vector<event>& logged_events() const { return m_logged; }

    // Direct register access for tests and debuggers: no side effects, no time.
    u64 peek_reg(reg_id id) const { return m_regs.get(id); }
    const amdvi_caches& caches() const { return m_caches; }

private:
    // Sockets
    void reg_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
    unsigned reg_debug(tlm::tlm_generic_payload& gp);
    void dma_transport(int id, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
    bool dma_dmi(int id, tlm::tlm_generic_payload& gp, tlm::tlm_dmi& dmi);

    // Registers and commands (amdvi_unit.cpp)
    void after_write(const reg_write& w, sc_core::sc_time& delay);
    void run_commands(sc_core::sc_time& delay);
    void raise_interrupt(sc_core::sc_time& delay);
    void log(const event& ev, sc_core::sc_time& delay);

    // Requests (amdvi_unit_requests.cpp)
    void dma_path(tlm::tlm_generic_payload& gp, u16 devid, sc_core::sc_time& delay);
    void interrupt_path(tlm::tlm_generic_payload& gp, u16 devid, sc_core::sc_time& delay);
    xlate_result translate(const dma_request& req, sc_core::sc_time& delay);
    std::optional<dte> get_dte(u16 devid, u64 addr, bool write, bool interrupt, sc_core::sc_time& delay);
    void report(const xlate_fault& f, const dte* d, u16 devid, sc_core::sc_time& delay);
    bool write_out(u64 address, const void* data, unsigned len, sc_core::sc_time& delay);
    bool read_mem(u64 address, void* data, unsigned len, sc_core::sc_time& delay);

    // cmd_sink
    bool read_memory(u64 address, void* data, unsigned len) override;
    bool write_memory(u64 address, const void* data, unsigned len) override;
    void log_event(const event& ev) override;
    void completion_interrupt() override;
    void invalidate_devtab_entry(u16 device_id) override;
    void invalidate_iommu_pages(u16 domain_id, const inv_range& r, bool pde) override;
    void invalidate_iotlb_pages(u16 device_id, const inv_range& r) override;
    void invalidate_interrupt_table(u16 device_id) override;
    void prefetch_iommu_pages(u16 device_id, u64 address) override;
    void invalidate_iommu_all() override;

    amdvi_unit_params m_params;
    u64 m_reg_base;
    register_file m_regs;
    command_processor m_cmds;
    event_log m_log;
    amdvi_caches m_caches;
    v1_translator m_xlate;
    msi_source_fn m_msi_source;
    std::set<u16> m_se_reported;               // DTE.SE: devices whose first IO_PAGE_FAULT was logged
    std::vector<event> m_logged;
    sc_core::sc_time* m_cmd_delay = nullptr;   // the delay of the CmdBufTail write running the buffer
    mutable statistics m_stats;
};

} // namespace iommusim::amdvi

// One VT-d remapping unit as the simulated kernel drives it (Linux's struct intel_iommu with the
// register-level code of drivers/iommu/intel/dmar.c and iommu.c, v6.1): discovery (VER/CAP/ECAP, AGAW),
// GCMD with the cached command bits (iommu->gcmd), bounded status polling, root table, queued
// invalidation (qi_submit_sync) or register-based invalidation, domain IDs, context entries, and the
// primary fault handler (dmar_fault). Everything goes through pci_host_ops: registers by MMIO, tables
// and the queue in system memory from the host page allocator.
#pragma once
#include "models/iommu/vtd/vtd_inv_desc.h"
#include "sim/host/pci_host_ops.h"
#include "sim/memory/page_allocator.h"

#include <optional>
#include <string>
#include <vector>

namespace iommusim::host {

class kernel_log;

struct vtd_options {
    bool superpage = true;          // intel_iommu=sp_off clears it
    bool intremap = true;           // intremap=off clears it
    bool x2apic = true;             // x2APIC mode: IRTA.EIME when ECAP.EIM
    unsigned ir_entries = 65536;    // INTR_REMAP_TABLE_ENTRIES; power of two, 2..65536
    unsigned poll_limit = 1000;     // register/status reads before a wait gives up (Linux: a timeout, then panic)
    unsigned qi_retries = 8;        // resubmissions of an aborted (ITE) queued invalidation
};

// DMA_CCMD_* / DMA_TLB_* granularities as the flush functions take them.
enum class vtd_flush { global, domain, device_or_page };

class vtd_iommu {
public:
    static constexpr unsigned qi_length = 256;  // QI_LENGTH: one 4 KiB page of 16-byte descriptors

    vtd_iommu(pci_host_ops& ops, memory::page_allocator& pages, kernel_log& log, const dmar_drhd& drhd,
              int seq_id, const vtd_options& options);

    // alloc_iommu/map_iommu: read VER/CAP/ECAP, compute AGAW, cache GCMD from GSTS. -ENODEV/-EINVAL with
    // Linux's message when the unit is unusable.
    int probe();

    const std::string& name() const { return m_name; }
    const dmar_drhd& drhd() const { return m_drhd; }
    u64 cap() const { return m_cap; }
    u64 ecap() const { return m_ecap; }
    int agaw() const { return m_agaw; }
    int msagaw() const { return m_msagaw; }
    u32 gcmd() const { return m_gcmd; }
    bool failed() const { return m_failed; }       // a wait timed out: the unit is considered dead
    bool qi_enabled() const { return m_qi; }

    // Register access relative to the unit's base.
    u32 readl(u32 off);
    u64 readq(u32 off);
    void writel(u32 off, u32 v);
    void writeq(u32 off, u64 v);

    // Init steps (intel_iommu_init order).
    int enable_qi();                 // dmar_enable_qi; -ENOENT without ECAP.QI
    void init_qi();                  // intel_iommu_init_qi: QI or register-based invalidation
    int init_domains();              // iommu_init_domains: DID 0 reserved
    int alloc_root_entry();
    int set_root_entry();            // RTADDR, SRTP, then global context + IOTLB flush
    int enable_translation();
    int disable_translation();
    void flush_write_buffer();       // only with CAP.RWBF

    // Invalidation (iommu->flush.flush_context / flush_iotlb). addr carries the IH hint in bit 6 for PSI.
    void flush_context(u16 did, u16 sid, u8 fm, vtd_flush type);
    void flush_iotlb(u16 did, u64 addr, unsigned size_order, vtd_flush type);
    // iommu_flush_iotlb_psi: PSI with the smallest AM covering [pfn, pfn + pages), DSI when not possible.
    void flush_iotlb_psi(u16 did, u64 pfn, u64 pages, bool ih, bool map);
    void flush_iec_global();         // qi_global_iec
    void flush_iec_index(u16 index, unsigned mask);  // qi_flush_iec
    // qi_submit_sync: descriptors then a wait descriptor with status write; 0, -EINVAL (IQE),
    // -ETIMEDOUT (ours: the status never arrived within poll_limit reads).
    int qi_submit_sync(const std::vector<vtd::inv_desc>& descs);

    // Fault injection: skip the next n IOTLB invalidations (so stale IOTLB entries can be observed).
    void inject_skip_invalidations(unsigned n) { m_skip_iotlb = n; }
    unsigned skipped_invalidations() const { return m_skipped; }

    // dmar_fault(): log and clear every pending primary fault record; returns how many were handled.
    unsigned handle_faults();
    // What dmar_fault read, oldest first: every record handled since boot.
    struct fault_record {
        u16 sid = 0;
        u8 reason = 0;
        u64 address = 0;        // page address (DMA) or interrupt_index << 48 (interrupt remapping)
        bool write = false;
        bool interrupt = false; // an interrupt-remapping fault
        std::optional<u32> pasid;
    };
    const std::vector<fault_record>& fault_history() const { return m_fault_history; }

    // dmar_set_interrupt: the fault event message (FEDATA / FEADDR / FEUADDR) to APIC `dest` with
    // `vector`, unmasked (FECTL.IM clear), then dmar_fault once to clear faults logged before.
    // The unit's own interrupts are never remapped (VT-d spec §5.1.7), so this is compatibility format.
    void set_fault_interrupt(u32 dest, u8 vector);
    std::optional<u8> fault_vector() const { return m_fault_vector; }

    // Domain IDs (iommu->domain_ids).
    int alloc_did();                 // -ENOSPC when full
    void free_did(u16 did);
    u32 ndomains() const;

    // iommu_context_addr: physical address of the context entry for bus/devfn (allocating the context
    // table when asked); 0 when absent or out of memory.
    u64 context_addr(u8 bus, u8 devfn, bool alloc);
    u64 root_table() const { return m_root; }

    // Page helpers shared with the domains: zeroed pages from the host allocator, 64-bit memory access.
    u64 alloc_pgtable_page() { return alloc_zeroed(0); }
    void free_pgtable_page(u64 pa) { free_pages(pa, 0); }
    u64 alloc_zeroed(unsigned order);  // 2^order zeroed contiguous pages, 0 when none
    void free_pages(u64 pa, unsigned order);
    u64 read64(u64 pa);
    void write64(u64 pa, u64 v);
    void write32(u64 pa, u32 v);
    u32 read32(u64 pa);

    // Generic bounded wait on a register (IOMMU_WAIT_OP): true when cond held within poll_limit reads.
    bool wait_gsts(u32 bit, bool set);

    // Interrupt remapping registers (the table itself lives in vtd_irq_remap).
    int set_irq_remapping(u64 table, bool x2apic_mode, unsigned size_field);
    int enable_irq_remapping();

    kernel_log& log() { return m_log; }
    const vtd_options& options() const { return m_options; }

private:
    int gcmd_set(u32 cmd_bit, u32 sts_bit, bool keep);  // write gcmd | bit, wait for status
    int qi_check_fault(unsigned index, unsigned wait_index);
    void fail(const char* what);
    void qi_flush_context(u16 did, u16 sid, u8 fm, vtd_flush type);
    void qi_flush_iotlb(u16 did, u64 addr, unsigned size_order, vtd_flush type);
    void reg_flush_context(u16 did, u16 sid, u8 fm, vtd_flush type);
    void reg_flush_iotlb(u16 did, u64 addr, unsigned size_order, vtd_flush type);

    pci_host_ops& m_ops;
    memory::page_allocator& m_pages;
    kernel_log& m_log;
    dmar_drhd m_drhd;
    std::string m_name;
    vtd_options m_options;

    u64 m_cap = 0, m_ecap = 0;
    u32 m_ver = 0;
    int m_agaw = -1, m_msagaw = -1;
    u32 m_gcmd = 0;
    bool m_failed = false;

    u64 m_root = 0;
    std::vector<bool> m_domain_ids;

    bool m_qi = false;
    u64 m_qi_desc = 0;       // queue page
    u64 m_qi_status = 0;     // page of u32 status words, one per queue slot (desc_status)
    unsigned m_free_head = 0;

    unsigned m_skip_iotlb = 0, m_skipped = 0;
    std::vector<fault_record> m_fault_history;
    std::optional<u8> m_fault_vector;
};

} // namespace iommusim::host

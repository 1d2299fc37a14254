// One AMD IOMMU as the simulated kernel drives it (Linux 6.1's struct amd_iommu with the register-level
// code of drivers/iommu/amd/init.c and iommu.c): the MMIO window named by its IVHD, the Extended Feature
// Register (IVHD image, then MMIO), the completion-wait semaphore, command buffer and event log (8 KiB
// each, from the host page allocator), the control register sequence of early_enable_iommu, the IOMMU
// PCI function (capability header, NpCache, MSI for the event interrupt), command submission with
// bounded polling (iommu_queue_command, iommu_completion_wait), the flushes built on it, and the event
// log handler (amd_iommu_int_thread -> iommu_print_event, Linux's messages).
#pragma once
#include "models/iommu/amdvi/amdvi_defs.h"
#include "sim/host/pci_host_ops.h"
#include "sim/memory/page_allocator.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace iommusim::host {

class kernel_log;
struct pci_dev;
// Which PCI device the kernel knows under a segment and requester ID (nullptr if none).
using amd_find_dev = std::function<const pci_dev*(u16 seg, u16 devid)>;

struct amd_iommu_options {
    bool intremap = true;           // intremap=off / amd_iommu_intr=... clears it
    bool x2apic = true;             // x2APIC interrupt mode when the IVHD allows it (XTSup + MsiCapMmioSup)
    unsigned poll_limit = 100000;   // reads of the semaphore / command head before giving up (LOOP_TIMEOUT)
};

class amd_iommu {
public:
    static constexpr u64 CMD_BUFFER_SIZE = 8192;   // 512 commands, ComLen 9
    static constexpr u64 EVT_BUFFER_SIZE = 8192;   // 512 events, EventLen 9

    // What iommu_print_event read, oldest first (every event handled since boot).
    struct event_record {
        u8 type = 0;
        u16 devid = 0;
        u32 domain_or_pasid = 0;
        u64 address = 0;
        u16 flags = 0;     // event[1] 27:16 as Linux prints them
        std::string text;  // the line logged
    };

    amd_iommu(pci_host_ops& ops, memory::page_allocator& pages, kernel_log& log, const ivrs_ivhd& h, int index,
              const amd_iommu_options& options);
    ~amd_iommu();

    // init_iommu_one: MMIO window, features from the IVHD image, semaphore, command buffer, event log.
    // -ENODEV when nothing answers at the base address (ours: Linux would read all ones), -ENOMEM.
    int init_one(u64 ivhd_efr, bool efr_sup);
    // early_enable_iommu: disable, flags, device table, command buffer, event log, GA / XT, IommuEn.
    void early_enable(u64 dev_table, u64 dev_table_size, bool ga, bool xt);
    // iommu_init_pci: capability header, late_iommu_features_init (MMIO EFR), NpCache.
    void init_pci();
    // iommu_setup_msi + iommu_feature_enable(EVT_INT_EN): the IOMMU function's MSI capability programmed
    // in compatibility format (the IOMMU's own interrupts are never remapped).
    int setup_event_interrupt(u32 dest, u8 vector);
    // iommu_flush_all_caches: INVALIDATE_IOMMU_ALL with IASup, otherwise every DTE, IRT and domain.
    void flush_all_caches(u16 last_bdf);

    int index() const { return m_index; }
    const ivrs_ivhd& ivhd() const { return m_ivhd; }
    u16 devid() const { return m_ivhd.devid; }
    u16 segment() const { return m_ivhd.pci_seg; }
    u64 mmio_base() const { return m_ivhd.mmio_phys; }
    u64 features() const { return m_features; }
    u64 features2() const { return m_features2; }
    u32 cap() const { return m_cap; }
    bool np_cache() const { return m_np_cache; }
    bool failed() const { return m_failed; }
    bool feature(u64 mask) const { return (m_features & mask) == mask; }
    u64 cmd_buf() const { return m_cmd_buf; }
    u64 evt_buf() const { return m_evt_buf; }
    u64 cmd_sem() const { return m_cmd_sem; }
    std::optional<u8> event_vector() const { return m_event_vector; }

    // Registers.
    u32 readl(u32 off);
    u64 readq(u32 off);
    void writel(u32 off, u32 v);
    void writeq(u32 off, u64 v);
    void feature_enable(u64 bit);
    void feature_disable(u64 bit);

    // Command buffer. 0, or -EIO when the buffer stays full / the semaphore never arrives.
    int queue_command(const amdvi::command& cmd, bool sync = true);
    int completion_wait();
    int flush_dte(u16 devid);            // INVALIDATE_DEVTAB_ENTRY
    int flush_irt(u16 devid);            // INVALIDATE_INTERRUPT_TABLE
    // INVALIDATE_IOMMU_PAGES for [address, address + size) of a domain (build_inv_address), unless an
    // injected skip swallows it.
    int flush_pages(u16 domid, u64 address, u64 size, bool pde);

    // Fault injection: the next n INVALIDATE_IOMMU_PAGES commands are not queued.
    void inject_skip_invalidations(unsigned n) { m_skip_inv = n; }
    unsigned skipped_invalidations() const { return m_skipped; }
    // Every command queued, in order (what the driver asked of the hardware).
    const std::vector<amdvi::command>& commands() const { return m_commands; }

    // amd_iommu_int_thread: status, event log between head and tail, overflow restart. Returns the
    // events handled. device_name(devid) names the PCI device for IO_PAGE_FAULT lines ("" if none).
    unsigned poll_events(const amd_find_dev& find_dev);
    const std::vector<event_record>& event_history() const { return m_events; }

    // Page helpers shared with the driver.
    u64 read64(u64 pa);
    void write64(u64 pa, u64 v);

private:
    void print_event(const amdvi::event& ev, const amd_find_dev& find_dev);
    void init_flags();
    int find_pci_capability(u8 id);

    pci_host_ops& m_ops;
    memory::page_allocator& m_pages;
    kernel_log& m_log;
    ivrs_ivhd m_ivhd;
    int m_index;
    amd_iommu_options m_options;
    std::string m_name;  // "0000:00:00.2"

    u64 m_features = 0, m_features2 = 0;
    u32 m_cap = 0;
    bool m_np_cache = false;
    bool m_failed = false;

    u64 m_cmd_sem = 0, m_cmd_buf = 0, m_evt_buf = 0;
    u32 m_cmd_tail = 0, m_cmd_head = 0;
    u64 m_sem_val = 0;
    bool m_need_sync = false;

    unsigned m_skip_inv = 0, m_skipped = 0;
    std::vector<amdvi::command> m_commands;
    std::vector<event_record> m_events;
    std::optional<u8> m_event_vector;
};

} // namespace iommusim::host

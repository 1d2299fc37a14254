// The hypervisor side of a pseries guest with VFIO devices on a POWER host: what QEMU's sPAPR machine
// (hw/ppc/spapr_pci.c, spapr_iommu.c, spapr_rtas_ddw.c, hw/vfio/spapr.c) does with the host's VFIO sPAPR
// TCE v2 container and KVM's in-kernel TCE tables, so that a scenario can act as the guest: TCE
// hypercalls (KVM first, QEMU's user-space handler when KVM says H_TOO_HARD) and the dynamic DMA window
// RTAS calls.
//
// One guest PHB per add_phb(): a v2 container holding the passed-through groups, guest RAM preregistered
// (QEMU's prereg listener), the kernel's default window removed and the guest's windows created by
// VFIO_IOMMU_SPAPR_TCE_CREATE with a KVM table (KVM_CREATE_SPAPR_TCE_64) linked to every group's hardware
// table (KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE). LIOBNs and BUIDs are QEMU's: SPAPR_PCI_LIOBN(index, window),
// SPAPR_PCI_BASE_BUID + index.
//
//   vmm::spapr_vmm v(vfio, mm, prereg, table_group_of, ram_ua, ram_size);
//   v.add_phb(0, {group});                                  // 0 or the -errno of the failing call
//   long rc = v.h_put_tce(spapr_vmm::liobn(0, 0), 0x1000, gpa | 3);
//   auto c = v.rtas_create_pe_dma_window(0, spapr_vmm::buid(0), 16, 30);
#pragma once
#include "sim/host/kvm/kvm_spapr_tce.h"

#include <functional>
#include <map>
#include <unordered_map>
#include <vector>

namespace iommusim::host {
class process_mm;
}
namespace iommusim::vfio {
class vfio_core;
}

namespace iommusim::vmm {

using tce::RTAS_OUT_HW_ERROR;
using tce::RTAS_OUT_PARAM_ERROR;
using tce::RTAS_OUT_SUCCESS;

// QEMU spapr-pci-host-bridge properties that shape DMA.
struct spapr_phb_options {
    u64 dma_win_addr = 0;                        // "dma_win_addr": the default 32-bit window
    u64 dma_win_size = 0x40000000;               // "dma_win_size": 1 GiB
    u64 dma64_win_addr = u64(1) << 59;           // "dma64_win_addr": where a second window goes
    u64 page_size_mask = tce::SPAPR_DEFAULT_PGSIZES;  // "pgsz": 4K | 64K | 2M | 16M
    bool ddw = true;                             // "ddw": the DDW RTAS calls are offered
};

struct rtas_query_result {
    int status = RTAS_OUT_PARAM_ERROR;
    u32 windows_available = 0;
    u32 largest_block = 0;       // TCEs of the largest window that could be created
    u32 page_sizes = 0;          // tce::pgsizes_to_ddw_mask
    u32 migration_capable = 0;
};

struct rtas_create_result {
    int status = RTAS_OUT_PARAM_ERROR;
    u32 liobn = 0;
    u64 bus_offset = 0;          // returned as two 32-bit words
};

class spapr_vmm {
public:
    static constexpr u32 SPAPR_PCI_BASE_LIOBN = 0x80000000;
    static constexpr u64 SPAPR_PCI_BASE_BUID = 0x800000020000000ULL;
    static constexpr int SPAPR_PCI_DMA_MAX_WINDOWS = 2;
    static constexpr unsigned SPAPR_TCE_PAGE_SHIFT = 12;
    static u32 liobn(unsigned phb_index, unsigned window) { return SPAPR_PCI_BASE_LIOBN | (phb_index << 8) | window; }
    static u64 buid(unsigned phb_index) { return SPAPR_PCI_BASE_BUID + phb_index; }

    // The IOMMU group's table group (what iommu_group_get_iommudata gives KVM), nullptr if none.
    using table_group_fn = std::function<host::iommu_table_group*(int group)>;

    // vfio: the VMM process's VFIO fds; mm: its memory, of which guest RAM is [ram_ua, ram_ua + ram_size) at
    // guest physical 0; prereg: that process's preregistered memory as KVM looks it up.
    spapr_vmm(vfio::vfio_core& vfio, host::process_mm& mm, host::mm_iommu* prereg, table_group_fn table_group,
              u64 ram_ua, u64 ram_size);
    ~spapr_vmm();
    spapr_vmm(const spapr_vmm&) = delete;
    spapr_vmm& operator=(const spapr_vmm&) = delete;

    // A guest PHB with the IOMMU groups passed through on it. 0, or the -errno of the VFIO/KVM call that
    // failed (the PHB is then not added).
    int add_phb(unsigned index, const std::vector<int>& groups, const spapr_phb_options& options = {});

    // Hypercalls as the guest makes them: KVM's in-kernel handler, then QEMU's when KVM returns H_TOO_HARD.
    long h_put_tce(u64 liobn, u64 ioba, u64 tce);
    long h_put_tce_indirect(u64 liobn, u64 ioba, u64 tce_list, u64 npages);
    long h_stuff_tce(u64 liobn, u64 ioba, u64 tce_value, u64 npages);
    long h_get_tce(u64 liobn, u64 ioba, u64& tce);

    // The DDW RTAS calls (spapr_rtas_ddw.c): config_addr names the PE's device, buid the PHB.
    rtas_query_result rtas_query_pe_dma_window(u32 config_addr, u64 buid);
    rtas_create_result rtas_create_pe_dma_window(u32 config_addr, u64 buid, u32 page_shift, u32 window_shift);
    int rtas_remove_pe_dma_window(u32 liobn);
    int rtas_reset_pe_dma_window(u32 config_addr, u64 buid);

    host::kvm_spapr_tce& kvm() { return m_kvm; }
    // How many calls KVM handed to user space (H_TOO_HARD), for reports.
    u64 user_space_hcalls() const { return m_user_hcalls; }
    // A window of a PHB: its bus offset and size (0 when disabled).
    struct window_info {
        u32 liobn = 0;
        bool enabled = false;
        unsigned page_shift = 0;
        u64 bus_offset = 0, size = 0;
    };
    std::vector<window_info> windows(unsigned phb_index) const;

private:
    struct window {                  // SpaprTceTable
        u32 liobn = 0;
        unsigned page_shift = 0;
        u64 bus_offset = 0, nb_table = 0; // nb_table 0: disabled
        int kvm_table = -1;          // the KVM table fd
    };
    struct phb {                     // SpaprPhbState
        unsigned index = 0;
        spapr_phb_options options;
        int container = -1;
        std::vector<int> group_fds, groups;
        window win[SPAPR_PCI_DMA_MAX_WINDOWS];
    };

    phb* find_phb(u64 buid);
    window* find_window(u32 liobn, phb** owner = nullptr);
    // spapr_tce_table_enable / _disable with their VFIO and KVM side effects.
    int enable_window(phb& p, window& w, unsigned page_shift, u64 bus_offset, u64 nb_table);
    void disable_window(phb& p, window& w);
    void dma_reset(phb& p);          // spapr_phb_dma_reset
    int active_windows(const phb& p) const;
    // QEMU's user-space TCE update (put_tce_emu) and the VFIO map/unmap its IOMMU notifier makes.
    long put_tce_emu(phb& p, window& w, u64 ioba, u64 tce);
    bool read_guest_u64(u64 gpa, u64& value);

    vfio::vfio_core& m_vfio;
    host::process_mm& m_mm;
    table_group_fn m_table_group;
    u64 m_ram_ua, m_ram_size;
    host::kvm_spapr_tce m_kvm;
    std::map<unsigned, phb> m_phbs;
    u64 m_user_hcalls = 0;
};

} // namespace iommusim::vmm

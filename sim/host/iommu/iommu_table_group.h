// The POWER side of the host IOMMU API: what a TCE IOMMU offers besides domains, for the sPAPR TCE VFIO
// backend and KVM's TCE hypercalls. Linux (v6.1) keeps this outside struct iommu_ops, in
// arch/powerpc/include/asm/iommu.h: a PE's struct iommu_table_group with up to two windows, each backed by
// a struct iommu_table, and the ops to create a table, program it into the PE's TVE (set_window), clear a
// TVE (unset_window) and hand the PE to or back from a user (take/release_ownership). EEH is
// arch/powerpc/kernel/eeh.c's per-PE interface that vfio_spapr_eeh.c calls.
//
// Implemented by the TCE driver (sim/host/drivers/tce) over the PHB; consumed by sim/vfio's sPAPR backend
// and by the hypercall layer, neither of which knows the PHB.
#pragma once
#include "sim/core/types.h"

#include <array>
#include <memory>
#include <unordered_map>

namespace iommusim::host {

// enum dma_data_direction as iommu_tce_direction() decodes a TCE's permission bits: both -> bidirectional,
// TCE_PCI_READ (device reads memory) -> to_device, TCE_PCI_WRITE -> from_device, neither -> none (unmapped).
enum class dma_direction : u8 { bidirectional = 0, to_device = 1, from_device = 2, none = 3 };

// struct iommu_table: one TCE table. Entries are indexed absolutely as Linux does: entry i translates the
// bus page i, so the window is [offset() << page_shift(), (offset() + size()) << page_shift()).
class iommu_table {
public:
    virtual ~iommu_table() = default;

    u64 offset() const { return m_offset; }                 // it_offset
    u64 size() const { return m_size; }                     // it_size, entries
    unsigned page_shift() const { return m_page_shift; }    // it_page_shift
    unsigned levels() const { return m_levels; }            // it_indirect_levels + 1
    u64 allocated_size() const { return m_allocated_size; } // it_allocated_size: bytes of table memory
    u64 bus_start() const { return m_offset << m_page_shift; }
    u64 bus_size() const { return m_size << m_page_shift; }

    // it_ops->xchg_no_kill (iommu_tce_xchg_no_kill): store hpa/dir at `index`, return the previous ones
    // in the same arguments. 0, -EINVAL for an index outside the table, -ENOMEM when an indirect level
    // could not be allocated. No cache invalidation: tce_kill does that once per batch.
    virtual long xchg_no_kill(u64 index, u64& hpa, dma_direction& dir) = 0;
    // it_ops->tce_kill (iommu_tce_kill): invalidate the PHB's TCE cache for [index, index + npages).
    virtual void tce_kill(u64 index, u64 npages) = 0;
    // it_ops->get: the raw TCE at index (0 when not present).
    virtual u64 get(u64 index) const = 0;

    // it_userspace: the userspace address each entry was mapped from, kept beside the table by its users
    // (sPAPR v2 and KVM's TCE hypercalls both write entries and both must find the preregistered region an
    // entry came from when it is replaced or cleared: tce_iommu_unuse_page_v2,
    // kvmppc_tce_iommu_mapped_dec). Entries never written read 0. Kept sparse, as the table itself is.
    u64 userspace(u64 index) const {
        auto it = m_userspace.find(index);
        return it == m_userspace.end() ? 0 : it->second;
    }
    void set_userspace(u64 index, u64 ua) {
        if (ua) m_userspace[index] = ua;
        else m_userspace.erase(index);
    }

protected:
    iommu_table(u64 offset, u64 size, unsigned page_shift, unsigned levels, u64 allocated_size)
        : m_offset(offset), m_size(size), m_page_shift(page_shift), m_levels(levels),
          m_allocated_size(allocated_size) {}

private:
    u64 m_offset, m_size;
    unsigned m_page_shift, m_levels;
    u64 m_allocated_size;
    std::unordered_map<u64, u64> m_userspace;
};

constexpr int IOMMU_TABLE_GROUP_MAX_TABLES = 2;

// arch/powerpc/kernel/eeh.c's PE operations as vfio_spapr_eeh.c uses them (0 or -errno unless stated).
class eeh_pe_ops {
public:
    virtual ~eeh_pe_ops() = default;
    // eeh_pe_set_option: EEH_OPT_DISABLE 0, EEH_OPT_ENABLE 1, EEH_OPT_THAW_MMIO 2, EEH_OPT_THAW_DMA 3,
    // EEH_OPT_FREEZE_PE 4.
    virtual int set_option(int option) = 0;
    // eeh_pe_get_state: EEH_PE_STATE_NORMAL 0, _RESET 1, _STOPPED_IO_DMA 2, _STOPPED_DMA 4, _UNAVAIL 5, or
    // -errno.
    virtual int get_state() = 0;
    // eeh_pe_reset: EEH_RESET_DEACTIVATE 0, EEH_RESET_HOT 1, EEH_RESET_FUNDAMENTAL 3.
    virtual int reset(int option) = 0;
    // eeh_pe_configure
    virtual int configure() = 0;
    // eeh_pe_inject_err(pe, type, func, addr, mask)
    virtual int inject_err(int type, int func, u64 addr, u64 mask) = 0;
};

// struct iommu_table_group (+ its ops): one PE as an IOMMU group sees it.
class iommu_table_group {
public:
    virtual ~iommu_table_group() = default;

    u32 tce32_start = 0;                  // the default 32-bit window
    u32 tce32_size = 0;
    u64 pgsizes = 0;                      // page sizes a table may use (bit n = 2^n bytes)
    u32 max_dynamic_windows_supported = 0;
    u32 max_levels = 0;
    int group = -1;                       // the IOMMU group id
    std::array<std::shared_ptr<iommu_table>, IOMMU_TABLE_GROUP_MAX_TABLES> tables; // programmed windows

    // Whether the platform has table_group->ops (DDW-capable PHBs: sPAPR v2 only; without them v1 only).
    virtual bool has_ops() const = 0;
    // ops->get_table_size: bytes of table memory a window would need (charged to locked_vm), 0 if impossible.
    virtual u64 get_table_size(unsigned page_shift, u64 window_size, unsigned levels) const = 0;
    // ops->create_table: a new table for window `num` (bus offset 0 for num 0, the 64-bit base for 1);
    // 0, -EINVAL (page size, levels, size), -ENOMEM.
    virtual long create_table(int num, unsigned page_shift, u64 window_size, unsigned levels,
                              std::shared_ptr<iommu_table>& out) = 0;
    // ops->set_window / unset_window: program the table into (or clear) the PE's TVE `num`.
    virtual long set_window(int num, std::shared_ptr<iommu_table> table) = 0;
    virtual long unset_window(int num) = 0;
    // ops->take_ownership / release_ownership: the kernel's own DMA setup leaves / returns to the PE.
    virtual void take_ownership() = 0;
    virtual void release_ownership() = 0;

    // The PE's EEH interface; nullptr when EEH is not enabled for it.
    virtual eeh_pe_ops* eeh() { return nullptr; }
};

} // namespace iommusim::host

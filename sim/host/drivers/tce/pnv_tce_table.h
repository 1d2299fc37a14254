// One TCE table of the powernv kernel (arch/powerpc/platforms/powernv/pci-ioda-tce.c, v6.1): big-endian
// 8-byte entries in kernel memory, one or more levels, the top level allocated with the table and every
// lower level on first use (pnv_tce with alloc, the "on demand" indirect levels), an indirect entry being
// the next level's address with TCE_PCI_READ | TCE_PCI_WRITE. The PHB reads the same memory (its TVE
// points at the top level). Entries are indexed absolutely (index - it_offset is the table's own index).
// A table may back windows of several PEs (sPAPR v2 shares one table between the groups of a container);
// tce_kill invalidates the TCE cache of every PE it is linked to (it_group_list).
#pragma once
#include "models/iommu/tce/tce_window.h"
#include "sim/host/iommu/iommu_table_group.h"

#include <memory>
#include <vector>

namespace iommusim::memory {
class page_allocator;
}

namespace iommusim::host {

class pci_host_ops;

// Whoever must hear of a kill (the PEs the table is programmed into).
class tce_kill_target {
public:
    virtual ~tce_kill_target() = default;
    virtual void invalidate(u64 index, u64 npages, unsigned page_shift) = 0;
};

class pnv_tce_table : public iommu_table {
public:
    // pnv_pci_ioda2_table_alloc_pages: the geometry tce_window::linux_geometry gives (64 KiB kernel pages),
    // the top level allocated and zeroed. -EINVAL for a geometry Linux refuses, -ENOMEM without memory.
    static long create(pci_host_ops& ops, memory::page_allocator& pages, u64 bus_offset, unsigned page_shift,
                       u64 window_size, unsigned levels, u64 allocated_size, std::shared_ptr<pnv_tce_table>& out);
    ~pnv_tce_table() override;

    long xchg_no_kill(u64 index, u64& hpa, dma_direction& dir) override;
    void tce_kill(u64 index, u64 npages) override;
    u64 get(u64 index) const override;

    // What the TVE needs: top level address, bytes of one level (it_level_size << 3, the whole table when
    // single level), the window geometry.
    const tce::tce_window& window() const { return m_window; }
    u64 root() const { return m_window.root; }
    u64 level_bytes() const { return u64(8) << m_window.level_shift; }
    u64 memory_bytes() const { return m_levels_allocated * level_bytes(); } // levels in memory now

    void link(tce_kill_target* t);
    void unlink(tce_kill_target* t);

private:
    pnv_tce_table(pci_host_ops& ops, memory::page_allocator& pages, const tce::tce_window& w, u64 allocated_size);
    // pnv_tce: the address of the entry for table-relative index idx; nothing when a level is missing
    // (and alloc is false) or cannot be allocated. find: the same, never allocating.
    std::optional<u64> entry(u64 idx, bool alloc);
    std::optional<u64> find(u64 idx) const;
    template <class Alloc>
    std::optional<u64> walk(u64 idx, Alloc&& alloc) const;
    std::optional<u64> alloc_level();
    u64 read(u64 addr) const;
    void write(u64 addr, u64 v) const; // memory is the kernel's, not the object's

    pci_host_ops& m_ops;
    memory::page_allocator& m_pages;
    tce::tce_window m_window;
    unsigned m_level_order;          // page_allocator order of one level
    std::vector<u64> m_levels;       // every level allocated (freed with the table)
    u64 m_levels_allocated = 0;
    std::vector<tce_kill_target*> m_linked;
};

} // namespace iommusim::host

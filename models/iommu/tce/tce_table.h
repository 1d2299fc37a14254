// A TCE table in memory as Linux powernv builds and fills it (arch/powerpc/platforms/powernv/pci-ioda-tce.c):
// pnv_pci_ioda2_table_alloc_pages allocates the levels (every indirect entry = next level | R | W, leaves
// allocated until they cover the window), pnv_tce finds an entry's address through the indirect levels,
// pnv_tce_build / pnv_tce_xchg / pnv_tce_free / pnv_tce_get write and read big-endian TCEs. The simulated
// kernel's TCE driver and the tests build real tables with it; the hardware only ever reads them.
#pragma once
#include "models/iommu/tce/tce_window.h"

#include <optional>

namespace iommusim::tce {

// Where the table lives: zeroed allocations and 8-byte big-endian accesses to physical memory.
class table_memory {
public:
    virtual ~table_memory() = default;
    // A zeroed, `bytes`-aligned block of `bytes` bytes; nullopt when memory is exhausted.
    virtual std::optional<u64> alloc(u64 bytes) = 0;
    virtual void free(u64 pa, u64 bytes) = 0;
    virtual std::optional<u64> read_be64(u64 pa) = 0;
    virtual bool write_be64(u64 pa, u64 v) = 0;
};

class tce_table {
public:
    // Allocates the levels of a window with this geometry (window.root is set to the top level).
    // host_page_shift: the minimum block Linux allocates (alloc_pages). nullopt when allocation fails
    // (Linux -ENOMEM; what was allocated is freed again).
    static std::optional<tce_table> create(table_memory& mem, tce_window geometry, unsigned host_page_shift = 16);

    const tce_window& window() const { return m_window; }
    u64 allocated_bytes() const { return m_allocated; } // it_allocated_size

    // Address of entry `idx` (0-based within the window), through the indirect levels; nullopt when an
    // indirect entry is missing (not allocated) or unreadable.
    std::optional<u64> entry_address(u64 idx) const;

    // pnv_tce_build: `npages` entries from idx mapping consecutive pages from `page_addr` with `dir`
    // (WRITE implies READ). false if an entry cannot be reached.
    bool build(u64 idx, u64 npages, u64 page_addr, dma_direction dir);
    // pnv_tce_xchg: stores a new TCE (page_addr + dir; none clears) and returns the old one.
    std::optional<u64> exchange(u64 idx, u64 page_addr, dma_direction dir);
    // pnv_tce_free: clears npages entries.
    bool clear(u64 idx, u64 npages);
    // pnv_tce_get: the raw entry.
    std::optional<u64> get(u64 idx) const;
    // Stores a raw entry (H_PUT_TCE's value after validation).
    bool put_raw(u64 idx, u64 tce);

    // pnv_pci_ioda2_table_free_pages: frees every level (indirect entries with R = W = 0 are skipped).
    void destroy();

private:
    tce_table(table_memory& mem, const tce_window& w, unsigned host_page_shift)
        : m_mem(&mem), m_window(w), m_host_page_shift(host_page_shift) {}
    std::optional<u64> alloc_level(unsigned levels_left, u64 limit, u64& offset);
    void free_level(u64 table, unsigned levels_left);
    u64 level_bytes() const { return u64(8) << m_window.level_shift; }

    table_memory* m_mem;
    tce_window m_window;
    unsigned m_host_page_shift;
    u64 m_allocated = 0;
};

} // namespace iommusim::tce

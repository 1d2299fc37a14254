// One DMA window of a Partitionable Endpoint: a range of PCI bus addresses translated through a TCE table of
// one or more levels (Linux struct iommu_table: it_offset, it_size, it_page_shift, it_level_size,
// it_indirect_levels, it_base; the PHB's TVE holds the same facts). As a walk_format it is the framework's
// windowed case: `levels` levels of 2^level_shift big-endian 8-byte entries, input_offset = the window's
// bus offset, input_size = its size, addresses beyond fault as out_of_window.
#pragma once
#include "models/iommu/common/pure/page_walker.h"
#include "models/iommu/tce/tce_defs.h"

#include <optional>
#include <string>

namespace iommusim::tce {

struct tce_window {
    u64 bus_offset = 0;       // first bus address (it_offset << it_page_shift); a multiple of the page size
    u64 size = 0;             // bytes of bus address space (it_size << it_page_shift); 0 = window disabled
    unsigned page_shift = 12; // IOMMU page size (it_page_shift; TVE IO_PSIZE + 11)
    unsigned levels = 1;      // table levels (it_indirect_levels + 1; TVE NUM_LEVELS + 1), 1..5
    unsigned level_shift = 9; // log2 of the entries of one level (it_level_size; TVE TCE_TABLE_SIZE + 8)
    u64 root = 0;             // physical address of the top level (it_base; TVE TABLE_ADDR)

    bool enabled() const { return size != 0; }
    u64 page_size() const { return u64(1) << page_shift; }
    u64 entries() const { return size >> page_shift; }
    // log2 of the bytes the levels can index (level_shift * levels + page_shift).
    unsigned reach_shift() const { return level_shift * levels + page_shift; }
    bool contains(u64 pci_addr) const { return enabled() && pci_addr >= bus_offset && pci_addr - bus_offset < size; }
    // Entry index of an address inside the window (pnv_tce_build's `index - it_offset`).
    u64 index(u64 pci_addr) const { return (pci_addr - bus_offset) >> page_shift; }

    // Why the geometry is unusable (page shift outside 12..34, levels outside 1..5, a level below 2^1 or
    // above 2^28 entries, bus offset or size not page aligned, size beyond the levels' reach, wrap-around,
    // root not 4 KiB aligned), or nothing. A model/driver bug or bad configuration, never a guest fault.
    std::optional<std::string> check() const;

    // The window as the generic walker's format (reason codes: tce_fault).
    iommu::walk_format format() const;

    // The TVE firmware writes for this window (skiboot map_pe_dma_window with level bytes = 8 << level_shift);
    // nothing when the TVE cannot encode it.
    std::optional<tve> to_tve() const;
    // The window a TVE describes at a bus offset; its size is the levels' whole reach (the hardware knows no
    // finer limit). Nothing for a disabled TVE.
    static std::optional<tce_window> from_tve(const tve& t, u64 bus_offset);

    // The geometry Linux gives a window (pnv_pci_ioda2_table_alloc_pages): window_size a power of two, the
    // entry count split evenly over `levels`, every level at least one host page (host_page_shift: 16 on a
    // 64 KiB-page ppc64 kernel), the table at least one host page so `size` may exceed window_size;
    // nothing where Linux returns -EINVAL (levels outside 1..5, size not a power of two or below a page,
    // (level_shift * levels + page_shift) >= 60). root is left 0.
    static std::optional<tce_window> linux_geometry(u64 bus_offset, unsigned page_shift, u64 window_size,
                                                    unsigned levels, unsigned host_page_shift = 16);
};

} // namespace iommusim::tce

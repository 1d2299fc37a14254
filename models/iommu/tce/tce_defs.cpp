#include "models/iommu/tce/tce_defs.h"

namespace iommusim::tce {

u64 load_be64(const unsigned char* p) {
    u64 v = 0;
    for (unsigned i = 0; i < 8; ++i) v = (v << 8) | p[i];
    return v;
}

void store_be64(unsigned char* p, u64 v) {
    for (unsigned i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * (7 - i)));
}

namespace {
// QUERY_DDW_PGSIZE_* bit -> page shift, as pseries iommu_get_page_shift maps them.
constexpr struct {
    u32 bit;
    unsigned shift;
} k_ddw_map[] = {
    {QUERY_DDW_PGSIZE_4K, 12},   {QUERY_DDW_PGSIZE_64K, 16},  {QUERY_DDW_PGSIZE_16M, 24},
    {QUERY_DDW_PGSIZE_32M, 25},  {QUERY_DDW_PGSIZE_64M, 26},  {QUERY_DDW_PGSIZE_128M, 27},
    {QUERY_DDW_PGSIZE_256M, 28}, {QUERY_DDW_PGSIZE_16G, 34},
};
} // namespace

u32 pgsizes_to_ddw_mask(u64 pgsizes) {
    u32 m = 0;
    for (const auto& e : k_ddw_map)
        if (pgsizes & (u64(1) << e.shift)) m |= e.bit;
    return m;
}

u64 ddw_mask_to_pgsizes(u32 mask) {
    u64 p = 0;
    for (const auto& e : k_ddw_map)
        if (mask & e.bit) p |= u64(1) << e.shift;
    return p;
}

unsigned largest_page_shift(u64 pgsizes, unsigned max_shift) {
    for (int s = int(max_shift < 63 ? max_shift : 63); s >= 0; --s)
        if (pgsizes & (u64(1) << s)) return unsigned(s);
    return 0;
}

std::optional<unsigned> tve_index(unsigned pe, u64 pci_addr) {
    if (pci_addr >> 60) return std::nullopt;
    return pe * 2 + window_of(pci_addr);
}

std::optional<tve> tve::make(u64 table_addr, unsigned levels, u64 level_bytes, unsigned page_shift) {
    if (levels < 1 || levels > MAX_LEVELS) return std::nullopt;
    if (level_bytes < 0x1000 || (level_bytes & (level_bytes - 1))) return std::nullopt;
    unsigned log2 = 0;
    while ((u64(1) << log2) < level_bytes) ++log2;
    const unsigned tts = log2 - 11;
    if (tts > 31) return std::nullopt;
    if (page_shift < 12 || page_shift - 11 > 31) return std::nullopt;
    tve t;
    t.v = ((table_addr >> 12) << 16) | (u64(levels - 1) << 13) | (u64(tts) << 8) | u64(page_shift - 11);
    return t;
}

bool is_msi_address(u64 a) {
    return (a >= MSI32_BASE && a < MSI32_BASE + MSI32_SIZE) || (a >= MSI64_BASE && a < MSI64_BASE + MSI64_SIZE);
}

u32 msi_source(u64 a, u32 data) {
    const u64 offset = a - (a >= MSI64_BASE ? MSI64_BASE : MSI32_BASE);
    return u32(((offset >> 4) & 0xffff) | (data & 0x1f));
}

const char* to_string(tce_fault f) {
    switch (f) {
    case tce_fault::none: return "none";
    case tce_fault::out_of_window: return "out_of_window";
    case tce_fault::tce_invalid: return "tce_invalid";
    case tce_fault::read_denied: return "read_denied";
    case tce_fault::write_denied: return "write_denied";
    case tce_fault::indirect_invalid: return "indirect_invalid";
    case tce_fault::table_read_error: return "table_read_error";
    case tce_fault::no_translation: return "no_translation";
    case tce_fault::rid_unassigned: return "rid_unassigned";
    }
    return "unknown";
}

int eeh_pe_state_from_bits(int s) {
    const bool rst = s & EEH_STATE_RESET_ACTIVE;
    const bool dma = s & EEH_STATE_DMA_ENABLED;
    const bool mmio = s & EEH_STATE_MMIO_ENABLED;
    if (rst) return EEH_PE_STATE_RESET;
    if (dma && mmio) return EEH_PE_STATE_NORMAL;
    if (!dma && !mmio) return EEH_PE_STATE_STOPPED_IO_DMA;
    if (!dma && mmio) return EEH_PE_STATE_STOPPED_DMA;
    return EEH_PE_STATE_UNAVAIL;
}

std::optional<bus_compare> bus_compare_for_count(unsigned count) {
    switch (count) {
    case 1: return bus_compare::all;
    case 2: return bus_compare::bits7;
    case 4: return bus_compare::bits6;
    case 8: return bus_compare::bits5;
    case 16: return bus_compare::bits4;
    case 32: return bus_compare::bits3;
    default: return std::nullopt;
    }
}

u8 bus_compare_mask(bus_compare c) {
    switch (c) {
    case bus_compare::any: return 0;
    case bus_compare::bits3: return 0xe0;
    case bus_compare::bits4: return 0xf0;
    case bus_compare::bits5: return 0xf8;
    case bus_compare::bits6: return 0xfc;
    case bus_compare::bits7: return 0xfe;
    case bus_compare::all: return 0xff;
    default: return 0xff; // reserved: callers reject it before asking
    }
}

} // namespace iommusim::tce

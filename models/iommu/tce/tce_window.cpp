#include "models/iommu/tce/tce_window.h"

#include "sim/core/bits.h"
namespace iommusim::tce {

std::optional<std::string> tce_window::check() const {
    if (page_shift < 12 || page_shift > 34) return "IOMMU page shift must be 12..34 (4 KiB .. 16 GiB)";
    if (levels < 1 || levels > MAX_LEVELS) return "a TCE table has 1..5 levels";
    if (level_shift < 1 || level_shift > 28) return "a TCE table level has 2^1 .. 2^28 entries";
    if (root & 0xfff) return "the TCE table must be 4 KiB aligned";
    if (!enabled()) return std::nullopt;
    if (bus_offset & (page_size() - 1)) return "the window's bus offset must be a multiple of its page size";
    if (size & (page_size() - 1)) return "the window's size must be a multiple of its page size";
    if (bus_offset + size < bus_offset && bus_offset + size != 0) return "the window wraps around";
    if (reach_shift() < 64 && size > (u64(1) << reach_shift())) return "the window is larger than its table can index";
    return std::nullopt;
}

iommu::walk_format tce_window::format() const {
    iommu::walk_format f;
    f.levels = levels;
    f.page_shift = page_shift;
    f.bits_per_level = level_shift;
    f.entry_bytes = 8;
    f.order = iommu::byte_order::big;
    f.input_offset = bus_offset;
    f.input_size = size;
    f.beyond_kind = iommu::fault_kind::out_of_window;
    f.beyond_reason = u32(tce_fault::out_of_window);
    f.memory_error_reason = u32(tce_fault::table_read_error);
    const unsigned shift = page_shift;
    f.decode = [shift](u64 raw, unsigned level, const iommu::xlate_request&) {
        if (level > 1) {
            // Indirect entry: valid when either permission bit is set (QEMU pnv_phb3_translate_tve); it
            // grants nothing by itself, the leaf decides.
            if (!indirect_valid(raw))
                return iommu::pte_info::failure(iommu::fault_kind::not_present, u32(tce_fault::indirect_invalid));
            return iommu::pte_info::table(indirect_next(raw), iommu::perm_all);
        }
        const tce_entry e{raw};
        if (!e.valid()) return iommu::pte_info::failure(iommu::fault_kind::not_present, u32(tce_fault::tce_invalid));
        const iommu::perm_mask p = iommu::perm_mask((e.read() ? iommu::perm_read : 0) | (e.write() ? iommu::perm_write : 0));
        return iommu::pte_info::leaf(e.page(shift), shift, p);
    };
    f.permission_reason = [](const iommu::xlate_request& req, iommu::perm_mask) {
        return u32(req.is_write() ? tce_fault::write_denied : tce_fault::read_denied);
    };
    return f;
}

std::optional<tve> tce_window::to_tve() const {
    if (!enabled()) return tve{};
    return tve::make(root, levels, u64(8) << level_shift, page_shift);
}

std::optional<tce_window> tce_window::from_tve(const tve& t, u64 bus_offset) {
    if (!t.enabled() || t.levels() > MAX_LEVELS) return std::nullopt;
    tce_window w;
    w.bus_offset = bus_offset;
    w.page_shift = t.page_shift();
    w.levels = t.levels();
    w.level_shift = t.level_entries_shift();
    w.root = t.table_addr();
    // Bit 59 already chose the TVE: a window never reaches past 2^59 bytes.
    const unsigned reach = w.reach_shift();
    w.size = u64(1) << (reach < TVE_SELECT_BIT ? reach : TVE_SELECT_BIT);
    return w;
}

std::optional<tce_window> tce_window::linux_geometry(u64 bus_offset, unsigned page_shift, u64 window_size,
                                                     unsigned levels, unsigned host_page_shift) {
    if (levels < 1 || levels > MAX_LEVELS) return std::nullopt;
    if (window_size == 0 || (window_size & (window_size - 1))) return std::nullopt;
    const unsigned window_shift = ilog2(window_size);
    if (window_shift < page_shift) return std::nullopt;
    unsigned entries_shift = window_shift - page_shift;
    const unsigned table_shift = entries_shift + 3 > host_page_shift ? entries_shift + 3 : host_page_shift;
    // One level holds ceil(entries_shift / levels) bits of index, at least one host page of entries.
    entries_shift = (entries_shift + levels - 1) / levels;
    unsigned level_bytes_shift = entries_shift + 3;
    if (level_bytes_shift < host_page_shift) level_bytes_shift = host_page_shift;
    if ((level_bytes_shift - 3) * levels + page_shift >= 60) return std::nullopt;
    tce_window w;
    w.bus_offset = bus_offset;
    w.page_shift = page_shift;
    w.levels = levels;
    w.level_shift = level_bytes_shift - 3;
    w.size = (u64(1) << (table_shift - 3)) << page_shift; // it_size << it_page_shift
    return w;
}

} // namespace iommusim::tce

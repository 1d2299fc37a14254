#include "models/iommu/tce/tce_xlate.h"

namespace iommusim::tce {

namespace {
tce_xlate_result fail(tce_fault f, unsigned level = 0, u64 entry = 0, u64 entry_addr = 0) {
    tce_xlate_result x;
    x.fault = f;
    x.level = level;
    x.entry = entry;
    x.entry_addr = entry_addr;
    return x;
}
} // namespace

tce_xlate_result tce_translator::translate(const tce_window& w, u64 pci_addr, bool write, const read_be64_fn& read) {
    if (!w.contains(pci_addr)) return fail(tce_fault::out_of_window, w.levels);
    const u64 in = pci_addr - w.bus_offset;
    const u64 level_mask = (u64(1) << w.level_shift) - 1;
    u64 table = w.root;
    // pnv_tce: index bits of level n (n = levels..2) select an indirect entry; the last level the TCE.
    for (unsigned level = w.levels; level >= 1; --level) {
        const unsigned shift = w.page_shift + (level - 1) * w.level_shift;
        const u64 ea = table + ((shift >= 64 ? 0 : (in >> shift)) & level_mask) * 8;
        const auto v = read(ea);
        if (!v) return fail(tce_fault::table_read_error, level, 0, ea);
        if (level > 1) {
            if (!indirect_valid(*v)) return fail(tce_fault::indirect_invalid, level, *v, ea);
            table = indirect_next(*v);
            continue;
        }
        const tce_entry e{*v};
        if (!e.valid()) return fail(tce_fault::tce_invalid, 1, *v, ea);
        if (write && !e.write()) return fail(tce_fault::write_denied, 1, *v, ea);
        if (!write && !e.read()) return fail(tce_fault::read_denied, 1, *v, ea);
        tce_xlate_result x;
        x.level = 1;
        x.page_shift = w.page_shift;
        x.addr = e.page(w.page_shift) | (in & (w.page_size() - 1));
        x.r = e.read();
        x.w = e.write();
        x.entry = *v;
        x.entry_addr = ea;
        return x;
    }
    return fail(tce_fault::tce_invalid, 1); // not reached: level 1 always returns
}

tce_xlate_result tce_translator::translate_pe(const std::array<tce_window, MAX_WINDOWS>& windows, u64 pci_addr,
                                              bool write, const read_be64_fn& read) {
    if (pci_addr >> 60) return fail(tce_fault::no_translation);
    const unsigned sel = window_of(pci_addr);
    tce_xlate_result x = translate(windows[sel], pci_addr, write, read);
    x.window = sel;
    return x;
}

} // namespace iommusim::tce

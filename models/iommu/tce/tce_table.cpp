#include "models/iommu/tce/tce_table.h"

namespace iommusim::tce {

std::optional<tce_table> tce_table::create(table_memory& mem, tce_window geometry, unsigned host_page_shift) {
    if (geometry.check() || !geometry.enabled()) return std::nullopt;
    tce_table t(mem, geometry, host_page_shift);
    // tce_table_size: bytes of leaf TCEs the window needs (it_size entries).
    const u64 limit = geometry.entries() * 8;
    u64 offset = 0;
    const auto root = t.alloc_level(geometry.levels, limit, offset);
    if (!root) return std::nullopt;
    t.m_window.root = *root;
    if (offset < limit) { // a lower level failed: release the partial table
        t.destroy();
        return std::nullopt;
    }
    return t;
}

// pnv_pci_ioda2_table_do_alloc_pages: one level of at least a host page; for indirect levels, children one by
// one until the leaves allocated so far cover `limit` bytes of TCEs.
std::optional<u64> tce_table::alloc_level(unsigned levels_left, u64 limit, u64& offset) {
    const u64 min_block = u64(1) << m_host_page_shift;
    const u64 bytes = level_bytes() > min_block ? level_bytes() : min_block;
    const auto addr = m_mem->alloc(bytes);
    if (!addr) return std::nullopt;
    m_allocated += bytes;
    if (--levels_left == 0) {
        offset += bytes;
        return addr;
    }
    const u64 entries = u64(1) << m_window.level_shift;
    for (u64 i = 0; i < entries; ++i) {
        const auto child = alloc_level(levels_left, limit, offset);
        if (!child) break;
        m_mem->write_be64(*addr + i * 8, make_indirect(*child));
        if (offset >= limit) break;
    }
    return addr;
}

std::optional<u64> tce_table::entry_address(u64 idx) const {
    if (idx >= m_window.entries()) return std::nullopt;
    const unsigned shift = m_window.level_shift;
    const u64 mask = (u64(1) << shift) - 1;
    u64 table = m_window.root;
    for (unsigned level = m_window.levels; level > 1; --level) {
        const u64 n = (idx >> ((level - 1) * shift)) & mask;
        const auto v = m_mem->read_be64(table + n * 8);
        if (!v || !indirect_valid(*v)) return std::nullopt;
        table = indirect_next(*v);
    }
    return table + (idx & mask) * 8;
}

bool tce_table::build(u64 idx, u64 npages, u64 page_addr, dma_direction dir) {
    for (u64 i = 0; i < npages; ++i) {
        const auto ea = entry_address(idx + i);
        if (!ea) return false;
        m_mem->write_be64(*ea, tce_entry::make_linux(page_addr + (i << m_window.page_shift), dir).v);
    }
    return true;
}

std::optional<u64> tce_table::exchange(u64 idx, u64 page_addr, dma_direction dir) {
    const auto ea = entry_address(idx);
    if (!ea) return std::nullopt;
    const auto old = m_mem->read_be64(*ea);
    if (!old) return std::nullopt;
    const u64 v = dir == dma_direction::none ? 0 : tce_entry::make_linux(page_addr, dir).v;
    if (!m_mem->write_be64(*ea, v)) return std::nullopt;
    return old;
}

bool tce_table::clear(u64 idx, u64 npages) {
    for (u64 i = 0; i < npages; ++i) {
        const auto ea = entry_address(idx + i);
        if (!ea || !m_mem->write_be64(*ea, 0)) return false;
    }
    return true;
}

std::optional<u64> tce_table::get(u64 idx) const {
    const auto ea = entry_address(idx);
    if (!ea) return std::nullopt;
    return m_mem->read_be64(*ea);
}

bool tce_table::put_raw(u64 idx, u64 tce) {
    const auto ea = entry_address(idx);
    return ea && m_mem->write_be64(*ea, tce);
}

void tce_table::free_level(u64 table, unsigned levels_left) {
    const u64 min_block = u64(1) << m_host_page_shift;
    const u64 bytes = level_bytes() > min_block ? level_bytes() : min_block;
    if (levels_left > 1) {
        const u64 entries = u64(1) << m_window.level_shift;
        for (u64 i = 0; i < entries; ++i) {
            const auto v = m_mem->read_be64(table + i * 8);
            if (v && indirect_valid(*v)) free_level(indirect_next(*v), levels_left - 1);
        }
    }
    m_mem->free(table, bytes);
}

void tce_table::destroy() {
    if (m_window.root) free_level(m_window.root, m_window.levels);
    m_window.root = 0;
    m_allocated = 0;
}

} // namespace iommusim::tce

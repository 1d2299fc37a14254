#include "sim/host/drivers/tce/pnv_tce_table.h"

#include "models/iommu/tce/tce_defs.h"
#include "sim/host/pci_host_ops.h"
#include "sim/memory/page_allocator.h"

#include <algorithm>
#include <cerrno>
#include <vector>

namespace iommusim::host {

namespace {
// A ppc64 kernel built with 64 KiB pages, as distributions ship it: levels are at least one such page.
constexpr unsigned KERNEL_PAGE_SHIFT = 16;
} // namespace

long pnv_tce_table::create(pci_host_ops& ops, memory::page_allocator& pages, u64 bus_offset, unsigned page_shift,
                           u64 window_size, unsigned levels, u64 allocated_size, std::shared_ptr<pnv_tce_table>& out) {
    auto w = tce::tce_window::linux_geometry(bus_offset, page_shift, window_size, levels, KERNEL_PAGE_SHIFT);
    if (!w || (bus_offset & ((u64(1) << page_shift) - 1))) return -EINVAL;
    std::shared_ptr<pnv_tce_table> t(new pnv_tce_table(ops, pages, *w, allocated_size));
    const auto root = t->alloc_level();
    if (!root) return -ENOMEM;
    t->m_window.root = *root;
    out = std::move(t);
    return 0;
}

pnv_tce_table::pnv_tce_table(pci_host_ops& ops, memory::page_allocator& pages, const tce::tce_window& w,
                             u64 allocated_size)
    : iommu_table(w.bus_offset >> w.page_shift, w.entries(), w.page_shift, w.levels, allocated_size), m_ops(ops),
      m_pages(pages), m_window(w), m_level_order(memory::page_allocator::order_for(u64(8) << w.level_shift)) {}

pnv_tce_table::~pnv_tce_table() {
    for (u64 a : m_levels) m_pages.free(a, m_level_order);
}

std::optional<u64> pnv_tce_table::alloc_level() {
    const auto a = m_pages.alloc(m_level_order);
    if (!a) return std::nullopt;
    // The kernel zeroes a level before the PHB may see it (pnv_alloc_tce_level: __GFP_ZERO).
    const std::vector<unsigned char> zero(level_bytes(), 0);
    if (!m_ops.memory_write(*a, zero.data(), zero.size())) {
        m_pages.free(*a, m_level_order);
        return std::nullopt;
    }
    m_levels.push_back(*a);
    ++m_levels_allocated;
    return a;
}

u64 pnv_tce_table::read(u64 addr) const {
    unsigned char b[8] = {};
    m_ops.memory_read(addr, b, 8);
    return tce::load_be64(b);
}

void pnv_tce_table::write(u64 addr, u64 v) const {
    unsigned char b[8];
    tce::store_be64(b, v);
    m_ops.memory_write(addr, b, 8);
}

// pnv_tce: down the indirect levels to the entry of table-relative index idx. A missing level is made by
// `alloc` (nothing: the entry does not exist).
template <class Alloc>
std::optional<u64> pnv_tce_table::walk(u64 idx, Alloc&& alloc) const {
    u64 table = m_window.root;
    const unsigned shift = m_window.level_shift;
    for (unsigned level = m_window.levels - 1; level > 0; --level) {
        const u64 slot = table + ((idx >> (level * shift)) & ((u64(1) << shift) - 1)) * 8;
        u64 v = read(slot);
        if (!v) {
            const std::optional<u64> next = alloc();
            if (!next) return std::nullopt;
            v = tce::make_indirect(*next);
            write(slot, v);
        }
        table = v & ~tce::TCE_PERM_MASK;
    }
    return table + (idx & ((u64(1) << shift) - 1)) * 8;
}

std::optional<u64> pnv_tce_table::entry(u64 idx, bool alloc) {
    return walk(idx, [&]() -> std::optional<u64> { return alloc ? alloc_level() : std::nullopt; });
}

std::optional<u64> pnv_tce_table::find(u64 idx) const {
    return walk(idx, []() -> std::optional<u64> { return std::nullopt; });
}

// pnv_tce_xchg with alloc = true (the IOMMU API path): clearing a never-written entry allocates nothing; a
// write-only mapping is made readable too.
long pnv_tce_table::xchg_no_kill(u64 index, u64& hpa, dma_direction& dir) {
    if (index < offset() || index - offset() >= size()) return -EINVAL;
    const u64 idx = index - offset();
    u64 newtce = hpa | tce::direction_to_tce_perm(tce::dma_direction(dir));
    std::optional<u64> p = entry(idx, dir != dma_direction::none);
    if (!p) {
        if (dir == dma_direction::none) {
            hpa = 0;
            return 0;
        }
        return -ENOMEM;
    }
    if (newtce & tce::TCE_PCI_WRITE) newtce |= tce::TCE_PCI_READ;
    const u64 old = read(*p);
    write(*p, newtce);
    hpa = old & ~tce::TCE_PERM_MASK;
    dir = dma_direction(tce::tce_direction(old));
    return 0;
}

u64 pnv_tce_table::get(u64 index) const {
    if (index < offset() || index - offset() >= size()) return 0;
    const auto p = find(index - offset());
    return p ? read(*p) : 0;
}

void pnv_tce_table::tce_kill(u64 index, u64 npages) {
    for (tce_kill_target* t : m_linked) t->invalidate(index, npages, page_shift());
}

void pnv_tce_table::link(tce_kill_target* t) {
    if (std::find(m_linked.begin(), m_linked.end(), t) == m_linked.end()) m_linked.push_back(t);
}

void pnv_tce_table::unlink(tce_kill_target* t) { m_linked.erase(std::remove(m_linked.begin(), m_linked.end(), t), m_linked.end()); }

} // namespace iommusim::host

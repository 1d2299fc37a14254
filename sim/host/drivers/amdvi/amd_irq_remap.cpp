#include "sim/host/drivers/amdvi/amd_irq_remap.h"

#include "models/iommu/amdvi/amdvi_defs.h"
#include "sim/host/dma_alias.h"
#include "sim/host/drivers/amdvi/amd_iommu.h"
#include "sim/host/drivers/amdvi/amd_iommu_driver.h"

#include <cerrno>

namespace iommusim::host {

namespace {
constexpr u32 IRTE_ALLOCATED = ~1u;  // 32-bit marker: RemapEn clear, the rest set
}

amd_irq_remap::amd_irq_remap(amd_iommu_driver& driver, bool ga) : m_driver(driver), m_ga(ga) {}

amd_irq_remap::~amd_irq_remap() {
    for (const auto& t : m_tables) m_driver.free_pages(t->pa, m_ga ? 1 : 0);
}

u64 amd_irq_remap::table_of(u16 seg, u16 devid) const {
    auto it = m_lookup.find({seg, devid});
    return it == m_lookup.end() ? 0 : it->second->pa;
}

unsigned amd_irq_remap::used(u64 table) const {
    for (const auto& t : m_tables)
        if (t->pa == table) {
            unsigned n = 0;
            for (bool b : t->allocated) n += b;
            return n;
        }
    return 0;
}

// set_remap_table_entry: the lookup, the DTE interrupt fields (set_dte_irq_entry), INVALIDATE_DEVTAB_ENTRY.
void amd_irq_remap::set_remap_table_entry(amd_iommu& iommu, u16 devid, irq_table& t) {
    m_lookup[{iommu.segment(), devid}] = &t;
    amdvi::dte d = m_driver.get_dte(iommu.segment(), devid);
    d.with_interrupts(t.pa, DTE_INTTABLEN, amdvi::int_ctl::remap);
    m_driver.set_dte(iommu.segment(), devid, d);
    iommu.flush_dte(devid);
}

// alloc_irq_table: the device's table, else its IVRS alias's, else a new one set for the device's PCI
// DMA aliases and its IVRS alias.
amd_irq_remap::irq_table* amd_irq_remap::alloc_irq_table(amd_iommu& iommu, u16 devid, pci_dev& dev) {
    const u16 seg = iommu.segment();
    if (auto it = m_lookup.find({seg, devid}); it != m_lookup.end()) return it->second;
    const u16 alias = m_driver.ivrs_alias(seg, devid);
    if (auto it = m_lookup.find({seg, alias}); it != m_lookup.end()) {
        set_remap_table_entry(iommu, devid, *it->second);
        iommu.completion_wait();
        return it->second;
    }
    auto pa = m_driver.alloc_zeroed_pages(m_ga ? 1 : 0);  // 512 x 16 bytes needs two pages
    if (!pa) return nullptr;
    auto t = std::make_unique<irq_table>();
    t->pa = pa;
    t->allocated.assign(MAX_IRQS_PER_TABLE, false);
    irq_table& ref = *t;
    m_tables.push_back(std::move(t));
    pci_for_each_dma_alias(dev, [&](pci_dev&, u16 a, alias_kind) {
        set_remap_table_entry(iommu, a, ref);
        return 0;
    });
    if (devid != alias) set_remap_table_entry(iommu, alias, ref);
    iommu.completion_wait();
    return &ref;
}

void amd_irq_remap::write_irte(irq_table& t, unsigned index, u64 lo, u64 hi) {
    if (m_ga) {
        m_driver.write64(t.pa + 16ull * index + 8, hi);  // modify_irte_ga: one 128-bit store, hi half first here
        m_driver.write64(t.pa + 16ull * index, lo);
    } else {
        m_driver.write32(t.pa + 4ull * index, u32(lo));
    }
}

// alloc_irq_index: `count` free entries from min_index, the block aligned to count when asked; each
// marked allocated in the table (32-bit: IRTE_ALLOCATED; GA: vector 0xff in the upper half).
int amd_irq_remap::alloc_irq_index(irq_table& t, unsigned count, bool align) {
    const unsigned alignment = align ? count : 1;
    auto align_up = [&](unsigned v) { return (v + alignment - 1) / alignment * alignment; };
    unsigned c = 0;
    for (unsigned index = align_up(t.min_index); index < MAX_IRQS_PER_TABLE;) {
        if (!t.allocated[index]) {
            ++c;
        } else {
            c = 0;
            index = align_up(index + 1);
            continue;
        }
        if (c == count) {
            const unsigned first = index - count + 1;
            for (unsigned i = first; i <= index; ++i) {
                t.allocated[i] = true;
                write_irte(t, i, m_ga ? 0 : IRTE_ALLOCATED, m_ga ? 0xff : 0);
            }
            return int(first);
        }
        ++index;
    }
    return -ENOSPC;
}

int amd_irq_remap::alloc(pci_dev& dev, amd_iommu& iommu, u16 devid, unsigned count, u8 vector, u32 dest,
                         remapped_msi& out) {
    unsigned n = 1;
    while (n < count) n <<= 1;
    irq_table* t = alloc_irq_table(iommu, devid, dev);
    if (!t) return -ENOMEM;
    const int index = alloc_irq_index(*t, n, n > 1);
    if (index < 0) return index;
    out.index = index;
    out.count = n;
    out.unit = iommu.index();
    out.msgs.clear();
    for (unsigned i = 0; i < n; ++i) {
        // irte_prepare (fixed delivery, physical destination), then modify_irte(_ga) at activation.
        const u8 vec = u8(vector + i);
        if (m_ga) {
            const auto e = amdvi::irte_ga::make(vec, dest);
            write_irte(*t, unsigned(index) + i, e.lo, e.hi);
        } else {
            write_irte(*t, unsigned(index) + i, amdvi::irte32::make(vec, u8(dest)).v, 0);
        }
        iommu.flush_irt(devid);
        iommu.completion_wait();
        // fill_msi_msg: the remappable message carries only the index.
        out.msgs.push_back(msi_msg{0xfee00000u, 0, u32(index) + i});
    }
    m_allocs[{iommu.index(), index}] = owner{&iommu, devid, t};
    return 0;
}

void amd_irq_remap::free(const remapped_msi& msi) {
    auto it = m_allocs.find({msi.unit, msi.index});
    if (it == m_allocs.end()) return;
    const owner o = it->second;
    m_allocs.erase(it);
    for (unsigned i = 0; i < msi.count; ++i) {
        const unsigned idx = unsigned(msi.index) + i;
        if (idx >= MAX_IRQS_PER_TABLE) break;
        o.table->allocated[idx] = false;
        write_irte(*o.table, idx, 0, 0);  // clear_allocated
        o.iommu->flush_irt(o.devid);
        o.iommu->completion_wait();
    }
}

} // namespace iommusim::host

#include "sim/host/drivers/vtd/vtd_irq_remap.h"

#include "models/iommu/vtd/vtd_params.h"
#include "sim/host/dma_alias.h"
#include "sim/host/drivers/vtd/vtd_iommu.h"
#include "sim/host/kernel_log.h"

#include <algorithm>
#include <cerrno>
#include <fmt/format.h>

namespace iommusim::host {

msi_sid set_msi_sid(pci_dev& dev) {
    unsigned count = 0, busmatch = 0;
    u16 alias = 0;
    pci_dev* pdev = nullptr;
    pci_for_each_dma_alias(dev, [&](pci_dev& p, u16 a, alias_kind) {
        if (count == 0 || (a >> 8) == (alias >> 8)) ++busmatch;
        pdev = &p;
        alias = a;
        ++count;
        return 0;
    });
    const u8 dev_bus = dev.bus->number;
    // SQ_ALL_16 = 0; set_irte_verify_bus puts start bus in SID 15:8 and end bus in 7:0.
    if ((alias >> 8) != pdev->bus->number)
        return {vtd::irte_svt::bus_range, 0, u16(((alias >> 8) << 8) | dev_bus)};
    if (count >= 2 && busmatch == count) return {vtd::irte_svt::bus_range, 0, u16((dev_bus << 8) | dev_bus)};
    if (pdev->bus->number != dev_bus) return {vtd::irte_svt::sid_sq, 0, alias};
    return {vtd::irte_svt::sid_sq, 0, dev.address().rid()};
}

vtd_ir_table::vtd_ir_table(vtd_iommu& iommu, unsigned entries, bool x2apic)
    : m_iommu(iommu), m_entries(entries), m_x2apic(x2apic) {}

unsigned vtd_ir_table::used() const { return unsigned(std::count(m_used.begin(), m_used.end(), true)); }

int vtd_ir_table::setup() {
    if (m_entries < 2 || m_entries > 65536 || (m_entries & (m_entries - 1))) return -EINVAL;
    // Queued invalidation is required for interrupt remapping (IEC invalidation has no register form).
    if (!m_iommu.qi_enabled()) {
        m_iommu.handle_faults();
        if (m_iommu.enable_qi()) {
            m_iommu.log().warn("DMAR-IR: Failed to enable queued invalidation");
            return -ENODEV;
        }
    }
    m_order = memory::page_allocator::order_for(u64(m_entries) * 16);  // INTR_REMAP_PAGE_ORDER for 64K
    m_base = m_iommu.alloc_zeroed(m_order);
    if (!m_base) {
        m_iommu.log().warn(fmt::format("DMAR-IR: Failed to allocate pages of order {}", m_order));
        return -ENOMEM;
    }
    m_used.assign(m_entries, false);
    // IRTA.S: the table has 2^(S+1) entries (INTR_REMAP_TABLE_REG_SIZE = 0xf for 65536).
    const unsigned s = unsigned(__builtin_ctz(m_entries)) - 1;
    int ret = m_iommu.set_irq_remapping(m_base, m_x2apic, s);
    if (!ret) ret = m_iommu.enable_irq_remapping();
    return ret;
}

// alloc_irte: a naturally aligned free block of 2^mask entries (bitmap_find_free_region), the mask
// bounded by ECAP.MHMV so one index-selective IEC invalidation can cover the block.
int vtd_ir_table::alloc(pci_dev& dev, unsigned count, u8 vector, u32 dest, remapped_msi& out) {
    if (!m_base || count == 0) return -ENODEV;
    unsigned n = 1, mask = 0;
    while (n < count) {
        n <<= 1;
        ++mask;
    }
    if (mask > vtd::ecap::mhmv(m_iommu.ecap())) {
        m_iommu.log().warn(fmt::format("DMAR-IR: Requested mask {:x} exceeds the max invalidation handle mask "
                                       "value {:x}",
                                       mask, vtd::ecap::mhmv(m_iommu.ecap())));
        return -EINVAL;
    }
    int index = -1;
    for (unsigned i = 0; i + n <= m_entries && index < 0; i += n)
        if (std::none_of(m_used.begin() + i, m_used.begin() + i + n, [](bool b) { return b; })) index = int(i);
    if (index < 0) return -ENOSPC;
    for (unsigned i = 0; i < n; ++i) m_used[unsigned(index) + i] = true;

    const msi_sid sid = set_msi_sid(dev);
    out = remapped_msi{};
    out.index = index;
    out.count = n;
    for (unsigned i = 0; i < count; ++i) {
        // prepare_irte: present, physical destination, fixed delivery, edge, redirection hint set;
        // the destination is the APIC ID (x2APIC) or the xAPIC ID in DST 15:8.
        const u32 dst = m_x2apic ? dest : (dest & 0xff) << 8;
        vtd::irte e = vtd::irte::make_remapped(u8(vector + i), dst, 0, false, false, true);
        e.with_source(sid.svt, sid.sq, sid.sid);
        const u64 at = m_base + u64(unsigned(index) + i) * 16;
        m_iommu.write64(at + 8, e.hi);
        m_iommu.write64(at, e.lo);
        m_iommu.flush_iec_index(u16(unsigned(index) + i), 0);  // modify_irte -> qi_flush_iec
        // fill_msi_msg: one handle for the block, SHV set, the sub-handle in the data.
        const vtd::msi_address a = vtd::msi_address::make_remappable(u16(index), true);
        msi_msg m;
        m.address_lo = u32(a.v);
        m.address_hi = u32(a.v >> 32);
        m.data = i;
        out.msgs.push_back(m);
    }
    return 0;
}

// free_irte: entries cleared, then one IEC invalidation covering the block.
void vtd_ir_table::free(const remapped_msi& msi) {
    if (msi.index < 0 || unsigned(msi.index) + msi.count > m_entries) return;
    unsigned mask = 0;
    while ((1u << mask) < msi.count) ++mask;
    for (unsigned i = 0; i < msi.count; ++i) {
        const u64 at = m_base + u64(unsigned(msi.index) + i) * 16;
        m_iommu.write64(at, 0);
        m_iommu.write64(at + 8, 0);
        m_used[unsigned(msi.index) + i] = false;
    }
    m_iommu.flush_iec_index(u16(msi.index), mask);
}

} // namespace iommusim::host

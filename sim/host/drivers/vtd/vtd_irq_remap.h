// VT-d interrupt remapping as Linux sets it up (drivers/iommu/intel/irq_remapping.c, v6.1): the
// interrupt remapping table of one unit (65536 entries by default, from the host page allocator),
// IRTA/SIRTP/IEC/IRE programming, IRTE allocation in naturally aligned power-of-two blocks
// (alloc_irte), entries in remapped format with the source-id rules of set_msi_sid, and the
// remappable-format MSI messages (fill_msi_msg).
#pragma once
#include "models/iommu/vtd/vtd_defs.h"
#include "sim/host/iommu/iommu_driver.h"

#include <vector>

namespace iommusim::host {

class vtd_iommu;

// What set_msi_sid decides for a device: SVT, SQ and the SID field.
struct msi_sid {
    vtd::irte_svt svt = vtd::irte_svt::none;
    unsigned sq = 0;
    u16 sid = 0;
};
// set_msi_sid(): walks the device's DMA aliases. Behind a PCIe-to-PCI bridge only the bus range can be
// verified; several aliases on one bus (NTB proxies) likewise; an alias on another bus is used as is;
// otherwise the device's own requester ID (a quirk alias need not apply to MSI writes).
msi_sid set_msi_sid(pci_dev& dev);

class vtd_ir_table {
public:
    vtd_ir_table(vtd_iommu& iommu, unsigned entries, bool x2apic);

    // intel_setup_irq_remapping + iommu_set_irq_remapping + iommu_enable_irq_remapping.
    int setup();

    // intel_irq_remapping_alloc + activate: `count` (rounded up to a power of two) IRTEs for dev,
    // each written then invalidated (qi_flush_iec). -ENOSPC when no block is free, -EINVAL when the
    // block's mask exceeds ECAP.MHMV.
    int alloc(pci_dev& dev, unsigned count, u8 vector, u32 dest, remapped_msi& out);
    void free(const remapped_msi& msi);

    u64 base() const { return m_base; }
    unsigned entries() const { return m_entries; }
    bool x2apic() const { return m_x2apic; }
    unsigned used() const;

private:
    vtd_iommu& m_iommu;
    unsigned m_entries;
    bool m_x2apic;
    u64 m_base = 0;
    unsigned m_order = 0;
    std::vector<bool> m_used;
};

} // namespace iommusim::host

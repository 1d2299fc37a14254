// AMD-Vi interrupt remapping as Linux 6.1 sets it up (drivers/iommu/amd/iommu.c, CONFIG_IRQ_REMAP part):
// one interrupt remapping table per device ID, allocated on first use with MAX_IRQS_PER_TABLE (512)
// entries and shared with the device's PCI DMA aliases and its IVRS alias (alloc_irq_table); the DTE
// interrupt fields (IV, IntTabLen 9, IntCtl = remapped, table root; set_dte_irq_entry) followed by
// INVALIDATE_DEVTAB_ENTRY; entries allocated in naturally aligned blocks for multi-vector MSI
// (alloc_irq_index, marked allocated in memory as Linux does), written in the 32-bit format or, when
// amd_iommu_guest_ir is GA, the 128-bit one (modify_irte / modify_irte_ga), each followed by
// INVALIDATE_INTERRUPT_TABLE and COMPLETION_WAIT; and the MSI messages: address 0xFEE00000, data = index.
#pragma once
#include "sim/host/iommu/iommu_driver.h"

#include <map>
#include <vector>

namespace iommusim::host {

class amd_iommu;
class amd_iommu_driver;

class amd_irq_remap {
public:
    static constexpr unsigned MAX_IRQS_PER_TABLE = 512;
    static constexpr unsigned DTE_INTTABLEN = 9;  // log2(MAX_IRQS_PER_TABLE)

    amd_irq_remap(amd_iommu_driver& driver, bool ga);
    ~amd_irq_remap();

    bool ga() const { return m_ga; }
    u64 irte_size() const { return m_ga ? 16 : 4; }

    // irq_remapping_alloc + activate for a PCI MSI of dev (device ID devid behind `iommu`): count
    // entries (a power of two), target `dest` (APIC ID) with vectors from `vector`. -ENOMEM, -ENOSPC.
    int alloc(pci_dev& dev, amd_iommu& iommu, u16 devid, unsigned count, u8 vector, u32 dest, remapped_msi& out);
    // irq_remapping_free: entries cleared, INVALIDATE_INTERRUPT_TABLE, COMPLETION_WAIT.
    void free(const remapped_msi& msi);

    // The table of a device ID (0 when none was allocated), for tests and tools.
    u64 table_of(u16 seg, u16 devid) const;
    unsigned used(u64 table) const;

private:
    struct irq_table {
        u64 pa = 0;
        unsigned min_index = 0;
        std::vector<bool> allocated;
    };
    irq_table* alloc_irq_table(amd_iommu& iommu, u16 devid, pci_dev& dev);
    void set_remap_table_entry(amd_iommu& iommu, u16 devid, irq_table& t);
    int alloc_irq_index(irq_table& t, unsigned count, bool align);
    void write_irte(irq_table& t, unsigned index, u64 lo, u64 hi);

    amd_iommu_driver& m_driver;
    bool m_ga;
    std::vector<std::unique_ptr<irq_table>> m_tables;
    std::map<std::pair<u16, u16>, irq_table*> m_lookup;   // (segment, devid) -> table (irq_lookup_table)
    struct owner {
        amd_iommu* iommu;
        u16 devid;
        irq_table* table;
    };
    std::map<std::pair<int, int>, owner> m_allocs;        // (unit, first index) -> where it lives
};

} // namespace iommusim::host

// The simulated kernel's AMD-Vi driver (drivers/iommu/amd/, v6.1, v1 page tables) behind the generic host
// IOMMU API: one amd_iommu per IVHD the IVRS parse selected, the device table per PCI segment (sized from
// last_bdf, seeded with the IVRS DTE settings, IV everywhere with interrupt remapping, V + TV everywhere so
// DMA is blocked until a domain is attached), early_enable_iommu on each unit, interrupt remapping
// (32-bit IRTEs, or 128-bit when the IVRS allows GA), protection domains with v1 page tables, attach as
// set_dte_entry + clone_aliases + device_flush_dte, flushes through the command buffer, capabilities,
// reserved regions (IVMD unity maps, the MSI window, the HyperTransport range), the event log handler and
// the skip-an-invalidation experiment.
//
//   host::amd_iommu_driver amd(ops, pages, log, ivrs, firmware.ioapic_ids);
//   amd.init();                   // units, device tables, command buffers, IommuEn, event interrupts
//   core.add_driver(amd); core.probe();
//   amd.handle_events();          // the event log interrupt handler
#pragma once
#include "sim/host/drivers/amdvi/amd_iommu.h"
#include "sim/host/drivers/amdvi/amd_iommu_ivrs.h"
#include "sim/host/drivers/amdvi/amd_irq_remap.h"
#include "sim/host/drivers/amdvi/amd_protection_domain.h"
#include "sim/host/iommu/iommu_driver.h"

#include <bitset>
#include <map>
#include <memory>

namespace iommusim::host {

class amd_iommu_driver : public iommu_driver {
public:
    // Vector of unit i's event log interrupt, delivered to APIC 0. Linux allocates it dynamically; ours
    // are fixed so tools can recognise them.
    static constexpr unsigned event_vector_base = 0x30;

    amd_iommu_driver(pci_host_ops& ops, memory::page_allocator& pages, kernel_log& log, const amd_ivrs& ivrs,
                     std::vector<u8> ioapic_ids = {0}, amd_iommu_options options = {});
    ~amd_iommu_driver() override;

    // amd_iommu_init up to device probing (early_amd_iommu_init, early_enable_iommus, amd_iommu_init_pci,
    // print_iommu_info, amd_iommu_enable_interrupts). 0 or -ENODEV / -ENOMEM / -EIO.
    int init();

    const char* name() const override { return "amd-iommu"; }
    int probe_device(pci_dev& dev) override;
    void release_device(pci_dev& dev) override;
    bool capable(const pci_dev& dev, iommu_cap cap) const override;
    std::shared_ptr<iommu_domain> domain_alloc(iommu_domain_type type) override;
    std::vector<iommu_resv_region> get_resv_regions(const pci_dev& dev) const override;
    bool irq_remapping_enabled() const override { return m_irq_remap && m_ir != nullptr; }
    int msi_alloc(pci_dev& dev, unsigned count, u8 vector, u32 dest, remapped_msi& out) override;
    void msi_free(const remapped_msi& msi) override;

    // The event log interrupt handler of every unit; returns the events handled.
    unsigned handle_events();
    // Fault injection: every unit skips its next n INVALIDATE_IOMMU_PAGES commands.
    void inject_skip_invalidations(unsigned n);

    const std::vector<std::unique_ptr<amd_iommu>>& units() const { return m_units; }
    amd_iommu* device_iommu(const pci_dev& dev) const;
    const amd_ivrs& ivrs() const { return m_ivrs; }
    const amd_irq_remap* irq_remap() const { return m_ir.get(); }
    bool ga_mode() const { return m_ir && m_ir->ga(); }
    bool np_cache() const { return m_np_cache; }
    u64 dev_table(u16 seg) const;
    const amd_iommu_options& options() const { return m_options; }

    // Used by protection_domain and amd_irq_remap.
    int attach_device(protection_domain& domain, pci_dev& dev);   // amd_iommu_attach_device
    void detach_device(pci_dev& dev);                              // detach_device
    void domain_flush_pages(protection_domain& domain, u64 address, u64 size, bool pde);
    void domain_flush_tlb_pde(protection_domain& domain);
    void domain_flush_complete(protection_domain& domain);
    void update_and_flush_device_table(protection_domain& domain);
    u16 domain_id_alloc();
    void domain_id_free(u16 id);
    amdvi::dte get_dte(u16 seg, u16 devid) const;
    void set_dte(u16 seg, u16 devid, const amdvi::dte& d);
    u16 ivrs_alias(u16 seg, u16 devid) const { return m_ivrs.alias(seg, devid); }
    u64 alloc_pgtable_page() { return alloc_zeroed_pages(0); }
    void free_pgtable_page(u64 pa) { free_pages(pa, 0); }
    u64 alloc_zeroed_pages(unsigned order);
    void free_pages(u64 pa, unsigned order);
    u64 read64(u64 pa) const;
    void write64(u64 pa, u64 v);
    void write32(u64 pa, u32 v);

private:
    struct dev_data {
        amd_iommu* iommu = nullptr;
        u16 seg = 0, devid = 0;
        protection_domain* domain = nullptr;
    };
    void set_dte_entry(amd_iommu& iommu, u16 devid, const protection_domain& domain);
    void clear_dte_entry(u16 seg, u16 devid);
    void clone_aliases(pci_dev& dev, u16 seg, u16 devid);
    void device_flush_dte(pci_dev& dev, const dev_data& d);
    void print_iommu_info();
    int init_device_tables();

    pci_host_ops& m_ops;
    memory::page_allocator& m_pages;
    kernel_log& m_log;
    const amd_ivrs& m_ivrs;
    std::vector<u8> m_ioapic_ids;
    amd_iommu_options m_options;
    std::vector<std::unique_ptr<amd_iommu>> m_units;
    std::map<u16, std::pair<u64, unsigned>> m_dev_tables;   // segment -> (table, order)
    std::unique_ptr<amd_irq_remap> m_ir;
    std::map<const pci_dev*, dev_data> m_devs;
    std::map<std::pair<u16, u16>, pci_dev*> m_by_devid;
    std::unique_ptr<std::bitset<65536>> m_pd_alloc;          // amd_iommu_pd_alloc_bitmap
    bool m_irq_remap = false, m_xt = false, m_np_cache = false, m_initialised = false;
};

} // namespace iommusim::host

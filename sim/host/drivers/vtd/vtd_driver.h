// The simulated kernel's Intel VT-d driver (drivers/iommu/intel/, v6.1, legacy mode) behind the
// generic host IOMMU API: units from the firmware's DMAR DRHDs, interrupt remapping then DMA remapping
// initialised in intel_iommu_init order, device -> unit by DRHD scope (INCLUDE_PCI_ALL last), domains
// whose context entries cover every DMA alias of a device (domain_context_mapping), capabilities,
// reserved regions, remapped MSIs, and two switches for experiments: fault polling (the dmar_fault IRQ
// handler) and skipping IOTLB invalidations.
//
//   memory::page_allocator pages(0x10000000, 256 << 20);
//   host::vtd_driver vtd(ops, pages, log);
//   vtd.init();                       // units discovered, IR + QI + root tables set up
//   core.add_driver(vtd); core.probe();
//   vtd.enable_translation();         // TE last, after default domains are attached
#pragma once
#include "sim/host/drivers/vtd/vtd_domain.h"
#include "sim/host/drivers/vtd/vtd_iommu.h"
#include "sim/host/drivers/vtd/vtd_irq_remap.h"
#include "sim/host/iommu/iommu_driver.h"

#include <map>
#include <memory>

namespace iommusim::host {

class vtd_driver : public iommu_driver {
public:
    // Vector of unit i's fault event interrupt (dmar_set_interrupt), delivered to APIC 0.
    static constexpr unsigned dmar_fault_vector_base = 0x28;

    vtd_driver(pci_host_ops& ops, memory::page_allocator& pages, kernel_log& log, vtd_options options = {});
    ~vtd_driver() override;

    // intel_iommu_init up to device probing: 0, -ENODEV (no usable DRHD), or the first error of a unit
    // that did not answer (the unit is marked failed; "DMAR: Initialization failed" is logged).
    int init();
    // The last step of intel_iommu_init: TE on every unit (after default domains were attached).
    int enable_translation();

    const char* name() const override { return "intel-iommu"; }
    int probe_device(pci_dev& dev) override;
    void release_device(pci_dev& dev) override;
    bool capable(const pci_dev& dev, iommu_cap cap) const override;
    std::shared_ptr<iommu_domain> domain_alloc(iommu_domain_type type) override;
    std::vector<iommu_resv_region> get_resv_regions(const pci_dev& dev) const override;
    bool irq_remapping_enabled() const override { return m_ir_enabled; }
    int msi_alloc(pci_dev& dev, unsigned count, u8 vector, u32 dest, remapped_msi& out) override;
    void msi_free(const remapped_msi& msi) override;

    // The dmar_fault interrupt handler for every unit; returns the records handled.
    unsigned handle_faults();
    // Fault injection: every unit skips its next n IOTLB invalidations.
    void inject_skip_invalidations(unsigned n);

    const std::vector<std::unique_ptr<vtd_iommu>>& units() const { return m_units; }
    vtd_iommu* device_to_iommu(const pci_dev& dev) const;
    vtd_ir_table* ir_table(const vtd_iommu& iommu) const;
    bool hw_pass_through() const { return m_hw_pass_through; }
    const vtd_options& options() const { return m_options; }
    kernel_log& log() { return m_log; }

    // Used by dmar_domain.
    int attach_device(dmar_domain& domain, pci_dev& dev);  // intel_iommu_attach_device
    void remove_dev_info(pci_dev& dev);                    // dmar_remove_one_dev_info
    u64 alloc_pgtable_page();
    void free_pgtable_page(u64 pa);
    u64 read64(u64 pa) const;
    void write64(u64 pa, u64 v);

private:
    struct dev_info {
        vtd_iommu* iommu = nullptr;
        dmar_domain* domain = nullptr;
    };
    int context_mapping_one(dmar_domain& domain, vtd_iommu& iommu, u8 bus, u8 devfn);
    void context_clear_one(vtd_iommu& iommu, u8 bus, u8 devfn);
    int setup_irq_remapping();
    vtd_iommu* match_drhd(const pci_dev& dev) const;

    pci_host_ops& m_ops;
    memory::page_allocator& m_pages;
    kernel_log& m_log;
    vtd_options m_options;
    std::vector<std::unique_ptr<vtd_iommu>> m_units;
    std::map<const vtd_iommu*, std::unique_ptr<vtd_ir_table>> m_ir;
    std::map<const pci_dev*, dev_info> m_info;
    std::shared_ptr<dmar_domain> m_si_domain;
    bool m_hw_pass_through = true;
    bool m_ir_enabled = false;
    bool m_initialised = false;
};

} // namespace iommusim::host

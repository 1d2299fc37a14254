// The simulated Linux kernel's PCI core and IOMMU grouping, reaching the hardware only through
// pci_host_ops. boot() does what an x86 kernel does between ACPI table parsing and the IOMMU driver's
// bus probe: pci_request_acs() if firmware describes an IOMMU, enumeration of every root bus (with
// ACS enabling and header quirks per device), then pci_device_group() per device in device-list order.
//
//   host::kernel k(ops, options);
//   k.boot();
//   for (const auto& g : k.groups()) ...      // ids, members, explanation
//   k.log().text();                            // dmesg
#pragma once
#include "sim/host/drivers/amdvi/amd_iommu_driver.h"
#include "sim/host/drivers/tce/pnv_iommu_driver.h"
#include "sim/host/drivers/tce/pnv_phb.h"
#include "sim/host/drivers/vtd/vtd_driver.h"
#include "sim/host/iommu/iommu_core.h"
#include "sim/host/iommu_groups.h"
#include "sim/host/kernel_options.h"
#include "sim/host/pci_scan.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace iommusim::host {

class driver_binding;

// What a report shows about one device, after boot.
struct device_facts {
    bdf address;
    std::string name;             // pci_name(): "0000:00:1c.0"
    u16 vendor = 0, device = 0;
    u16 subsystem_vendor = 0, subsystem_device = 0;
    u32 class_code = 0;
    std::string class_name;       // "PCI bridge"
    u8 revision = 0;
    u8 hdr_type = 0;
    bool multifunction = false;
    bool pcie = false;
    u8 pcie_type = 0;             // PCI_EXP_TYPE_*, meaningful when pcie
    std::string pcie_type_name;   // "Root Port", "conventional PCI"
    std::optional<bdf> parent;    // the bridge above it (pci_upstream_bridge), none on a root bus
    std::optional<u8> secondary_bus, subordinate_bus;  // for bridges that got a bus
    bool has_acs = false;
    u16 acs_cap = 0, acs_ctrl = 0;  // ACS Capability / Control registers after the kernel's enabling
    bool acs_isolated = false;      // pci_acs_enabled(dev, REQ_ACS_FLAGS)
    std::string acs_reason;         // why (quirk name, missing controls, ...)
    u32 dev_flags = 0;
    std::vector<u16> dma_aliases;   // requester IDs from pci_for_each_dma_alias, own first
    int group = no_group;
};

class kernel {
public:
    // Throws input_error for an unknown or unsupported options.kernel_version.
    kernel(pci_host_ops& ops, kernel_options options = {});
    ~kernel();

    void boot();
    bool booted() const { return m_booted; }

    const kernel_options& options() const { return m_options; }
    kernel_version version() const { return m_version; }
    bool iommu_enabled() const { return m_iommu != firmware_iommu::none; }

    const std::deque<iommu_group>& groups() const { return m_groups->groups(); }
    const iommu_group* group(int id) const { return m_groups->find(id); }
    const iommu_group* group_of(const bdf& b) const;

    // Devices in device-list order (the order bus_iommu_probe visits them).
    const std::vector<pci_dev*>& devices() const { return m_topo.devices(); }
    const pci_dev* find(const bdf& b) const { return m_topo.find_dev(b); }
    const pci_topology& topology() const { return m_topo; }
    std::vector<device_facts> facts();
    device_facts facts(const pci_dev& dev);

    const kernel_log& log() const { return m_log; }

    // Live queries for tools and tests (they read config space as the kernel would).
    bool acs_enabled(const bdf& b, u16 flags = REQ_ACS_FLAGS);

    // The IOMMU API after boot: nullptr when no IOMMU driver came up (no DMAR units / IVRS IVHDs in
    // firmware, the IOMMU disabled, or initialisation failed; the log says which).
    iommu_core* iommu() { return m_iommu_core.get(); }
    vtd_driver* vtd() { return m_vtd.get(); }
    // The IVRS as the AMD-Vi driver read it at boot (rlookup, aliases, DTE settings); nullptr without an
    // IVRS with IVHDs, or when it could not be parsed.
    const amd_ivrs* ivrs() const { return m_ivrs.get(); }
    amd_iommu_driver* amdvi() { return m_amdvi.get(); }
    // POWER (powernv): the PHBs as the kernel drives them, and a group's PE as its iommu_table_group
    // (iommu_group_get_iommudata); nullptr for a group without one (or on other platforms).
    const std::vector<std::unique_ptr<pnv_phb>>& pnv_phbs() const { return m_pnv; }
    iommu_table_group* table_group(int group);
    bool tce_iommu() const { return !m_pnv.empty(); }
    // The PHB (kernel side) a device sits below; nullptr off powernv.
    pnv_phb* pnv_phb_of(const pci_dev& dev) const;

    // The platform's MSI set-up for `count` vectors of dev starting at host vector `vector` (what
    // pci_alloc_irq_vectors reaches through the MSI irq domain): on powernv PHB sources through OPAL; with
    // an IOMMU driver its composition (remappable format under interrupt remapping); otherwise x86's
    // compatibility format. is64: the device takes 64-bit message addresses. 0 or -errno.
    int msi_setup(pci_dev& dev, unsigned count, u8 vector, bool is64, remapped_msi& out);
    // Gives back what msi_setup took (IRTEs, PHB sources).
    void msi_free(const pci_dev& dev, const remapped_msi& msi, u8 vector);
    pci_dev* find_mutable(const bdf& b) { return m_topo.find_dev(b); }
    pci_access& access() { return m_access; }
    kernel_log& mutable_log() { return m_log; }

    // Driver binding and group DMA ownership (sim/host/driver): boot() binds the ports to pcieport and
    // known endpoints to their in-box drivers; driver_binding::boot(policy) re-applies another policy.
    driver_binding& drivers() { return *m_drivers; }

private:
    bool is_iommu_function(const pci_dev& dev) const;
    void spapr_groups();
    void init_powernv();
    void init_intel_iommu();
    void init_amd_iommu();
    bool amd_iommu_probe_device(pci_dev& dev);

    pci_host_ops& m_ops;
    kernel_options m_options;
    kernel_version m_version;
    firmware_info m_firmware;
    firmware_iommu m_iommu = firmware_iommu::none;
    kernel_log m_log;
    pci_topology m_topo;
    pci_access m_access;
    std::unique_ptr<pci_quirks> m_quirks;
    std::unique_ptr<pci_acs> m_acs;
    std::unique_ptr<iommu_groups> m_groups;
    std::unique_ptr<memory::page_allocator> m_pages;
    std::unique_ptr<vtd_driver> m_vtd;
    std::unique_ptr<amd_ivrs> m_ivrs;
    std::unique_ptr<amd_iommu_driver> m_amdvi;
    std::unique_ptr<iommu_core> m_iommu_core;
    std::vector<std::unique_ptr<pnv_phb>> m_pnv;
    std::unique_ptr<pnv_iommu_driver> m_pnv_driver;
    std::unique_ptr<driver_binding> m_drivers;
    bool m_booted = false;
};

} // namespace iommusim::host

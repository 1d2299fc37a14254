#include "sim/host/kernel.h"

#include "sim/core/input_error.h"
#include "sim/host/dma_alias.h"
#include "sim/host/driver/driver_binding.h"

#include <fmt/format.h>

#include <algorithm>

namespace iommusim::host {

using namespace pci;

kernel::kernel(pci_host_ops& ops, kernel_options options)
    : m_ops(ops), m_options(std::move(options)), m_access(ops) {
    const auto checked = check_kernel_version(m_options.kernel_version);
    if (!checked.version) throw input_error("", "kernel", checked.problem);
    m_version = *checked.version;
    m_drivers = std::make_unique<driver_binding>(*this);
}

kernel::~kernel() {
    // Domains go before the drivers and PEs they program.
    m_drivers.reset();
    m_iommu_core.reset();
}

void kernel::boot() {
    if (m_booted) return;
    m_booted = true;
    m_firmware = m_ops.firmware();
    m_iommu = m_options.iommu.value_or(m_firmware.iommu);
    m_log.info(fmt::format("Linux version {} (iommusim)", m_version.str()));

    acs_override ovr = acs_override::parse(m_options.acs_override);
    for (const auto& w : ovr.warnings) m_log.warn(w);
    if (ovr.enabled())
        m_log.warn("Warning: PCIe ACS overrides enabled; This may allow non-IOMMU protected peer-to-peer DMA");

    m_quirks = std::make_unique<pci_quirks>(m_access, m_log, m_version, m_iommu, std::move(ovr));
    m_acs = std::make_unique<pci_acs>(m_access, *m_quirks, m_log, m_options.disable_acs_redir);
    m_groups = std::make_unique<iommu_groups>(*m_acs, m_log);

    // The IOMMU drivers detect their ACPI table early and ask for ACS before PCI is enumerated.
    if (m_iommu == firmware_iommu::dmar) m_log.info("DMAR: IOMMU enabled");
    if (m_iommu == firmware_iommu::ivrs) m_log.info("AMD-Vi: IOMMU enabled (IVRS)");
    // pci_request_acs() is the x86 IOMMU drivers' (and OF's for IOMMUs on device-tree platforms that ask
    // for it); pseries groups by PE, not by ACS path, and does not ask.
    if (m_iommu == firmware_iommu::dmar || m_iommu == firmware_iommu::ivrs) m_acs->request_acs();
    // early_amd_iommu_init runs before PCI enumeration (amd_iommu_prepare, for interrupt remapping):
    // the IVRS is parsed once; an IVRS Linux cannot use means no AMD IOMMU and so no groups. A platform
    // that says "ivrs" without any IVHD keeps the table-less rule below (every function but the IOMMU's).
    if (m_iommu == firmware_iommu::ivrs && m_firmware.ivrs.present()) {
        m_ivrs = std::make_unique<amd_ivrs>(m_firmware.ivrs, m_log);
        if (m_ivrs->parse() != 0) {
            m_ivrs.reset();
            m_iommu = firmware_iommu::none;
        }
    }

    pci_scanner scanner(m_access, m_topo, *m_quirks, *m_acs, m_log, m_options, m_version);
    for (const auto& root : m_firmware.root_buses) scanner.scan_root_bus(root);

    if (m_iommu == firmware_iommu::none) {
        m_log.info("iommu: no IOMMU described by firmware (or disabled): no IOMMU groups");
        m_drivers->boot();
        return;
    }
    if (m_iommu == firmware_iommu::spapr) {
        spapr_groups();
        m_drivers->boot();
        return;
    }
    if (m_iommu == firmware_iommu::opal) {
        init_powernv();
        m_drivers->boot();
        return;
    }
    // iommu_device_register -> bus_iommu_probe(&pci_bus_type): every device, device-list order.
    for (pci_dev* dev : m_topo.devices()) {
        // amd_iommu_probe_device -> check_device(): the IOMMU's own function has no rlookup entry, since
        // init_iommu_one() clears it ("IOMMU is not considered to translate itself"): -ENODEV, no group.
        if (m_ivrs) {
            if (!amd_iommu_probe_device(*dev)) continue;
        } else if (m_iommu == firmware_iommu::ivrs && is_iommu_function(*dev)) {
            m_log.pci_info(*dev, "AMD-Vi: Found IOMMU; not translating for itself: no IOMMU group");
            continue;
        }
        m_groups->probe_device(*dev);
    }
    if (m_iommu == firmware_iommu::dmar) init_intel_iommu();
    if (m_iommu == firmware_iommu::ivrs) init_amd_iommu();
    m_drivers->boot();  // drivers probe once the IOMMU core has set up the groups' default domains
}

// pseries (arch/powerpc/platforms/pseries/iommu.c, v6.1): the hypervisor presents each PHB as one
// Partitionable Endpoint with its DMA window (ibm,dma-window). pci_dma_bus_setup_pSeriesLP registers one
// iommu_table_group per PHB as its root bus is set up (iommu_register_group: ids in PHB order, a PHB
// without devices included), and every device below it, bridges too, joins that group
// (pci_dma_dev_setup_pSeriesLP -> iommu_add_device). ACS plays no part.
void kernel::spapr_groups() {
    std::vector<iommu_group*> by_phb;
    for (const auto& rb : m_firmware.root_buses) {
        iommu_group& g = m_groups->alloc_group();
        by_phb.push_back(&g);
        if (by_phb.size() <= m_firmware.spapr_windows.size()) {
            const spapr_dma_window& w = m_firmware.spapr_windows[by_phb.size() - 1];
            // iommu_pseries_alloc_group + the table from ibm,dma-window; a dynamic window is one more
            // than the default (the guest's DDW calls).
            g.pe = pe_dma_info{w.start, w.size, w.page_shift, w.ddw_pgsizes, w.max_windows ? w.max_windows - 1 : 0};
        }
        m_log.info(fmt::format("pci {:04x}:{:02x}: iommu: PHB's ibm,dma-window registered as iommu group {}",
                               rb.segment, rb.bus_start, g.id));
    }
    for (pci_dev* dev : m_topo.devices()) {
        const bdf a = dev->address();
        for (size_t i = 0; i < m_firmware.root_buses.size(); ++i) {
            const auto& rb = m_firmware.root_buses[i];
            if (a.segment != rb.segment || a.bus < rb.bus_start || a.bus > rb.bus_end) continue;
            m_groups->add_device(*by_phb[i], *dev,
                                 fmt::format("{}: the whole PHB {:04x}:{:02x} is one Partitionable Endpoint "
                                             "(sPAPR: one TCE table per PHB)",
                                             dev->name(), rb.segment, rb.bus_start));
            break;
        }
    }
}

// powernv (arch/powerpc/platforms/powernv/pci-ioda.c, v6.1): each PHB node of the device tree is set up
// (pnv_pci_init_ioda_phb), then every device, as it is added to the bus (pcibios_bus_add_device ->
// pnv_pci_ioda_dma_dev_setup), gets its bus's PE and, through the PE, its IOMMU group. ACS plays no part.
void kernel::init_powernv() {
    if (m_firmware.opal_phbs.empty()) {
        m_log.info("PowerNV: no PHB described by firmware: no IOMMU groups");
        return;
    }
    m_pages = std::make_unique<memory::page_allocator>(m_options.kernel_memory_base, m_options.kernel_memory_size);
    for (size_t i = 0; i < m_firmware.opal_phbs.size() && i < m_firmware.root_buses.size(); ++i) {
        const opal_phb_info& info = m_firmware.opal_phbs[i];
        tce::phb* opal = m_ops.opal_phb(info.opal_id);
        if (!opal) {
            m_log.warn(fmt::format("PowerNV: OPAL does not know PHB#{:x}: skipped", info.opal_id));
            continue;
        }
        auto phb = std::make_unique<pnv_phb>(m_ops, *opal, info, m_firmware.root_buses[i], unsigned(i), *m_pages, m_log,
                                             m_firmware.memory_size);
        phb->init();
        m_pnv.push_back(std::move(phb));
    }
    for (pci_dev* dev : m_topo.devices())
        for (auto& phb : m_pnv)
            if (phb->owns(*dev)) {
                phb->dma_dev_setup(*dev, *m_groups);
                break;
            }
    // The PEs behind the host IOMMU API (the simulator's; 6.1 has no iommu_ops on powernv: see the TCE README).
    if (m_pnv.empty() || !m_options.iommu_driver) return;
    m_pnv_driver = std::make_unique<pnv_iommu_driver>(m_pnv, m_ops, *m_pages, m_log);
    auto core = std::make_unique<iommu_core>(*this, m_log, iommu_core_options{m_options.iommu_passthrough});
    core->add_driver(*m_pnv_driver);
    core->probe();
    m_iommu_core = std::move(core);
}

pnv_phb* kernel::pnv_phb_of(const pci_dev& dev) const {
    for (const auto& phb : m_pnv)
        if (phb->owns(dev)) return phb.get();
    return nullptr;
}

int kernel::msi_setup(pci_dev& dev, unsigned count, u8 vector, bool is64, remapped_msi& out) {
    out = remapped_msi{};
    if (pnv_phb* phb = pnv_phb_of(dev)) {
        out.count = count;
        return phb->msi_setup(dev, count, vector, is64, out.msgs);
    }
    if (m_iommu_core) return m_iommu_core->msi_compose(dev, count, vector, 0, out);
    // No IOMMU driver: __irq_msi_compose_msg (physical destination 0, fixed delivery, edge).
    out.count = count;
    for (unsigned i = 0; i < count; ++i) out.msgs.push_back({0xfee00000u, 0, u32(vector) + i});
    return 0;
}

void kernel::msi_free(const pci_dev& dev, const remapped_msi& msi, u8 vector) {
    if (pnv_phb* phb = pnv_phb_of(dev)) return phb->msi_free(vector, msi.count);
    if (m_iommu_core && msi.index >= 0)
        if (iommu_driver* d = m_iommu_core->driver_of(dev)) d->msi_free(msi);
}

iommu_table_group* kernel::table_group(int group) {
    for (auto& phb : m_pnv)
        if (pnv_ioda_pe* pe = phb->pe_of_group(group)) return pe;
    return nullptr;
}

// intel_iommu_init (drivers/iommu/intel/iommu.c, v6.1) once the groups exist: the units the DMAR table
// lists, interrupt remapping, root tables and queues, default domains attached by the IOMMU core, then
// translation enabled. Without DRHDs (a platform that describes a DMAR but builds no unit) only the
// groups exist, as before a driver binds.
void kernel::init_intel_iommu() {
    if (m_firmware.dmar.empty() || !m_options.iommu_driver) return;
    m_pages = std::make_unique<memory::page_allocator>(m_options.kernel_memory_base, m_options.kernel_memory_size);
    vtd_options vo;
    vo.superpage = m_options.iommu_superpage;
    vo.intremap = m_options.intremap;
    auto driver = std::make_unique<vtd_driver>(m_ops, *m_pages, m_log, vo);
    if (driver->init() != 0) return; // the driver logged why
    auto core = std::make_unique<iommu_core>(*this, m_log, iommu_core_options{m_options.iommu_passthrough});
    core->add_driver(*driver);
    core->probe();
    driver->enable_translation();
    m_vtd = std::move(driver);
    m_iommu_core = std::move(core);
}

// amd_iommu_probe_device (drivers/iommu/amd/iommu.c, v6.1) up to the group: check_device (an IOMMU
// serves the device ID in the rlookup table and it is within the segment's last_bdf, otherwise -ENODEV
// and no group), then setup_aliases: an IVRS alias on the device's own bus becomes a PCI DMA alias, so
// pci_device_group sees it (an alias on another bus only matters to the driver's DTE programming).
bool kernel::amd_iommu_probe_device(pci_dev& dev) {
    const bdf a = dev.address();
    const u16 devid = a.rid();
    if (m_ivrs->rlookup(a.segment, devid) < 0) {
        bool own = false;
        for (const ivrs_ivhd* h : m_ivrs->ivhds()) own = own || (h->pci_seg == a.segment && h->devid == devid);
        if (own) m_log.pci_info(dev, "AMD-Vi: Found IOMMU; not translating for itself: no IOMMU group");
        else m_log.pci_dbg(dev, "AMD-Vi: no IVHD device entry covers it: no IOMMU group");
        return false;
    }
    const u16 ivrs_alias = m_ivrs->alias(a.segment, devid);
    if (ivrs_alias != devid && (ivrs_alias >> 8) == a.bus) m_quirks->add_dma_alias(dev, ivrs_alias & 0xff, 1);
    return true;
}

// amd_iommu_init (drivers/iommu/amd/init.c, v6.1) once the groups exist: the units the IVRS lists,
// device tables, command buffers and event logs, IommuEn, interrupt remapping unless intremap=off, the
// event interrupts; then the IOMMU core attaches default domains. A unit that does not answer (no AMD-Vi
// model behind the IVHD's base address) leaves only the groups, as before a driver binds.
void kernel::init_amd_iommu() {
    if (!m_ivrs || !m_options.iommu_driver) return;
    if (!m_pages)
        m_pages = std::make_unique<memory::page_allocator>(m_options.kernel_memory_base, m_options.kernel_memory_size);
    amd_iommu_options ao;
    ao.intremap = m_options.intremap;
    auto driver = std::make_unique<amd_iommu_driver>(m_ops, *m_pages, m_log, *m_ivrs, m_firmware.ioapic_ids, ao);
    if (driver->init() != 0) {
        m_log.warn("AMD-Vi: initialisation failed: no IOMMU driver (groups only)");  // ours
        return;
    }
    auto core = std::make_unique<iommu_core>(*this, m_log, iommu_core_options{m_options.iommu_passthrough});
    core->add_driver(*driver);
    core->probe();
    m_amdvi = std::move(driver);
    m_iommu_core = std::move(core);
}

bool kernel::is_iommu_function(const pci_dev& dev) const {
    const bdf a = dev.address();
    return std::find(m_firmware.iommu_functions.begin(), m_firmware.iommu_functions.end(), a) !=
           m_firmware.iommu_functions.end();
}

const iommu_group* kernel::group_of(const bdf& b) const {
    const pci_dev* d = find(b);
    return d && m_groups ? m_groups->find(d->group) : nullptr;
}

bool kernel::acs_enabled(const bdf& b, u16 flags) {
    pci_dev* d = m_topo.find_dev(b);
    return d && m_acs && m_acs->enabled(*d, flags);
}

device_facts kernel::facts(const pci_dev& cdev) {
    pci_dev& dev = const_cast<pci_dev&>(cdev);  // config reads do not change the kernel's state
    device_facts f;
    f.address = dev.address();
    f.name = dev.name();
    f.vendor = dev.vendor;
    f.device = dev.device;
    f.subsystem_vendor = dev.subsystem_vendor;
    f.subsystem_device = dev.subsystem_device;
    f.class_code = dev.class_code;
    f.class_name = pci_class_name(dev.class_code);
    f.revision = dev.revision;
    f.hdr_type = dev.hdr_type;
    f.multifunction = dev.multifunction;
    f.pcie = pci_is_pcie(dev);
    f.pcie_type = pci_pcie_type(dev);
    f.pcie_type_name = pcie_type_name(dev);
    if (const pci_dev* up = pci_upstream_bridge(dev)) f.parent = up->address();
    if (dev.subordinate) {
        f.secondary_bus = dev.subordinate->number;
        f.subordinate_bus = dev.subordinate->busn_end;
    }
    f.has_acs = dev.acs_cap != 0;
    if (dev.acs_cap) {
        f.acs_cap = m_access.read16(dev, u16(dev.acs_cap + PCI_ACS_CAP));
        f.acs_ctrl = m_access.read16(dev, u16(dev.acs_cap + PCI_ACS_CTRL));
    }
    if (m_acs) {
        f.acs_isolated = m_acs->enabled(dev, REQ_ACS_FLAGS);
        f.acs_reason = m_acs->explain(dev, REQ_ACS_FLAGS);
    }
    f.dev_flags = dev.dev_flags;
    pci_for_each_dma_alias(dev, [&](pci_dev&, u16 alias, alias_kind) {
        f.dma_aliases.push_back(alias);
        return 0;
    });
    f.group = dev.group;
    return f;
}

std::vector<device_facts> kernel::facts() {
    std::vector<device_facts> out;
    out.reserve(m_topo.devices().size());
    for (const pci_dev* d : m_topo.devices()) out.push_back(facts(*d));
    return out;
}

} // namespace iommusim::host

#include "platforms/platform_ivrs.h"

#include "models/pci/cfg/pci_regs.h"
#include "platforms/platform.h"

namespace iommusim::platforms {

namespace {

constexpr u8 PCI_CAP_ID_SECDEV = 0x0f;          // the IOMMU capability block (spec §3.2.1)
constexpr u16 IOMMU_CAP_BASE_LOW = 0x04, IOMMU_CAP_BASE_HIGH = 0x08;
// The IO-APIC every x86 platform here has: APIC id 0 at the FCH's requester ID 00:14.0, with the DTE
// settings AMD BIOSes give it (INITPass, EIntPass, NMIPass, Lint0Pass, Lint1Pass).
constexpr u8 IOAPIC_ID = 0;
constexpr u8 IOAPIC_DTE_FLAGS = host::ivrs::ACPI_DEVFLAG_INITPASS | host::ivrs::ACPI_DEVFLAG_EXTINT |
                                host::ivrs::ACPI_DEVFLAG_NMI | host::ivrs::ACPI_DEVFLAG_LINT0 |
                                host::ivrs::ACPI_DEVFLAG_LINT1;

struct iommu_fn {
    const built_function* f;
    u16 segment;
    u16 devid;
};

// IVHD 10h "IOMMU feature reporting" from the EFR (spec Table 92 / §3.4.12): XTSup, NXSup, GTSup, IASup,
// GASup, HESup, PASmax, GATS, HATS.
u32 feature_reporting(u64 efr) {
    auto bit = [&](unsigned b) { return u32((efr >> b) & 1); };
    return bit(2) << 0 | bit(3) << 1 | bit(4) << 2 | bit(6) << 5 | bit(7) << 6 | bit(8) << 7 |
           u32((efr >> 39) & 0x1f) << 8 | u32((efr >> 12) & 3) << 28 | u32((efr >> 10) & 3) << 30;
}

} // namespace

host::ivrs_table build_ivrs(const platform& p, const efr_reader& efr_of) {
    host::ivrs_table t;
    const auto& roots = p.root_complexes();
    std::vector<iommu_fn> iommus;
    for (const built_function& f : p.functions()) {
        if (f.parent) continue;
        const auto& cfg = f.model->config();
        if (cfg.get16(pci::PCI_VENDOR_ID) != pci::PCI_VENDOR_ID_AMD || cfg.get16(pci::PCI_CLASS_DEVICE) != 0x0806)
            continue;
        const root_complex& r = roots[f.root];
        iommus.push_back({&f, r.segment, pci_devid(r.bus_start, f.model->devfn())});
    }
    if (iommus.empty()) return t;

    // Which IOMMU serves each root bus: its own, else the segment's first.
    std::vector<int> served_by(roots.size(), -1);
    for (size_t r = 0; r < roots.size(); ++r) {
        for (size_t i = 0; i < iommus.size() && served_by[r] < 0; ++i)
            if (iommus[i].f->root == r) served_by[r] = int(i);
        for (size_t i = 0; i < iommus.size() && served_by[r] < 0; ++i)
            if (iommus[i].segment == roots[r].segment) served_by[r] = int(i);
    }

    const ivrs_desc& extra = p.description().ivrs;
    bool efr_sup = true;
    for (size_t i = 0; i < iommus.size(); ++i) {
        const iommu_fn& io = iommus[i];
        const auto& cfg = io.f->model->config();
        host::ivrs_ivhd h;
        h.devid = io.devid;
        h.pci_seg = io.segment;
        h.flags = host::ivrs::IVHD_FLAG_COHERENT | host::ivrs::IVHD_FLAG_IOTLB_SUP;
        if (auto cap = cfg.find_capability(PCI_CAP_ID_SECDEV)) {
            h.cap_ptr = *cap;
            const u32 lo = cfg.get32(u16(*cap + IOMMU_CAP_BASE_LOW)), hi = cfg.get32(u16(*cap + IOMMU_CAP_BASE_HIGH));
            h.mmio_phys = (u64(hi) << 32) | (lo & 0xffffc000u);
        }
        const std::optional<u64> read = h.mmio_phys && efr_of ? efr_of(h.mmio_phys) : std::nullopt;
        if (!read) efr_sup = false;
        const u64 efr = read.value_or(0);
        h.efr_reg = efr;
        for (size_t r = 0; r < roots.size(); ++r) {
            if (served_by[r] != int(i)) continue;
            h.entries.push_back(host::ivhd_entry::range_start(pci_devid(roots[r].bus_start, 0)));
            h.entries.push_back(host::ivhd_entry::range_end(pci_devid(roots[r].bus_end, 0xff)));
        }
        for (const ivrs_alias_desc& a : extra.aliases) {
            if (a.segment != io.segment) continue;
            if (a.last == a.devid) {
                h.entries.push_back(host::ivhd_entry::alias(a.devid, a.to));
            } else {
                h.entries.push_back(host::ivhd_entry::alias_range_start(a.devid, a.to));
                h.entries.push_back(host::ivhd_entry::range_end(a.last));
            }
        }
        const bool serves_bus0 = io.segment == 0 && !roots.empty() && served_by[0] == int(i) && roots[0].bus_start == 0;
        if (serves_bus0 && extra.ioapic)
            h.entries.push_back(host::ivhd_entry::special(host::ivrs::IVHD_SPECIAL_IOAPIC, extra.ioapic_id,
                                                          extra.ioapic_devid, IOAPIC_DTE_FLAGS));
        // The same IOMMU twice, as BIOSes list it: the legacy 10h block, then 11h with the EFR image.
        host::ivrs_ivhd legacy = h;
        legacy.type = 0x10;
        legacy.efr_reg = 0;
        legacy.efr_attr = feature_reporting(efr);
        h.type = 0x11;
        t.ivhds.push_back(std::move(legacy));
        t.ivhds.push_back(std::move(h));
    }
    for (const ivrs_unity_desc& u : extra.unity) {
        host::ivrs_ivmd m;
        m.type = u.type;
        m.flags = u8(host::ivrs::IVMD_FLAG_UNITY_MAP | (u.read ? host::ivrs::IVMD_FLAG_IR : 0) |
                     (u.write ? host::ivrs::IVMD_FLAG_IW : 0));
        m.devid = u.devid;
        m.aux = u.last;
        m.pci_seg = u.segment;
        m.range_start = u.start;
        m.range_length = u.length;
        t.ivmds.push_back(m);
    }
    // IVinfo: 64-bit virtual and 48-bit physical addresses, 48-bit guest virtual addresses (code 2).
    t.ivinfo = host::ivrs::ivinfo(64, 48, 2, efr_sup);
    return t;
}

} // namespace iommusim::platforms

#include "sim/host/pci_quirks.h"

#include "sim/host/pci_bus.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace iommusim::host {

using namespace pci;

namespace {

// Vendor IDs (include/linux/pci_ids.h).
constexpr u16 V_ATI = 0x1002, V_AMD = 0x1022, V_SOLARFLARE = 0x1924, V_INTEL = 0x8086, V_QCOM = 0x17cb,
              V_HXT = 0x1dbf, V_CAVIUM = 0x177d, V_AMCC = 0x10e8, V_AMPERE = 0x1def, V_BROADCOM = 0x14e4,
              V_LOONGSON = 0x0014, V_ANNAPURNA = 0x1c36, V_ZHAOXIN = 0x1d17, V_NXP = 0x1957,
              V_WANGXUN = 0x8088, V_EMULEX_BE = 0x19a2, V_EMULEX = 0x10df, V_RICOH = 0x1180,
              V_GLENFLY = 0x6766, V_MARVELL_EXT = 0x1b4b, V_TTI = 0x1103, V_JMICRON = 0x197b,
              V_LITEON = 0x1c28, V_ADAPTEC2 = 0x9005, V_ASMEDIA = 0x1b21, V_TUNDRA = 0x10e3, V_ITE = 0x1283,
              V_PLX = 0x10b5;
constexpr u16 ANY = PCI_ANY_ID;

constexpr u16 SV_RR_CR_UF = PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF;

// pci_acs_ctrl_enabled() (v5.8+ helper; older callbacks computed the same thing inline).
int pci_acs_ctrl_enabled(u16 req, u16 ena) { return (req & ena) == req ? 1 : 0; }

int pci_quirk_amd_sb_acs(pci_quirks& q, pci_dev& dev, u16 flags) {
    // Southbridge multifunction devices on the root bus, only when ACPI has an IVRS table.
    if (!dev.multifunction || !pci_is_root_bus_dev(dev)) return -err_enodev;
    if (!q.ivrs_present()) return -err_enodev;
    flags &= PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_EC | PCI_ACS_DT;
    return pci_acs_ctrl_enabled(flags, PCI_ACS_RR | PCI_ACS_CR);
}

bool pci_quirk_cavium_acs_match(const pci_dev& dev) {
    if (!pci_is_pcie(dev) || pci_pcie_type(dev) != PCI_EXP_TYPE_ROOT_PORT) return false;
    const u16 d = dev.device;
    return (d >= 0xa000 && d <= 0xa7ff) || d == 0xaf84 || d == 0xb884;  // ThunderX1, X2, X3
}

int pci_quirk_cavium_acs(pci_quirks& q, pci_dev& dev, u16 flags) {
    if (!q.version().at_least(4, 15)) {
        // Older form: any ThunderX function 0xa000-0xa0ff, everything but EC treated as provided.
        if (dev.device < 0xa000 || dev.device > 0xa0ff) return -err_enotty;
        flags &= u16(~(PCI_ACS_SV | PCI_ACS_TB | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF | PCI_ACS_DT));
        return flags ? 0 : 1;
    }
    if (!pci_quirk_cavium_acs_match(dev)) return -err_enotty;
    return pci_acs_ctrl_enabled(flags, SV_RR_CR_UF);
}

int pci_quirk_xgene_acs(pci_quirks&, pci_dev&, u16 flags) { return pci_acs_ctrl_enabled(flags, SV_RR_CR_UF); }

int pci_quirk_zhaoxin_pcie_ports_acs(pci_quirks&, pci_dev& dev, u16 flags) {
    if (!pci_is_pcie(dev) ||
        (pci_pcie_type(dev) != PCI_EXP_TYPE_ROOT_PORT && pci_pcie_type(dev) != PCI_EXP_TYPE_DOWNSTREAM))
        return -err_enotty;
    const u16 d = dev.device;
    if ((d >= 0x0710 && d <= 0x071e) || d == 0x0721 || (d >= 0x0723 && d <= 0x0752))
        return pci_acs_ctrl_enabled(flags, SV_RR_CR_UF);
    return 0;  // other Zhaoxin ports: "not isolated" (the kernel returns false, not -err_enotty)
}

int pci_quirk_intel_pch_acs(pci_quirks&, pci_dev& dev, u16 flags) {
    if (!pci_quirk_intel_pch_acs_match(dev)) return -err_enotty;
    if (dev.dev_flags & PCI_DEV_FLAGS_ACS_ENABLED_QUIRK) return pci_acs_ctrl_enabled(flags, SV_RR_CR_UF);
    return pci_acs_ctrl_enabled(flags, 0);
}

int pci_quirk_qcom_rp_acs(pci_quirks&, pci_dev&, u16 flags) { return pci_acs_ctrl_enabled(flags, SV_RR_CR_UF); }
int pci_quirk_nxp_rp_acs(pci_quirks&, pci_dev&, u16 flags) { return pci_acs_ctrl_enabled(flags, SV_RR_CR_UF); }

int pci_quirk_al_acs(pci_quirks&, pci_dev& dev, u16 flags) {
    if (pci_pcie_type(dev) != PCI_EXP_TYPE_ROOT_PORT) return -err_enotty;
    flags &= u16(~SV_RR_CR_UF);
    return flags ? 0 : 1;
}

// Sunrise/Union Point: the ACS control register is a dword at cap+8; the standard test on that register.
int pci_quirk_intel_spt_pch_acs(pci_quirks& q, pci_dev& dev, u16 flags) {
    if (!pci_quirk_intel_spt_pch_acs_match(dev)) return -err_enotty;
    if (!dev.acs_cap) return -err_enotty;
    const u32 cap = q.access().read32(dev, u16(dev.acs_cap + PCI_ACS_CAP));
    flags &= u16(cap | PCI_ACS_EC);
    const u32 ctrl = q.access().read32(dev, u16(dev.acs_cap + INTEL_SPT_ACS_CTRL));
    return pci_acs_ctrl_enabled(flags, u16(ctrl));
}

int pci_quirk_mf_endpoint_acs(pci_quirks&, pci_dev&, u16 flags) {
    return pci_acs_ctrl_enabled(flags, SV_RR_CR_UF | PCI_ACS_TB | PCI_ACS_DT);
}

int pci_quirk_rciep_acs(pci_quirks&, pci_dev& dev, u16 flags) {
    // Intel VT-d spec r3.1 §3.16: RCiEPs may only peer with translated addresses.
    if (pci_pcie_type(dev) != PCI_EXP_TYPE_RC_END) return -err_enotty;
    return pci_acs_ctrl_enabled(flags, SV_RR_CR_UF);
}

int pci_quirk_brcm_acs(pci_quirks&, pci_dev&, u16 flags) { return pci_acs_ctrl_enabled(flags, SV_RR_CR_UF); }
int pci_quirk_loongson_acs(pci_quirks&, pci_dev&, u16 flags) { return pci_acs_ctrl_enabled(flags, SV_RR_CR_UF); }

int pci_quirk_wangxun_nic_acs(pci_quirks&, pci_dev& dev, u16 flags) {
    const u16 d = dev.device;
    if ((d >= 0x0100 && d <= 0x010f) || d == 0x1001 || d == 0x2001 || d == 0x5010 || d == 0x5025 ||
        d == 0x5040 || d == 0x5110 || d == 0x5125 || d == 0x5140)
        return pci_acs_ctrl_enabled(flags, SV_RR_CR_UF);
    return 0;  // other Wangxun devices: "not isolated" (false), as the kernel returns
}

// Out-of-tree pcie_acs_override patch: pcie_acs_overrides().
int pcie_acs_overrides(pci_quirks& q, pci_dev& dev, u16) {
    if (!pci_is_pcie(dev) || dev.acs_cap) return -err_enotty;  // never for legacy devices or ACS-capable ones
    const acs_override& o = q.override_settings();
    for (const auto& id : o.ids)
        if (id.vendor == dev.vendor && id.device == dev.device) return 1;
    switch (pci_pcie_type(dev)) {
    case PCI_EXP_TYPE_DOWNSTREAM:
    case PCI_EXP_TYPE_ROOT_PORT:
        if (o.downstream) return 1;
        break;
    case PCI_EXP_TYPE_ENDPOINT:
    case PCI_EXP_TYPE_UPSTREAM:
    case PCI_EXP_TYPE_LEG_END:
    case PCI_EXP_TYPE_RC_END:
        if (o.multifunction && dev.multifunction) return 1;
        break;
    default: break;
    }
    return -err_enotty;
}

constexpr kernel_version base{4, 10};  // entries present in the oldest tree read (see README)

#define MF(v, d, ...) {v, d, pci_quirk_mf_endpoint_acs, "pci_quirk_mf_endpoint_acs", __VA_ARGS__}

// pci_dev_acs_enabled[] as in linux-6.1.y (drivers/pci/quirks.c), in table order.
const acs_quirk_entry acs_table_61[] = {
    {V_ATI, 0x4385, pci_quirk_amd_sb_acs, "pci_quirk_amd_sb_acs", base},
    {V_ATI, 0x439c, pci_quirk_amd_sb_acs, "pci_quirk_amd_sb_acs", base},
    {V_ATI, 0x4383, pci_quirk_amd_sb_acs, "pci_quirk_amd_sb_acs", base},
    {V_ATI, 0x439d, pci_quirk_amd_sb_acs, "pci_quirk_amd_sb_acs", base},
    {V_ATI, 0x4384, pci_quirk_amd_sb_acs, "pci_quirk_amd_sb_acs", base},
    {V_ATI, 0x4399, pci_quirk_amd_sb_acs, "pci_quirk_amd_sb_acs", base},
    {V_AMD, 0x780f, pci_quirk_amd_sb_acs, "pci_quirk_amd_sb_acs", base},
    {V_AMD, 0x7809, pci_quirk_amd_sb_acs, "pci_quirk_amd_sb_acs", base},
    MF(V_SOLARFLARE, 0x0903, base), MF(V_SOLARFLARE, 0x0923, base), MF(V_SOLARFLARE, 0x0a03, base),
    MF(V_INTEL, 0x10c6, base), MF(V_INTEL, 0x10db, base), MF(V_INTEL, 0x10dd, base),
    MF(V_INTEL, 0x10e1, base), MF(V_INTEL, 0x10f1, base), MF(V_INTEL, 0x10f7, base),
    MF(V_INTEL, 0x10f8, base), MF(V_INTEL, 0x10f9, base), MF(V_INTEL, 0x10fa, base),
    MF(V_INTEL, 0x10fb, base), MF(V_INTEL, 0x10fc, base), MF(V_INTEL, 0x1507, base),
    MF(V_INTEL, 0x1514, base), MF(V_INTEL, 0x151c, base), MF(V_INTEL, 0x1529, base),
    MF(V_INTEL, 0x152a, base), MF(V_INTEL, 0x154d, base), MF(V_INTEL, 0x154f, base),
    MF(V_INTEL, 0x1551, base), MF(V_INTEL, 0x1558, base),
    // 82580
    MF(V_INTEL, 0x1509, base), MF(V_INTEL, 0x150e, base), MF(V_INTEL, 0x150f, base),
    MF(V_INTEL, 0x1510, base), MF(V_INTEL, 0x1511, base), MF(V_INTEL, 0x1516, base),
    MF(V_INTEL, 0x1527, base),
    // 82576
    MF(V_INTEL, 0x10c9, base), MF(V_INTEL, 0x10e6, base), MF(V_INTEL, 0x10e7, base),
    MF(V_INTEL, 0x10e8, base), MF(V_INTEL, 0x150a, base), MF(V_INTEL, 0x150d, base),
    MF(V_INTEL, 0x1518, base), MF(V_INTEL, 0x1526, base),
    // 82575
    MF(V_INTEL, 0x10a7, base), MF(V_INTEL, 0x10a9, base), MF(V_INTEL, 0x10d6, base),
    // I350
    MF(V_INTEL, 0x1521, base), MF(V_INTEL, 0x1522, base), MF(V_INTEL, 0x1523, base),
    MF(V_INTEL, 0x1524, base),
    // 82571 (quad-port parts sit behind a non-ACS switch and are left out)
    MF(V_INTEL, 0x105e, base), MF(V_INTEL, 0x105f, base), MF(V_INTEL, 0x1060, base),
    MF(V_INTEL, 0x10d9, base),
    // I219
    MF(V_INTEL, 0x15b7, base), MF(V_INTEL, 0x15b8, base),
    {V_INTEL, ANY, pci_quirk_rciep_acs, "pci_quirk_rciep_acs", {5, 1}},
    // QCOM QDF2xxx root ports, SA8775P root port, HXT SD4800 (same design)
    {V_QCOM, 0x0400, pci_quirk_qcom_rp_acs, "pci_quirk_qcom_rp_acs", base},
    {V_QCOM, 0x0401, pci_quirk_qcom_rp_acs, "pci_quirk_qcom_rp_acs", base},
    {V_QCOM, 0x0115, pci_quirk_qcom_rp_acs, "pci_quirk_qcom_rp_acs", {6, 1}},
    {V_HXT, 0x0401, pci_quirk_qcom_rp_acs, "pci_quirk_qcom_rp_acs", {4, 17}},
    // Intel PCH root ports
    {V_INTEL, ANY, pci_quirk_intel_pch_acs, "pci_quirk_intel_pch_acs", base},
    {V_INTEL, ANY, pci_quirk_intel_spt_pch_acs, "pci_quirk_intel_spt_pch_acs", base},
    MF(V_EMULEX_BE, 0x0710, base),  // Emulex BE3-R
    MF(V_EMULEX, 0x0720, base),     // Emulex Skyhawk-R
    // Cavium ThunderX root ports, Cavium multifunction devices
    {V_CAVIUM, ANY, pci_quirk_cavium_acs, "pci_quirk_cavium_acs", base},
    MF(V_CAVIUM, 0xa026, kernel_version{4, 15}), MF(V_CAVIUM, 0xa059, kernel_version{4, 15}),
    MF(V_CAVIUM, 0xa060, kernel_version{4, 15}),
    // APM X-Gene, Ampere Computing
    {V_AMCC, 0xe004, pci_quirk_xgene_acs, "pci_quirk_xgene_acs", {4, 16}},
    {V_AMPERE, 0xe005, pci_quirk_xgene_acs, "pci_quirk_xgene_acs", {5, 13}},
    {V_AMPERE, 0xe006, pci_quirk_xgene_acs, "pci_quirk_xgene_acs", {5, 13}},
    {V_AMPERE, 0xe007, pci_quirk_xgene_acs, "pci_quirk_xgene_acs", {5, 13}},
    {V_AMPERE, 0xe008, pci_quirk_xgene_acs, "pci_quirk_xgene_acs", {5, 13}},
    {V_AMPERE, 0xe009, pci_quirk_xgene_acs, "pci_quirk_xgene_acs", {5, 13}},
    {V_AMPERE, 0xe00a, pci_quirk_xgene_acs, "pci_quirk_xgene_acs", {5, 13}},
    {V_AMPERE, 0xe00b, pci_quirk_xgene_acs, "pci_quirk_xgene_acs", {5, 13}},
    {V_AMPERE, 0xe00c, pci_quirk_xgene_acs, "pci_quirk_xgene_acs", {5, 13}},
    // Broadcom multifunction devices, iProc PAXB root ports
    MF(V_BROADCOM, 0x16d7, kernel_version{5, 4}), MF(V_BROADCOM, 0x1750, kernel_version{6, 1}),
    MF(V_BROADCOM, 0x1751, kernel_version{6, 1}), MF(V_BROADCOM, 0x1752, kernel_version{6, 1}),
    MF(V_BROADCOM, 0x1760, kernel_version{6, 1}), MF(V_BROADCOM, 0x1761, kernel_version{6, 1}),
    MF(V_BROADCOM, 0x1762, kernel_version{6, 1}), MF(V_BROADCOM, 0x1763, kernel_version{6, 1}),
    {V_BROADCOM, 0xd714, pci_quirk_brcm_acs, "pci_quirk_brcm_acs", {5, 4}},
    // Loongson PCIe root ports
    {V_LOONGSON, 0x3c09, pci_quirk_loongson_acs, "pci_quirk_loongson_acs", {6, 1}},
    {V_LOONGSON, 0x3c19, pci_quirk_loongson_acs, "pci_quirk_loongson_acs", {6, 1}},
    {V_LOONGSON, 0x3c29, pci_quirk_loongson_acs, "pci_quirk_loongson_acs", {6, 1}},
    {V_LOONGSON, 0x7a09, pci_quirk_loongson_acs, "pci_quirk_loongson_acs", {6, 1}},
    {V_LOONGSON, 0x7a19, pci_quirk_loongson_acs, "pci_quirk_loongson_acs", {6, 1}},
    {V_LOONGSON, 0x7a29, pci_quirk_loongson_acs, "pci_quirk_loongson_acs", {6, 1}},
    {V_LOONGSON, 0x7a39, pci_quirk_loongson_acs, "pci_quirk_loongson_acs", {6, 1}},
    {V_LOONGSON, 0x7a49, pci_quirk_loongson_acs, "pci_quirk_loongson_acs", {6, 1}},
    {V_LOONGSON, 0x7a59, pci_quirk_loongson_acs, "pci_quirk_loongson_acs", {6, 1}},
    {V_LOONGSON, 0x7a69, pci_quirk_loongson_acs, "pci_quirk_loongson_acs", {6, 1}},
    // Amazon Annapurna Labs root ports
    {V_ANNAPURNA, 0x0031, pci_quirk_al_acs, "pci_quirk_al_acs", {5, 6}},
    // Zhaoxin multifunction devices
    MF(V_ZHAOXIN, 0x3038, kernel_version{5, 7}), MF(V_ZHAOXIN, 0x3104, kernel_version{5, 7}),
    MF(V_ZHAOXIN, 0x9083, kernel_version{5, 7}),
    // NXP LX2xx0/LX2xx2 root ports (A, C, E, N variants of 16/12/8 cores)
    {V_NXP, 0x8d81, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    {V_NXP, 0x8da1, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    {V_NXP, 0x8d83, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    {V_NXP, 0x8d80, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    {V_NXP, 0x8da0, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    {V_NXP, 0x8d82, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    {V_NXP, 0x8d90, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    {V_NXP, 0x8db0, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    {V_NXP, 0x8d92, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    {V_NXP, 0x8d91, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    {V_NXP, 0x8db1, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    {V_NXP, 0x8d93, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    {V_NXP, 0x8d89, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    {V_NXP, 0x8da9, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    {V_NXP, 0x8d8b, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    {V_NXP, 0x8d88, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    {V_NXP, 0x8da8, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    {V_NXP, 0x8d8a, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    {V_NXP, 0x8d98, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    {V_NXP, 0x8db8, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    {V_NXP, 0x8d9a, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    {V_NXP, 0x8d99, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    {V_NXP, 0x8db9, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    {V_NXP, 0x8d9b, pci_quirk_nxp_rp_acs, "pci_quirk_nxp_rp_acs", {5, 11}},
    // Zhaoxin root ports and switch downstream ports
    {V_ZHAOXIN, ANY, pci_quirk_zhaoxin_pcie_ports_acs, "pci_quirk_zhaoxin_pcie_ports_acs", {5, 7}},
    // Wangxun NICs
    {V_WANGXUN, ANY, pci_quirk_wangxun_nic_acs, "pci_quirk_wangxun_nic_acs", {6, 1}},
};
#undef MF

// Intel PCH root ports without an ACS capability (Red Hat bugzilla 1037684), quirks.c's list.
const u16 intel_pch_acs_ids[] = {
    0x3b42, 0x3b43, 0x3b44, 0x3b45, 0x3b46, 0x3b47, 0x3b48, 0x3b49, 0x3b4a, 0x3b4b, 0x3b4c, 0x3b4d,
    0x3b4e, 0x3b4f, 0x3b50, 0x3b51,  // Ibexpeak
    0x1c10, 0x1c11, 0x1c12, 0x1c13, 0x1c14, 0x1c15, 0x1c16, 0x1c17, 0x1c18, 0x1c19, 0x1c1a, 0x1c1b,
    0x1c1c, 0x1c1d, 0x1c1e, 0x1c1f,  // Cougarpoint
    0x1e10, 0x1e11, 0x1e12, 0x1e13, 0x1e14, 0x1e15, 0x1e16, 0x1e17, 0x1e18, 0x1e19, 0x1e1a, 0x1e1b,
    0x1e1c, 0x1e1d, 0x1e1e, 0x1e1f,  // Pantherpoint
    0x8c10, 0x8c11, 0x8c12, 0x8c13, 0x8c14, 0x8c15, 0x8c16, 0x8c17, 0x8c18, 0x8c19, 0x8c1a, 0x8c1b,
    0x8c1c, 0x8c1d, 0x8c1e, 0x8c1f,  // Lynxpoint-H
    0x9c10, 0x9c11, 0x9c12, 0x9c13, 0x9c14, 0x9c15, 0x9c16, 0x9c17, 0x9c18, 0x9c19, 0x9c1a, 0x9c1b,  // Lynxpoint-LP
    0x9c90, 0x9c91, 0x9c92, 0x9c93, 0x9c94, 0x9c95, 0x9c96, 0x9c97, 0x9c98, 0x9c99, 0x9c9a, 0x9c9b,  // Wildcat
    0x1d10, 0x1d12, 0x1d14, 0x1d16, 0x1d18, 0x1d1a, 0x1d1c, 0x1d1e,  // Patsburg (X79)
    0x8d10, 0x8d11, 0x8d12, 0x8d13, 0x8d14, 0x8d15, 0x8d16, 0x8d17, 0x8d18, 0x8d19, 0x8d1a, 0x8d1b,
    0x8d1c, 0x8d1d, 0x8d1e,  // Wellsburg (X99)
    0x8c90, 0x8c92, 0x8c94, 0x8c96, 0x8c98, 0x8c9a, 0x8c9c, 0x8c9e,  // Lynx Point (9 series)
};

int pci_quirk_enable_intel_spt_pch_acs(pci_quirks& q, pci_dev& dev) {
    if (!pci_quirk_intel_spt_pch_acs_match(dev) || !dev.acs_cap) return -err_enotty;
    pci_access& a = q.access();
    const u32 cap = a.read32(dev, u16(dev.acs_cap + PCI_ACS_CAP));
    u32 ctrl = a.read32(dev, u16(dev.acs_cap + INTEL_SPT_ACS_CTRL));
    ctrl |= cap & SV_RR_CR_UF;
    if (dev.external_facing || dev.untrusted) ctrl |= cap & PCI_ACS_TB;
    a.write32(dev, u16(dev.acs_cap + INTEL_SPT_ACS_CTRL), ctrl);
    q.log().pci_info(dev, "Intel SPT PCH root port ACS workaround enabled");
    return 0;
}

int pci_quirk_disable_intel_spt_pch_acs_redir(pci_quirks& q, pci_dev& dev) {
    if (!pci_quirk_intel_spt_pch_acs_match(dev) || !dev.acs_cap) return -err_enotty;
    pci_access& a = q.access();
    u32 ctrl = a.read32(dev, u16(dev.acs_cap + INTEL_SPT_ACS_CTRL));
    ctrl &= ~u32(PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_EC);
    a.write32(dev, u16(dev.acs_cap + INTEL_SPT_ACS_CTRL), ctrl);
    q.log().pci_info(dev, "Intel SPT PCH root port workaround: disabled ACS redirect");
    return 0;
}

bool matches(u16 tv, u16 td, const pci_dev& dev) {
    return (tv == dev.vendor || tv == ANY) && (td == dev.device || td == ANY);
}

} // namespace

bool pci_quirk_intel_pch_acs_match(const pci_dev& dev) {
    if (!pci_is_pcie(dev) || pci_pcie_type(dev) != PCI_EXP_TYPE_ROOT_PORT) return false;
    return std::find(std::begin(intel_pch_acs_ids), std::end(intel_pch_acs_ids), dev.device) !=
           std::end(intel_pch_acs_ids);
}

bool pci_quirk_intel_spt_pch_acs_match(const pci_dev& dev) {
    if (!pci_is_pcie(dev) || pci_pcie_type(dev) != PCI_EXP_TYPE_ROOT_PORT) return false;
    const u16 d = dev.device;
    return (d >= 0xa110 && d <= 0xa11f) || (d >= 0xa167 && d <= 0xa16a) ||  // Sunrise Point
           (d >= 0xa290 && d <= 0xa29f) || (d >= 0xa2e7 && d <= 0xa2ee) ||  // Union Point
           (d >= 0x9d10 && d <= 0x9d1b);                                    // 7th/8th gen mobile
}

pci_quirks::pci_quirks(pci_access& access, kernel_log& log, kernel_version version, firmware_iommu iommu,
                       acs_override override)
    : m_access(access), m_log(log), m_version(version), m_iommu(iommu), m_override(std::move(override)) {
    for (const auto& e : acs_table_61)
        if (version.at_least(e.since.major, e.since.minor)) m_table.push_back(e);
    if (m_override.enabled())
        m_table.push_back({ANY, ANY, pcie_acs_overrides, "pcie_acs_overrides (out-of-tree)", {0, 0}});
}

int pci_quirks::dev_specific_acs_enabled(pci_dev& dev, u16 acs_flags, const char** which) {
    for (const auto& e : m_table) {
        if (!matches(e.vendor, e.device, dev)) continue;
        const int ret = e.fn(*this, dev, acs_flags);
        if (ret >= 0) {
            if (which) *which = e.name;
            return ret;
        }
    }
    return -err_enotty;
}

// pci_quirk_enable_intel_lpc_acs: peer decode off through the chipset's RCBA registers.
int pci_quirks::enable_intel_lpc_acs(pci_dev& dev) {
    // Root ports (D28:F*) are probed before the LPC bridge (D31:F0): read it by address, not as a pci_dev.
    const u32 rcba = m_access.bus_read(dev.bus->segment, dev.bus->number, pci_devfn(31, 0), INTEL_LPC_RCBA_REG, 4);
    if (!(rcba & INTEL_LPC_RCBA_ENABLE)) return -err_einval;
    const u64 base = rcba & INTEL_LPC_RCBA_MASK;
    pci_host_ops& ops = m_access.ops();
    // BSPR is strapped read-only; if it does not already block both posted and non-posted peer
    // cycles, turn off the per-port peer decodes in UPDCR.
    const u32 bspr = u32(ops.mmio_read(base + INTEL_BSPR_REG, 4)) & (INTEL_BSPR_REG_BPNPD | INTEL_BSPR_REG_BPPD);
    if (bspr != (INTEL_BSPR_REG_BPNPD | INTEL_BSPR_REG_BPPD)) {
        u32 updcr = u32(ops.mmio_read(base + INTEL_UPDCR_REG, 4));
        if (updcr & INTEL_UPDCR_REG_MASK) {
            m_log.pci_info(dev, "Disabling UPDCR peer decodes");
            updcr &= ~INTEL_UPDCR_REG_MASK;
            ops.mmio_write(base + INTEL_UPDCR_REG, 4, updcr);
        }
    }
    return 0;
}

int pci_quirks::dev_specific_enable_acs(pci_dev& dev) {
    // pci_dev_acs_ops[0]: pci_quirk_enable_intel_pch_acs.
    if (dev.vendor == V_INTEL && pci_quirk_intel_pch_acs_match(dev)) {
        if (enable_intel_lpc_acs(dev)) {
            m_log.pci_warn(dev, "Failed to enable Intel PCH ACS quirk");
            return 0;
        }
        // pci_quirk_enable_intel_rp_mpc_acs: IRBNCE is the Source Validation equivalent. Linux writes
        // the dword back with a *word* config write, so bit 26 never reaches the register; kept as is.
        const u32 mpc = m_access.read32(dev, INTEL_MPC_REG);
        if (!(mpc & INTEL_MPC_REG_IRBNCE)) {
            m_log.pci_info(dev, "Enabling MPC IRBNCE");
            m_access.write16(dev, INTEL_MPC_REG, u16(mpc | INTEL_MPC_REG_IRBNCE));
        }
        dev.dev_flags |= PCI_DEV_FLAGS_ACS_ENABLED_QUIRK;
        m_log.pci_info(dev, "Intel PCH root port ACS workaround enabled");
        return 0;
    }
    // pci_dev_acs_ops[1]: pci_quirk_enable_intel_spt_pch_acs.
    if (dev.vendor == V_INTEL) {
        const int ret = pci_quirk_enable_intel_spt_pch_acs(*this, dev);
        if (ret >= 0) return ret;
    }
    return -err_enotty;
}

int pci_quirks::dev_specific_disable_acs_redir(pci_dev& dev) {
    if (dev.vendor == V_INTEL) {
        const int ret = pci_quirk_disable_intel_spt_pch_acs_redir(*this, dev);
        if (ret >= 0) return ret;
    }
    return -err_enotty;
}

void pci_quirks::add_dma_alias(pci_dev& dev, unsigned devfn_from, unsigned nr_devfns) {
    nr_devfns = std::min(nr_devfns, MAX_NR_DEVFNS - devfn_from);
    if (nr_devfns == 0) return;
    const unsigned devfn_to = devfn_from + nr_devfns - 1;
    dev.has_dma_alias = true;
    for (unsigned d = devfn_from; d <= devfn_to; ++d) dev.dma_alias_mask.set(d);
    if (nr_devfns == 1)
        m_log.pci_info(dev, fmt::format("Enabling fixed DMA alias to {:02x}.{}", pci_slot(u8(devfn_from)),
                                        pci_func(u8(devfn_from))));
    else
        m_log.pci_info(dev, fmt::format("Enabling fixed DMA alias for devfn range from {:02x}.{} to {:02x}.{}",
                                        pci_slot(u8(devfn_from)), pci_func(u8(devfn_from)),
                                        pci_slot(u8(devfn_to)), pci_func(u8(devfn_to))));
}

namespace {

struct header_fixup {
    u16 vendor, device;
    void (*fn)(pci_quirks& q, pci_dev& dev);
    kernel_version since;
};

void quirk_dma_func0_alias(pci_quirks& q, pci_dev& dev) {
    if (pci_func(dev.devfn) != 0) q.add_dma_alias(dev, pci_devfn(pci_slot(dev.devfn), 0), 1);
}

void quirk_dma_func1_alias(pci_quirks& q, pci_dev& dev) {
    if (pci_func(dev.devfn) != 1) q.add_dma_alias(dev, pci_devfn(pci_slot(dev.devfn), 1), 1);
}

// fixed_dma_alias_tbl: Adaptec 3405/3805 (9005:0285 with subsystem 9005:02bb/02bc) DMA from devfn 01.0.
void quirk_fixed_dma_alias(pci_quirks& q, pci_dev& dev) {
    if (dev.subsystem_vendor == V_ADAPTEC2 && (dev.subsystem_device == 0x02bb || dev.subsystem_device == 0x02bc))
        q.add_dma_alias(dev, pci_devfn(1, 0), 1);
}

// A PCIe-to-PCI bridge that lacks a PCIe capability: non-root, type 1, its parent PCIe but not itself a
// PCIe-to-PCI bridge.
void quirk_use_pcie_bridge_dma_alias(pci_quirks&, pci_dev& dev) {
    const pci_dev* up = pci_upstream_bridge(dev);
    if (!pci_is_root_bus_dev(dev) && dev.hdr_type == PCI_HEADER_TYPE_BRIDGE && !pci_is_pcie(dev) && up &&
        pci_is_pcie(*up) && pci_pcie_type(*up) != PCI_EXP_TYPE_PCI_BRIDGE)
        dev.dev_flags |= PCI_DEV_FLAG_PCIE_BRIDGE_ALIAS;
}

void quirk_mic_x200_dma_alias(pci_quirks& q, pci_dev& dev) {
    q.add_dma_alias(dev, pci_devfn(0x10, 0), 1);
    q.add_dma_alias(dev, pci_devfn(0x11, 0), 1);
    q.add_dma_alias(dev, pci_devfn(0x12, 3), 1);
}

// Intel VCA (PEX 87xx NTB): functions 0-4 of every slot.
void quirk_pex_vca_alias(pci_quirks& q, pci_dev& dev) {
    for (unsigned slot = 0; slot < 0x20; ++slot) q.add_dma_alias(dev, pci_devfn(slot, 0), 5);
}

void quirk_plx_ntb_dma_alias(pci_quirks& q, pci_dev& dev) {
    q.log().pci_info(dev, "Setting PLX NTB proxy ID aliases");
    q.add_dma_alias(dev, 0, 256);
}

void quirk_bridge_cavm_thrx2_pcie_root(pci_quirks&, pci_dev& dev) { dev.dev_flags |= PCI_DEV_FLAGS_BRIDGE_XLATE_ROOT; }

constexpr kernel_version b{4, 10};
const header_fixup header_fixups[] = {
    {V_RICOH, 0xe832, quirk_dma_func0_alias, b}, {V_RICOH, 0xe476, quirk_dma_func0_alias, b},
    {V_GLENFLY, 0x3d40, quirk_dma_func0_alias, {6, 1}}, {V_GLENFLY, 0x3d41, quirk_dma_func0_alias, {6, 1}},
    {V_MARVELL_EXT, 0x9120, quirk_dma_func1_alias, b}, {V_MARVELL_EXT, 0x9123, quirk_dma_func1_alias, b},
    {V_MARVELL_EXT, 0x9125, quirk_dma_func1_alias, {6, 1}}, {V_MARVELL_EXT, 0x9128, quirk_dma_func1_alias, b},
    {V_MARVELL_EXT, 0x9130, quirk_dma_func1_alias, b}, {V_MARVELL_EXT, 0x9170, quirk_dma_func1_alias, b},
    {V_MARVELL_EXT, 0x9172, quirk_dma_func1_alias, b}, {V_MARVELL_EXT, 0x917a, quirk_dma_func1_alias, b},
    {V_MARVELL_EXT, 0x9182, quirk_dma_func1_alias, b}, {V_MARVELL_EXT, 0x9183, quirk_dma_func1_alias, {4, 16}},
    {V_MARVELL_EXT, 0x91a0, quirk_dma_func1_alias, b}, {V_MARVELL_EXT, 0x9215, quirk_dma_func1_alias, {5, 17}},
    {V_MARVELL_EXT, 0x9220, quirk_dma_func1_alias, {4, 19}}, {V_MARVELL_EXT, 0x9230, quirk_dma_func1_alias, b},
    {V_MARVELL_EXT, 0x9235, quirk_dma_func1_alias, {5, 17}},
    {V_TTI, 0x0642, quirk_dma_func1_alias, b}, {V_TTI, 0x0645, quirk_dma_func1_alias, {4, 16}},
    {V_JMICRON, 0x2392, quirk_dma_func1_alias, b},  // JMB388_ESD
    {V_LITEON, 0x0122, quirk_dma_func1_alias, b},   // Plextor M6E (Marvell 88SS9183)
    {V_ADAPTEC2, 0x0285, quirk_fixed_dma_alias, b},
    {V_ASMEDIA, 0x1080, quirk_use_pcie_bridge_dma_alias, b}, {V_TUNDRA, 0x8113, quirk_use_pcie_bridge_dma_alias, b},
    {V_ITE, 0x8892, quirk_use_pcie_bridge_dma_alias, b}, {V_ITE, 0x8893, quirk_use_pcie_bridge_dma_alias, b},
    {V_INTEL, 0x244e, quirk_use_pcie_bridge_dma_alias, b},
    {V_INTEL, 0x2260, quirk_mic_x200_dma_alias, b}, {V_INTEL, 0x2264, quirk_mic_x200_dma_alias, b},
    {V_INTEL, 0x2954, quirk_pex_vca_alias, {4, 19}}, {V_INTEL, 0x2955, quirk_pex_vca_alias, {4, 19}},
    {V_INTEL, 0x2956, quirk_pex_vca_alias, {4, 19}}, {V_INTEL, 0x2958, quirk_pex_vca_alias, {4, 19}},
    {V_INTEL, 0x2959, quirk_pex_vca_alias, {4, 19}}, {V_INTEL, 0x295a, quirk_pex_vca_alias, {4, 19}},
    {V_BROADCOM, 0x9000, quirk_bridge_cavm_thrx2_pcie_root, {4, 12}},
    {V_BROADCOM, 0x9084, quirk_bridge_cavm_thrx2_pcie_root, {4, 12}},
    {V_PLX, 0x87b0, quirk_plx_ntb_dma_alias, {5, 6}}, {V_PLX, 0x87b1, quirk_plx_ntb_dma_alias, {5, 6}},
};

} // namespace

void pci_quirks::fixup_header(pci_dev& dev) {
    for (const auto& f : header_fixups)
        if (f.vendor == dev.vendor && f.device == dev.device && m_version.at_least(f.since.major, f.since.minor))
            f.fn(*this, dev);
}

} // namespace iommusim::host

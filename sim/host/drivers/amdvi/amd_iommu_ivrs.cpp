#include "sim/host/drivers/amdvi/amd_iommu_ivrs.h"

#include "sim/host/kernel_log.h"

#include <cerrno>
#include <fmt/format.h>

namespace iommusim::host {

namespace {
constexpr u8 ACPI_IVHD_TYPE_MAX_SUPPORTED = 0x40;
constexpr unsigned n_devids = 0x10000;
// IVHD 10h "IOMMU feature reporting" and the EFR image of 11h/40h (AMD IOMMU spec §3.4.12 / §5.2.2.1).
constexpr u32 IOMMU_FEAT_GASUP_SHIFT = 6;
constexpr unsigned IOMMU_EFR_XTSUP_SHIFT = 2, IOMMU_EFR_GASUP_SHIFT = 7, IOMMU_EFR_MSICAPMMIOSUP_SHIFT = 46;
// unity_map_entry::prot (IOMMU_PROT_IR / IOMMU_PROT_IW): the IVMD flags shifted right by one.
constexpr int IOMMU_PROT_IR = 1, IOMMU_PROT_IW = 2;

bool is_target_header(u8 type) { return type == 0x10 || type == 0x11 || type == 0x40; }
} // namespace

u64 amd_pci_seg::tbl_size(unsigned entry_size) const {
    // PAGE_SHIFT + get_order((last_bdf + 1) * entry_size)
    const u64 bytes = (u64(last_bdf) + 1) * entry_size;
    u64 size = 4096;
    while (size < bytes) size <<= 1;
    return size;
}

amd_ivrs::amd_ivrs(const ivrs_table& table, kernel_log& log) : m_table(table), m_log(log) {}

amd_pci_seg& amd_ivrs::get_pci_segment(u16 id) {
    auto it = m_segs.find(id);
    if (it != m_segs.end()) return it->second;
    amd_pci_seg& seg = m_segs[id];
    seg.id = id;
    seg.rlookup.assign(n_devids, -1);
    seg.alias_table.resize(n_devids);
    for (unsigned i = 0; i < n_devids; ++i) seg.alias_table[i] = u16(i);  // alloc_alias_table: identity
    seg.dte.assign(n_devids, {0, 0, 0, 0});
    return seg;
}

// find_last_devid_from_ivhd: the device IDs the entries name; DEV_ALL means every ID.
void amd_ivrs::find_last_devid(const ivrs_ivhd& h, amd_pci_seg& seg) {
    for (const ivhd_entry& e : h.entries) {
        switch (e.type) {
        case ivrs::IVHD_DEV_ALL: seg.last_bdf = 0xffff; break;
        case ivrs::IVHD_DEV_SELECT:
        case ivrs::IVHD_DEV_RANGE_END:
        case ivrs::IVHD_DEV_ALIAS:
        case ivrs::IVHD_DEV_EXT_SELECT:
            if (e.devid > seg.last_bdf) seg.last_bdf = e.devid;
            break;
        default: break;
        }
    }
}

// set_dev_entry_from_acpi + amd_iommu_apply_erratum_63 + set_iommu_for_device.
void amd_ivrs::set_dev_entry_from_acpi(amd_pci_seg& seg, int unit, u32 devid, u8 flags) {
    if (devid >= n_devids) return;
    auto set = [&](unsigned bit) { seg.dte[devid][bit / 64] |= 1ull << (bit % 64); };
    if (flags & ivrs::ACPI_DEVFLAG_INITPASS) set(amd_dte_bit::INIT_PASS);
    if (flags & ivrs::ACPI_DEVFLAG_EXTINT) set(amd_dte_bit::EINT_PASS);
    if (flags & ivrs::ACPI_DEVFLAG_NMI) set(amd_dte_bit::NMI_PASS);
    if (flags & ivrs::ACPI_DEVFLAG_SYSMGT1) set(amd_dte_bit::SYSMGT1);
    if (flags & ivrs::ACPI_DEVFLAG_SYSMGT2) set(amd_dte_bit::SYSMGT2);
    if (flags & ivrs::ACPI_DEVFLAG_LINT0) set(amd_dte_bit::LINT0_PASS);
    if (flags & ivrs::ACPI_DEVFLAG_LINT1) set(amd_dte_bit::LINT1_PASS);
    // Erratum 63: SysMgt = 01b (upstream system management requests forwarded untranslated) needs IW.
    const unsigned sysmgt = unsigned(seg.dte_bit(u16(devid), amd_dte_bit::SYSMGT1)) |
                            (unsigned(seg.dte_bit(u16(devid), amd_dte_bit::SYSMGT2)) << 1);
    if (sysmgt == 1) set(amd_dte_bit::IW);
    seg.rlookup[devid] = unit;
}

// init_iommu_from_acpi: the device entries of one IVHD, in order (range entries carry state from the
// start entry to the end entry).
void amd_ivrs::init_from_acpi(int unit, const ivrs_ivhd& h, amd_pci_seg& seg) {
    u16 devid_start = 0, devid_to = 0;
    u8 flags = 0;
    bool alias = false;
    for (const ivhd_entry& e : h.entries) {
        switch (e.type) {
        case ivrs::IVHD_DEV_ALL:
            for (u32 d = 0; d <= seg.last_bdf; ++d) set_dev_entry_from_acpi(seg, unit, d, e.flags);
            break;
        case ivrs::IVHD_DEV_SELECT:
        case ivrs::IVHD_DEV_EXT_SELECT:
            set_dev_entry_from_acpi(seg, unit, e.devid, e.flags);
            break;
        case ivrs::IVHD_DEV_SELECT_RANGE_START:
        case ivrs::IVHD_DEV_EXT_SELECT_RANGE:
            devid_start = e.devid;
            flags = e.flags;
            alias = false;
            break;
        case ivrs::IVHD_DEV_ALIAS:
            set_dev_entry_from_acpi(seg, unit, e.devid, e.flags);
            set_dev_entry_from_acpi(seg, unit, e.alias_to(), e.flags);
            seg.alias_table[e.devid] = e.alias_to();
            break;
        case ivrs::IVHD_DEV_ALIAS_RANGE:
            devid_start = e.devid;
            flags = e.flags;
            devid_to = e.alias_to();
            alias = true;
            break;
        case ivrs::IVHD_DEV_RANGE_END:
            for (u32 d = devid_start; d <= e.devid; ++d) {
                if (alias) {
                    seg.alias_table[d] = devid_to;
                    set_dev_entry_from_acpi(seg, unit, devid_to, flags);
                }
                set_dev_entry_from_acpi(seg, unit, d, flags);
            }
            break;
        case ivrs::IVHD_DEV_SPECIAL: {
            const amd_devid_map m{e.special_handle(), e.special_devid()};
            if (e.special_variety() == ivrs::IVHD_SPECIAL_IOAPIC) m_ioapic_map.push_back(m);
            else if (e.special_variety() == ivrs::IVHD_SPECIAL_HPET) m_hpet_map.push_back(m);
            else break;  // add_special_device: -EINVAL. Linux then fails the whole init; we skip it.
            set_dev_entry_from_acpi(seg, unit, m.devid, e.flags);
            break;
        }
        default: break;  // unknown entries are skipped by their length, as ivhd_entry_length does
        }
    }
}

// init_unity_map_range: exclusion ranges are treated as read/write unity maps (6.1).
void amd_ivrs::init_unity_map_range(const ivrs_ivmd& m) {
    amd_pci_seg& seg = get_pci_segment(m.pci_seg);
    amd_unity_map e;
    switch (m.type) {
    case ivrs::IVMD_TYPE_SELECT: e.devid_start = e.devid_end = m.devid; break;
    case ivrs::IVMD_TYPE_ALL: e.devid_start = 0; e.devid_end = seg.last_bdf; break;
    case ivrs::IVMD_TYPE_RANGE: e.devid_start = m.devid; e.devid_end = m.aux; break;
    default: return;
    }
    auto page_align = [](u64 v) { return (v + 0xfff) & ~0xfffull; };
    e.address_start = page_align(m.range_start);
    e.address_end = e.address_start + page_align(m.range_length);
    e.prot = m.flags >> 1;
    if (m.flags & ivrs::IVMD_FLAG_EXCL_RANGE) e.prot = (ivrs::IVMD_FLAG_IW | ivrs::IVMD_FLAG_IR) >> 1;
    seg.unity_map.push_back(e);
}

// get_global_efr: the EFR images of the 11h/40h blocks, ANDed; a block that differs is a firmware bug.
void amd_ivrs::get_global_efr() {
    bool first = true;
    for (const ivrs_ivhd& h : m_table.ivhds) {
        if (h.type != 0x11 && h.type != 0x40) continue;
        if (first) {
            m_efr = h.efr_reg;
            m_efr2 = h.efr_reg2;
            first = false;
            continue;
        }
        if (m_efr != h.efr_reg || m_efr2 != h.efr_reg2) {
            m_log.warn(fmt::format("AMD-Vi: [Firmware Bug]: {:x}:{:x}.{:x}: EFR mismatch. Use IVHD EFR "
                                   "({:#x} : {:#x}), EFR2 ({:#x} : {:#x}).",
                                   h.pci_seg, h.devid >> 8, h.devid & 0xff, m_efr, h.efr_reg, m_efr2, h.efr_reg2));
            m_efr &= h.efr_reg;
            m_efr2 &= h.efr_reg2;
        }
    }
    if (!first) m_log.info(fmt::format("AMD-Vi: Using global IVHD EFR:{:#x}, EFR2:{:#x}", m_efr, m_efr2));
}

int amd_ivrs::parse() {
    if (m_parsed) return 0;
    if (m_table.ivhds.empty()) return -ENODEV;
    // get_highest_supported_ivhd_type: the last type (up to 40h) among the blocks that describe the
    // same IOMMU as the first one.
    m_target_type = m_table.ivhds.front().type;
    const u16 first_devid = m_table.ivhds.front().devid;
    for (const ivrs_ivhd& h : m_table.ivhds) {
        if (h.type > ACPI_IVHD_TYPE_MAX_SUPPORTED) break;
        if (h.devid == first_devid) m_target_type = h.type;
    }
    if (!is_target_header(m_target_type)) {
        m_log.err(fmt::format("AMD-Vi: Unsupported IVHD type {:#x}", m_target_type));
        return -EINVAL;
    }
    for (const ivrs_ivhd& h : m_table.ivhds)
        if (h.type == m_target_type) m_ivhds.push_back(&h);

    // find_last_devid_acpi, per segment, before any table is filled.
    for (const ivrs_ivhd* h : m_ivhds) find_last_devid(*h, get_pci_segment(h->pci_seg));
    if (m_target_type != 0x10) get_global_efr();

    // init_iommu_all -> init_iommu_one per block.
    for (size_t i = 0; i < m_ivhds.size(); ++i) {
        const ivrs_ivhd& h = *m_ivhds[i];
        amd_pci_seg& seg = get_pci_segment(h.pci_seg);
        if (h.type == 0x10) {
            if (!(h.efr_attr & (1u << IOMMU_FEAT_GASUP_SHIFT))) m_ga_allowed = false;
        } else {
            if (!(h.efr_reg & (1ull << IOMMU_EFR_GASUP_SHIFT))) m_ga_allowed = false;
            if ((h.efr_reg & (1ull << IOMMU_EFR_XTSUP_SHIFT)) && (h.efr_reg & (1ull << IOMMU_EFR_MSICAPMMIOSUP_SHIFT)))
                m_xt_allowed = true;
        }
        init_from_acpi(int(i), h, seg);
        // "Make sure IOMMU is not considered to translate itself."
        seg.rlookup[h.devid] = -1;
    }
    // init_memory_definitions: only blocks with the unity or exclusion flag.
    for (const ivrs_ivmd& m : m_table.ivmds)
        if (m.flags & (ivrs::IVMD_FLAG_UNITY_MAP | ivrs::IVMD_FLAG_EXCL_RANGE)) init_unity_map_range(m);
    m_parsed = true;
    return 0;
}

const amd_pci_seg* amd_ivrs::segment(u16 id) const {
    auto it = m_segs.find(id);
    return it == m_segs.end() ? nullptr : &it->second;
}

// check_device's view: rlookup_amd_iommu, then devid within the segment's last_bdf.
int amd_ivrs::rlookup(u16 seg, u16 devid) const {
    const amd_pci_seg* s = segment(seg);
    if (!s) return -1;
    const int unit = s->rlookup[devid];
    if (unit < 0 || devid > s->last_bdf) return -1;
    return unit;
}

u16 amd_ivrs::alias(u16 seg, u16 devid) const {
    const amd_pci_seg* s = segment(seg);
    return s ? s->alias_table[devid] : devid;
}

u16 amd_ivrs::last_bdf(u16 seg) const {
    const amd_pci_seg* s = segment(seg);
    return s ? s->last_bdf : 0;
}

int amd_ivrs::get_ioapic_devid(u8 id) const {
    for (const amd_devid_map& m : m_ioapic_map)
        if (m.id == id) return m.devid;
    return -1;
}

bool amd_ivrs::check_ioapic_information(const std::vector<u8>& ioapic_ids) const {
    bool ret = false, has_sb_ioapic = false;
    for (u8 id : ioapic_ids) {
        const int devid = get_ioapic_devid(id);
        if (devid < 0) {
            m_log.err(fmt::format("AMD-Vi: [Firmware Bug]: : IOAPIC[{}] not in IVRS table", id));
            ret = false;
        } else if (devid == ivrs::IOAPIC_SB_DEVID) {
            has_sb_ioapic = true;
            ret = true;
        }
    }
    if (!has_sb_ioapic) m_log.err("AMD-Vi: [Firmware Bug]: : No southbridge IOAPIC found");
    if (!ret) m_log.err("AMD-Vi: Disabling interrupt remapping");
    return ret;
}

} // namespace iommusim::host

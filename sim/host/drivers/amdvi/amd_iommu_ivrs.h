// The simulated kernel's reading of the ACPI IVRS table, as Linux 6.1's drivers/iommu/amd/init.c does it
// before PCI is enumerated: which IVHD type to use (get_highest_supported_ivhd_type), the largest device
// ID per PCI segment (find_last_devid_from_ivhd), and per device ID the IOMMU that serves it (rlookup
// table), its IVRS alias (alias table) and the DTE bits firmware asks for (set_dev_entry_from_acpi with
// erratum 63); the IO-APIC/HPET special devices, the unity-mapped ranges of the IVMDs, the global EFR of
// the type 11h/40h blocks and what IVHD attributes allow for interrupt remapping (GA, x2APIC).
//
//   host::amd_ivrs ivrs(firmware.ivrs, log);
//   if (ivrs.parse() == 0) {
//       int unit = ivrs.rlookup(0, devid);   // index into ivrs.ivhds(), -1: no IOMMU translates it
//       u16 alias = ivrs.alias(0, devid);    // == devid when firmware names no alias
//   }
#pragma once
#include "sim/host/pci_host_ops.h"

#include <array>
#include <map>
#include <vector>

namespace iommusim::host {

class kernel_log;

// DTE bit numbers (AMD IOMMU spec §2.2.2.2, Linux's DEV_ENTRY_*) that IVHD DTE settings touch.
namespace amd_dte_bit {
constexpr unsigned IW = 0x3e;
constexpr unsigned SYSMGT1 = 0x68, SYSMGT2 = 0x69;
constexpr unsigned INIT_PASS = 0xb8, EINT_PASS = 0xb9, NMI_PASS = 0xba, LINT0_PASS = 0xbe, LINT1_PASS = 0xbf;
} // namespace amd_dte_bit

// A unity-mapped range from an IVMD (struct unity_map_entry): [address_start, address_end).
struct amd_unity_map {
    u16 devid_start = 0, devid_end = 0;
    u64 address_start = 0, address_end = 0;
    int prot = 0;  // IOMMU_PROT_IR (1) | IOMMU_PROT_IW (2)
};

// A special device (IO-APIC or HPET) and the requester ID its interrupts carry (struct devid_map).
struct amd_devid_map {
    u8 id = 0;
    u16 devid = 0;
};

// Per PCI segment tables (struct amd_iommu_pci_seg). The tables are kept at 64 Ki entries; only
// [0, last_bdf] is meaningful, as in Linux where they are allocated that large.
struct amd_pci_seg {
    u16 id = 0;
    u16 last_bdf = 0;
    std::vector<int> rlookup;               // index into amd_ivrs::ivhds() per device ID, -1 none
    std::vector<u16> alias_table;           // identity unless an IVHD alias entry names another ID
    std::vector<std::array<u64, 4>> dte;    // DTE bits set from the IVRS, per device ID
    std::vector<amd_unity_map> unity_map;

    // tbl_size(): the table for last_bdf + 1 entries, a power-of-two number of 4 KiB pages.
    u64 tbl_size(unsigned entry_size) const;
    u64 dev_table_size() const { return tbl_size(32); }  // DEV_TABLE_ENTRY_SIZE
    bool dte_bit(u16 devid, unsigned bit) const { return (dte[devid][bit / 64] >> (bit % 64)) & 1; }
};

class amd_ivrs {
public:
    amd_ivrs(const ivrs_table& table, kernel_log& log);

    // early_amd_iommu_init, table part. 0; -ENODEV without IVHDs; -EINVAL for an unsupported type.
    int parse();
    bool parsed() const { return m_parsed; }

    u8 target_type() const { return m_target_type; }
    const ivrs_table& table() const { return m_table; }
    // The IVHDs of the target type, table order: one per IOMMU.
    const std::vector<const ivrs_ivhd*>& ivhds() const { return m_ivhds; }

    const amd_pci_seg* segment(u16 id) const;
    // -1 when no IOMMU translates the device (or it lies beyond the segment's last_bdf).
    int rlookup(u16 seg, u16 devid) const;
    u16 alias(u16 seg, u16 devid) const;
    u16 last_bdf(u16 seg) const;

    const std::vector<amd_devid_map>& ioapic_map() const { return m_ioapic_map; }
    const std::vector<amd_devid_map>& hpet_map() const { return m_hpet_map; }
    int get_ioapic_devid(u8 id) const;  // -1 when not listed
    // check_ioapic_information(): every MADT IO-APIC listed, and the southbridge one among them;
    // false (with Linux's messages) means interrupt remapping must be disabled.
    bool check_ioapic_information(const std::vector<u8>& ioapic_ids) const;

    u32 ivinfo() const { return m_table.ivinfo; }
    bool efr_sup() const { return (m_table.ivinfo & ivrs::IVINFO_EFRSUP) != 0; }
    u64 global_efr() const { return m_efr; }
    u64 global_efr2() const { return m_efr2; }
    // What the IVHD attributes allow (init_iommu_one): GA (128-bit) IRTEs need GASup in every IVHD;
    // x2APIC mode needs XTSup and MsiCapMmioSup in an 11h/40h image.
    bool ga_allowed() const { return m_ga_allowed; }
    bool x2apic_allowed() const { return m_xt_allowed; }

private:
    amd_pci_seg& get_pci_segment(u16 id);
    void find_last_devid(const ivrs_ivhd& h, amd_pci_seg& seg);
    void init_from_acpi(int unit, const ivrs_ivhd& h, amd_pci_seg& seg);
    void set_dev_entry_from_acpi(amd_pci_seg& seg, int unit, u32 devid, u8 flags);
    void init_unity_map_range(const ivrs_ivmd& m);
    void get_global_efr();

    ivrs_table m_table;
    kernel_log& m_log;
    bool m_parsed = false;
    u8 m_target_type = 0;
    std::vector<const ivrs_ivhd*> m_ivhds;
    std::map<u16, amd_pci_seg> m_segs;
    std::vector<amd_devid_map> m_ioapic_map, m_hpet_map;
    u64 m_efr = 0, m_efr2 = 0;
    bool m_ga_allowed = true, m_xt_allowed = false;
};

} // namespace iommusim::host

// How the simulated kernel reaches the hardware: the equivalent of Linux's struct pci_ops (config
// accesses per segment/bus/devfn, through ECAM) plus memory-mapped I/O, and what firmware (ACPI MCFG,
// _CRS, DMAR/IVRS) tells it. The kernel learns everything else through these calls, as the real one does.
#pragma once
#include "sim/core/bdf.h"
#include "sim/core/types.h"

#include <vector>

namespace iommusim::tce {
class phb;
}

namespace iommusim::host {

struct root_bus_info {
    u16 segment = 0;
    u8 bus_start = 0;
    u8 bus_end = 0xff;
};

// Which IOMMU firmware describes: ACPI DMAR (VT-d), ACPI IVRS (AMD-Vi), or a pseries device tree whose
// PHBs carry ibm,dma-window (sPAPR: the hypervisor presents each PHB as one Partitionable Endpoint), or
// a bare-metal POWER device tree whose PHBs are ibm,ioda2-phb / ibm,ioda3-phb nodes driven through OPAL.
enum class firmware_iommu { none, dmar, ivrs, spapr, opal };

// One DMA Remapping Hardware Unit Definition of the ACPI DMAR table (VT-d spec §8.3): where the unit's
// registers are and which root buses it translates for. include_pci_all: the segment's catch-all unit.
struct dmar_drhd {
    u16 segment = 0;
    u64 register_base = 0;
    bool include_pci_all = false;
    std::vector<root_bus_info> scope; // root buses (with everything below them) this unit serves
};

// The ACPI IVRS table (AMD IOMMU spec #48882 §5.2) as firmware hands it to the OS, decoded into fields
// (the byte layout is what Linux's init.c lays its ivhd_header / ivhd_entry / ivmd_header over).
namespace ivrs {
// IVinfo (§5.2.1, IVRS offset 36).
constexpr u32 IVINFO_EFRSUP = 1u << 0;      // the IVHDs of type 11h/40h carry an EFR image
constexpr u32 IVINFO_DMA_REMAP = 1u << 1;   // pre-boot DMA protection was on
inline u32 ivinfo(unsigned va_size, unsigned pa_size, unsigned gva_size_code, bool efr_sup) {
    return (u32(va_size & 0x7f) << 15) | (u32(pa_size & 0x7f) << 8) | (u32(gva_size_code & 7) << 5) |
           (efr_sup ? IVINFO_EFRSUP : 0);
}
// IVHD flags (§5.2.2.1, byte 1).
constexpr u8 IVHD_FLAG_HT_TUN_EN = 0x01, IVHD_FLAG_PASSPW = 0x02, IVHD_FLAG_RESPASSPW = 0x04,
             IVHD_FLAG_ISOC = 0x08, IVHD_FLAG_IOTLB_SUP = 0x10, IVHD_FLAG_COHERENT = 0x20,
             IVHD_FLAG_PREF_SUP = 0x40, IVHD_FLAG_PPR_SUP = 0x80;
// IVHD device entry types (§5.2.2.2, Table 95/96): 4-byte below 0x40, 8-byte from 0x40.
constexpr u8 IVHD_DEV_ALL = 0x01, IVHD_DEV_SELECT = 0x02, IVHD_DEV_SELECT_RANGE_START = 0x03,
             IVHD_DEV_RANGE_END = 0x04, IVHD_DEV_ALIAS = 0x42, IVHD_DEV_ALIAS_RANGE = 0x43,
             IVHD_DEV_EXT_SELECT = 0x46, IVHD_DEV_EXT_SELECT_RANGE = 0x47, IVHD_DEV_SPECIAL = 0x48;
// DTE setting (device entry byte 3): which DTE bits firmware asks for.
constexpr u8 ACPI_DEVFLAG_INITPASS = 0x01, ACPI_DEVFLAG_EXTINT = 0x02, ACPI_DEVFLAG_NMI = 0x04,
             ACPI_DEVFLAG_SYSMGT1 = 0x10, ACPI_DEVFLAG_SYSMGT2 = 0x20, ACPI_DEVFLAG_LINT0 = 0x40,
             ACPI_DEVFLAG_LINT1 = 0x80;
// IVHD_DEV_SPECIAL variety (byte 7).
constexpr u8 IVHD_SPECIAL_IOAPIC = 1, IVHD_SPECIAL_HPET = 2;
// IVMD types and flags (§5.2.3).
constexpr u8 IVMD_TYPE_ALL = 0x20, IVMD_TYPE_SELECT = 0x21, IVMD_TYPE_RANGE = 0x22;
constexpr u8 IVMD_FLAG_UNITY_MAP = 0x01, IVMD_FLAG_IR = 0x02, IVMD_FLAG_IW = 0x04, IVMD_FLAG_EXCL_RANGE = 0x08;
// The southbridge IO-APIC's requester ID Linux insists on (IOAPIC_SB_DEVID, 00:14.0).
constexpr u16 IOAPIC_SB_DEVID = 0x00a0;
} // namespace ivrs

// One IVHD device entry. `ext` holds bytes 4..7 of the 8-byte types: the alias requester ID in bits
// 23:8 (42h/43h), the extended DTE setting (46h/47h), handle | devid << 8 | variety << 24 (48h).
struct ivhd_entry {
    u8 type = 0;
    u16 devid = 0;
    u8 flags = 0;
    u32 ext = 0;

    static ivhd_entry all(u8 flags = 0) { return {ivrs::IVHD_DEV_ALL, 0, flags, 0}; }
    static ivhd_entry select(u16 devid, u8 flags = 0) { return {ivrs::IVHD_DEV_SELECT, devid, flags, 0}; }
    static ivhd_entry range_start(u16 devid, u8 flags = 0) {
        return {ivrs::IVHD_DEV_SELECT_RANGE_START, devid, flags, 0};
    }
    static ivhd_entry range_end(u16 devid) { return {ivrs::IVHD_DEV_RANGE_END, devid, 0, 0}; }
    static ivhd_entry alias(u16 devid, u16 to, u8 flags = 0) {
        return {ivrs::IVHD_DEV_ALIAS, devid, flags, u32(to) << 8};
    }
    static ivhd_entry alias_range_start(u16 devid, u16 to, u8 flags = 0) {
        return {ivrs::IVHD_DEV_ALIAS_RANGE, devid, flags, u32(to) << 8};
    }
    static ivhd_entry special(u8 variety, u8 handle, u16 devid, u8 flags = 0) {
        return {ivrs::IVHD_DEV_SPECIAL, 0, flags, u32(handle) | (u32(devid) << 8) | (u32(variety) << 24)};
    }
    u16 alias_to() const { return u16(ext >> 8); }
    u8 special_handle() const { return u8(ext); }
    u16 special_devid() const { return u16(ext >> 8); }
    u8 special_variety() const { return u8(ext >> 24); }
};

// An I/O Virtualization Hardware Definition block (type 10h, 11h or 40h): one IOMMU.
struct ivrs_ivhd {
    u8 type = 0x11;
    u8 flags = 0;
    u16 devid = 0;          // the IOMMU's own PCI function
    u16 cap_ptr = 0;        // offset of its IOMMU capability block in config space
    u64 mmio_phys = 0;      // IOMMU base address (MMIO registers)
    u16 pci_seg = 0;
    u16 info = 0;           // IOMMU info: MSI number [4:0], UnitID [12:8]
    u32 efr_attr = 0;       // 10h: IOMMU feature reporting; 11h/40h: IOMMU attributes
    u64 efr_reg = 0;        // 11h/40h: image of the Extended Feature Register
    u64 efr_reg2 = 0;       // 11h/40h: image of Extended Feature Register 2
    std::vector<ivhd_entry> entries;
};

// An I/O Virtualization Memory Definition block: unity-mapped or exclusion ranges.
struct ivrs_ivmd {
    u8 type = ivrs::IVMD_TYPE_ALL;
    u8 flags = 0;
    u16 devid = 0;          // SELECT: the device; RANGE: the first device
    u16 aux = 0;            // RANGE: the last device
    u16 pci_seg = 0;
    u64 range_start = 0;
    u64 range_length = 0;
};

// The whole table: IVinfo and the blocks in table order. No IVHD means no IVRS.
struct ivrs_table {
    u32 ivinfo = 0;
    std::vector<ivrs_ivhd> ivhds;
    std::vector<ivrs_ivmd> ivmds;
    bool present() const { return !ivhds.empty(); }
};

// A pseries PHB's DMA in the device tree: ibm,dma-window (the default window the hypervisor set up: bus
// offset, size, TCE page size) and what ibm,ddw-applicable lets the guest add (QEMU spapr-pci-host-bridge
// defaults: 1 GiB at 0 with 4 KiB TCEs; pgsz 4K|64K|2M|16M; two windows in all).
struct spapr_dma_window {
    u64 start = 0;
    u64 size = u64(1) << 30;
    unsigned page_shift = 12;
    u64 ddw_pgsizes = (u64(1) << 12) | (u64(1) << 16) | (u64(1) << 21) | (u64(1) << 24);
    u32 max_windows = 2;
};

// A powernv PHB as its device-tree node describes it (arch/powerpc/platforms/powernv/pci-ioda.c
// pnv_pci_init_ioda_phb): the OPAL id every opal_pci_* call names, the PE count (ibm,opal-num-pes), the
// reserved PE (ibm,opal-reserved-pe), the M32 window (ibm,opal-m32-window), the 32-bit DMA window below it
// (Linux takes its size from the M32 PCI base, 2 GiB on real PHBs whose PCI spaces are their own; here PCI
// and CPU addresses are one space, so firmware states the 2 GiB separately), the TCE page sizes
// (ibm,supported-tce-sizes) and the PHB3 register window (reg; 0 = none, TCE kills then go through
// opal_pci_tce_kill as on PHB4).
struct opal_phb_info {
    u64 opal_id = 0;
    bool phb4 = false;
    unsigned num_pes = 256;
    unsigned reserved_pe = 255;
    u64 m32_pci_base = 0x80000000, m32_size = 0x80000000;
    unsigned m32_segments = 256;
    u64 dma32_size = 0x80000000;
    u32 num_msi = 2048;   // ibm,opal-msi-ranges: the PHB's MSI interrupt sources
    // ibm,opal-m64-window (PCI address and size; 0 = none) and ibm,opal-available-m64-ranges (BARs 0..n-1).
    u64 m64_base = 0, m64_size = 0;
    unsigned m64_bars = 16;
    u64 tce_pgsizes = 0;
    u64 regs = 0;
};

struct firmware_info {
    std::vector<root_bus_info> root_buses; // in the order the firmware lists the host bridges
    firmware_iommu iommu = firmware_iommu::none;
    // The IOMMUs' own PCI functions, as the IVRS IVHD entries name them (AMD-Vi; VT-d units are not PCI
    // functions). The driver does not translate for them, so they get no group.
    std::vector<bdf> iommu_functions;
    std::vector<dmar_drhd> dmar; // DMAR DRHDs, in table order (empty when no VT-d unit is built)
    ivrs_table ivrs;             // ACPI IVRS (AMD-Vi platforms); no IVHD when firmware does not describe one
    // pseries ("spapr"): each PHB's DMA as the device tree describes it, in root_buses order.
    std::vector<spapr_dma_window> spapr_windows;
    // powernv ("opal"): each PHB, in root_buses order.
    std::vector<opal_phb_info> opal_phbs;
    // The end of system memory (the /memory nodes; memblock_end_of_DRAM): what powernv sizes its default
    // DMA window and bypass window by. 0 = not described.
    u64 memory_size = 0;
    // MADT I/O APIC ids. x86 machines have one, id 0; AMD-Vi's check_ioapic_information looks for each
    // of them among the IVRS special devices.
    std::vector<u8> ioapic_ids{0};
};

class pci_host_ops {
public:
    virtual ~pci_host_ops() = default;
    // A read no function answers returns all ones (master abort / Unsupported Request).
    virtual u32 config_read(u16 segment, u8 bus, u8 devfn, u16 reg, unsigned len) = 0;
    virtual void config_write(u16 segment, u8 bus, u8 devfn, u16 reg, unsigned len, u32 value) = 0;
    virtual u64 mmio_read(u64 addr, unsigned len) = 0;
    virtual void mmio_write(u64 addr, unsigned len, u64 value) = 0;
    // Ordinary (cacheable, coherent) accesses to system memory: the kernel's own data structures such as
    // IOMMU tables and queues. False when the range is not memory.
    virtual bool memory_read(u64 addr, void* data, u64 len) = 0;
    virtual bool memory_write(u64 addr, const void* data, u64 len) = 0;
    virtual firmware_info firmware() const = 0;
    // OPAL (powernv firmware): the PHB an opal_pci_* call names by its OPAL id, whose methods are those
    // calls (models/iommu/tce/phb.h); nullptr when firmware has no such PHB. Firmware runs as a C++ call.
    virtual tce::phb* opal_phb(u64 opal_id) {
        (void)opal_id;
        return nullptr;
    }
};

} // namespace iommusim::host

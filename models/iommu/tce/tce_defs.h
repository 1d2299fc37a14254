// Formats and numbers of the POWER PCI host bridge (IODA2 PHB3 / IODA3 PHB4) DMA path as firmware, Linux and
// the PAPR hypercall interface see them: the TCE (Translation Control Entry), the indirect entries of a
// multi-level TCE table, IOMMU page sizes, the TVE (Translation Validation Entry) that describes one DMA
// window, the window selection by PCI address bit 59, the MSI windows, the EEH state bits and PE states, and
// the hcall / RTAS return codes. Sources are named at each block (Linux arch/powerpc/include/asm/tce.h,
// iommu.h, eeh.h, uapi/asm/eeh.h, hvcall.h; arch/powerpc/platforms/powernv/pci-ioda.c, pci-ioda-tce.c;
// skiboot hw/phb3.c, hw/phb4.c; QEMU hw/pci-host/pnv_phb3.c). Entries are big-endian u64 words in memory,
// read through the accessors below, never bit-field structs.
#pragma once
#include "sim/core/types.h"

#include <optional>

namespace iommusim::tce {

// ---------------------------------------------------------------------------------------------------------
// TCE entry (asm/tce.h): bit 0 TCE_PCI_READ = the device may read memory (DMA to the device), bit 1
// TCE_PCI_WRITE = the device may write memory; the real page number sits above, at the table's IOMMU page
// size (the entry with the low page_shift bits cleared is the page's address). TCE_RPN_* describe the 4 KiB
// base encoding (40-bit RPN at bit 12).
constexpr u64 TCE_PCI_READ = 0x1;
constexpr u64 TCE_PCI_WRITE = 0x2;
constexpr u64 TCE_PERM_MASK = TCE_PCI_READ | TCE_PCI_WRITE;
constexpr unsigned TCE_RPN_SHIFT = 12;
constexpr u64 TCE_RPN_MASK = 0xfffffffffful; // 40 bits

// Linux enum dma_data_direction numbering (DMA_BIDIRECTIONAL 0, DMA_TO_DEVICE 1, DMA_FROM_DEVICE 2, DMA_NONE 3).
enum class dma_direction : u8 { bidirectional = 0, to_device = 1, from_device = 2, none = 3 };

// iommu_direction_to_tce_perm (asm/iommu.h): bidirectional -> R|W, to-device -> R, from-device -> W, else 0.
constexpr u64 direction_to_tce_perm(dma_direction d) {
    switch (d) {
    case dma_direction::bidirectional: return TCE_PCI_READ | TCE_PCI_WRITE;
    case dma_direction::to_device: return TCE_PCI_READ;
    case dma_direction::from_device: return TCE_PCI_WRITE;
    default: return 0;
    }
}
// iommu_tce_direction: both bits -> bidirectional, read only -> to-device, write only -> from-device,
// neither -> none (the entry is not mapped).
constexpr dma_direction tce_direction(u64 tce) {
    const bool r = tce & TCE_PCI_READ, w = tce & TCE_PCI_WRITE;
    return r && w ? dma_direction::bidirectional
           : r    ? dma_direction::to_device
           : w    ? dma_direction::from_device
                  : dma_direction::none;
}

struct tce_entry {
    u64 v = 0;

    bool read() const { return v & TCE_PCI_READ; }
    bool write() const { return v & TCE_PCI_WRITE; }
    bool valid() const { return v & TCE_PERM_MASK; } // R = W = 0: nothing mapped
    // The page address at an IOMMU page of 1 << page_shift bytes.
    u64 page(unsigned page_shift) const { return v & ~((u64(1) << page_shift) - 1); }
    // The entry with the permission bits stripped (what H_PUT_TCE checks for alignment, kvmppc_tce_validate).
    u64 address() const { return v & ~TCE_PERM_MASK; }

    // A leaf TCE: page address (aligned to the IOMMU page) with the permission bits. pnv_tce_build and
    // pnv_tce_xchg add READ whenever WRITE is set (a write-only mapping is still readable by the device).
    static tce_entry make(u64 page_addr, u64 perms) { return {page_addr | (perms & TCE_PERM_MASK)}; }
    static tce_entry make_linux(u64 page_addr, dma_direction d) {
        u64 p = direction_to_tce_perm(d);
        if (p & TCE_PCI_WRITE) p |= TCE_PCI_READ;
        return make(page_addr, p);
    }
};

// Indirect entries of a multi-level table (pnv_pci_ioda2_table_do_alloc_pages): the next level's physical
// address with both permission bits set. The PHB treats an indirect entry with neither bit as invalid and
// takes the next table's address from bits 63:12 (QEMU pnv_phb3_translate_tve).
constexpr u64 INDIRECT_ADDR_MASK = ~u64(0xfff);
constexpr u64 make_indirect(u64 next_table) { return (next_table & INDIRECT_ADDR_MASK) | TCE_PCI_READ | TCE_PCI_WRITE; }
constexpr bool indirect_valid(u64 raw) { return raw & TCE_PERM_MASK; }
constexpr u64 indirect_next(u64 raw) { return raw & INDIRECT_ADDR_MASK; }

// Big-endian byte order of every entry in memory.
u64 load_be64(const unsigned char* p);
void store_be64(unsigned char* p, u64 v);

// ---------------------------------------------------------------------------------------------------------
// IOMMU page sizes as a bitmap with bit n = a 2^n-byte page (Linux iommu_table_group::pgsizes, VFIO
// vfio_iommu_spapr_tce_ddw_info::pgsizes).
constexpr u64 PGSIZE_4K = u64(1) << 12;
constexpr u64 PGSIZE_64K = u64(1) << 16;
constexpr u64 PGSIZE_2M = u64(1) << 21;
constexpr u64 PGSIZE_16M = u64(1) << 24;
constexpr u64 PGSIZE_256M = u64(1) << 28;
constexpr u64 PGSIZE_1G = u64(1) << 30;
constexpr u64 PGSIZE_16G = u64(1) << 34;
// What the TVE's IO page size field can encode (skiboot phb3_map_pe_dma_window: 4K, 64K, 16M, 256M;
// phb4_map_pe_dma_window: 4K, 64K, 2M, 1G). pnv_ioda_parse_tce_sizes without "ibm,supported-tce-sizes":
// 4K|64K, plus 16M|256M on POWER8.
constexpr u64 PHB3_PGSIZES = PGSIZE_4K | PGSIZE_64K | PGSIZE_16M | PGSIZE_256M;
constexpr u64 PHB4_PGSIZES = PGSIZE_4K | PGSIZE_64K | PGSIZE_2M | PGSIZE_1G;
// QEMU sPAPR default `pgsz` of a pseries machine (hw/ppc/spapr_pci.c, reference anchors §1.3).
constexpr u64 SPAPR_DEFAULT_PGSIZES = PGSIZE_4K | PGSIZE_64K | PGSIZE_2M | PGSIZE_16M;

// The PAPR ibm,query-pe-dma-window page-size mask (Linux pseries/iommu.c QUERY_DDW_PGSIZE_*).
constexpr u32 QUERY_DDW_PGSIZE_4K = 0x01;
constexpr u32 QUERY_DDW_PGSIZE_64K = 0x02;
constexpr u32 QUERY_DDW_PGSIZE_16M = 0x04;
constexpr u32 QUERY_DDW_PGSIZE_32M = 0x08;
constexpr u32 QUERY_DDW_PGSIZE_64M = 0x10;
constexpr u32 QUERY_DDW_PGSIZE_128M = 0x20;
constexpr u32 QUERY_DDW_PGSIZE_256M = 0x40;
constexpr u32 QUERY_DDW_PGSIZE_16G = 0x80;
// Converts a pgsizes bitmap to the RTAS query mask (sizes the mask cannot name are dropped) and back.
u32 pgsizes_to_ddw_mask(u64 pgsizes);
u64 ddw_mask_to_pgsizes(u32 mask);
// The largest page size in `pgsizes` not above 1 << max_shift; 0 if none.
unsigned largest_page_shift(u64 pgsizes, unsigned max_shift = 63);

// ---------------------------------------------------------------------------------------------------------
// DMA windows. Each PE has two TVEs (Translation Validation Entries); PCI address bit 59 selects which
// (pnv_pci_ioda2_setup_dma_pe: "TVE #1 is selected by PCI address bit 59", tce_bypass_base = 1 << 59;
// skiboot phb3/phb4_map_pe_dma_window: window_id >> 1 == PE#, "2 TVE per PE" mode; QEMU
// pnv_phb3_translate_iommu: tve = TVT[pe * 2 + ((addr >> 59) & 1)] for addr >> 60 == 0).
constexpr unsigned TVE_SELECT_BIT = 59;
constexpr u64 DMA32_WINDOW_BASE = 0;                   // window 0 (tce32_start)
constexpr u64 DMA64_WINDOW_BASE = u64(1) << TVE_SELECT_BIT; // window 1 (tce64_start / tce_bypass_base)
constexpr unsigned MAX_WINDOWS = 2;                    // IOMMU_TABLE_GROUP_MAX_TABLES
constexpr unsigned MAX_LEVELS = 5;                     // POWERNV_IOMMU_MAX_LEVELS; TVE NUM_LEVELS 0..4
// The TVE a DMA address uses, or nothing when bits 63:60 are not zero (MSI or unsupported space).
std::optional<unsigned> tve_index(unsigned pe, u64 pci_addr);
constexpr unsigned window_of(u64 pci_addr) { return unsigned((pci_addr >> TVE_SELECT_BIT) & 1); }

// IODA2 TVT entry (skiboot/QEMU pnv_phb3_regs.h, IBM bit numbering, bit 0 = MSB): TABLE_ADDR 0:47
// (address >> 12), NUM_LEVELS 48:50 (levels - 1), TCE_TABLE_SIZE 51:55 (log2(bytes of one level) - 11),
// IO_PSIZE 59:63 (page_shift - 11; 0 = no translation). In LSB-0 bit numbers below.
struct tve {
    u64 v = 0;

    u64 table_addr() const { return (v >> 16) << 12; }          // TABLE_ADDR  IBM 0:47  = 63:16
    unsigned levels() const { return unsigned((v >> 13) & 7) + 1; } // NUM_LEVELS IBM 48:50 = 15:13
    unsigned tts() const { return unsigned((v >> 8) & 0x1f); }  // TCE_TABLE_SIZE IBM 51:55 = 12:8
    unsigned io_psize() const { return unsigned(v & 0x1f); }    // IO_PSIZE IBM 59:63 = 4:0
    bool enabled() const { return tts() != 0 && io_psize() != 0; }
    unsigned page_shift() const { return io_psize() + 11; }     // QEMU: tce_shift = tps + 11
    unsigned level_entries_shift() const { return tts() + 8; }  // QEMU: tbl_shift = tts + 8

    // skiboot phb3/phb4_map_pe_dma_window encoding from OPAL's arguments (level_bytes = bytes of one level,
    // a power of two >= 4 KiB). nullopt for what OPAL rejects with OPAL_PARAMETER (levels outside 1..5,
    // size not a power of two, below 4 KiB or encoding above 31, page shift not encodable).
    static std::optional<tve> make(u64 table_addr, unsigned levels, u64 level_bytes, unsigned page_shift);
};

// MSI windows of the PHB's DMA space (QEMU pnv_phb3_update_msi_regions; skiboot phb4_get_msi_32/64): 32-bit
// MSIs at 0xFFFF0000 (64 KiB), 64-bit MSIs at 1 << 60 (1 MiB). Firmware hands out address = window |
// ((ive << 4) & ~0x1f0) and data = ive & 0x1f; the PHB recovers the interrupt source number as
// ((offset >> 4) & 0xffff) | (data & 0x1f), offset = the address within its MSI window (pnv_phb3_msi_send).
constexpr u64 MSI32_BASE = 0xffff0000;
constexpr u64 MSI32_SIZE = 0x10000;
constexpr u64 MSI64_BASE = u64(1) << 60;
constexpr u64 MSI64_SIZE = 0x100000;
bool is_msi_address(u64 pci_addr);
// The interrupt source of an MSI write at an address inside an MSI window.
u32 msi_source(u64 pci_addr, u32 data);
// The address and data firmware gives a device for interrupt source `ive` (skiboot phb4_get_msi_32/_64).
constexpr u64 msi_address(u32 ive, bool msi64) { return (msi64 ? MSI64_BASE : MSI32_BASE) | ((u64(ive) << 4) & ~u64(0x1f0)); }
constexpr u32 msi_data(u32 ive) { return ive & 0x1f; }

// ---------------------------------------------------------------------------------------------------------
// Why a DMA translation failed, as xlate_fault::reason of this model (the freeze reason EEH records).
enum class tce_fault : u32 {
    none = 0,
    out_of_window = 1,     // the address is beyond the window (or in a disabled TVE)
    tce_invalid = 2,       // leaf TCE with R = W = 0
    read_denied = 3,       // DMA read through a TCE without TCE_PCI_READ
    write_denied = 4,      // DMA write through a TCE without TCE_PCI_WRITE
    indirect_invalid = 5,  // an indirect entry of a multi-level table with R = W = 0
    table_read_error = 6,  // reading an entry failed (TCE fetch error)
    no_translation = 7,    // address outside both DMA windows (bits 63:60 set and not an MSI)
    rid_unassigned = 8,    // requester ID not mapped to a configured PE
};
const char* to_string(tce_fault f);

// ---------------------------------------------------------------------------------------------------------
// EEH (arch/powerpc/include/asm/eeh.h, uapi/asm/eeh.h). State bits the platform's get_state returns:
constexpr int EEH_STATE_UNAVAILABLE = 1 << 0;
constexpr int EEH_STATE_NOT_SUPPORT = 1 << 1;
constexpr int EEH_STATE_RESET_ACTIVE = 1 << 2;
constexpr int EEH_STATE_MMIO_ACTIVE = 1 << 3;
constexpr int EEH_STATE_DMA_ACTIVE = 1 << 4;
constexpr int EEH_STATE_MMIO_ENABLED = 1 << 5;
constexpr int EEH_STATE_DMA_ENABLED = 1 << 6;
// eeh_ops->set_option options (and RTAS ibm,set-eeh-option functions 0..3).
constexpr int EEH_OPT_DISABLE = 0;
constexpr int EEH_OPT_ENABLE = 1;
constexpr int EEH_OPT_THAW_MMIO = 2;
constexpr int EEH_OPT_THAW_DMA = 3;
constexpr int EEH_OPT_FREEZE_PE = 4;
// eeh_ops->reset options (RTAS ibm,set-slot-reset functions).
constexpr int EEH_RESET_DEACTIVATE = 0;
constexpr int EEH_RESET_HOT = 1;
constexpr int EEH_RESET_FUNDAMENTAL = 3;
// PE states eeh_pe_get_state returns (uapi EEH_PE_STATE_*; the same numbers as RTAS
// ibm,read-slot-reset-state2 and VFIO_EEH_PE_STATE_*).
constexpr int EEH_PE_STATE_NORMAL = 0;
constexpr int EEH_PE_STATE_RESET = 1;
constexpr int EEH_PE_STATE_STOPPED_IO_DMA = 2;
constexpr int EEH_PE_STATE_STOPPED_DMA = 4;
constexpr int EEH_PE_STATE_UNAVAIL = 5;
// eeh_pe_get_state (arch/powerpc/kernel/eeh.c): reset active -> RESET; DMA and MMIO enabled -> NORMAL;
// neither -> STOPPED_IO_DMA; MMIO only -> STOPPED_DMA; DMA only -> UNAVAIL.
int eeh_pe_state_from_bits(int state_bits);
// Error injection (uapi/asm/eeh.h): types and functions as VFIO_EEH_PE_INJECT_ERR passes them.
constexpr int EEH_ERR_TYPE_32 = 0;
constexpr int EEH_ERR_TYPE_64 = 1;
enum eeh_err_func : int {
    EEH_ERR_FUNC_LD_MEM_ADDR = 0, EEH_ERR_FUNC_LD_MEM_DATA = 1,   // memory load
    EEH_ERR_FUNC_LD_IO_ADDR = 2, EEH_ERR_FUNC_LD_IO_DATA = 3,     // I/O load
    EEH_ERR_FUNC_LD_CFG_ADDR = 4, EEH_ERR_FUNC_LD_CFG_DATA = 5,   // config load
    EEH_ERR_FUNC_ST_MEM_ADDR = 6, EEH_ERR_FUNC_ST_MEM_DATA = 7,   // memory store
    EEH_ERR_FUNC_ST_IO_ADDR = 8, EEH_ERR_FUNC_ST_IO_DATA = 9,     // I/O store
    EEH_ERR_FUNC_ST_CFG_ADDR = 10, EEH_ERR_FUNC_ST_CFG_DATA = 11, // config store
    EEH_ERR_FUNC_DMA_RD_ADDR = 12, EEH_ERR_FUNC_DMA_RD_DATA = 13, // DMA read
    EEH_ERR_FUNC_DMA_RD_MASTER = 14, EEH_ERR_FUNC_DMA_RD_TARGET = 15,
    EEH_ERR_FUNC_DMA_WR_ADDR = 16, EEH_ERR_FUNC_DMA_WR_DATA = 17, // DMA write
    EEH_ERR_FUNC_DMA_WR_MASTER = 18, EEH_ERR_FUNC_DMA_WR_TARGET = 19,
};
constexpr int EEH_ERR_FUNC_MIN = 0;
constexpr int EEH_ERR_FUNC_MAX = 19;
// What one read of a frozen PE's MMIO returns (EEH_IO_ERROR_VALUE): all ones of the access size.
constexpr u64 eeh_io_error_value(unsigned size) { return size >= 8 ? ~u64(0) : (u64(1) << (8 * size)) - 1; }

// VFIO_EEH_PE_OP operations (include/uapi/linux/vfio.h), for the layers above; the states are EEH_PE_STATE_*.
enum vfio_eeh_pe_op : u32 {
    VFIO_EEH_PE_DISABLE = 0, VFIO_EEH_PE_ENABLE = 1, VFIO_EEH_PE_UNFREEZE_IO = 2, VFIO_EEH_PE_UNFREEZE_DMA = 3,
    VFIO_EEH_PE_GET_STATE = 4, VFIO_EEH_PE_RESET_DEACTIVATE = 5, VFIO_EEH_PE_RESET_HOT = 6,
    VFIO_EEH_PE_RESET_FUNDAMENTAL = 7, VFIO_EEH_PE_CONFIGURE = 8, VFIO_EEH_PE_INJECT_ERR = 9,
};
constexpr int VFIO_EEH_PE_STATE_NORMAL = EEH_PE_STATE_NORMAL;
constexpr int VFIO_EEH_PE_STATE_RESET = EEH_PE_STATE_RESET;
constexpr int VFIO_EEH_PE_STATE_STOPPED = EEH_PE_STATE_STOPPED_IO_DMA;
constexpr int VFIO_EEH_PE_STATE_STOPPED_DMA = EEH_PE_STATE_STOPPED_DMA;
constexpr int VFIO_EEH_PE_STATE_UNAVAIL = EEH_PE_STATE_UNAVAIL;

// ---------------------------------------------------------------------------------------------------------
// Hypercalls (arch/powerpc/include/asm/hvcall.h, PAPR): opcodes and return codes.
constexpr u32 H_GET_TCE = 0x1c;
constexpr u32 H_PUT_TCE = 0x20;
constexpr u32 H_STUFF_TCE = 0x138;
constexpr u32 H_PUT_TCE_INDIRECT = 0x13c;
constexpr long H_SUCCESS = 0;
constexpr long H_BUSY = 1;
constexpr long H_CLOSED = 2;
constexpr long H_NOT_AVAILABLE = 3;
constexpr long H_CONSTRAINED = 4;
constexpr long H_PARTIAL = 5;
constexpr long H_TOO_HARD = 9999; // kernel-internal: punt the hcall to userspace (never seen by a guest)
constexpr long H_HARDWARE = -1;
constexpr long H_FUNCTION = -2;
constexpr long H_PRIVILEGE = -3;
constexpr long H_PARAMETER = -4;
constexpr long H_BAD_MODE = -5;
constexpr long H_NOT_FOUND = -7;
constexpr long H_NO_MEM = -9;
constexpr long H_AUTHORITY = -10;
constexpr long H_PERMISSION = -11;
constexpr long H_RESOURCE = -16;
// H_PUT_TCE_INDIRECT: a 4 KiB-aligned list of at most 512 big-endian TCEs (kvmppc_h_put_tce_indirect).
constexpr unsigned H_PUT_TCE_INDIRECT_MAX = 512;

// RTAS return codes (QEMU include/hw/ppc/spapr.h RTAS_OUT_*, PAPR).
constexpr int RTAS_OUT_SUCCESS = 0;
constexpr int RTAS_OUT_NO_ERRORS_FOUND = 1;
constexpr int RTAS_OUT_HW_ERROR = -1;
constexpr int RTAS_OUT_BUSY = -2;
constexpr int RTAS_OUT_PARAM_ERROR = -3;
constexpr int RTAS_OUT_NOT_AUTHORIZED = -9002;

// ---------------------------------------------------------------------------------------------------------
// OPAL's requester-ID compare for opal_pci_set_pe (arch/powerpc/include/asm/opal-api.h): how many bits of
// the bus number must match (a bus range of 1, 2, 4, ... 32 buses, or any bus), and whether the device and
// function numbers take part. pnv_ioda_configure_pe picks BusAll + compare device + compare function for a
// device PE and Bus{All,7..3}Bits + ignore device/function for a bus PE of 1..32 buses.
enum class bus_compare : u8 {
    any = 0,        // OpalPciBusAny: bus number ignored
    reserved = 1,   // OpalPciBusReserved
    bits3 = 2,      // OpalPciBus3Bits: bus[7:5] compared (32 buses)
    bits4 = 3,      // OpalPciBus4Bits (16 buses)
    bits5 = 4,      // OpalPciBus5Bits (8 buses)
    bits6 = 5,      // OpalPciBus6Bits (4 buses)
    bits7 = 6,      // OpalPciBus7Bits (2 buses)
    all = 7,        // OpalPciBusAll: the whole bus number compared
};
constexpr bool OPAL_COMPARE_RID_DEVICE_NUMBER = true; // OPAL_IGNORE_RID_DEVICE_NUMBER = false
constexpr bool OPAL_COMPARE_RID_FUNCTION_NUMBER = true;
// The bus_compare pnv_ioda_configure_pe uses for a bus PE spanning `count` buses (nothing if unsupported:
// Linux then compares the whole bus number).
std::optional<bus_compare> bus_compare_for_count(unsigned count);
// Mask of the bus-number bits a compare mode checks (0xff for all, 0 for any).
u8 bus_compare_mask(bus_compare c);

} // namespace iommusim::tce

// The OPAL firmware interface of a PHB as Linux powernv calls it (arch/powerpc/include/asm/opal-api.h;
// skiboot hw/phb3.c, hw/phb4.c): return codes and the argument enumerations of opal_pci_set_pe,
// opal_pci_map_pe_dma_window(_real), opal_pci_tce_kill, opal_pci_set_phb_mem_window,
// opal_pci_phb_mmio_enable, opal_pci_map_pe_mmio_window, opal_pci_eeh_freeze_status/_clear/_set,
// opal_pci_reset and opal_pci_err_inject. Numbers only; the operations are phb's.
#pragma once
#include "sim/core/types.h"

namespace iommusim::tce {

// OPAL return codes (opal-api.h).
constexpr i64 OPAL_SUCCESS = 0;
constexpr i64 OPAL_PARAMETER = -1;
constexpr i64 OPAL_BUSY = -2;
constexpr i64 OPAL_PARTIAL = -3;
constexpr i64 OPAL_CONSTRAINED = -4;
constexpr i64 OPAL_CLOSED = -5;
constexpr i64 OPAL_HARDWARE = -6;
constexpr i64 OPAL_UNSUPPORTED = -7;
constexpr i64 OPAL_PERMISSION = -8;
constexpr i64 OPAL_NO_MEM = -9;
constexpr i64 OPAL_RESOURCE = -10;
constexpr i64 OPAL_INTERNAL_ERROR = -11;
constexpr i64 OPAL_BUSY_EVENT = -12;
constexpr i64 OPAL_HARDWARE_FROZEN = -13;
constexpr i64 OPAL_WRONG_STATE = -14;

// opal_pci_set_pe action (OpalPeAction).
constexpr int OPAL_UNMAP_PE = 0;
constexpr int OPAL_MAP_PE = 1;

// opal_pci_set_peltv state (OpalPeltvAction).
constexpr u8 OPAL_REMOVE_PE_FROM_DOMAIN = 0;
constexpr u8 OPAL_ADD_PE_TO_DOMAIN = 1;

// opal_pci_tce_kill kill_type (the unnamed enum after OPAL_REBOOT_*).
constexpr int OPAL_PCI_TCE_KILL_PAGES = 0;
constexpr int OPAL_PCI_TCE_KILL_PE = 1;
constexpr int OPAL_PCI_TCE_KILL_ALL = 2;

// OpalMmioWindowType and OpalM64Action.
constexpr int OPAL_M32_WINDOW_TYPE = 1;
constexpr int OPAL_M64_WINDOW_TYPE = 2;
constexpr int OPAL_IO_WINDOW_TYPE = 3;
constexpr int OPAL_DISABLE_M64 = 0;
constexpr int OPAL_ENABLE_M64_SPLIT = 1;
constexpr int OPAL_ENABLE_M64_NON_SPLIT = 2;

// OpalFreezeState (what opal_pci_eeh_freeze_status reports).
constexpr u8 OPAL_EEH_STOPPED_NOT_FROZEN = 0;
constexpr u8 OPAL_EEH_STOPPED_MMIO_FREEZE = 1;
constexpr u8 OPAL_EEH_STOPPED_DMA_FREEZE = 2;
constexpr u8 OPAL_EEH_STOPPED_MMIO_DMA_FREEZE = 3;
constexpr u8 OPAL_EEH_STOPPED_RESET = 4;
constexpr u8 OPAL_EEH_STOPPED_TEMP_UNAVAIL = 5;
constexpr u8 OPAL_EEH_STOPPED_PERM_UNAVAIL = 6;
// OpalEehFreezeActionToken: clear (opal_pci_eeh_freeze_clear) and set (opal_pci_eeh_freeze_set) share values.
constexpr int OPAL_EEH_ACTION_CLEAR_FREEZE_MMIO = 1;
constexpr int OPAL_EEH_ACTION_CLEAR_FREEZE_DMA = 2;
constexpr int OPAL_EEH_ACTION_CLEAR_FREEZE_ALL = 3;
constexpr int OPAL_EEH_ACTION_SET_FREEZE_MMIO = 1;
constexpr int OPAL_EEH_ACTION_SET_FREEZE_DMA = 2;
constexpr int OPAL_EEH_ACTION_SET_FREEZE_ALL = 3;
// OpalPciStatusToken (pci_error_type) and OpalPciErrorSeverity.
constexpr u16 OPAL_EEH_NO_ERROR = 0;
constexpr u16 OPAL_EEH_IOC_ERROR = 1;
constexpr u16 OPAL_EEH_PHB_ERROR = 2;
constexpr u16 OPAL_EEH_PE_ERROR = 3;
constexpr u16 OPAL_EEH_PE_MMIO_ERROR = 4;
constexpr u16 OPAL_EEH_PE_DMA_ERROR = 5;
constexpr u16 OPAL_EEH_SEV_NO_ERROR = 0;
constexpr u16 OPAL_EEH_SEV_IOC_DEAD = 1;
constexpr u16 OPAL_EEH_SEV_PHB_DEAD = 2;
constexpr u16 OPAL_EEH_SEV_PHB_FENCED = 3;
constexpr u16 OPAL_EEH_SEV_PE_ER = 4;
constexpr u16 OPAL_EEH_SEV_INF = 5;

// OpalPciResetScope and OpalPciResetState.
constexpr int OPAL_RESET_PHB_COMPLETE = 1;
constexpr int OPAL_RESET_PCI_LINK = 2;
constexpr int OPAL_RESET_PHB_ERROR = 3;
constexpr int OPAL_RESET_PCI_HOT = 4;
constexpr int OPAL_RESET_PCI_FUNDAMENTAL = 5;
constexpr int OPAL_RESET_PCI_IODA_TABLE = 6;
constexpr int OPAL_DEASSERT_RESET = 0;
constexpr int OPAL_ASSERT_RESET = 1;

// OpalErrinjectType (the functions are EEH_ERR_FUNC_*, the same numbers as OpalErrinjectFunc).
constexpr int OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR = 0;
constexpr int OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR64 = 1;

// skiboot phb3_map_pe_dma_window_real: bypass windows are 16 MiB aligned and end at or below 2^50.
constexpr u64 BYPASS_ALIGN = 0x1000000;
constexpr u64 BYPASS_LIMIT = 0x0004000000000000ull;
// M64 BAR alignment of opal_pci_set_phb_mem_window on PHB3: 32 MiB single-PE, 1 MiB split.
constexpr u64 M64_SINGLE_ALIGN = 0x2000000;
constexpr u64 M64_SPLIT_ALIGN = 0x100000;

// The PHB3 TCE Kill register (Linux pnv_ioda_get_inval_reg: PHB registers + 0x210; written big-endian):
// IBM bit 0 kills everything, bit 1 every TCE of the PE in bits 7:0 (LSB-0), bit 2 the TCE of that PE
// at the DMA address in the remaining bits (pnv_pci_phb3_tce_invalidate / _invalidate_pe / _entire).
constexpr u64 PHB_TCE_KILL = 0x210;
constexpr u64 PHB3_TCE_KILL_INVAL_ALL = u64(1) << 63;
constexpr u64 PHB3_TCE_KILL_INVAL_PE = u64(1) << 62;
constexpr u64 PHB3_TCE_KILL_INVAL_ONE = u64(1) << 61;
constexpr u64 PHB3_TCE_KILL_PE_MASK = 0xff;
constexpr u64 PHB_REGS_SIZE = 0x1000; // QEMU "phb3-regs"
constexpr u64 PHB_REGS_STRIDE = 0x100000; // the platform's spacing of PHB register windows (1 MiB)

} // namespace iommusim::tce

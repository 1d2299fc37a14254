// PCI / PCI Express configuration-space register offsets and fields.
// Names and values follow the PCI Local Bus Spec 3.0, the PCI-to-PCI Bridge Spec 1.2, the PCI Express
// Base Spec (rev 4.0/5.0, chapter 7) and Linux's include/uapi/linux/pci_regs.h, which uses the same names.
#pragma once
#include "sim/core/types.h"

namespace iommusim::pci {

// Type 0/1 common header (PCI 3.0 §6.1)
constexpr u16 PCI_VENDOR_ID = 0x00;
constexpr u16 PCI_DEVICE_ID = 0x02;
constexpr u16 PCI_COMMAND = 0x04;
constexpr u16 PCI_COMMAND_IO = 0x0001;
constexpr u16 PCI_COMMAND_MEMORY = 0x0002;
constexpr u16 PCI_COMMAND_MASTER = 0x0004;
constexpr u16 PCI_COMMAND_PARITY = 0x0040;
constexpr u16 PCI_COMMAND_SERR = 0x0100;
constexpr u16 PCI_COMMAND_INTX_DISABLE = 0x0400;
constexpr u16 PCI_STATUS = 0x06;
constexpr u16 PCI_STATUS_INTERRUPT = 0x0008;
constexpr u16 PCI_STATUS_CAP_LIST = 0x0010;
constexpr u16 PCI_STATUS_66MHZ = 0x0020;
constexpr u16 PCI_STATUS_FAST_BACK = 0x0080;
constexpr u16 PCI_STATUS_PARITY = 0x0100;         // master data parity error, RW1C
constexpr u16 PCI_STATUS_SIG_TARGET_ABORT = 0x0800;
constexpr u16 PCI_STATUS_REC_TARGET_ABORT = 0x1000;
constexpr u16 PCI_STATUS_REC_MASTER_ABORT = 0x2000;
constexpr u16 PCI_STATUS_SIG_SYSTEM_ERROR = 0x4000;
constexpr u16 PCI_STATUS_DETECTED_PARITY = 0x8000;
constexpr u16 PCI_STATUS_W1C = 0xf900;             // bits 15:11 and 8 are RW1C
constexpr u16 PCI_CLASS_REVISION = 0x08;           // revision in byte 0x08, class code in 0x09..0x0b
constexpr u16 PCI_REVISION_ID = 0x08;
constexpr u16 PCI_CLASS_PROG = 0x09;
constexpr u16 PCI_CLASS_DEVICE = 0x0a;
constexpr u16 PCI_CACHE_LINE_SIZE = 0x0c;
constexpr u16 PCI_LATENCY_TIMER = 0x0d;
constexpr u16 PCI_HEADER_TYPE = 0x0e;
constexpr u8 PCI_HEADER_TYPE_MASK = 0x7f;
constexpr u8 PCI_HEADER_TYPE_NORMAL = 0;
constexpr u8 PCI_HEADER_TYPE_BRIDGE = 1;
constexpr u8 PCI_HEADER_TYPE_CARDBUS = 2;
constexpr u8 PCI_HEADER_TYPE_MFD = 0x80;           // multi-function device bit
constexpr u16 PCI_BIST = 0x0f;
constexpr u16 PCI_BASE_ADDRESS_0 = 0x10;
constexpr u32 PCI_BASE_ADDRESS_SPACE_IO = 0x01;
constexpr u32 PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x04;
constexpr u32 PCI_BASE_ADDRESS_MEM_PREFETCH = 0x08;
constexpr u16 PCI_CAPABILITY_LIST = 0x34;
constexpr u16 PCI_INTERRUPT_LINE = 0x3c;
constexpr u16 PCI_INTERRUPT_PIN = 0x3d;

// Type 0 only
constexpr u16 PCI_CARDBUS_CIS = 0x28;
constexpr u16 PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
constexpr u16 PCI_SUBSYSTEM_ID = 0x2e;
constexpr u16 PCI_ROM_ADDRESS = 0x30;

// Type 1 (PCI-to-PCI Bridge Spec 1.2 §3.2)
constexpr u16 PCI_PRIMARY_BUS = 0x18;
constexpr u16 PCI_SECONDARY_BUS = 0x19;
constexpr u16 PCI_SUBORDINATE_BUS = 0x1a;
constexpr u16 PCI_SEC_LATENCY_TIMER = 0x1b;
constexpr u16 PCI_IO_BASE = 0x1c;
constexpr u16 PCI_IO_LIMIT = 0x1d;
constexpr u16 PCI_SEC_STATUS = 0x1e;
constexpr u16 PCI_MEMORY_BASE = 0x20;
constexpr u16 PCI_MEMORY_LIMIT = 0x22;
constexpr u16 PCI_PREF_MEMORY_BASE = 0x24;
constexpr u16 PCI_PREF_MEMORY_LIMIT = 0x26;
constexpr u16 PCI_PREF_BASE_UPPER32 = 0x28;
constexpr u16 PCI_PREF_LIMIT_UPPER32 = 0x2c;
constexpr u16 PCI_IO_BASE_UPPER16 = 0x30;
constexpr u16 PCI_IO_LIMIT_UPPER16 = 0x32;
constexpr u16 PCI_ROM_ADDRESS1 = 0x38;
constexpr u16 PCI_BRIDGE_CONTROL = 0x3e;
constexpr u16 PCI_BRIDGE_CTL_BUS_RESET = 0x40;

// Capability IDs (PCI Code and ID Assignment Spec §2)
constexpr u8 PCI_CAP_ID_PM = 0x01;
constexpr u8 PCI_CAP_ID_MSI = 0x05;
constexpr u8 PCI_CAP_ID_VNDR = 0x09;
constexpr u8 PCI_CAP_ID_SSVID = 0x0d;              // bridge subsystem vendor ID
constexpr u8 PCI_CAP_ID_EXP = 0x10;
constexpr u8 PCI_CAP_ID_MSIX = 0x11;
constexpr u8 PCI_CAP_ID_AF = 0x13;
constexpr u16 PCI_CAP_LIST_ID = 0;
constexpr u16 PCI_CAP_LIST_NEXT = 1;

// Power management (PCI PM 1.2 §3.2)
constexpr u16 PCI_PM_PMC = 2;
constexpr u16 PCI_PM_CTRL = 4;
constexpr u16 PCI_PM_CTRL_STATE_MASK = 0x0003;
constexpr u16 PCI_PM_CTRL_PME_ENABLE = 0x0100;
constexpr u16 PCI_PM_CTRL_PME_STATUS = 0x8000;     // RW1C
constexpr u16 PCI_PM_SIZEOF = 8;

// MSI (PCI 3.0 §6.8.1)
constexpr u16 PCI_MSI_FLAGS = 2;
constexpr u16 PCI_MSI_FLAGS_ENABLE = 0x0001;
constexpr u16 PCI_MSI_FLAGS_QMASK = 0x000e;        // multiple message capable
constexpr u16 PCI_MSI_FLAGS_QSIZE = 0x0070;        // multiple message enable
constexpr u16 PCI_MSI_FLAGS_64BIT = 0x0080;
constexpr u16 PCI_MSI_FLAGS_MASKBIT = 0x0100;
constexpr u16 PCI_MSI_ADDRESS_LO = 4;
constexpr u16 PCI_MSI_ADDRESS_HI = 8;
constexpr u16 PCI_MSI_DATA_32 = 8;
constexpr u16 PCI_MSI_DATA_64 = 12;
constexpr u16 PCI_MSI_MASK_32 = 12;
constexpr u16 PCI_MSI_MASK_64 = 16;

// MSI-X (PCI 3.0 §6.8.2)
constexpr u16 PCI_MSIX_FLAGS = 2;
constexpr u16 PCI_MSIX_FLAGS_QSIZE = 0x07ff;       // table size - 1
constexpr u16 PCI_MSIX_FLAGS_MASKALL = 0x4000;
constexpr u16 PCI_MSIX_FLAGS_ENABLE = 0x8000;
constexpr u16 PCI_MSIX_TABLE = 4;                  // BIR in bits 2:0, offset in 31:3
constexpr u16 PCI_MSIX_PBA = 8;
constexpr u16 PCI_CAP_MSIX_SIZEOF = 12;

// PCI Express capability (PCIe Base §7.5.3)
constexpr u16 PCI_EXP_FLAGS = 2;
constexpr u16 PCI_EXP_FLAGS_VERS = 0x000f;
constexpr u16 PCI_EXP_FLAGS_TYPE = 0x00f0;
constexpr u16 PCI_EXP_FLAGS_SLOT = 0x0100;
constexpr u16 PCI_EXP_DEVCAP = 4;
constexpr u16 PCI_EXP_DEVCTL = 8;
constexpr u16 PCI_EXP_DEVSTA = 10;
constexpr u16 PCI_EXP_DEVSTA_W1C = 0x000f;         // CED, NFED, FED, URD
constexpr u16 PCI_EXP_LNKCAP = 12;
constexpr u16 PCI_EXP_LNKCTL = 16;
constexpr u16 PCI_EXP_LNKSTA = 18;
constexpr u16 PCI_EXP_SLTCAP = 20;
constexpr u16 PCI_EXP_SLTCTL = 24;
constexpr u16 PCI_EXP_SLTSTA = 26;
constexpr u16 PCI_EXP_RTCTL = 28;
constexpr u16 PCI_EXP_DEVCAP2 = 36;
constexpr u16 PCI_EXP_DEVCTL2 = 40;
constexpr u16 PCI_CAP_EXP_ENDPOINT_SIZEOF_V2 = 44;
constexpr u16 PCI_CAP_EXP_RC_ENDPOINT_SIZEOF_V2 = 44;
constexpr u16 PCI_EXP_SIZEOF_V2 = 60;

// Device/Port Type, PCI_EXP_FLAGS_TYPE >> 4 (PCIe Base §7.5.3.2)
enum pcie_type : u8 {
    PCI_EXP_TYPE_ENDPOINT = 0x0,
    PCI_EXP_TYPE_LEG_END = 0x1,
    PCI_EXP_TYPE_ROOT_PORT = 0x4,
    PCI_EXP_TYPE_UPSTREAM = 0x5,
    PCI_EXP_TYPE_DOWNSTREAM = 0x6,
    PCI_EXP_TYPE_PCI_BRIDGE = 0x7,                 // PCIe-to-PCI/PCI-X bridge
    PCI_EXP_TYPE_PCIE_BRIDGE = 0x8,                // PCI/PCI-X-to-PCIe ("reverse") bridge
    PCI_EXP_TYPE_RC_END = 0x9,                     // root complex integrated endpoint
    PCI_EXP_TYPE_RC_EC = 0xa,                      // root complex event collector
};

// Extended capabilities (PCIe Base §7.6), at 0x100 and up
constexpr u16 PCI_CFG_SPACE_SIZE = 256;
constexpr u16 PCI_CFG_SPACE_EXP_SIZE = 4096;
constexpr u16 PCI_EXT_CAP_ID_ERR = 0x01;
constexpr u16 PCI_EXT_CAP_ID_VC = 0x02;
constexpr u16 PCI_EXT_CAP_ID_DSN = 0x03;
constexpr u16 PCI_EXT_CAP_ID_VNDR = 0x0b;
constexpr u16 PCI_EXT_CAP_ID_ACS = 0x0d;
constexpr u16 PCI_EXT_CAP_ID_ARI = 0x0e;
constexpr u16 PCI_EXT_CAP_ID_ATS = 0x0f;
constexpr u16 PCI_EXT_CAP_ID_SRIOV = 0x10;
constexpr u16 PCI_EXT_CAP_ID_PRI = 0x13;
constexpr u16 PCI_EXT_CAP_ID_PASID = 0x1b;
constexpr u32 pci_ext_cap_header(u16 id, u8 ver, u16 next) { return u32(id) | u32(ver & 0xf) << 16 | u32(next & 0xffc) << 20; }
constexpr u16 PCI_EXT_CAP_ID(u32 header) { return u16(header & 0xffff); }
constexpr u16 PCI_EXT_CAP_NEXT(u32 header) { return u16((header >> 20) & 0xffc); }

// ACS (PCIe Base §7.7.8)
constexpr u16 PCI_ACS_CAP = 0x04;
constexpr u16 PCI_ACS_CTRL = 0x06;
constexpr u16 PCI_ACS_EGRESS_CTL_V = 0x08;
constexpr u16 PCI_ACS_SV = 0x0001;                 // source validation
constexpr u16 PCI_ACS_TB = 0x0002;                 // translation blocking
constexpr u16 PCI_ACS_RR = 0x0004;                 // P2P request redirect
constexpr u16 PCI_ACS_CR = 0x0008;                 // P2P completion redirect
constexpr u16 PCI_ACS_UF = 0x0010;                 // upstream forwarding
constexpr u16 PCI_ACS_EC = 0x0020;                 // P2P egress control
constexpr u16 PCI_ACS_DT = 0x0040;                 // direct translated P2P
constexpr u16 PCI_ACS_EGRESS_BITS = 0x05;          // egress control vector size byte in the CAP register
constexpr u16 PCI_ACS_ALL = 0x007f;

// ATS (PCIe Base §10.5.1), PRI (§10.5.2), PASID (§7.8.8)
constexpr u16 PCI_ATS_CAP = 0x04;
constexpr u16 PCI_ATS_CTRL = 0x06;
constexpr u16 PCI_ATS_CTRL_ENABLE = 0x8000;
constexpr u16 PCI_ATS_SIZEOF = 8;
constexpr u16 PCI_PRI_CTRL = 0x04;
constexpr u16 PCI_PRI_STATUS = 0x06;
constexpr u16 PCI_PRI_MAX_REQ = 0x08;
constexpr u16 PCI_PRI_ALLOC_REQ = 0x0c;
constexpr u16 PCI_EXT_CAP_PRI_SIZEOF = 16;
constexpr u16 PCI_PASID_CAP = 0x04;
constexpr u16 PCI_PASID_CTRL = 0x06;
constexpr u16 PCI_EXT_CAP_PASID_SIZEOF = 8;

// Class codes (upper 16 bits of the 24-bit class: base class and subclass)
constexpr u16 PCI_CLASS_BRIDGE_HOST = 0x0600;
constexpr u16 PCI_CLASS_BRIDGE_ISA = 0x0601;
constexpr u16 PCI_CLASS_BRIDGE_PCI = 0x0604;
constexpr u16 PCI_CLASS_STORAGE_SATA = 0x0106;
constexpr u16 PCI_CLASS_STORAGE_EXPRESS = 0x0108;
constexpr u16 PCI_CLASS_NETWORK_ETHERNET = 0x0200;
constexpr u16 PCI_CLASS_DISPLAY_VGA = 0x0300;
constexpr u16 PCI_CLASS_MULTIMEDIA_AUDIO_DEV = 0x0403;
constexpr u16 PCI_CLASS_SERIAL_USB = 0x0c03;
constexpr u16 PCI_CLASS_SERIAL_SMBUS = 0x0c05;

constexpr u16 PCI_ANY_ID = 0xffff;                 // wildcard in ID tables (our tables use u32 ~0 where needed)
constexpr u16 PCI_VENDOR_ID_INTEL = 0x8086;
constexpr u16 PCI_VENDOR_ID_AMD = 0x1022;
constexpr u16 PCI_VENDOR_ID_ATI = 0x1002;
constexpr u16 PCI_VENDOR_ID_REDHAT = 0x1b36;

// Additions for the configuration builder and the models (same sources as above).
constexpr u16 PCI_COMMAND_WMASK = 0x0547;          // IO MEMORY MASTER PARITY SERR INTX_DISABLE
constexpr u16 PCI_SEC_STATUS_W1C = 0xf900;         // secondary status: same RW1C bits (bridge spec §3.2.5.7)
constexpr u32 PCI_BASE_ADDRESS_MEM_MASK = ~0x0fu;
constexpr u32 PCI_BASE_ADDRESS_IO_MASK = ~0x03u;
constexpr u16 PCI_BASE_ADDRESS_5 = 0x24;
constexpr u32 PCI_ROM_ADDRESS_ENABLE = 0x01;
constexpr u32 PCI_ROM_ADDRESS_MASK = ~0x7ffu;
constexpr u8 PCI_IO_RANGE_TYPE_MASK = 0x0f;
constexpr u8 PCI_IO_RANGE_TYPE_16 = 0x00;
constexpr u8 PCI_IO_RANGE_TYPE_32 = 0x01;
constexpr u16 PCI_MEMORY_RANGE_MASK = 0xfff0;
constexpr u16 PCI_PREF_RANGE_TYPE_MASK = 0x000f;
constexpr u16 PCI_PREF_RANGE_TYPE_32 = 0x0000;
constexpr u16 PCI_PREF_RANGE_TYPE_64 = 0x0001;
constexpr u16 PCI_BRIDGE_CTL_PCIE_WMASK = 0x005f;  // PCIe Base §7.5.1.3.13: bits 5, 7..11 hardwired 0
constexpr u16 PCI_BRIDGE_CTL_PCI_WMASK = 0x0bff;   // bridge spec §3.2.5.18; bit 10 (discard status) RW1C
constexpr u16 PCI_BRIDGE_CTL_PCI_W1C = 0x0400;
constexpr u16 PCI_PM_CAP_VER_1_2 = 0x0003;
constexpr u16 PCI_PM_CTRL_NO_SOFT_RESET = 0x0008;
constexpr u16 PCI_MSI_PENDING_32 = 16;
constexpr u16 PCI_MSI_PENDING_64 = 20;
constexpr u16 PCI_MSIX_TABLE_BIR = 0x0007;
constexpr u16 PCI_EXP_FLAGS_VERS2 = 0x0002;
constexpr u32 PCI_EXP_DEVCAP_RBER = 0x00008000;
constexpr u16 PCI_EXP_DEVCTL_WMASK = 0x7fff;       // bit 15 (BCR/FLR) is not modelled
constexpr u32 PCI_EXP_LNKCAP_DLLLARC = 0x00100000;
constexpr u16 PCI_EXP_LNKCTL_WMASK = 0x03cb;       // ASPMC, RCB, CCC, ES, CLKREQ_EN, HAWD (retrain reads 0)
constexpr u16 PCI_EXP_LNKSTA_DLLLA = 0x2000;
constexpr u16 PCI_EXP_SLTCTL_WMASK = 0x1fff;
constexpr u16 PCI_EXP_SLTSTA_W1C = 0x011f;         // ABP PFD MRLSC PDC CC DLLSC
constexpr u16 PCI_EXP_SLTSTA_PDS = 0x0040;
constexpr u16 PCI_EXP_RTCTL_WMASK = 0x001f;
constexpr u16 PCI_EXP_RTCAP = 30;
constexpr u16 PCI_EXP_RTSTA = 32;
constexpr u32 PCI_EXP_RTSTA_PME = 0x00010000;      // RW1C
constexpr u16 PCI_EXP_DEVCTL2_WMASK = 0x001f;      // completion timeout value and disable
constexpr u16 PCI_EXP_LNKCAP2 = 44;
constexpr u16 PCI_EXP_LNKCTL2 = 48;
constexpr u16 PCI_EXP_LNKSTA2 = 50;
constexpr u16 PCI_ACS_CAP_WMASK = PCI_ACS_ALL;     // control bits that can exist at all
constexpr u16 PCI_ACS_EGRESS_CTL_SIZE_SHIFT = 8;   // CAP bits 15:8 = egress control vector size
constexpr u16 PCI_ATS_CAP_PAGE_ALIGNED = 0x0020;
constexpr u16 PCI_ATS_CTRL_STU = 0x001f;
constexpr u16 PCI_PASID_CAP_WIDTH_SHIFT = 8;
constexpr u16 PCI_PASID_CTRL_ENABLE = 0x0001;
constexpr u16 PCI_PRI_CTRL_ENABLE = 0x0001;
constexpr u16 PCI_PRI_STATUS_RF = 0x0001;          // response failure, RW1C
constexpr u16 PCI_PRI_STATUS_UPRGI = 0x0002;       // unexpected PRG index, RW1C
constexpr u16 PCI_PRI_STATUS_STOPPED = 0x0100;
constexpr u16 PCI_EXT_CAP_ACS_SIZEOF = 8;

// Intel PCH LPC bridge (D31:F0) Root Complex Base Address; facts as in Linux's drivers/pci/quirks.c
// (pci_quirk_enable_intel_pch_acs) and the PCH datasheets.
constexpr u16 INTEL_LPC_RCBA_REG = 0xf0;
constexpr u32 INTEL_LPC_RCBA_MASK = 0xffffc000;
constexpr u32 INTEL_LPC_RCBA_ENABLE = 0x00000001;
constexpr u32 INTEL_RCBA_SIZE = 0x4000;
constexpr u32 INTEL_BSPR_REG = 0x1104;             // backbone scratch pad register
// Upstream Peer Decode Configuration Register, RCBA + 0x1014 per the PCH datasheets. Early versions of
// Linux's quirk used 0x1114 (an offset where nothing is decoded) until the kernel corrected it.
constexpr u32 INTEL_UPDCR_REG = 0x1014;

} // namespace iommusim::pci

#include "models/pci/cfg/config_builder.h"

#include "models/pci/cfg/pci_regs.h"

#include <array>
#include <stdexcept>
#include <string>

namespace iommusim::pci {

namespace {

bool is_pow2(u64 v) { return v != 0 && (v & (v - 1)) == 0; }

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument(what); }

unsigned log2_u(u64 v) {
    unsigned n = 0;
    while (v > 1) v >>= 1, ++n;
    return n;
}

// Registers present in both header layouts (PCI 3.0 §6.2.2-6.2.4). The latency timer is hard-wired to 0
// on PCI Express functions (PCIe Base §7.5.1.1.6); the cache line size stays RW for compatibility.
void apply_common_masks(config_space& c, bool pcie) {
    c.set_wmask(PCI_COMMAND, 2, PCI_COMMAND_WMASK);
    c.set_w1cmask(PCI_STATUS, 2, PCI_STATUS_W1C);
    c.set_wmask(PCI_CACHE_LINE_SIZE, 1, 0xff);
    if (!pcie) c.set_wmask(PCI_LATENCY_TIMER, 1, 0xff);
    c.set_wmask(PCI_INTERRUPT_LINE, 1, 0xff);
}

// Type 1 header (PCI-to-PCI Bridge Spec 1.2 §3.2.5). The low nibbles of the I/O and prefetchable
// base/limit registers are RO and say whether the upper halves exist; they are read from the space so
// the same code serves built and captured bridges.
void apply_type1_masks(config_space& c, bool pcie) {
    c.set_wmask(PCI_PRIMARY_BUS, 1, 0xff);
    c.set_wmask(PCI_SECONDARY_BUS, 1, 0xff);
    c.set_wmask(PCI_SUBORDINATE_BUS, 1, 0xff);
    if (!pcie) c.set_wmask(PCI_SEC_LATENCY_TIMER, 1, 0xff);
    c.set_wmask(PCI_IO_BASE, 1, 0xf0);
    c.set_wmask(PCI_IO_LIMIT, 1, 0xf0);
    if ((c.get8(PCI_IO_BASE) & PCI_IO_RANGE_TYPE_MASK) == PCI_IO_RANGE_TYPE_32) {
        c.set_wmask(PCI_IO_BASE_UPPER16, 2, 0xffff);
        c.set_wmask(PCI_IO_LIMIT_UPPER16, 2, 0xffff);
    }
    c.set_w1cmask(PCI_SEC_STATUS, 2, PCI_SEC_STATUS_W1C);
    c.set_wmask(PCI_MEMORY_BASE, 2, PCI_MEMORY_RANGE_MASK);
    c.set_wmask(PCI_MEMORY_LIMIT, 2, PCI_MEMORY_RANGE_MASK);
    c.set_wmask(PCI_PREF_MEMORY_BASE, 2, PCI_MEMORY_RANGE_MASK);
    c.set_wmask(PCI_PREF_MEMORY_LIMIT, 2, PCI_MEMORY_RANGE_MASK);
    if ((c.get16(PCI_PREF_MEMORY_BASE) & PCI_PREF_RANGE_TYPE_MASK) == PCI_PREF_RANGE_TYPE_64) {
        c.set_wmask(PCI_PREF_BASE_UPPER32, 4, 0xffffffffu);
        c.set_wmask(PCI_PREF_LIMIT_UPPER32, 4, 0xffffffffu);
    }
    if (pcie) {
        c.set_wmask(PCI_BRIDGE_CONTROL, 2, PCI_BRIDGE_CTL_PCIE_WMASK);
    } else {
        c.set_wmask(PCI_BRIDGE_CONTROL, 2, PCI_BRIDGE_CTL_PCI_WMASK);
        c.set_w1cmask(PCI_BRIDGE_CONTROL, 2, PCI_BRIDGE_CTL_PCI_W1C);
    }
}

// Base Address Registers (PCI 3.0 §6.2.5.1): the writable bits are exactly the address bits above the
// size, so writing all ones and reading back yields ~(size - 1) | flags, the sizing protocol.
void build_bars(config_space& c, const function_params& p, unsigned nbars) {
    std::array<bool, 6> used{};
    for (const bar_params& b : p.bars) {
        const std::string name = "BAR" + std::to_string(b.index);
        const unsigned slots = b.mem64 ? 2 : 1;
        if (b.index >= nbars || b.index + slots > nbars)
            bad(name + ": index out of range for this header type" + (b.mem64 ? " (a 64-bit BAR takes two)" : ""));
        for (unsigned i = b.index; i < b.index + slots; ++i) {
            if (used[i]) bad(name + ": overlaps another BAR");
            used[i] = true;
        }
        const unsigned off = PCI_BASE_ADDRESS_0 + 4 * b.index;
        if (b.io) {
            if (b.mem64 || b.prefetchable) bad(name + ": an I/O BAR cannot be 64-bit or prefetchable");
            if (!is_pow2(b.size) || b.size < 4 || b.size > 256)
                bad(name + ": I/O size must be a power of two between 4 and 256");
            c.set32(off, PCI_BASE_ADDRESS_SPACE_IO);
            c.set_wmask(off, 4, u32(~(b.size - 1)) & PCI_BASE_ADDRESS_IO_MASK);
            continue;
        }
        if (!is_pow2(b.size) || b.size < 16) bad(name + ": memory size must be a power of two of at least 16");
        if (!b.mem64 && b.size > (u64(1) << 31)) bad(name + ": a 32-bit BAR cannot exceed 2 GiB");
        const u64 mask = ~(b.size - 1);
        c.set32(off, (b.mem64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) | (b.prefetchable ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0));
        c.set_wmask(off, 4, u32(mask) & PCI_BASE_ADDRESS_MEM_MASK);
        if (b.mem64) c.set_wmask(off + 4, 4, u32(mask >> 32));
    }
}

// Expansion ROM BAR (PCI 3.0 §6.2.5.2): address bits above the size and the enable bit are RW.
void build_rom(config_space& c, u64 size, bool type1) {
    if (size == 0) return;
    if (!is_pow2(size) || size < 2048 || size > (u64(1) << 31))
        bad("expansion ROM size must be a power of two between 2 KiB and 2 GiB");
    const u16 off = type1 ? PCI_ROM_ADDRESS1 : PCI_ROM_ADDRESS;
    c.set_wmask(off, 4, (u32(~(size - 1)) & PCI_ROM_ADDRESS_MASK) | PCI_ROM_ADDRESS_ENABLE);
}

bool has_link(pcie_type t) { return t != PCI_EXP_TYPE_RC_END && t != PCI_EXP_TYPE_RC_EC; }
bool has_slot_type(pcie_type t) { return t == PCI_EXP_TYPE_ROOT_PORT || t == PCI_EXP_TYPE_DOWNSTREAM; }

// PCI Express Capability, version 2 layout (PCIe Base §7.5.3). Link registers are reserved for Root
// Complex integrated functions; slot registers exist when the Slot Implemented bit is set.
void build_exp(config_space& c, pcie_type type) {
    const u16 off = c.add_capability(PCI_CAP_ID_EXP, PCI_EXP_SIZEOF_V2);
    const bool slot = has_slot_type(type);
    c.set16(off + PCI_EXP_FLAGS, u16(PCI_EXP_FLAGS_VERS2 | (u16(type) << 4) | (slot ? PCI_EXP_FLAGS_SLOT : 0)));
    c.set32(off + PCI_EXP_DEVCAP, PCI_EXP_DEVCAP_RBER);
    if (has_link(type)) {
        // 2.5 GT/s x1; Data Link Layer Link Active reporting on downstream-facing ports (§7.5.3.6).
        c.set32(off + PCI_EXP_LNKCAP, 0x11u | (slot ? PCI_EXP_LNKCAP_DLLLARC : 0));
        c.set16(off + PCI_EXP_LNKSTA, u16(0x11 | (slot ? PCI_EXP_LNKSTA_DLLLA : 0)));
        c.set32(off + PCI_EXP_LNKCAP2, 0x2);   // Supported Link Speeds Vector: 2.5 GT/s
        c.set16(off + PCI_EXP_LNKCTL2, 0x1);   // Target Link Speed
    }
    // Presence Detect State reads 1 on a slot that is not hot-plug capable (§7.5.3.11).
    if (slot) c.set16(off + PCI_EXP_SLTSTA, PCI_EXP_SLTSTA_PDS);
    apply_exp_masks(c, off);
}

void build_msi(config_space& c, const msi_params& m) {
    if (!is_pow2(m.vectors) || m.vectors > 32) bad("MSI vectors must be 1, 2, 4, 8, 16 or 32");
    const unsigned size = 10 + (m.addr64 ? 4 : 0) + (m.per_vector_mask ? 10 : 0);
    const u16 off = c.add_capability(PCI_CAP_ID_MSI, size);
    c.set16(off + PCI_MSI_FLAGS, u16((log2_u(m.vectors) << 1) | (m.addr64 ? PCI_MSI_FLAGS_64BIT : 0) |
                                     (m.per_vector_mask ? PCI_MSI_FLAGS_MASKBIT : 0)));
    apply_msi_masks(c, off);
}

void build_msix(config_space& c, const msix_params& m) {
    if (m.table_size < 1 || m.table_size > 2048) bad("MSI-X table size must be 1..2048");
    if (m.table_bar > 5 || m.pba_bar > 5) bad("MSI-X BIR must be 0..5");
    if ((m.table_offset & 7) || (m.pba_offset & 7)) bad("MSI-X table and PBA offsets must be 8-byte aligned");
    const u16 off = c.add_capability(PCI_CAP_ID_MSIX, PCI_CAP_MSIX_SIZEOF);
    c.set16(off + PCI_MSIX_FLAGS, u16(m.table_size - 1));
    c.set32(off + PCI_MSIX_TABLE, m.table_offset | m.table_bar);
    c.set32(off + PCI_MSIX_PBA, m.pba_offset | m.pba_bar);
    apply_msix_masks(c, off);
}

unsigned acs_egress_bits(u16 cap) {
    const unsigned n = (cap >> PCI_ACS_EGRESS_CTL_SIZE_SHIFT) & 0xff;
    return n == 0 ? 256 : n; // §7.7.8.2: 00h encodes 256
}

// Sunrise/Union Point layout: the ACS Capability register is a dword at +4 and the Control register a
// dword at +8 (where the egress vector would be); the Egress Control Vector, if any, follows at +12.
constexpr u16 INTEL_SPT_ACS_CTRL = PCI_ACS_CAP + 4;

// ACS Extended Capability (PCIe Base §7.7.8).
void build_acs(config_space& c, const acs_params& a) {
    const u16 cap = u16((a.cap & PCI_ACS_ALL) |
                        ((a.cap & PCI_ACS_EC) ? u16(a.egress_bits) << PCI_ACS_EGRESS_CTL_SIZE_SHIFT : 0));
    const bool spt = intel_spt_pch_acs_layout(c);
    unsigned size = PCI_EXT_CAP_ACS_SIZEOF + (spt ? 4 : 0);
    if (cap & PCI_ACS_EC) size += 4 * ((acs_egress_bits(cap) + 31) / 32);
    const u16 off = c.add_ext_capability(PCI_EXT_CAP_ID_ACS, 1, size);
    c.set16(off + PCI_ACS_CAP, cap);
    if (spt) c.set32(off + INTEL_SPT_ACS_CTRL, u32(a.ctrl & cap & PCI_ACS_ALL));
    else c.set16(off + PCI_ACS_CTRL, u16(a.ctrl & cap & PCI_ACS_ALL));
    apply_acs_masks(c, off);
}

void build_rcba(config_space& c, u32 rcba) {
    c.set32(INTEL_LPC_RCBA_REG, rcba);
    c.set_wmask(INTEL_LPC_RCBA_REG, 4, INTEL_LPC_RCBA_MASK | INTEL_LPC_RCBA_ENABLE);
}

config_space build_captured(const function_params& p) {
    if (p.config.size() < 64 || p.config.size() > PCI_CFG_SPACE_EXP_SIZE)
        bad("captured config space must hold 64 to 4096 bytes");
    config_space c(PCI_CFG_SPACE_EXP_SIZE);
    c.load(p.config);
    if (p.multifunction) c.set8(PCI_HEADER_TYPE, u8(c.get8(PCI_HEADER_TYPE) | PCI_HEADER_TYPE_MFD));
    const bool pcie = c.find_capability(PCI_CAP_ID_EXP).has_value();
    apply_common_masks(c, pcie);
    if ((c.get8(PCI_HEADER_TYPE) & PCI_HEADER_TYPE_MASK) == PCI_HEADER_TYPE_BRIDGE) apply_type1_masks(c, pcie);

    // Every capability on the standard list (bounded like Linux's PCI_FIND_CAP_TTL: a looping capture
    // must not hang us).
    if (c.get16(PCI_STATUS) & PCI_STATUS_CAP_LIST) {
        unsigned pos = c.get8(PCI_CAPABILITY_LIST) & 0xfc;
        for (int ttl = 48; pos >= 0x40 && ttl > 0; --ttl) {
            switch (c.get8(pos + PCI_CAP_LIST_ID)) {
            case PCI_CAP_ID_PM: apply_pm_masks(c, u16(pos)); break;
            case PCI_CAP_ID_MSI: apply_msi_masks(c, u16(pos)); break;
            case PCI_CAP_ID_MSIX: apply_msix_masks(c, u16(pos)); break;
            case PCI_CAP_ID_EXP: apply_exp_masks(c, u16(pos)); break;
            default: break;
            }
            pos = c.get8(pos + PCI_CAP_LIST_NEXT) & 0xfc;
        }
    }
    if (pcie) {
        unsigned pos = PCI_CFG_SPACE_SIZE;
        for (int ttl = (PCI_CFG_SPACE_EXP_SIZE - PCI_CFG_SPACE_SIZE) / 8; ttl > 0; --ttl) {
            const u32 hdr = c.get32(pos);
            if (hdr == 0 || hdr == 0xffffffffu) break;
            switch (PCI_EXT_CAP_ID(hdr)) {
            case PCI_EXT_CAP_ID_ACS: apply_acs_masks(c, u16(pos)); break;
            case PCI_EXT_CAP_ID_ATS: apply_ats_masks(c, u16(pos)); break;
            case PCI_EXT_CAP_ID_PASID: apply_pasid_masks(c, u16(pos)); break;
            case PCI_EXT_CAP_ID_PRI: apply_pri_masks(c, u16(pos)); break;
            default: break;
            }
            pos = PCI_EXT_CAP_NEXT(hdr);
            if (pos < PCI_CFG_SPACE_SIZE) break;
        }
    }
    // The captured bytes already hold firmware's RCBA; only its write semantics are added.
    if (p.rcba) c.set_wmask(INTEL_LPC_RCBA_REG, 4, INTEL_LPC_RCBA_MASK | INTEL_LPC_RCBA_ENABLE);
    return c;
}

} // namespace

std::optional<pcie_type> pcie_type_of(function_kind kind) {
    switch (kind) {
    case function_kind::root_port: return PCI_EXP_TYPE_ROOT_PORT;
    case function_kind::switch_upstream: return PCI_EXP_TYPE_UPSTREAM;
    case function_kind::switch_downstream: return PCI_EXP_TYPE_DOWNSTREAM;
    case function_kind::pcie_to_pci_bridge: return PCI_EXP_TYPE_PCI_BRIDGE;
    case function_kind::pci_to_pcie_bridge: return PCI_EXP_TYPE_PCIE_BRIDGE;
    case function_kind::endpoint: return PCI_EXP_TYPE_ENDPOINT;
    case function_kind::legacy_endpoint: return PCI_EXP_TYPE_LEG_END;
    case function_kind::rc_endpoint: return PCI_EXP_TYPE_RC_END;
    case function_kind::rc_event_collector: return PCI_EXP_TYPE_RC_EC;
    case function_kind::dma_engine: return PCI_EXP_TYPE_ENDPOINT;
    default: return std::nullopt;
    }
}

// Power Management Control/Status (PCI PM 1.2 §3.2.4): PowerState and PME_En RW, PME_Status RW1C.
void apply_pm_masks(config_space& c, u16 off) {
    c.set_wmask(off + PCI_PM_CTRL, 2, PCI_PM_CTRL_STATE_MASK | PCI_PM_CTRL_PME_ENABLE);
    c.set_w1cmask(off + PCI_PM_CTRL, 2, PCI_PM_CTRL_PME_STATUS);
}

// MSI (PCI 3.0 §6.8.1): Enable and Multiple Message Enable RW; capability bits RO; address, data and,
// with per-vector masking, one mask bit per capable vector RW; pending bits RO.
void apply_msi_masks(config_space& c, u16 off) {
    const u16 flags = c.get16(off + PCI_MSI_FLAGS);
    const bool addr64 = flags & PCI_MSI_FLAGS_64BIT;
    c.set_wmask(off + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
    c.set_wmask(off + PCI_MSI_ADDRESS_LO, 4, 0xfffffffcu);
    if (addr64) c.set_wmask(off + PCI_MSI_ADDRESS_HI, 4, 0xffffffffu);
    c.set_wmask(off + (addr64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32), 2, 0xffff);
    if (flags & PCI_MSI_FLAGS_MASKBIT) {
        unsigned mmc = (flags & PCI_MSI_FLAGS_QMASK) >> 1;
        if (mmc > 5) mmc = 5; // 110b and 111b are reserved
        const unsigned vectors = 1u << mmc;
        c.set_wmask(off + (addr64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32), 4,
                    vectors >= 32 ? 0xffffffffu : (1u << vectors) - 1);
    }
}

// MSI-X (PCI 3.0 §6.8.2): MSI-X Enable and Function Mask RW; table size, BIR and offsets RO.
void apply_msix_masks(config_space& c, u16 off) {
    c.set_wmask(off + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
}

void apply_exp_masks(config_space& c, u16 off) {
    const u16 flags = c.get16(off + PCI_EXP_FLAGS);
    const auto type = pcie_type((flags & PCI_EXP_FLAGS_TYPE) >> 4);
    const bool v2 = (flags & PCI_EXP_FLAGS_VERS) >= 2;
    const bool downstream = has_slot_type(type);
    c.set_wmask(off + PCI_EXP_DEVCTL, 2, PCI_EXP_DEVCTL_WMASK);        // §7.5.3.4
    c.set_w1cmask(off + PCI_EXP_DEVSTA, 2, PCI_EXP_DEVSTA_W1C);        // §7.5.3.5
    if (has_link(type)) {
        // Link Disable exists only on downstream-facing ports; LBMS/LABS are RW1C there (§7.5.3.7-8).
        c.set_wmask(off + PCI_EXP_LNKCTL, 2, PCI_EXP_LNKCTL_WMASK | (downstream ? 0x0010 : 0));
        if (downstream) c.set_w1cmask(off + PCI_EXP_LNKSTA, 2, 0xc000);
        if (v2) c.set_wmask(off + PCI_EXP_LNKCTL2, 2, 0x000f);
    }
    if (flags & PCI_EXP_FLAGS_SLOT) {
        c.set_wmask(off + PCI_EXP_SLTCTL, 2, PCI_EXP_SLTCTL_WMASK);    // §7.5.3.10
        c.set_w1cmask(off + PCI_EXP_SLTSTA, 2, PCI_EXP_SLTSTA_W1C);    // §7.5.3.11
    }
    if (type == PCI_EXP_TYPE_ROOT_PORT || type == PCI_EXP_TYPE_RC_EC) {
        c.set_wmask(off + PCI_EXP_RTCTL, 2, PCI_EXP_RTCTL_WMASK);      // §7.5.3.12
        c.set_w1cmask(off + PCI_EXP_RTSTA, 4, PCI_EXP_RTSTA_PME);      // §7.5.3.14
    }
    if (v2) c.set_wmask(off + PCI_EXP_DEVCTL2, 2, PCI_EXP_DEVCTL2_WMASK);
}

// ACS Control (PCIe Base §7.7.8.3): a control bit whose feature the Capability register does not
// advertise is hard-wired to 0, so only advertised bits are writable. The Egress Control Vector is RW
// in its implemented bits when P2P Egress Control is advertised.
void apply_acs_masks(config_space& c, u16 off) {
    const u16 cap = c.get16(off + PCI_ACS_CAP);
    const bool spt = intel_spt_pch_acs_layout(c);
    if (spt) c.set_wmask(off + INTEL_SPT_ACS_CTRL, 4, cap & PCI_ACS_ALL);
    else c.set_wmask(off + PCI_ACS_CTRL, 2, cap & PCI_ACS_ALL);
    if (cap & PCI_ACS_EC) {
        unsigned bits = acs_egress_bits(cap);
        const unsigned vector = off + PCI_ACS_EGRESS_CTL_V + (spt ? 4 : 0);
        for (unsigned dw = 0; bits > 0; ++dw) {
            const unsigned n = bits >= 32 ? 32 : bits;
            c.set_wmask(vector + 4 * dw, 4, n == 32 ? 0xffffffffu : (1u << n) - 1);
            bits -= n;
        }
    }
}

// Intel Sunrise Point / Union Point PCH root ports (and the 7th/8th gen mobile ones) implement ACS with a
// non-standard layout: a dword Capability register at +4 and a dword Control register at +8. Device IDs
// as Linux's pci_quirk_intel_spt_pch_acs_match lists them.
bool intel_spt_pch_acs_layout(const config_space& c) {
    if (c.get16(PCI_VENDOR_ID) != PCI_VENDOR_ID_INTEL) return false;
    const auto exp = c.find_capability(PCI_CAP_ID_EXP);
    if (!exp || ((c.get16(*exp + PCI_EXP_FLAGS) & PCI_EXP_FLAGS_TYPE) >> 4) != PCI_EXP_TYPE_ROOT_PORT) return false;
    const u16 d = c.get16(PCI_DEVICE_ID);
    return (d >= 0xa110 && d <= 0xa11f) || (d >= 0xa167 && d <= 0xa16a) || // Sunrise Point
           (d >= 0xa290 && d <= 0xa29f) || (d >= 0xa2e7 && d <= 0xa2ee) || // Union Point
           (d >= 0x9d10 && d <= 0x9d1b);                                   // 7th/8th gen mobile
}

// ATS Control (PCIe Base §10.5.1.3): Enable and Smallest Translation Unit RW.
void apply_ats_masks(config_space& c, u16 off) {
    c.set_wmask(off + PCI_ATS_CTRL, 2, PCI_ATS_CTRL_ENABLE | PCI_ATS_CTRL_STU);
}

// PASID Control (PCIe Base §7.8.8.3): Enable RW; Execute/Privileged Mode Enable RW only when the
// matching Supported bit (1, 2) is set in the PASID Capability register.
void apply_pasid_masks(config_space& c, u16 off) {
    const u16 cap = c.get16(off + PCI_PASID_CAP);
    c.set_wmask(off + PCI_PASID_CTRL, 2, PCI_PASID_CTRL_ENABLE | (cap & 0x0006));
}

// Page Request Control/Status (PCIe Base §10.5.2.2-3): Enable RW, Response Failure and Unexpected Page
// Request Group Index RW1C, Outstanding Page Request Allocation RW.
void apply_pri_masks(config_space& c, u16 off) {
    c.set_wmask(off + PCI_PRI_CTRL, 2, PCI_PRI_CTRL_ENABLE);
    c.set_w1cmask(off + PCI_PRI_STATUS, 2, PCI_PRI_STATUS_RF | PCI_PRI_STATUS_UPRGI);
    c.set_wmask(off + PCI_PRI_ALLOC_REQ, 4, 0xffffffffu);
}

config_space build_config_space(const function_params& p) {
    if (p.kind == function_kind::captured) return build_captured(p);

    const bool pcie = has_pcie_capability(p);
    const bool bridge = is_bridge(p.kind);
    if (!pcie && (p.acs || p.ats || p.pasid || p.pri))
        bad(std::string("ACS, ATS, PASID and PRI need a PCI Express function, not ") + to_string(p.kind));
    if (p.interrupt_pin > 4) bad("interrupt pin must be 0 (none) or 1..4 (INTA..INTD)");

    config_space c(pcie ? PCI_CFG_SPACE_EXP_SIZE : PCI_CFG_SPACE_SIZE);
    c.set16(PCI_VENDOR_ID, p.vendor_id);
    c.set16(PCI_DEVICE_ID, p.device_id);
    c.set8(PCI_REVISION_ID, p.revision);
    c.set8(PCI_CLASS_PROG, u8(p.class_code));
    c.set16(PCI_CLASS_DEVICE, u16(p.class_code >> 8));
    c.set8(PCI_HEADER_TYPE, u8((bridge ? PCI_HEADER_TYPE_BRIDGE : PCI_HEADER_TYPE_NORMAL) |
                               (p.multifunction ? PCI_HEADER_TYPE_MFD : 0)));
    c.set8(PCI_INTERRUPT_PIN, p.interrupt_pin);

    if (bridge) {
        // Firmware's bus numbers when it configured the bridge, else 0 for the kernel to assign.
        c.set8(PCI_PRIMARY_BUS, p.primary_bus.value_or(0));
        c.set8(PCI_SECONDARY_BUS, p.secondary_bus.value_or(0));
        c.set8(PCI_SUBORDINATE_BUS, p.subordinate_bus.value_or(0));
        // Windows start closed (base above limit: the encoding the bridge spec §3.2.5.6-9 and Linux use
        // for "disabled"), rather than the reset value 0 that would decode the first MiB.
        c.set8(PCI_IO_BASE, 0xf0 | PCI_IO_RANGE_TYPE_32);
        c.set8(PCI_IO_LIMIT, PCI_IO_RANGE_TYPE_32);
        c.set16(PCI_MEMORY_BASE, 0xfff0);
        c.set16(PCI_MEMORY_LIMIT, 0x0000);
        c.set16(PCI_PREF_MEMORY_BASE, 0xfff0 | PCI_PREF_RANGE_TYPE_64);
        c.set16(PCI_PREF_MEMORY_LIMIT, PCI_PREF_RANGE_TYPE_64);
        apply_type1_masks(c, pcie);
    } else {
        c.set16(PCI_SUBSYSTEM_VENDOR_ID, p.subsystem_vendor_id);
        c.set16(PCI_SUBSYSTEM_ID, p.subsystem_id);
    }
    apply_common_masks(c, pcie);
    build_bars(c, p, bridge ? 2 : 6);
    build_rom(c, p.rom_size, bridge);

    if (p.power_management) {
        const u16 off = c.add_capability(PCI_CAP_ID_PM, PCI_PM_SIZEOF);
        c.set16(off + PCI_PM_PMC, PCI_PM_CAP_VER_1_2);
        // No_Soft_Reset: D3hot -> D0 keeps the configuration (PCI PM 1.2 §3.2.4).
        c.set16(off + PCI_PM_CTRL, PCI_PM_CTRL_NO_SOFT_RESET);
        apply_pm_masks(c, off);
    }
    if (p.msi) build_msi(c, *p.msi);
    if (p.msix) build_msix(c, *p.msix);
    if (const auto type = pcie_type_of(p.kind); type && pcie) build_exp(c, *type);

    if (p.acs) build_acs(c, *p.acs);
    if (p.ats) {
        const u16 off = c.add_ext_capability(PCI_EXT_CAP_ID_ATS, 1, PCI_ATS_SIZEOF);
        c.set16(off + PCI_ATS_CAP, PCI_ATS_CAP_PAGE_ALIGNED); // Invalidate Queue Depth 0 = 32
        apply_ats_masks(c, off);
    }
    if (p.pasid) {
        const u16 off = c.add_ext_capability(PCI_EXT_CAP_ID_PASID, 1, PCI_EXT_CAP_PASID_SIZEOF);
        c.set16(off + PCI_PASID_CAP, u16(20 << PCI_PASID_CAP_WIDTH_SHIFT)); // Max PASID Width 20
        apply_pasid_masks(c, off);
    }
    if (p.pri) {
        const u16 off = c.add_ext_capability(PCI_EXT_CAP_ID_PRI, 1, PCI_EXT_CAP_PRI_SIZEOF);
        c.set16(off + PCI_PRI_STATUS, PCI_PRI_STATUS_STOPPED); // stopped while disabled (§10.5.2.3)
        c.set32(off + PCI_PRI_MAX_REQ, 32);                     // Outstanding Page Request Capacity
        apply_pri_masks(c, off);
    }
    // The capabilities above end well below 0xf0 (at most 0xa8), so RCBA never overlaps them.
    if (p.rcba) build_rcba(c, *p.rcba);
    return c;
}

} // namespace iommusim::pci

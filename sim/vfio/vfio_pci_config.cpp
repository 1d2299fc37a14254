#include "sim/vfio/vfio_pci_config.h"

#include "sim/host/pci_access.h"
#include "sim/host/pci_dev.h"

#include <cerrno>

namespace iommusim::vfio {

using namespace pci;

namespace {
constexpr u32 ALL = 0xffffffffu;
// include/uapi/linux/pci_regs.h values not in models/pci/cfg/pci_regs.h.
constexpr u16 PCI_EXP_DEVCTL_PAYLOAD = 0x00e0;
constexpr u16 PCI_EXP_DEVCTL_PHANTOM = 0x0200;
constexpr u16 PCI_EXP_DEVCTL_READRQ = 0x7000;
constexpr u16 PCI_EXP_DEVCTL_BCR_FLR = 0x8000;
constexpr u32 PCI_EXP_DEVCAP_FLR = 0x10000000;
constexpr u16 PCI_EXP_DEVCTL2_ARI = 0x0020;
constexpr u16 PCI_PM_CAP_PME_MASK = 0xf800;
constexpr u8 PCI_CAP_ID_VPD = 0x03;
constexpr unsigned PCI_CAP_MSIX_SIZEOF = 12, PCI_CAP_AF_SIZEOF = 6, PCI_CAP_VPD_SIZEOF = 8;
constexpr unsigned PCI_CAP_EXP_ENDPOINT_SIZEOF_V1 = 20, PCI_CAP_EXP_ENDPOINT_SIZEOF_V2 = 44;
constexpr u16 PCI_AF_CTRL = 4;
constexpr u8 PCI_AF_CTRL_FLR = 0x01, PCI_AF_CAP_FLR = 0x02, PCI_AF_CAP = 3;
constexpr unsigned STD_HEADER = 64, CFG_SPACE = 256;
} // namespace

vfio_pci_config::vfio_pci_config(host::pci_access& access, const host::pci_dev& dev, vfio_pci_config_hooks hooks)
    : m_access(access), m_dev(dev), m_hooks(std::move(hooks)) {}

u32 vfio_pci_config::hw_read(unsigned pos, unsigned len) {
    return len == 4 ? m_access.read32(m_dev, u16(pos)) : len == 2 ? m_access.read16(m_dev, u16(pos)) : m_access.read8(m_dev, u16(pos));
}
void vfio_pci_config::hw_write(unsigned pos, unsigned len, u32 v) {
    if (len == 4) m_access.write32(m_dev, u16(pos), v);
    else if (len == 2) m_access.write16(m_dev, u16(pos), u16(v));
    else m_access.write8(m_dev, u16(pos), u8(v));
}

u32 vfio_pci_config::vget(unsigned pos, unsigned len) const {
    u32 v = 0;
    for (unsigned i = 0; i < len; ++i) v |= u32(m_vconfig[pos + i]) << (8 * i);
    return v;
}
void vfio_pci_config::vset(unsigned pos, unsigned len, u32 v) {
    for (unsigned i = 0; i < len; ++i) m_vconfig[pos + i] = u8(v >> (8 * i));
}

void vfio_pci_config::set_perm(unsigned off, unsigned len, u32 virt, u32 write) {
    for (unsigned i = 0; i < len && off + i < m_virt.size(); ++i) {
        m_virt[off + i] = u8(virt >> (8 * i));
        m_write[off + i] = u8(write >> (8 * i));
    }
}

// vfio_config_init + init_pci_cap_basic_perm: the standard header's permissions.
void vfio_pci_config::init() {
    const unsigned n = m_dev.cfg_size > CFG_SPACE ? m_dev.cfg_size : CFG_SPACE;
    m_vconfig.assign(n, 0);
    for (unsigned p = 0; p < n; p += 4) vset(p, 4, hw_read(p, 4));
    // Unowned bytes are raw read/write (vfio_raw_config_read/write): virt 0, every bit writable.
    m_virt.assign(n, 0);
    m_write.assign(n, 0xff);
    m_owner.assign(n, unassigned);
    for (unsigned p = 0; p < STD_HEADER; ++p) m_owner[p] = header;
    set_perm(0, STD_HEADER, 0, 0);                                 // default: hardware, read-only
    set_perm(PCI_VENDOR_ID, 2, ALL, 0);
    set_perm(PCI_DEVICE_ID, 2, ALL, 0);
    set_perm(PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE, 0xffff);
    set_perm(PCI_STATUS, 2, PCI_STATUS_CAP_LIST, 0);
    set_perm(PCI_CACHE_LINE_SIZE, 1, 0, 0xff);
    set_perm(PCI_LATENCY_TIMER, 1, 0, 0xff);
    set_perm(PCI_BIST, 1, 0, 0xff);
    for (unsigned b = 0; b < 6; ++b) set_perm(PCI_BASE_ADDRESS_0 + 4 * b, 4, ALL, ALL);  // never the hardware's
    set_perm(PCI_ROM_ADDRESS, 4, ALL, ALL);
    set_perm(PCI_CAPABILITY_LIST, 1, 0xff, 0);
    set_perm(PCI_INTERRUPT_LINE, 1, 0xff, 0xff);
    set_perm(PCI_INTERRUPT_PIN, 1, 0xff, 0);
    m_bardirty = true;
    init_capabilities();
    if (n > CFG_SPACE) init_ext_capabilities();
}

// vfio_cap_len: how many bytes vfio knows of a capability; 0 means "hide it".
unsigned vfio_pci_config::cap_length(u8 id, u8 pos) {
    switch (id) {
    case PCI_CAP_ID_PM: return PCI_PM_SIZEOF;
    case PCI_CAP_ID_VPD: return PCI_CAP_VPD_SIZEOF;
    case PCI_CAP_ID_MSIX: return PCI_CAP_MSIX_SIZEOF;
    case PCI_CAP_ID_AF: return PCI_CAP_AF_SIZEOF;
    case PCI_CAP_ID_VNDR: return m_vconfig[pos + 2];  // the vendor capability's own length byte
    case PCI_CAP_ID_MSI: {                            // vfio_msi_cap_len
        const u16 flags = u16(vget(pos + PCI_MSI_FLAGS, 2));
        unsigned len = 10;
        if (flags & PCI_MSI_FLAGS_64BIT) len += 4;
        if (flags & PCI_MSI_FLAGS_MASKBIT) len += 10;
        return len;
    }
    case PCI_CAP_ID_EXP:
        return (vget(pos + PCI_EXP_FLAGS, 2) & PCI_EXP_FLAGS_VERS) == 1 ? PCI_CAP_EXP_ENDPOINT_SIZEOF_V1
                                                                       : PCI_CAP_EXP_ENDPOINT_SIZEOF_V2;
    default: return 0;  // HT, SSVID, SLOTID, debug port, ...: pci_cap_length[] says 0, the cap is hidden
    }
}

// vfio_cap_init: walk the hardware chain; known capabilities keep their place with their permissions,
// unknown ones are skipped by rewriting the previous (virtual) next pointer.
void vfio_pci_config::init_capabilities() {
    if (!(vget(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST)) return;
    unsigned prev = PCI_CAPABILITY_LIST;
    u8 pos = m_vconfig[PCI_CAPABILITY_LIST] & ~3u;
    for (int ttl = 48; pos >= STD_HEADER && ttl > 0; --ttl) {
        const u8 id = m_vconfig[pos], next = m_vconfig[pos + 1] & ~3u;
        const unsigned len = cap_length(id, pos);
        if (!len || pos + len > CFG_SPACE) {
            m_vconfig[prev] = next;  // hidden: the chain jumps over it
            pos = next;
            continue;
        }
        owner o = cap_other;
        for (unsigned i = 0; i < len; ++i) m_owner[pos + i] = o;
        set_perm(pos, len, 0, 0);            // default for a known capability: read-only pass-through
        set_perm(pos, 2, 0xffff, 0);         // ID and next always virtual
        switch (id) {
        case PCI_CAP_ID_PM:                  // init_pci_cap_pm_perm
            o = cap_pm;
            m_pm_cap = pos;
            set_perm(pos + PCI_PM_PMC, 2, PCI_PM_CAP_PME_MASK, 0);
            set_perm(pos + PCI_PM_CTRL, 4, PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_PME_STATUS,
                     ~u32(PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_PME_STATUS | PCI_PM_CTRL_STATE_MASK));
            // The user cannot get PMEs: the virtual PME support and status/enable start clear.
            vset(pos + PCI_PM_PMC, 2, vget(pos + PCI_PM_PMC, 2) & ~u32(PCI_PM_CAP_PME_MASK));
            vset(pos + PCI_PM_CTRL, 2, vget(pos + PCI_PM_CTRL, 2) & ~u32(PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_PME_STATUS));
            break;
        case PCI_CAP_ID_MSI: {               // init_pci_cap_msi_perm: MSI is programmed through SET_IRQS only
            o = cap_msi;
            m_msi_cap = pos;
            const u16 flags = u16(vget(pos + PCI_MSI_FLAGS, 2));
            set_perm(pos + PCI_MSI_FLAGS, 1, 0xff, 0xff);
            set_perm(pos + PCI_MSI_ADDRESS_LO, 4, ALL, ALL);
            const bool is64 = flags & PCI_MSI_FLAGS_64BIT;
            if (is64) set_perm(pos + PCI_MSI_ADDRESS_HI, 4, ALL, ALL);
            set_perm(pos + (is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32), 2, 0xffff, 0xffff);
            if (flags & PCI_MSI_FLAGS_MASKBIT) {
                set_perm(pos + (is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32), 4, 0, ALL);
                set_perm(pos + (is64 ? PCI_MSI_PENDING_64 : PCI_MSI_PENDING_32), 4, 0, ALL);
            }
            break;
        }
        case PCI_CAP_ID_MSIX: o = cap_msix; m_msix_cap = pos; break;  // read-only: enabled through SET_IRQS
        case PCI_CAP_ID_EXP:                 // init_pci_cap_exp_perm
            o = cap_exp;
            m_pcie_cap = pos;
            set_perm(pos + PCI_EXP_DEVCTL, 2, PCI_EXP_DEVCTL_BCR_FLR | PCI_EXP_DEVCTL_PAYLOAD | PCI_EXP_DEVCTL_READRQ,
                     u16(~PCI_EXP_DEVCTL_PHANTOM));
            set_perm(pos + PCI_EXP_DEVCTL2, 2, 0, u16(~PCI_EXP_DEVCTL2_ARI));
            break;
        case PCI_CAP_ID_AF:                  // init_pci_cap_af_perm: FLR virtual
            o = cap_af;
            m_af_cap = pos;
            set_perm(pos + PCI_AF_CTRL, 1, PCI_AF_CTRL_FLR, PCI_AF_CTRL_FLR);
            break;
        case PCI_CAP_ID_VNDR:                // raw read/write apart from ID and next
            o = cap_vndr;
            set_perm(pos + 2, len - 2, 0, ALL);
            break;
        default: break;
        }
        for (unsigned i = 0; i < len; ++i) m_owner[pos + i] = o;
        prev = pos + 1;
        pos = next;
    }
}

// Extended capabilities: read through, never written (see README: vfio's per-ecap rules are not modelled).
void vfio_pci_config::init_ext_capabilities() {
    for (unsigned p = CFG_SPACE; p < m_vconfig.size(); ++p) {
        m_owner[p] = ecap;
        m_virt[p] = 0;
        m_write[p] = 0;
    }
}

// vfio_bar_fixup: the virtual BARs read back what the user wrote, masked by the BAR's size, with the
// type bits of the real BAR, so sizing (writing all ones) returns the size mask; unimplemented BARs read 0.
void vfio_pci_config::bar_fixup() {
    for (unsigned b = 0; b < 6; ++b) {
        const host::pci_resource* r = nullptr;
        for (const auto& res : m_dev.resources)
            if (res.index == b) r = &res;
        const unsigned off = PCI_BASE_ADDRESS_0 + 4 * b;
        if (!r || !r->size) {
            bool upper = false;  // the upper half of a 64-bit BAR below is handled with it
            for (const auto& res : m_dev.resources)
                if (res.mem64 && res.index + 1 == b) upper = true;
            if (!upper) vset(off, 4, 0);
            continue;
        }
        const u64 mask = ~(r->size - 1);
        u32 flags = r->io ? PCI_BASE_ADDRESS_SPACE_IO : 0;
        if (!r->io) {
            if (r->mem64) flags |= PCI_BASE_ADDRESS_MEM_TYPE_64;
            if (r->prefetch) flags |= PCI_BASE_ADDRESS_MEM_PREFETCH;
        }
        vset(off, 4, (vget(off, 4) & u32(mask)) | flags);
        if (r->mem64 && b < 5) vset(off + 4, 4, vget(off + 4, 4) & u32(mask >> 32));
    }
    const host::pci_resource* rom = nullptr;
    for (const auto& res : m_dev.resources)
        if (res.index == host::PCI_ROM_RESOURCE) rom = &res;
    if (rom && rom->size) vset(PCI_ROM_ADDRESS, 4, vget(PCI_ROM_ADDRESS, 4) & (u32(~(rom->size - 1)) | PCI_ROM_ADDRESS_ENABLE));
    else vset(PCI_ROM_ADDRESS, 4, 0);
    m_bardirty = false;
}

bool vfio_pci_config::memory_enabled() const { return vget(PCI_COMMAND, 2) & PCI_COMMAND_MEMORY; }
bool vfio_pci_config::io_enabled() const { return vget(PCI_COMMAND, 2) & PCI_COMMAND_IO; }
bool vfio_pci_config::virq_disabled() const { return vget(PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE; }

// vfio_default_config_read: virtual bits from vconfig, the rest from hardware.
int vfio_pci_config::read(u32 pos, unsigned len, u32& value) {
    if (pos >= size() || pos + len > size()) return -EFAULT;
    if (m_owner[pos] == header && pos >= PCI_BASE_ADDRESS_0 && pos < PCI_ROM_ADDRESS + 4 && m_bardirty) bar_fixup();
    u32 virt = 0;
    for (unsigned i = 0; i < len; ++i) virt |= u32(m_virt[pos + i]) << (8 * i);
    value = vget(pos, len);
    if (virt != (len == 4 ? ALL : (1u << (8 * len)) - 1)) value = (value & virt) | (hw_read(pos, len) & ~virt);
    return 0;
}

// vfio_default_config_write plus the per-capability write functions' side effects.
int vfio_pci_config::write(u32 pos, unsigned len, u32 value) {
    if (pos >= size() || pos + len > size()) return -EFAULT;
    u32 virt = 0, wr = 0;
    for (unsigned i = 0; i < len; ++i) {
        virt |= u32(m_virt[pos + i]) << (8 * i);
        wr |= u32(m_write[pos + i]) << (8 * i);
    }
    const bool old_virq = virq_disabled();
    if (wr & virt) vset(pos, len, (vget(pos, len) & ~(wr & virt)) | (value & wr & virt));
    if (wr & ~virt) {
        const u32 phys = hw_read(pos, len);
        hw_write(pos, len, (phys & ~(wr & ~virt)) | (value & wr & ~virt));
    }
    const owner o = owner(m_owner[pos]);
    auto covers = [&](unsigned reg, unsigned reg_len) { return pos < reg + reg_len && pos + len > reg; };
    if (o == header) {
        if (covers(PCI_BASE_ADDRESS_0, 24) || covers(PCI_ROM_ADDRESS, 4)) m_bardirty = true;
        if (covers(PCI_COMMAND, 2)) {
            // vfio_basic_config_write: vconfig tracks the user's Memory and I/O enables (the memory lock
            // checks them), and the virtual INTx-Disable drives vfio's own INTx masking.
            const u16 cmd = u16(value >> (8 * (PCI_COMMAND - pos)));
            const u16 m = PCI_COMMAND_MEMORY | PCI_COMMAND_IO;
            vset(PCI_COMMAND, 2, (vget(PCI_COMMAND, 2) & ~u32(m)) | (cmd & m));
            if (virq_disabled() != old_virq && m_hooks.intx_disable) m_hooks.intx_disable(virq_disabled());
        }
    } else if (o == cap_pm && covers(m_pm_cap + PCI_PM_CTRL, 1)) {
        // vfio_pm_config_write: the state field is trapped and vfio performs the transition.
        const unsigned state = (value >> (8 * (m_pm_cap + PCI_PM_CTRL - pos))) & PCI_PM_CTRL_STATE_MASK;
        if (m_hooks.power_state) m_hooks.power_state(state);
    } else if (o == cap_msi && covers(m_msi_cap + PCI_MSI_FLAGS, 1)) {
        // vfio_msi_config_write: ENABLE only while MSI is active through SET_IRQS, QSIZE clamped to qmax.
        u16 flags = u16(vget(m_msi_cap + PCI_MSI_FLAGS, 2));
        if (!(m_hooks.msi_active && m_hooks.msi_active())) flags &= ~PCI_MSI_FLAGS_ENABLE;
        if (((flags & PCI_MSI_FLAGS_QSIZE) >> 4) > m_msi_qmax)
            flags = u16((flags & ~PCI_MSI_FLAGS_QSIZE) | (m_msi_qmax << 4));
        vset(m_msi_cap + PCI_MSI_FLAGS, 2, flags);
    } else if (o == cap_exp && covers(m_pcie_cap + PCI_EXP_DEVCTL, 2)) {
        // vfio_exp_config_write: Initiate FLR does a function reset if the device can, and reads back 0.
        const u16 ctl = u16(vget(m_pcie_cap + PCI_EXP_DEVCTL, 2));
        if (ctl & PCI_EXP_DEVCTL_BCR_FLR) {
            vset(m_pcie_cap + PCI_EXP_DEVCTL, 2, ctl & ~PCI_EXP_DEVCTL_BCR_FLR);
            if ((hw_read(m_pcie_cap + PCI_EXP_DEVCAP, 4) & PCI_EXP_DEVCAP_FLR) && m_hooks.flr) m_hooks.flr();
        }
    } else if (o == cap_af && covers(m_af_cap + PCI_AF_CTRL, 1)) {
        const u8 ctl = m_vconfig[m_af_cap + PCI_AF_CTRL];
        if (ctl & PCI_AF_CTRL_FLR) {
            m_vconfig[m_af_cap + PCI_AF_CTRL] = u8(ctl & ~PCI_AF_CTRL_FLR);
            if ((hw_read(m_af_cap + PCI_AF_CAP, 1) & PCI_AF_CAP_FLR) && m_hooks.flr) m_hooks.flr();
        }
    }
    return 0;
}

// vfio_pci_config_rw: naturally aligned chunks of 4, 2 or 1 bytes; an access past cfg_size is -EFAULT.
long vfio_pci_config::rw(u8* buf, u64 count, u64 pos, bool iswrite) {
    if (pos >= size() || count > size() - pos) return -EFAULT;
    u64 done = 0;
    while (done < count) {
        const u64 p = pos + done, left = count - done;
        const unsigned len = left >= 4 && !(p % 4) ? 4 : left >= 2 && !(p % 2) ? 2 : 1;
        u32 v = 0;
        if (iswrite) {
            for (unsigned i = 0; i < len; ++i) v |= u32(buf[done + i]) << (8 * i);
            if (int rc = write(u32(p), len, v)) return rc;
        } else {
            if (int rc = read(u32(p), len, v)) return rc;
            for (unsigned i = 0; i < len; ++i) buf[done + i] = u8(v >> (8 * i));
        }
        done += len;
    }
    return long(done);
}

} // namespace iommusim::vfio

#include "sim/host/pci_access.h"

namespace iommusim::host {

using namespace pci;

u32 pci_access::read(const pci_dev& d, u16 reg, unsigned len) {
    return m_ops.config_read(d.bus->segment, d.bus->number, d.devfn, reg, len);
}

void pci_access::write(const pci_dev& d, u16 reg, unsigned len, u32 v) {
    m_ops.config_write(d.bus->segment, d.bus->number, d.devfn, reg, len, v);
}

// __pci_bus_find_cap_start + __pci_find_next_cap_ttl.
u8 pci_access::find_capability(u16 seg, u8 bus, u8 devfn, u8 hdr_type, u8 cap) {
    const u16 status = u16(bus_read(seg, bus, devfn, PCI_STATUS, 2));
    if (!(status & PCI_STATUS_CAP_LIST)) return 0;
    u16 start;
    switch (hdr_type) {
    case PCI_HEADER_TYPE_NORMAL:
    case PCI_HEADER_TYPE_BRIDGE: start = PCI_CAPABILITY_LIST; break;
    case PCI_HEADER_TYPE_CARDBUS: start = 0x14; break;  // PCI_CB_CAPABILITY_LIST
    default: return 0;
    }
    unsigned pos = bus_read(seg, bus, devfn, start, 1);
    for (int ttl = 48; ttl > 0; --ttl) {
        if (pos < 0x40) break;
        pos &= ~3u;
        const u16 ent = u16(bus_read(seg, bus, devfn, u16(pos), 2));
        const u8 id = u8(ent & 0xff);
        if (id == 0xff) break;
        if (id == cap) return u8(pos);
        pos = ent >> 8;
    }
    return 0;
}

// pci_find_next_ext_capability(dev, 0, cap).
u16 pci_access::find_ext_capability(const pci_dev& d, u16 cap) {
    if (d.cfg_size <= PCI_CFG_SPACE_SIZE) return 0;
    unsigned pos = PCI_CFG_SPACE_SIZE;
    int ttl = (PCI_CFG_SPACE_EXP_SIZE - PCI_CFG_SPACE_SIZE) / 8;
    u32 header = read32(d, u16(pos));
    // No extended capabilities at all: a zero header, or all ones (no extended space).
    if (header == 0 || header == 0xffffffffu) return 0;
    while (ttl-- > 0) {
        if (PCI_EXT_CAP_ID(header) == cap) return u16(pos);
        pos = PCI_EXT_CAP_NEXT(header);
        if (pos < PCI_CFG_SPACE_SIZE) break;
        header = read32(d, u16(pos));
        if (header == 0 || header == 0xffffffffu) break;
    }
    return 0;
}

} // namespace iommusim::host

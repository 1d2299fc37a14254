// Config-space access for the simulated kernel: Linux's pci_read_config_*/pci_bus_read_config_* and the
// capability-list walkers, all on top of pci_host_ops. Every value the kernel knows comes through here.
#pragma once
#include "sim/host/pci_bus.h"
#include "sim/host/pci_host_ops.h"

namespace iommusim::host {

class pci_access {
public:
    explicit pci_access(pci_host_ops& ops) : m_ops(ops) {}

    pci_host_ops& ops() { return m_ops; }

    // pci_bus_read_config_*: addressed by segment, bus number and devfn (no pci_dev needed yet).
    u32 bus_read(u16 seg, u8 bus, u8 devfn, u16 reg, unsigned len) { return m_ops.config_read(seg, bus, devfn, reg, len); }
    void bus_write(u16 seg, u8 bus, u8 devfn, u16 reg, unsigned len, u32 v) { m_ops.config_write(seg, bus, devfn, reg, len, v); }

    u8 read8(const pci_dev& d, u16 reg) { return u8(read(d, reg, 1)); }
    u16 read16(const pci_dev& d, u16 reg) { return u16(read(d, reg, 2)); }
    u32 read32(const pci_dev& d, u16 reg) { return read(d, reg, 4); }
    void write8(const pci_dev& d, u16 reg, u8 v) { write(d, reg, 1, v); }
    void write16(const pci_dev& d, u16 reg, u16 v) { write(d, reg, 2, v); }
    void write32(const pci_dev& d, u16 reg, u32 v) { write(d, reg, 4, v); }

    // pci_find_capability(): walks the standard list with Linux's TTL of 48 (PCI_FIND_CAP_TTL), so a
    // looping list ends. Returns 0 if absent.
    u8 find_capability(u16 seg, u8 bus, u8 devfn, u8 hdr_type, u8 cap);
    // pci_find_ext_capability(): walks extended config space with the TTL of (4096-256)/8 headers.
    u16 find_ext_capability(const pci_dev& d, u16 cap);

private:
    u32 read(const pci_dev& d, u16 reg, unsigned len);
    void write(const pci_dev& d, u16 reg, unsigned len, u32 v);

    pci_host_ops& m_ops;
};

} // namespace iommusim::host

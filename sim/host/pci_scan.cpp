#include "sim/host/pci_scan.h"

#include <fmt/format.h>

#include <algorithm>

namespace iommusim::host {

using namespace pci;

namespace {

// PCI_POSSIBLE_ERROR and the other "nobody answered" patterns of pci_bus_generic_read_dev_vendor_id.
bool vendor_id_absent(u32 l) { return l == 0xffffffffu || l == 0 || l == 0x0000ffffu || l == 0xffff0000u; }

} // namespace

pci_scanner::pci_scanner(pci_access& access, pci_topology& topo, pci_quirks& quirks, pci_acs& acs, kernel_log& log,
                         const kernel_options& options, kernel_version version)
    : m_access(access), m_topo(topo), m_quirks(quirks), m_acs(acs), m_log(log), m_options(options),
      m_version(version) {}

void pci_scanner::scan_root_bus(const root_bus_info& root) {
    if (root.bus_end < root.bus_start) {
        m_log.warn(fmt::format("PCI: root bus {:04x}:{:02x} has an empty bus range [{:02x}-{:02x}], ignored",
                               root.segment, root.bus_start, root.bus_start, root.bus_end));
        return;
    }
    if (m_topo.find_bus(root.segment, root.bus_start)) {
        m_log.warn(fmt::format("PCI: root bus {:04x}:{:02x} already known, not scanned again", root.segment,
                               root.bus_start));
        return;
    }
    m_log.info(fmt::format("PCI host bridge to bus {:04x}:{:02x}", root.segment, root.bus_start));
    pci_bus* bus = m_topo.add_root_bus(root.segment, root.bus_start, root.bus_end);
    scan_child_bus(*bus);
}

bool pci_scanner::only_one_child(const pci_bus& bus) const {
    if (m_options.pcie_scan_all) return false;
    // A PCIe downstream port's link leads to device 0 only (PCIe r3.1 §7.3.1).
    return bus.self && pcie_downstream_port(*bus.self);
}

unsigned pci_scanner::scan_child_bus(pci_bus& bus) {
    unsigned max = bus.number;
    for (unsigned devfn = 0; devfn < 256; devfn += 8) scan_slot(bus, u8(devfn));

    // Bridges already configured by firmware first, then the ones that need numbers.
    std::vector<pci_dev*> bridges;
    for (pci_dev* d : bus.devices)
        if (pci_is_bridge(*d)) bridges.push_back(d);
    for (pci_dev* d : bridges) max = scan_bridge(bus, *d, max, 0);
    for (pci_dev* d : bridges) max = scan_bridge(bus, *d, max, 1);
    return max;
}

int pci_scanner::scan_slot(pci_bus& bus, u8 devfn) {
    if (only_one_child(bus) && devfn > 0) return 0;
    int nr = 0;
    for (unsigned fn = 0; fn < 8;) {
        pci_dev* dev = scan_single_device(bus, u8(devfn + fn));
        if (dev) {
            ++nr;
            // Functions other than 0 are marked multifunction whatever their header says.
            if (fn > 0) dev->multifunction = true;
        } else if (fn == 0) {
            break;  // function 0 is required (no hypervisor_isolated_pci_functions here)
        }
        // next_fn(): only a multifunction function 0 (or later function) leads on.
        if (dev && !dev->multifunction) break;
        ++fn;
    }
    return nr;
}

pci_dev* pci_scanner::scan_single_device(pci_bus& bus, u8 devfn) {
    if (pci_dev* existing = m_topo.get_slot(bus, devfn)) return existing;
    const u32 l = m_access.bus_read(bus.segment, bus.number, devfn, PCI_VENDOR_ID, 4);
    if (vendor_id_absent(l)) return nullptr;

    pci_dev dev;
    dev.bus = &bus;
    dev.devfn = devfn;
    dev.vendor = u16(l);
    dev.device = u16(l >> 16);
    const u8 hdr = u8(m_access.bus_read(bus.segment, bus.number, devfn, PCI_HEADER_TYPE, 1));
    if (!setup_device(dev, hdr)) return nullptr;

    // pci_device_add(): header fixups, then pci_init_capabilities (pci_acs_init among them).
    m_quirks.fixup_header(dev);
    m_acs.init(dev);
    return m_topo.add_device(dev);
}

bool pci_scanner::setup_device(pci_dev& dev, u8 hdr) {
    dev.hdr_type = hdr & PCI_HEADER_TYPE_MASK;
    dev.multifunction = (hdr & PCI_HEADER_TYPE_MFD) != 0;
    const u32 cr = m_access.read32(dev, PCI_CLASS_REVISION);
    dev.revision = u8(cr);
    dev.class_code = cr >> 8;
    m_log.pci_info(dev, fmt::format("[{:04x}:{:04x}] type {:02x} class {:#08x}", dev.vendor, dev.device,
                                    dev.hdr_type, dev.class_code));

    set_pcie_port_type(dev);
    // set_pcie_untrusted(): everything below an external-facing or untrusted port is untrusted.
    if (const pci_dev* parent = pci_upstream_bridge(dev))
        if (parent->untrusted || parent->external_facing) dev.untrusted = true;
    for (const bdf& b : m_options.external_facing)
        if (b == dev.address() && pci_is_pcie(dev) && pci_pcie_type(dev) == PCI_EXP_TYPE_ROOT_PORT)
            dev.external_facing = true;
    dev.cfg_size = cfg_space_size(dev);

    const u16 cls = u16(dev.class_code >> 8);
    bool bad = false;
    // quirk_mmio_always_on (drivers/pci/quirks.c): host bridges keep decoding while their BARs are sized.
    dev.mmio_always_on = cls == PCI_CLASS_BRIDGE_HOST;
    switch (dev.hdr_type) {
    case PCI_HEADER_TYPE_NORMAL:
        if (cls == PCI_CLASS_BRIDGE_PCI) bad = true;
        read_bases(dev, 6, PCI_ROM_ADDRESS);
        dev.subsystem_vendor = m_access.read16(dev, PCI_SUBSYSTEM_VENDOR_ID);
        dev.subsystem_device = m_access.read16(dev, PCI_SUBSYSTEM_ID);
        break;
    case PCI_HEADER_TYPE_BRIDGE:
        if (cls != PCI_CLASS_BRIDGE_PCI) bad = true;
        read_bases(dev, 2, PCI_ROM_ADDRESS1);
        break;
    case PCI_HEADER_TYPE_CARDBUS:
        if (cls != 0x0607) bad = true;  // PCI_CLASS_BRIDGE_CARDBUS
        break;
    default:
        m_log.pci_err(dev, fmt::format("unknown header type {:02x}, ignoring device", dev.hdr_type));
        return false;
    }
    if (bad) {
        m_log.pci_err(dev, fmt::format("ignoring class {:#08x} (doesn't match header type {:02x})", dev.class_code,
                                       dev.hdr_type));
        dev.class_code = 0;  // PCI_CLASS_NOT_DEFINED << 8
    }
    return true;
}

// pci_read_bases(): each BAR in turn (a 64-bit one takes two registers), then the expansion ROM.
void pci_scanner::read_bases(pci_dev& dev, unsigned howmany, u16 rom) {
    for (unsigned i = 0; i < howmany;) i += read_base(dev, i, u16(PCI_BASE_ADDRESS_0 + 4 * i), false);
    if (rom) read_base(dev, PCI_ROM_RESOURCE, rom, true);
}

// __pci_read_base() as in Linux 6.1: memory and I/O decode off (unless mmio_always_on) while the BAR
// holds all ones, so the device cannot claim a bogus range; save, write all ones, read back the size
// mask, restore; then decode on again. Returns how many BAR registers the BAR used (2 for 64-bit).
unsigned pci_scanner::read_base(pci_dev& dev, unsigned index, u16 pos, bool rom) {
    constexpr u16 decode = PCI_COMMAND_IO | PCI_COMMAND_MEMORY; // PCI_COMMAND_DECODE_ENABLE
    u16 orig_cmd = 0;
    if (!dev.mmio_always_on) {
        orig_cmd = m_access.read16(dev, PCI_COMMAND);
        if (orig_cmd & decode) m_access.write16(dev, PCI_COMMAND, u16(orig_cmd & ~decode));
    }
    const u32 mask = rom ? PCI_ROM_ADDRESS_MASK : 0xffffffffu;
    const u32 l = m_access.read32(dev, pos);
    m_access.write32(dev, pos, l | mask);
    u32 sz = m_access.read32(dev, pos);
    m_access.write32(dev, pos, l);
    // A device that vanished reads all ones; treat like an unimplemented BAR.
    if (sz == 0xffffffffu) sz = 0;

    pci_resource r;
    r.index = index;
    unsigned used = 1;
    u64 l64 = 0, sz64 = 0, mask64 = 0;
    if (rom) {
        r.rom_enabled = l & PCI_ROM_ADDRESS_ENABLE;
        l64 = l & PCI_ROM_ADDRESS_MASK;
        sz64 = sz & PCI_ROM_ADDRESS_MASK;
        mask64 = PCI_ROM_ADDRESS_MASK;
    } else if (l & PCI_BASE_ADDRESS_SPACE_IO) {
        r.io = true;
        l64 = l & PCI_BASE_ADDRESS_IO_MASK;
        sz64 = sz & PCI_BASE_ADDRESS_IO_MASK;
        mask64 = PCI_BASE_ADDRESS_IO_MASK & 0xffffu; // x86 IO_SPACE_LIMIT
    } else {
        r.prefetch = l & PCI_BASE_ADDRESS_MEM_PREFETCH;
        r.mem64 = (l & 0x06u) == PCI_BASE_ADDRESS_MEM_TYPE_64; // PCI_BASE_ADDRESS_MEM_TYPE_MASK
        l64 = l & PCI_BASE_ADDRESS_MEM_MASK;
        sz64 = sz & PCI_BASE_ADDRESS_MEM_MASK;
        mask64 = u32(PCI_BASE_ADDRESS_MEM_MASK);
    }
    if (r.mem64) {
        used = 2;
        const u16 hi = u16(pos + 4);
        const u32 u = m_access.read32(dev, hi);
        m_access.write32(dev, hi, 0xffffffffu);
        const u32 sz2 = m_access.read32(dev, hi);
        m_access.write32(dev, hi, u);
        l64 |= u64(u) << 32;
        sz64 |= u64(sz2) << 32;
        mask64 |= u64(0xffffffffu) << 32;
    }
    if (!dev.mmio_always_on && (orig_cmd & decode)) m_access.write16(dev, PCI_COMMAND, orig_cmd);

    // pci_size(): the lowest writable address bit is the size; a BAR whose writable bits are not
    // contiguous up to the mask is broken and ignored.
    u64 size = sz64 & mask64;
    if (!size) return used;
    size &= ~(size - 1);
    if (l64 == sz64 && ((l64 | (size - 1)) & mask64) != mask64) return used;
    r.base = l64;
    r.size = size;
    if (rom && size < 2048) return used; // below the ROM's minimum decode: not a ROM BAR
    dev.resources.push_back(r);
    m_log.pci_dbg(dev, fmt::format("reg {:#x}: [{} {:#x}-{:#x}{}{}]", pos, r.io ? "io " : "mem", r.base,
                                   r.base + r.size - 1, r.mem64 ? " 64bit" : "", r.prefetch ? " pref" : ""));
    return used;
}

void pci_scanner::set_pcie_port_type(pci_dev& dev) {
    const u8 pos = m_access.find_capability(dev.bus->segment, dev.bus->number, dev.devfn, dev.hdr_type, PCI_CAP_ID_EXP);
    if (!pos) return;
    dev.pcie_cap = pos;
    dev.pcie_flags_reg = m_access.read16(dev, u16(pos + PCI_EXP_FLAGS));

    const pci_dev* parent = pci_upstream_bridge(dev);
    if (!parent || !m_version.at_least(5, 3)) return;
    // Firmware that mislabels switch ports: a "downstream" port below a downstream port is really an
    // upstream port and vice versa. The kernel clears the type field but ORs the new type in unshifted
    // (into the capability-version bits), so the corrected port ends up typed as an Endpoint (0). Kept.
    const u8 type = pci_pcie_type(dev);
    if (type == PCI_EXP_TYPE_DOWNSTREAM && pcie_downstream_port(*parent)) {
        m_log.pci_info(dev, "claims to be downstream port but is acting as upstream port, correcting type");
        dev.pcie_flags_reg = u16((dev.pcie_flags_reg & ~PCI_EXP_FLAGS_TYPE) | PCI_EXP_TYPE_UPSTREAM);
    } else if (type == PCI_EXP_TYPE_UPSTREAM && pci_is_pcie(*parent) &&
               pci_pcie_type(*parent) == PCI_EXP_TYPE_UPSTREAM) {
        m_log.pci_info(dev, "claims to be upstream port but is acting as downstream port, correcting type");
        dev.pcie_flags_reg = u16((dev.pcie_flags_reg & ~PCI_EXP_FLAGS_TYPE) | PCI_EXP_TYPE_DOWNSTREAM);
    }
}

unsigned pci_scanner::cfg_space_size(pci_dev& dev) {
    if (u16(dev.class_code >> 8) != PCI_CLASS_BRIDGE_HOST && !pci_is_pcie(dev)) return PCI_CFG_SPACE_SIZE;
    // pci_cfg_space_size_ext(): extended space exists unless 0x100 reads as an error or aliases 0x000.
    const u32 status = m_access.read32(dev, PCI_CFG_SPACE_SIZE);
    if (status == 0xffffffffu) return PCI_CFG_SPACE_SIZE;
    if (status == m_access.read32(dev, 0)) {  // pci_ext_cfg_is_aliased()
        bool aliased = true;
        for (u16 pos = 4; pos < PCI_CFG_SPACE_SIZE && aliased; pos += 4)
            aliased = m_access.read32(dev, pos) == m_access.read32(dev, u16(PCI_CFG_SPACE_SIZE + pos));
        if (aliased) return PCI_CFG_SPACE_SIZE;
    }
    return PCI_CFG_SPACE_EXP_SIZE;
}

unsigned pci_scanner::scan_bridge(pci_bus& bus, pci_dev& dev, unsigned max, int pass) {
    if (dev.hdr_type == PCI_HEADER_TYPE_CARDBUS) {
        if (pass == 0) m_log.pci_info(dev, "CardBus bridge: bus behind it not scanned (not modelled)");
        return max;
    }
    u32 buses = m_access.read32(dev, PCI_PRIMARY_BUS);
    unsigned primary = buses & 0xff, secondary = (buses >> 8) & 0xff, subordinate = (buses >> 16) & 0xff;
    m_log.pci_dbg(dev, fmt::format("scanning [bus {:02x}-{:02x}] behind bridge, pass {}", secondary, subordinate, pass));

    if (!primary && primary != bus.number && secondary && subordinate) {
        m_log.pci_warn(dev, "Primary bus is hard wired to 0");
        primary = bus.number;
    }
    bool broken = false;
    if (!pass && (primary != bus.number || secondary <= bus.number || secondary > subordinate)) {
        m_log.pci_info(dev, fmt::format("bridge configuration invalid ([bus {:02x}-{:02x}]), reconfiguring",
                                        secondary, subordinate));
        broken = true;
    }

    if ((secondary || subordinate) && !m_options.assign_busses && !broken) {
        // Firmware numbered this bridge: keep it (pass 0 only).
        if (pass) return max;
        if (dev.subordinate) return std::max(max, subordinate);
        if (m_topo.find_bus(bus.segment, u8(secondary))) {
            // Linux would reuse the existing bus; we refuse a second parent (it would make a loop or a
            // double scan) and leave the devices where they were first found.
            m_log.pci_warn(dev, fmt::format("[bus {:02x}-{:02x}] overlaps bus {:02x} already reached through "
                                            "another bridge; not scanned again",
                                            secondary, subordinate, secondary));
            return std::max(max, subordinate);
        }
        pci_bus* child = m_topo.add_child_bus(&bus, &dev, u8(secondary));
        child->primary = u8(primary);
        child->busn_end = u8(subordinate);
        const unsigned cmax = scan_child_bus(*child);
        if (cmax > subordinate)
            m_log.pci_warn(dev, fmt::format("bridge has subordinate {:02x} but max busn {:02x}", subordinate, cmax));
        if (subordinate > max) max = subordinate;
        // "Check that all devices are accessible": the child range must sit inside every ancestor's.
        for (const pci_bus* b = &bus; b->parent; b = b->parent) {
            if (child->busn_end > b->busn_end || child->number > b->busn_end || child->number < b->number) {
                m_log.pci_info(dev, fmt::format("devices behind bridge are unusable because [bus {:02x}-{:02x}] "
                                                "cannot be assigned for them", child->number, child->busn_end));
                break;
            }
        }
        return max;
    }

    if (!pass) {
        // Stop forwarding config cycles until pass 1 numbers this bridge, so overlapping stale ranges
        // cannot capture another bridge's cycles.
        if (m_options.assign_busses || broken) m_access.write32(dev, PCI_PRIMARY_BUS, buses & ~0xffffffu);
        return max;
    }

    // Pass 1: give it the next free number, open the range to the parent bus's end, scan, then close.
    m_access.write16(dev, PCI_STATUS, 0xffff);  // clear errors
    const unsigned next_busnr = max + 1;
    // The new bus gets [next, end of the parent bus's range]; past that end the parent does not forward
    // its cycles, so nothing behind this bridge can be reached (Linux's accessibility check).
    const u8 end = bus.busn_end;
    if (next_busnr > end) {
        m_log.pci_info(dev, fmt::format("devices behind bridge are unusable because [bus {:02x}-{:02x}] cannot be "
                                        "assigned for them", next_busnr & 0xff, end));
        return max;
    }
    if (m_topo.find_bus(bus.segment, u8(next_busnr))) {
        m_log.pci_warn(dev, fmt::format("bus {:02x} already exists; not scanned again", next_busnr));
        return max;
    }
    pci_bus* child = m_topo.add_child_bus(&bus, &dev, u8(next_busnr));
    child->busn_end = end;
    ++max;
    buses = (buses & 0xff000000u) | u32(child->primary) | u32(child->number) << 8 | u32(end) << 16;
    m_access.write32(dev, PCI_PRIMARY_BUS, buses);  // all three numbers in one write
    max = scan_child_bus(*child);
    child->busn_end = u8(std::min(max, 0xffu));
    m_access.write8(dev, PCI_SUBORDINATE_BUS, child->busn_end);
    return max;
}

} // namespace iommusim::host

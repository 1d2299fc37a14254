#include "sim/host/drivers/tce/pnv_phb.h"

#include "models/iommu/tce/phb.h"
#include "sim/host/iommu_groups.h"
#include "sim/host/kernel_log.h"
#include "sim/host/pci_bus.h"

#include <cerrno>
#include <fmt/format.h>

namespace iommusim::host {

pnv_phb::pnv_phb(pci_host_ops& ops, tce::phb& opal, const opal_phb_info& info, const root_bus_info& root,
                 unsigned global_number, memory::page_allocator& pages, kernel_log& log, u64 memory_size)
    : m_ops(ops), m_opal(opal), m_info(info), m_root(root), m_global(global_number), m_pages(pages), m_log(log),
      m_memory_size(memory_size), m_pe_alloc(info.num_pes, false), m_pes(info.num_pes), m_rmap(0x10000, IODA_INVALID_PE),
      m_group_of_pe(info.num_pes, nullptr), m_msi_vector(info.num_msi, -1) {}

pnv_phb::~pnv_phb() = default;

bool pnv_phb::owns(const pci_dev& dev) const {
    const bdf a = dev.address();
    return a.segment == m_root.segment && a.bus >= m_root.bus_start && a.bus <= m_root.bus_end;
}

// pnv_ioda_init_pe: the PE's software state, and its freeze cleared (it may be frozen from an earlier use).
pnv_ioda_pe& pnv_phb::init_pe(unsigned n) {
    if (!m_pes[n]) m_pes[n] = std::make_unique<pnv_ioda_pe>(*this, n);
    const i64 rc = m_opal.eeh_freeze_clear(n, tce::OPAL_EEH_ACTION_CLEAR_FREEZE_ALL);
    if (rc != tce::OPAL_SUCCESS && rc != tce::OPAL_UNSUPPORTED)
        m_log.warn(fmt::format("pnv_ioda_init_pe: Error {} unfreezing PHB#{:x}-PE#{:x}", rc, m_global, n));
    return *m_pes[n];
}

void pnv_phb::reserve_pe(unsigned n) {
    m_pe_alloc[n] = true;
    init_pe(n);
}

// pnv_ioda_alloc_pe(phb, 1): the highest free PE number.
pnv_ioda_pe* pnv_phb::alloc_pe() {
    for (unsigned n = m_info.num_pes; n-- > 0;) {
        if (m_pe_alloc[n]) continue;
        m_pe_alloc[n] = true;
        return &init_pe(n);
    }
    return nullptr;
}

// pnv_pci_init_ioda_phb: the reserved PE (ibm,opal-reserved-pe) and the root bus's PE next to it.
void pnv_phb::init() {
    const unsigned last = m_info.num_pes - 1;
    reserve_pe(m_info.reserved_pe);
    if (m_info.reserved_pe == 0) {
        m_root_pe = 1;
        reserve_pe(m_root_pe);
    } else if (m_info.reserved_pe == last) {
        m_root_pe = m_info.reserved_pe - 1;
        reserve_pe(m_root_pe);
    } else {
        m_root_pe = alloc_pe()->number();
    }
    init_m64();
    m_log.info(fmt::format("pci_bus {:04x}:{:02x}: PHB#{:x} (IODA2 {}): {} PEs, reserved PE#{:x}, root PE#{:x}",
                           m_root.segment, m_root.bus_start, m_global, m_info.phb4 ? "PHB4" : "PHB3",
                           m_info.num_pes, m_info.reserved_pe, m_root_pe));
}

// pnv_ioda_configure_pe for a bus PE: opal_pci_set_pe with the bus compare a power-of-two range allows, the
// reverse map over the whole range (even where the PHB compares the first bus only, as Linux does).
int pnv_phb::configure_pe(pnv_ioda_pe& pe, unsigned count, const pci_bus& bus) {
    tce::bus_compare bcomp = tce::bus_compare::all;
    switch (count) {
    case 1: bcomp = tce::bus_compare::all; break;
    case 2: bcomp = tce::bus_compare::bits7; break;
    case 4: bcomp = tce::bus_compare::bits6; break;
    case 8: bcomp = tce::bus_compare::bits5; break;
    case 16: bcomp = tce::bus_compare::bits4; break;
    case 32: bcomp = tce::bus_compare::bits3; break;
    default:
        m_log.warn(fmt::format("pci_bus {:04x}:{:02x}: Number of subordinate buses {} unsupported",
                               m_root.segment, pe.bus_start, count));
    }
    const u16 rid = u16(pe.bus_start << 8);
    const i64 rc = m_opal.set_pe(pe.number(), rid, bcomp, false, false, tce::OPAL_MAP_PE);
    if (rc != tce::OPAL_SUCCESS) {
        m_log.warn(fmt::format("pci {:04x}:{:02x}     : [PE# {:02x}] OPAL error {} trying to setup PELT table",
                               m_root.segment, pe.bus_start, pe.number(), rc));
        return -ENXIO;
    }
    set_peltv(pe, bus);
    for (u32 r = rid; r < u32(rid) + (count << 8) && r < m_rmap.size(); ++r) m_rmap[r] = u16(pe.number());
    return 0;
}

void pnv_phb::set_one_peltv(pnv_ioda_pe& parent, pnv_ioda_pe& child) {
    auto add = [&](unsigned p, unsigned c) {
        if (const i64 rc = m_opal.set_peltv(p, c, tce::OPAL_ADD_PE_TO_DOMAIN); rc != tce::OPAL_SUCCESS)
            m_log.warn(fmt::format("[PE# {:02x}] OPAL error {} adding to parent PELTV", c, rc));
    };
    add(parent.number(), child.number());
    for (pnv_ioda_pe* s : child.slaves) add(parent.number(), s->number()); // the compound's every PE
}

void pnv_phb::set_peltv(pnv_ioda_pe& pe, const pci_bus& bus) {
    m_opal.eeh_freeze_clear(pe.number(), tce::OPAL_EEH_ACTION_CLEAR_FREEZE_ALL);
    for (pnv_ioda_pe* s : pe.slaves) m_opal.eeh_freeze_clear(s->number(), tce::OPAL_EEH_ACTION_CLEAR_FREEZE_ALL);
    set_one_peltv(pe, pe);
    for (pnv_ioda_pe* s : pe.slaves) set_one_peltv(*s, pe);
    // Every bridge above: the PE it belongs to freezes this one when it errs.
    for (const pci_dev* bridge = bus.self; bridge; bridge = bridge->bus->self) {
        const u16 parent = m_rmap[u16(bridge->bus->number << 8 | bridge->devfn)];
        if (parent != IODA_INVALID_PE && m_pes[parent]) set_one_peltv(*m_pes[parent], pe);
    }
}

// pnv_ioda_setup_bus_PE.
pnv_ioda_pe* pnv_phb::setup_bus_pe(pci_bus& bus, bool all) {
    if (m_rmap[u16(bus.number << 8)] != IODA_INVALID_PE) return nullptr; // WARN_ON: already has a PE
    pnv_ioda_pe* pe = bus.is_root() ? m_pes[m_root_pe].get() : pick_m64_pe(bus, all);
    if (!pe) pe = alloc_pe();
    if (!pe) {
        m_log.warn(fmt::format("pnv_ioda_setup_bus_PE: Not enough PE# available for PCI bus {:04x}:{:02x}",
                               bus.segment, bus.number));
        return nullptr;
    }
    pe->all = all;
    pe->bus_start = bus.number;
    pe->bus_end = all ? bus.busn_end : bus.number;
    const std::string pfx = fmt::format("pci {:04x}:{:02x}     : [PE# {:02x}] ", bus.segment, bus.number, pe->number());
    if (all)
        m_log.info(pfx + fmt::format("Secondary bus {:#018x}..{:#018x} associated with PE#{:x}", bus.number,
                                     bus.busn_end, pe->number()));
    else
        m_log.info(pfx + fmt::format("Secondary bus {:#018x} associated with PE#{:x}", bus.number, pe->number()));
    const unsigned count = all ? unsigned(bus.busn_end - bus.number + 1) : 1;
    if (configure_pe(*pe, count, bus)) {
        if (!bus.is_root()) m_pe_alloc[pe->number()] = false;
        return nullptr;
    }
    return pe;
}

// pnv_ioda_setup_pe_seg / pnv_ioda_setup_pe_res: every M32 segment a BAR of the PE's devices touches is
// the PE's (opal_pci_map_pe_mmio_window). I/O space and M64 (64-bit prefetchable) BARs are not segmented.
void pnv_phb::setup_pe_seg(pnv_ioda_pe& pe, pci_bus& bus) {
    const u64 segsize = m_info.m32_size / m_info.m32_segments;
    for (pci_dev* dev : bus.devices) {
        for (const pci_resource& r : dev->resources) {
            if (r.io || !r.size || r.base < m_info.m32_pci_base || r.base - m_info.m32_pci_base >= m_info.m32_size)
                continue;
            u64 start = r.base - m_info.m32_pci_base;
            const u64 end = start + r.size - 1;
            for (u64 index = start / segsize; index < m_info.m32_segments && start <= end; ++index, start += segsize) {
                const i64 rc = m_opal.map_pe_mmio_window(pe.number(), tce::OPAL_M32_WINDOW_TYPE, 0, unsigned(index));
                if (rc != tce::OPAL_SUCCESS) {
                    m_log.warn(fmt::format("pnv_ioda_setup_pe_res: Error {} mapping M32 segment#{} to PE#{:x}", rc,
                                           index, pe.number()));
                    break;
                }
            }
        }
        // A PE that spans its subtree owns its bridges' windows too; here the BARs below them stand for the
        // windows (see the TCE README's compliance notes).
        if (pe.all && dev->subordinate) setup_pe_seg(pe, *dev->subordinate);
    }
}

// pnv_pci_configure_bus: a bus below a PCIe-to-PCI bridge takes its whole subtree.
void pnv_phb::configure_bus(pci_bus& bus) {
    const bool all = bus.self && pci_is_pcie(*bus.self) && pci_pcie_type(*bus.self) == pci::PCI_EXP_TYPE_PCI_BRIDGE;
    m_log.info(fmt::format("pci_bus {:04x}:{:02x}: Configuring PE for bus", bus.segment, bus.number));
    if (bus.devices.empty()) return;
    reserve_m64_pe(bus, nullptr, all); // the PE numbers the bus's M64 segments pin
    pnv_ioda_pe* pe = setup_bus_pe(bus, all);
    if (pe) setup_pe_seg(*pe, bus);
}

void pnv_phb::dma_dev_setup(pci_dev& dev, iommu_groups& groups) {
    const u16 rid = u16(dev.bus->number << 8 | dev.devfn);
    pnv_ioda_pe* pe = nullptr;
    if (m_rmap[rid] == IODA_INVALID_PE) {
        configure_bus(*dev.bus);
        if (m_rmap[rid] != IODA_INVALID_PE) pe = m_pes[m_rmap[rid]].get();
        m_log.pci_info(dev, fmt::format("Configured PE#{:x}", pe ? pe->number() : 0xfffffu));
        if (!pe) return;
    } else {
        pe = m_pes[m_rmap[rid]].get();
        m_log.pci_info(dev, fmt::format("Added to existing PE#{:x}", pe->number()));
    }
    // Bridges are assumed not to DMA: only a PE's first other device sets up its DMA (and its group).
    if (!pe->dma_setup_done && !pci_is_bridge(dev) && pe->setup_dma()) {
        iommu_group& g = groups.alloc_group();
        pe->group = g.id;
        // The default window's TCE size; v2's first MAP_DMA charges a 4 KiB-TCE, one-level table over tce32
        // (tce_iommu_create_default_window).
        const unsigned shift = pe->tables[0] ? pe->tables[0]->page_shift() : 12;
        g.pe = pe_dma_info{pe->tce32_start, pe->tce32_size, shift, pe->pgsizes, pe->max_dynamic_windows_supported,
                           true, pe->get_table_size(12, pe->tce32_size, 1)};
        m_group_of_pe[pe->number()] = &g;
    }
    if (iommu_group* g = m_group_of_pe[pe->number()]) {
        std::string span = pe->all ? fmt::format("buses {:02x}..{:02x}", pe->bus_start, pe->bus_end)
                                   : fmt::format("bus {:02x}", pe->bus_start);
        if (!pe->slaves.empty()) {
            span += ", a compound PE with";
            for (const pnv_ioda_pe* s : pe->slaves) span += fmt::format(" PE#{:x}", s->number());
            span += " for its BARs' M64 segments";
        }
        groups.add_device(*g, dev,
                          fmt::format("{}: PE#{:x} of PHB#{:x} (domain{}-pe{:x}) is {}: one IOMMU group per "
                                      "Partitionable Endpoint",
                                      dev.name(), pe->number(), m_global, m_global, pe->number(), span));
    }
}

pnv_ioda_pe* pnv_phb::pe_of_group(int group) const {
    for (size_t n = 0; n < m_pes.size(); ++n)
        if (m_group_of_pe[n] && m_group_of_pe[n]->id == group) return m_pes[n].get();
    return nullptr;
}

pnv_ioda_pe* pnv_phb::pe_of(const pci_dev& dev) const {
    const u16 pe = m_rmap[u16(dev.bus->number << 8 | dev.devfn)];
    return pe == IODA_INVALID_PE ? nullptr : m_pes[pe].get();
}

bool pnv_phb::write_tce_kill(u64 value) {
    if (!m_info.regs) return false;
    // __raw_writeq_be: the register sees the value's big-endian bytes.
    m_ops.mmio_write(m_info.regs + tce::PHB_TCE_KILL, 8, __builtin_bswap64(value));
    return true;
}

int pnv_phb::msi_setup(const pci_dev& dev, unsigned count, u8 first_vector, bool is64, std::vector<msi_msg>& out) {
    const pnv_ioda_pe* pe = pe_of(dev);
    if (!pe) return -ENXIO; // no PE assigned: no MSI
    // msi_bitmap_alloc_hwirqs: a naturally aligned run of sources.
    unsigned run = 1;
    while (run < count) run <<= 1;
    int first = -1;
    for (u32 b = 0; b + run <= m_msi_vector.size() && first < 0; b += run) {
        bool free = true;
        for (u32 i = b; i < b + run && free; ++i) free = m_msi_vector[i] < 0;
        if (free) first = int(b);
    }
    if (first < 0) return -ENOSPC;
    out.clear();
    for (unsigned i = 0; i < count; ++i) {
        const u32 xive = u32(first) + i;
        if (m_opal.set_xive_pe(pe->number(), xive) != tce::OPAL_SUCCESS) {
            m_log.warn(fmt::format("__pnv_pci_ioda_msi_setup: OPAL error setting XIVE {} PE", xive));
            msi_free_sources(u32(first), i);
            return -EIO;
        }
        msi_msg m;
        u32 data = 0;
        i64 rc;
        if (is64) {
            u64 addr = 0;
            rc = m_opal.get_msi_64(pe->number(), xive, 1, addr, data);
            m.address_hi = u32(addr >> 32);
            m.address_lo = u32(addr);
        } else {
            u32 addr = 0;
            rc = m_opal.get_msi_32(pe->number(), xive, 1, addr, data);
            m.address_lo = addr;
        }
        if (rc != tce::OPAL_SUCCESS) {
            m_log.warn(fmt::format("__pnv_pci_ioda_msi_setup: OPAL error {} getting {}-bit MSI data", rc, is64 ? 64 : 32));
            msi_free_sources(u32(first), i);
            return -EIO;
        }
        m.data = data;
        m_msi_vector[xive] = int(first_vector) + int(i);
        out.push_back(m);
    }
    return 0;
}

// pnv_ioda2_init_m64: the last available BAR covers the M64 window in split mode (segment n = PE n).
void pnv_phb::init_m64() {
    if (!m_info.m64_size || !m_info.m64_bars) {
        m_log.info(fmt::format("pci_bus {:04x}:{:02x}:  No <ibm,opal-m64-window>", m_root.segment, m_root.bus_start));
        return;
    }
    const unsigned bar = m_info.m64_bars - 1;
    i64 rc = m_opal.set_phb_mem_window(tce::OPAL_M64_WINDOW_TYPE, bar, m_info.m64_base, m_info.m64_size);
    const char* what = "configuring";
    if (rc == tce::OPAL_SUCCESS) {
        rc = m_opal.phb_mmio_enable(tce::OPAL_M64_WINDOW_TYPE, bar, tce::OPAL_ENABLE_M64_SPLIT);
        what = "enabling";
    }
    if (rc != tce::OPAL_SUCCESS) {
        m_log.warn(fmt::format("  Failure {} {} M64 BAR#{}", rc, what, bar));
        m_opal.phb_mmio_enable(tce::OPAL_M64_WINDOW_TYPE, bar, tce::OPAL_DISABLE_M64);
        return;
    }
    m_m64_segsize = m_info.m64_size / m_info.num_pes;
    m_log.info(fmt::format(" MEM {:#018x}..{:#018x} (M64 #0..{})", m_info.m64_base, m_info.m64_base + m_info.m64_size - 1,
                           m_info.m64_bars - 1));
    m_log.info(fmt::format(" Using M64 #{} as default window", bar));
}

// pnv_pci_is_m64: the resource lies in the M64 window.
bool pnv_phb::is_m64(const pci_resource& r) const {
    return m_m64_segsize && !r.io && r.size && r.base >= m_info.m64_base && r.base - m_info.m64_base < m_info.m64_size;
}

// pnv_ioda_reserve_dev_m64_pe: every M64 segment a BAR (or ROM) of the device touches.
void pnv_phb::reserve_dev_m64_pe(const pci_dev& dev, std::vector<bool>* bitmap) {
    for (const pci_resource& r : dev.resources) {
        if (!is_m64(r)) continue;
        const u64 start = (r.base - m_info.m64_base) / m_m64_segsize * m_m64_segsize;
        const u64 end = (r.base + r.size - 1 - m_info.m64_base + m_m64_segsize - 1) / m_m64_segsize * m_m64_segsize;
        for (u64 segno = start / m_m64_segsize; segno < end / m_m64_segsize && segno < m_info.num_pes; ++segno) {
            if (bitmap) (*bitmap)[segno] = true;
            else reserve_pe(unsigned(segno));
        }
    }
}

void pnv_phb::reserve_m64_pe(const pci_bus& bus, std::vector<bool>* bitmap, bool all) {
    for (const pci_dev* dev : bus.devices) {
        reserve_dev_m64_pe(*dev, bitmap);
        if (all && dev->subordinate) reserve_m64_pe(*dev->subordinate, bitmap, all);
    }
}

// pnv_ioda_pick_m64_pe: the first segment's PE is the master, the others its slaves.
pnv_ioda_pe* pnv_phb::pick_m64_pe(const pci_bus& bus, bool all) {
    if (bus.is_root() || !m_m64_segsize) return nullptr;
    std::vector<bool> segs(m_info.num_pes, false);
    reserve_m64_pe(bus, &segs, all);
    pnv_ioda_pe* master = nullptr;
    for (unsigned n = 0; n < m_info.num_pes; ++n) {
        if (!segs[n]) continue;
        if (!m_pes[n]) init_pe(n);
        pnv_ioda_pe* pe = m_pes[n].get();
        if (!master) {
            master = pe;
        } else {
            pe->master = master;
            master->slaves.push_back(pe);
        }
    }
    if (master && !master->slaves.empty())
        m_log.info(fmt::format("pci_bus {:04x}:{:02x}: compound PE#{:x} with {} slave PE(s) for its M64 segments",
                               bus.segment, bus.number, master->number(), master->slaves.size()));
    return master;
}

void pnv_phb::msi_free_sources(u32 first, unsigned count) {
    for (u32 i = first; i < first + count && i < m_msi_vector.size(); ++i) m_msi_vector[i] = -1;
}

void pnv_phb::msi_free(u8 first_vector, unsigned count) {
    for (int& v : m_msi_vector)
        if (v >= int(first_vector) && v < int(first_vector) + int(count)) v = -1;
}

std::optional<u8> pnv_phb::msi_vector(u32 xive) const {
    if (xive >= m_msi_vector.size() || m_msi_vector[xive] < 0) return std::nullopt;
    return u8(m_msi_vector[xive]);
}

} // namespace iommusim::host

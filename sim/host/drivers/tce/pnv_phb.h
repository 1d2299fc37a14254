// The powernv kernel's side of one PHB (arch/powerpc/platforms/powernv/pci-ioda.c, v6.1: struct pnv_phb's
// ioda state): the PE allocator, the RID -> PE reverse map, PE assignment per bus through OPAL, and the DMA
// set-up that registers each PE's IOMMU group.
//
// PEs are made lazily, as devices are added (pnv_pci_ioda_dma_dev_setup, bus-add order): a device whose RID
// has no PE yet configures its bus (pnv_pci_configure_bus): one PE for the bus, or - below a PCIe-to-PCI
// bridge - one PE for the bus and every bus under it (PNV_IODA_PE_BUS_ALL, matched by bus-number bits, so
// the range must be 1, 2, 4 .. 32 buses; otherwise the PHB matches the first bus only while the kernel's
// reverse map still claims the range). The root bus takes the PE picked at PHB init (next to the reserved
// PE), a bus whose BARs sit in M64 segments takes those segments' PEs (segment n is PE n; several make a
// compound PE), others are allocated from the top down. A PE's DMA - and with it its IOMMU group - is set up by
// its first device that is not a bridge; bridges added before that stay outside any group.
#pragma once
#include "sim/host/drivers/tce/pnv_ioda_pe.h"
#include "sim/host/pci_host_ops.h"

#include "sim/host/iommu/iommu_types.h"

#include <memory>
#include <optional>
#include <vector>

namespace iommusim::memory {
class page_allocator;
}

namespace iommusim::host {

class kernel_log;
class iommu_groups;
struct iommu_group;
struct pci_bus;
struct pci_dev;
struct pci_resource;

class pnv_phb {
public:
    static constexpr u16 IODA_INVALID_PE = 0xffff;

    // global_number: the hose's number (PHB order); memory_size: the end of DRAM (memblock).
    pnv_phb(pci_host_ops& ops, tce::phb& opal, const opal_phb_info& info, const root_bus_info& root,
            unsigned global_number, memory::page_allocator& pages, kernel_log& log, u64 memory_size);
    ~pnv_phb();

    // pnv_pci_init_ioda_phb: the reserved PE and the root bus's PE.
    void init();
    // pnv_pci_ioda_dma_dev_setup for one device of this PHB; joins its PE's group when the PE has one.
    void dma_dev_setup(pci_dev& dev, iommu_groups& groups);

    bool owns(const pci_dev& dev) const;
    pnv_ioda_pe* pe_of_group(int group) const;
    pnv_ioda_pe* pe_of(const pci_dev& dev) const;

    // What the PEs use.
    tce::phb& opal() const { return m_opal; }
    pci_host_ops& ops() const { return m_ops; }
    memory::page_allocator& pages() const { return m_pages; }
    kernel_log& log() const { return m_log; }
    const opal_phb_info& info() const { return m_info; }
    unsigned global_number() const { return m_global; }
    u16 segment() const { return m_root.segment; }
    u64 memory_size() const { return m_memory_size; }
    // __raw_writeq_be of a PHB3 TCE Kill value (pnv_pci_phb3_tce_invalidate*); false without registers.
    bool write_tce_kill(u64 value);
    // Fault injection (scenarios' "skip_iotlb_invalidation"): the next n page-range TCE kills are not sent,
    // leaving the PHB's TCE cache stale. True when a kill is to be skipped (and counts it).
    void inject_skip_kills(unsigned n) { m_skip_kills = n; }
    bool skip_kill() {
        if (!m_skip_kills) return false;
        --m_skip_kills;
        return true;
    }

    // MSIs (pnv_irq_domain_alloc + pnv_msi_compose_msg -> __pnv_pci_ioda_msi_setup): `count` hardware
    // sources from the PHB's MSI bitmap, each given to the device's PE (opal_pci_set_xive_pe) and its
    // message read from OPAL (opal_get_msi_64, or _32 for a device without 64-bit MSI addresses); each
    // source is bound to host vector first_vector + i. 0, -ENXIO (no PE), -ENOSPC (no sources), -EIO.
    int msi_setup(const pci_dev& dev, unsigned count, u8 first_vector, bool is64, std::vector<msi_msg>& out);
    void msi_free(u8 first_vector, unsigned count);
    // The host vector a source of this PHB is bound to; nothing when it is free.
    std::optional<u8> msi_vector(u32 xive) const;

private:
    pnv_ioda_pe& init_pe(unsigned n);
    void reserve_pe(unsigned n);
    pnv_ioda_pe* alloc_pe();
    void configure_bus(pci_bus& bus);
    pnv_ioda_pe* setup_bus_pe(pci_bus& bus, bool all);
    int configure_pe(pnv_ioda_pe& pe, unsigned count, const pci_bus& bus);
    // pnv_ioda_set_peltv(phb, pe, true): the PE (and a compound PE's slaves) in its own PELT-V, each slave
    // erring freezes the master, and the PE of every bridge above it freezes it too.
    void set_peltv(pnv_ioda_pe& pe, const pci_bus& bus);
    void set_one_peltv(pnv_ioda_pe& parent, pnv_ioda_pe& child);
    void setup_pe_seg(pnv_ioda_pe& pe, pci_bus& bus);
    void msi_free_sources(u32 first, unsigned count);
    // M64 (pnv_ioda2_init_m64, pnv_ioda_reserve_m64_pe, pnv_ioda_pick_m64_pe): the last BAR splits the M64
    // window in one segment per PE; a bus whose BARs use M64 segments takes those segments' PEs.
    void init_m64();
    bool is_m64(const pci_resource& r) const;
    void reserve_dev_m64_pe(const pci_dev& dev, std::vector<bool>* bitmap);
    void reserve_m64_pe(const pci_bus& bus, std::vector<bool>* bitmap, bool all);
    pnv_ioda_pe* pick_m64_pe(const pci_bus& bus, bool all);

    pci_host_ops& m_ops;
    tce::phb& m_opal;
    opal_phb_info m_info;
    root_bus_info m_root;
    unsigned m_global;
    memory::page_allocator& m_pages;
    kernel_log& m_log;
    u64 m_memory_size;
    unsigned m_root_pe = 0;
    std::vector<bool> m_pe_alloc;
    std::vector<std::unique_ptr<pnv_ioda_pe>> m_pes; // by PE number, made on first use
    std::vector<u16> m_rmap;                         // RID -> PE (pe_rmap)
    std::vector<iommu_group*> m_group_of_pe;
    std::vector<int> m_msi_vector;                   // MSI source -> host vector, -1 free (msi_bmp)
    u64 m_m64_segsize = 0;                           // 0: no M64 window in use
    unsigned m_skip_kills = 0;
};

} // namespace iommusim::host

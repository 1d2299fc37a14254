// Who is who on an IODA2/IODA3 PCI host bridge: the requester-ID translation table (RTT: one PE number per
// RID, filled the way OPAL's opal_pci_set_pe does with bus / device / function compare), MMIO segmentation
// (the M32 window in equal segments with a programmable segment -> PE table, M64 BARs that are either split
// in one segment per PE with the fixed segment i = PE i mapping of PHB3, or owned by a single PE), and MSI
// validation (the interrupt vector table entry names the PE allowed to raise it; a message from a RID of
// another PE is dropped, QEMU pnv_phb3_msi_send). Pure bookkeeping: no timing, no memory.
#pragma once
#include "models/iommu/tce/tce_defs.h"

#include <optional>
#include <vector>

namespace iommusim::tce {

// Status of a configuration call, in OPAL's terms (OPAL_SUCCESS 0, OPAL_PARAMETER -1, OPAL_PARTIAL -3).
enum class opal_status : int { success = 0, parameter = -1, partial = -3 };

enum class m64_mode : u8 { disabled, split, single_pe };

struct m64_bar {
    u64 base = 0, size = 0;
    m64_mode mode = m64_mode::disabled;
    unsigned single_pe = 0; // single_pe mode: the owner
};

// Result of checking one MSI write.
struct msi_check {
    enum class verdict : u8 { ok, not_msi, out_of_range, pe_mismatch, unassigned };
    verdict result = verdict::not_msi;
    u32 source = 0;        // interrupt source number (IVE index)
    unsigned rid_pe = 0;   // PE of the requester
    unsigned ive_pe = 0;   // PE the IVE allows
    bool ok() const { return result == verdict::ok; }
};
const char* to_string(msi_check::verdict v);

class phb_pe_map {
public:
    // num_pes: 256 (PHB3) / 512 (PHB4 with 2 TVEs per PE); reserved_pe: the PE every unassigned RID maps
    // to (RTT reset value); num_msi: interrupt vector table entries; num_m64: M64 BARs (16 on PHB3/PHB4).
    phb_pe_map(unsigned num_pes, unsigned reserved_pe, unsigned num_msi, unsigned num_m64 = 16);

    unsigned num_pes() const { return m_num_pes; }
    unsigned reserved_pe() const { return m_reserved_pe; }

    // --- RID -> PE (opal_pci_set_pe) ------------------------------------------------------------------------
    // Maps (map = true) or unmaps every RID matching `bdfn` under the compare rules to/from `pe`. Unmapping
    // resets matching RIDs that belong to `pe` to the reserved PE. parameter: pe out of range, reserved bus
    // compare.
    opal_status set_pe(unsigned pe, u16 bdfn, bus_compare bcomp, bool compare_device, bool compare_function,
                       bool map = true);
    // The PE a RID's DMA and MSIs belong to (the RTT entry).
    unsigned pe_of(u16 rid) const { return m_rtt[rid]; }
    bool assigned(u16 rid) const { return m_rtt[rid] != m_reserved_pe; }
    // Every RID currently in `pe`.
    std::vector<u16> rids_of(unsigned pe) const;

    // --- MMIO ownership ---------------------------------------------------------------------------------
    // The M32 window: [base, base + size) in `segments` equal segments (phb->ioda.m32_segsize =
    // m32_size / total_pe_num). parameter: size not a multiple of segments, or segments > num_pes.
    opal_status configure_m32(u64 base, u64 size, unsigned segments);
    // opal_pci_map_pe_mmio_window(M32, window 0, segment): the segment's owner (the M32DT/MDT entry).
    opal_status map_m32_segment(unsigned segment, unsigned pe);
    u64 m32_segment_size() const { return m_m32_segments ? m_m32_size / m_m32_segments : 0; }

    // opal_pci_set_phb_mem_window(M64, bar, base, size) then opal_pci_phb_mmio_enable: a split BAR has
    // num_pes equal segments (segment i owned by PE i, PHB3's fixed mapping); a single-PE BAR belongs to one
    // PE. parameter: bar out of range, size not a power of two, base not aligned to the size, pe out of range.
    opal_status set_m64_bar(unsigned bar, u64 base, u64 size, m64_mode mode, unsigned single_pe = 0);
    const std::vector<m64_bar>& m64_bars() const { return m_m64; }

    // The PE owning an MMIO (PCI memory) address: M64 BARs first (lowest index wins), then M32; nothing when
    // the address lies in no enabled window or in an unmapped M32 segment.
    std::optional<unsigned> mmio_owner(u64 pci_addr) const;

    // --- MSI validation ---------------------------------------------------------------------------------
    // opal_pci_set_xive_pe / phb4_set_ive_pe: the PE allowed to raise interrupt source `ive`.
    opal_status set_ive_pe(u32 ive, unsigned pe);
    std::optional<unsigned> ive_pe(u32 ive) const;
    // Checks one MSI write (address in a MSI window, data) from `rid`: the source number must be in range
    // and its IVE must name the requester's PE (an IVE never set counts as unassigned).
    msi_check check_msi(u16 rid, u64 addr, u32 data) const;

private:
    unsigned m_num_pes, m_reserved_pe;
    std::vector<u16> m_rtt;             // 65536 entries
    u64 m_m32_base = 0, m_m32_size = 0;
    unsigned m_m32_segments = 0;
    std::vector<int> m_m32_map;         // segment -> PE, -1 unmapped
    std::vector<m64_bar> m_m64;
    std::vector<int> m_ivt;             // IVE -> PE, -1 unassigned
};

} // namespace iommusim::tce

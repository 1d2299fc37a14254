// Parameters of a POWER PCI host bridge (PHB) with Partitionable Endpoints and TCE translation: PE count,
// MMIO segmentation, DMA window geometry, page sizes and table levels, MSI sources, the framework's timing
// and the PHB's caches. Each parameter is declared here with its default and described once in
// tce_params_info() (`iommusim describe tce`); set_tce_param() sets one by that name (platform JSON
// "params.tce"). Where a default comes from is said at each field; "assumption" marks an order of
// magnitude without a published number behind it.
#pragma once
#include "models/iommu/common/pure/timing.h"
#include "models/iommu/tce/tce_defs.h"
#include "sim/core/model_info.h"

#include <nlohmann/json.hpp>
#include <string>

namespace iommusim::tce {

enum class phb_model : u8 { phb3, phb4 };
const char* to_string(phb_model m);

struct tce_params {
    // PHB3 = POWER8 IODA2 (skiboot hw/phb3.c, QEMU pnv_phb3); PHB4 = POWER9 IODA3 in the 2-TVE-per-PE mode
    // Linux requires (skiboot phb4_map_pe_dma_window). Selects nothing by itself: the fields below carry the
    // differences (page sizes, PE count), with PHB3's values as defaults.
    phb_model model = phb_model::phb3;
    // PEs of the PHB: 256 on PHB3 (PHB3_MAX_PE_NUM; QEMU PNV_PHB3_NUM_PE); PHB4 has up to 512.
    unsigned num_pes = 256;
    // The PE an unassigned RID maps to (RTT reset value) whose windows stay disabled: the last PE, as Linux
    // picks reserved_pe_idx when firmware names none (assumption for the RTT reset value).
    unsigned reserved_pe = 255;
    // M32 window: PCI address and size (assumption: 2 GiB at PCI 0x8000_0000, the usual skiboot layout that
    // makes the 32-bit DMA window [0, 2 GiB)); split in m32_segments equal segments (pci-ioda.c:
    // m32_segsize = m32_size / total_pe_num).
    u64 m32_pci_base = 0x80000000;
    u64 m32_size = 0x80000000;
    unsigned m32_segments = 256;
    // M64 BARs (PHB3: 16, QEMU PNV_PHB3_NUM_M64; Linux's allocator handles at most 63).
    unsigned m64_bars = 16;
    // The default 32-bit DMA window at bus address 0. powernv: tce32_size = m32_pci_base (2 GiB with the
    // default above); QEMU pseries: 1 GiB (SPAPR_PCI_DMA32_SIZE). The 64-bit window sits at 1 << 59.
    u64 dma32_window_size = 0x80000000;
    // IOMMU page sizes (bit n = 2^n bytes): PHB3 4K|64K|16M|256M (pnv_ioda_parse_tce_sizes on POWER8;
    // skiboot phb3 TVE encodings), PHB4 4K|64K|2M|1G.
    u64 page_sizes = PHB3_PGSIZES;
    unsigned max_levels = MAX_LEVELS;   // POWERNV_IOMMU_MAX_LEVELS; TVE NUM_LEVELS is 3 bits, QEMU rejects > 4
    unsigned max_windows = MAX_WINDOWS; // IOMMU_TABLE_GROUP_MAX_TABLES; TVEs per PE
    unsigned num_msi = 2048;            // interrupt vector table entries (QEMU PHB3_MAX_MSI)
    // Framework timing: clock, functional mode, walk slots (TCE fetches in flight), PSC probe (unused: the
    // PHB caches no indirect levels). Assumption: 1 GHz, 4 fetches in flight.
    iommu::timing_params timing{1000, false, 4, 1, 0};
    // TCE cache: leaf TCEs keyed by (PE, window, page). Assumption: 256 entries, 8-way, 2 cycles.
    iommu::cache_params tce_cache{{32, 8}, 2};
    // RID translation cache (QEMU pnv_phb3_rtc_invalidate; the RTT entry of recent requesters).
    // Assumption: 64 entries fully associative, 1 cycle.
    iommu::cache_params rtc{{1, 64}, 1};
    unsigned tve_cycles = 2;        // TVT lookup once the PE is known (assumption)
    unsigned mmio_check_cycles = 1; // M32/M64 segment and PE-state check of an MMIO access (assumption)
    unsigned msi_check_cycles = 2;  // IVE fetch and PE comparison of an MSI (assumption)

    // Throws iommusim::input_error (location "/<param>") for an unusable set.
    void validate() const;
};

// Every parameter with its default and description, for `iommusim describe tce`.
model_info tce_params_info();

// Sets one parameter by its describe name. Throws iommusim::input_error(source, where, ...) for an unknown
// name (with "did you mean" when one is close), a value of the wrong type or out of range. Integers may be
// JSON numbers or strings ("0x80000000", "256"); booleans must be JSON booleans; model and policies are
// strings; page_sizes also takes a list of sizes such as ["4K", "64K", "16M"].
void set_tce_param(tce_params& p, const std::string& name, const nlohmann::json& value, const std::string& source,
                   const std::string& where);

} // namespace iommusim::tce

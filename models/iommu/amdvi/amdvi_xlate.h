// DMA address translation of the AMD IOMMU (spec #48882 rev 3.0x §2.2.2 device table, §2.2.3 v1 host page
// tables) as pure functions over a "read a u64 at a physical address" callback: the device-table lookup
// with its validity and reserved-bit checks, the exclusion range, Mode 0, and the v1 walk (1 to 6 levels,
// level skipping with its zero-bits check, NextLevel-0 pages of every level's size, NextLevel-7 pages with
// the size in the address, IR/IW ANDed from the DTE down). Faults come back as the event the hardware
// logs (IO_PAGE_FAULT, ILLEGAL_DEV_TABLE_ENTRY, DEV_TAB_HW_ERROR, PAGE_TAB_HW_ERROR), never as exceptions.
//
// The framework's generic page_walker walks one level per entry and cannot skip levels, so this walker is
// the model's own; it consults and fills the framework's paging_structure_cache when given one. It is both
// the uncached reference (psc = nullptr) and the walk the SystemC unit runs.
#pragma once
#include "models/iommu/amdvi/amdvi_defs.h"
#include "models/iommu/common/pure/paging_structure_cache.h"

#include <functional>
#include <optional>

namespace iommusim::amdvi {

// Reads 8 bytes of physical memory; nullopt means the read failed (master/target abort).
using read_u64_fn = std::function<std::optional<u64>(u64 pa)>;

struct dma_request {
    u16 device_id = 0;  // requester ID
    u64 addr = 0;
    bool write = false;
};

// Why a request did not translate: the event to log (unless suppressed) and the request is aborted.
struct xlate_fault {
    event ev;
    bool io_page_fault = false;  // an IO_PAGE_FAULT (subject to DTE.SA / DTE.SE suppression)
};

struct xlate_result {
    std::optional<xlate_fault> fault;
    u64 addr = 0;                // translated address of the request's first byte
    unsigned page_shift = 12;    // size of the mapping (12 for pass-through)
    bool ir = false, iw = false; // rights of the mapping, ANDed across DTE and every level
    bool pass_through = false;   // untranslated: DTE.V = 0, Mode 0, or the exclusion range
    bool fc = false;             // the leaf's FC (force coherent)
    u16 domain = 0;
    unsigned level = 0;          // the level of the leaf (or of the entry that faulted)
    unsigned reads = 0;          // page-table entries read from memory
    unsigned psc_hit_level = 0;  // the table level a PDE-cache hit started at (0: none)

    bool ok() const { return !fault.has_value(); }
};

// The registers translation depends on.
struct xlate_regs {
    u64 dev_table_base = 0;  // Device Table Base Address register
    u64 excl_base = 0;       // Exclusion Base register (ExEn, Allow, base)
    u64 excl_limit = 0;      // Exclusion Range Limit register
    u64 efr = 0;             // Extended Feature register
};

// Outcome of fetching and checking a DTE.
struct dte_lookup {
    std::optional<xlate_fault> fault;  // DEV_TAB_HW_ERROR, ILLEGAL_DEV_TABLE_ENTRY or (beyond the table) IO_PAGE_FAULT
    dte entry;
    u64 address = 0;                   // where the DTE was read
};

class v1_translator {
public:
    explicit v1_translator(u64 efr) : m_efr(efr), m_fmt(dte_format::from_efr(efr)) {}

    // Reads the 256-bit DTE of `device_id` (4 qword reads). `interrupt` selects the I flag of the events.
    // Only the fetch and the table-size check here; validation is check_translation / check_interrupt.
    dte_lookup fetch_dte(u64 dev_table_base, u16 device_id, u64 request_addr, bool write, bool interrupt,
                         const read_u64_fn& read) const;
    // §2.2.2.2 checks when V = 1 for DMA: reserved bits of qwords 1:0 (ILLEGAL_DEV_TABLE_ENTRY, RZ = 1),
    // Mode 7 or above HATS (ILLEGAL_DEV_TABLE_ENTRY, RZ = 0).
    std::optional<xlate_fault> check_translation(const dte& d, const dma_request& req) const;

    // The full DMA path from a fetched DTE: V = 0 passes; invalid DTE; TV = 0 faults; exclusion range;
    // Mode 0 (IR/IW only); the address-size check against Mode; the walk.
    xlate_result translate(const xlate_regs& regs, const dte& d, const dma_request& req, const read_u64_fn& read,
                           iommu::paging_structure_cache* psc = nullptr) const;
    // Fetch and translate, uncached: the reference.
    xlate_result translate(const xlate_regs& regs, const dma_request& req, const read_u64_fn& read) const;

    // The walk alone from a DTE with V = TV = 1 and Mode 1..6.
    xlate_result walk(const dte& d, const dma_request& req, const read_u64_fn& read,
                      iommu::paging_structure_cache* psc = nullptr) const;

    u64 efr() const { return m_efr; }
    unsigned max_levels() const { return efr::max_levels(m_efr); }

private:
    u64 m_efr;
    dte_format m_fmt;
};

// The IO_PAGE_FAULT flags of a DMA request: RW from the access, PR / PE / RZ from the cause.
event_flags dma_flags(const dma_request& req, bool pr, bool pe = false, bool rz = false);

} // namespace iommusim::amdvi

// Legacy-mode DMA address translation (Intel VT-d Architecture Specification §3.4 - §3.6, §9.1 - §9.3,
// §9.8): root entry by bus, context entry by devfn, then a 3-, 4- or 5-level second-level walk, as a pure
// function over a "read a u64 at a physical address" callback. It is the reference the cycle-approximate
// model and its tests check against: no caches, no timing.
#pragma once
#include "models/iommu/vtd/vtd_defs.h"
#include "models/iommu/vtd/vtd_fault.h"

#include <functional>
#include <optional>

namespace iommusim::vtd {

// PCIe address type of the request (AT field): untranslated, translation request (ATS), translated.
enum class address_type : u8 { untranslated = 0, translation_request = 1, translated = 2 };

struct xlate_request {
    u16 sid = 0;   // requester ID: bus 15:8, devfn 7:0
    u64 addr = 0;  // input address
    bool write = false;
    address_type at = address_type::untranslated;
};

// What the walk depends on, as the hardware advertises it (CAP/ECAP) plus the host address width.
struct xlate_caps {
    unsigned haw = 46;
    unsigned mgaw = 48;
    u8 sagaw = 0x6;
    u8 sllps = 0x3;
    bool pt = true, dt = false, sc = false;

    static xlate_caps from_registers(u64 cap, u64 ecap, unsigned haw);
};

struct xlate_result {
    fault_reason fault = fault_reason::none;
    unsigned level = 0;         // paging level of the entry that faulted or mapped (0: root/context)
    u64 addr = 0;               // translated address
    u64 page_size = 0;          // 4 KiB, 2 MiB or 1 GiB; 0 when not from a walk
    bool r = false, w = false;  // permissions combined across levels
    bool snp = false, tm = false;
    bool pass_through = false;  // TT = pass-through or a translated request passed unchanged
    bool fpd = false;           // the context entry's FPD, for the fault logger
    u16 did = 0;                // the context entry's domain, when one was found
    u64 entry = 0;              // the faulting entry (low word), for diagnostics

    bool ok() const { return fault == fault_reason::none; }
    // A fault result: reason, the level that faulted and the entry that did.
    static xlate_result faulted(fault_reason r, unsigned level = 0, u64 entry = 0) {
        xlate_result x;
        x.fault = r;
        x.level = level;
        x.entry = entry;
        return x;
    }
};

// Reads 8 bytes of physical memory; nullopt means the access failed (an unsupported or aborted read).
using read_u64_fn = std::function<std::optional<u64>(u64 pa)>;

class slpt_translator {
public:
    explicit slpt_translator(const xlate_caps& caps) : m_caps(caps) {}

    // Translate one request through the tables rooted at RTADDR_REG.RTA. Translation requests report
    // not-present or permission-limited mappings as R/W in the result rather than as faults (§4.2.3).
    xlate_result translate(u64 rtaddr, const xlate_request& req, const read_u64_fn& read) const;

    // The context-lookup step alone; on success the result carries did, fpd and the entry.
    xlate_result lookup_context(u64 rtaddr, u16 sid, const read_u64_fn& read, context_entry& out) const;

    // The walk alone, from a second-level page-table pointer with the given number of levels.
    xlate_result walk(u64 slptptr, unsigned levels, const xlate_request& req, const read_u64_fn& read) const;

    const xlate_caps& caps() const { return m_caps; }

private:
    xlate_caps m_caps;
};

} // namespace iommusim::vtd

// A generic radix page walker. The model describes its table format (levels, index widths, entry byte
// order, and a decode callback that says what an entry means); the walker reads one entry per level
// through walk_memory, consults and fills the paging-structure cache when given one, accumulates the
// rights every level grants, checks the request against them and returns a translation or a fault
// with the level. A flat TCE table is the one-level case (input_offset = the window's bus offset).
// Pure C++: the SystemC side implements walk_memory with a TLM initiator socket (tlm_walk_memory).
#pragma once
#include "models/iommu/common/pure/paging_structure_cache.h"
#include "models/iommu/common/pure/timing.h"
#include "models/iommu/common/pure/xlate.h"

#include <array>
#include <functional>

namespace iommusim::iommu {

enum class byte_order : u8 { little, big };

// What one table entry says, as the model's decode callback reports it.
struct pte_info {
    enum class type : u8 { table, leaf, fault };
    type kind = type::fault;
    u64 address = 0;          // table: next-level table base; leaf: output page base
    perm_mask perms = perm_all; // rights this entry grants (ANDed along the walk)
    unsigned page_shift = 12; // leaf: log2 of the page it maps
    u64 attrs = 0;            // leaf: model-specific attributes for translation::attrs
    fault_kind fault = fault_kind::not_present; // fault: which
    u32 reason = 0;           // fault: the model's code

    static pte_info table(u64 next, perm_mask p = perm_all) { return {type::table, next, p, 0, 0, {}, 0}; }
    static pte_info leaf(u64 out, unsigned shift, perm_mask p, u64 attrs = 0) {
        return {type::leaf, out, p, shift, attrs, {}, 0};
    }
    static pte_info failure(fault_kind k, u32 reason) { return {type::fault, 0, perm_none, 0, 0, k, reason}; }
};

struct walk_format {
    unsigned levels = 4;          // root table is level `levels`, leaf tables level 1
    unsigned page_shift = 12;     // index shift of level 1
    unsigned bits_per_level = 9;  // index width of every level
    unsigned entry_bytes = 8;
    byte_order order = byte_order::little;
    u64 input_offset = 0;         // subtracted from the address before indexing (TCE window offset)
    u64 input_size = 0;           // addresses at or beyond offset + size fault; 0 = the tables' reach
    fault_kind beyond_kind = fault_kind::address_size;
    u32 beyond_reason = 0;
    u32 memory_error_reason = 0;  // reason code of walk_memory_error faults
    // raw: the entry as a number (byte order applied); level: where it was read.
    std::function<pte_info(u64 raw, unsigned level, const xlate_request& req)> decode;
    // Reason code of a permission fault, given the access the request wanted and the rights granted.
    std::function<u32(const xlate_request& req, perm_mask granted)> permission_reason;
    // Checks the request against the granted rights; default: read/write/exec bits must be granted.
    std::function<bool(const xlate_request& req, perm_mask granted)> permits;

    // log2 of the input region one entry at `level` covers.
    unsigned region_shift(unsigned level) const { return page_shift + (level - 1) * bits_per_level; }
};

// Where walk reads go. read() adds the access's latency to delay_ps and returns false on an error
// response (the walker turns that into a walk_memory_error fault).
class walk_memory {
public:
    virtual ~walk_memory() = default;
    virtual bool read(u64 address, unsigned char* data, unsigned len, u64& delay_ps) = 0;
};

// Who is walking, for the paging-structure cache's tags; psc = nullptr walks without it.
struct walk_context {
    u32 domain = 0;
    u32 pasid = no_pasid;
    paging_structure_cache* psc = nullptr;
};

struct walk_outcome {
    xlate_result result;
    u64 elapsed_ps = 0;     // walk time: PSC probe + every entry read at memory latency
    unsigned reads = 0;     // entries read from memory
    unsigned start_level = 0; // the level the reads began at (below `levels` after a PSC hit)
};

class page_walker {
public:
    struct statistics {
        u64 walks = 0, reads = 0, psc_hits = 0, faults = 0;
        std::array<u64, 16> faults_by_kind{}; // indexed by fault_kind
    };

    page_walker(walk_memory& mem, const iommu_clock& clock, unsigned psc_lookup_cycles = 4)
        : m_mem(mem), m_clock(clock), m_psc_cycles(psc_lookup_cycles) {}

    // root: the top-level table's address. Throws std::invalid_argument for an unusable format
    // (no decode callback, levels 0 or > 8, entry_bytes not 4 or 8): model bugs, not guest errors.
    walk_outcome walk(const walk_format& fmt, u64 root, const xlate_request& req, const walk_context& ctx = {});

    const statistics& stats() const { return m_stats; }

private:
    walk_outcome fail(walk_outcome& out, const xlate_request& req, fault_kind k, u32 reason, unsigned level,
                      u64 entry_addr);

    walk_memory& m_mem;
    const iommu_clock& m_clock;
    unsigned m_psc_cycles;
    statistics m_stats;
};

} // namespace iommusim::iommu

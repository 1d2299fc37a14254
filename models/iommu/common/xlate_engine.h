// The shared machinery of an IOMMU model on the SystemC side: the IOMMU clock, the page walker whose
// entry reads leave through the `mem` initiator socket (so walk time is memory time), the page-walk
// slots and the invalidation engine as counted resources, all loosely timed: work that is ready at
// now + delay starts at max(now + delay, slot free), and its end is written back into `delay`. In
// functional mode (timing_params::functional) nothing is booked and no delay is added.
//
// A model owns one xlate_engine, binds `mem` to system memory (or the fabric), keeps its own caches
// (tlb_cache, paging_structure_cache, assoc_cache for context/device-table entries) and calls
// charge_lookup() / walk() / invalidate() from its b_transport.
#pragma once
#include "models/iommu/common/pure/counted_resource.h"
#include "models/iommu/common/pure/page_walker.h"
#include "models/iommu/common/pure/timing.h"
#include "sim/tlm/time_ps.h"

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>

namespace iommusim::iommu {

class xlate_engine : public sc_core::sc_module, private walk_memory {
public:
    tlm_utils::simple_initiator_socket<xlate_engine> mem; // table reads (walks, context/device-table fetches)

    // Throws std::invalid_argument for unusable parameters (zero slots, clock out of range).
    xlate_engine(sc_core::sc_module_name name, const timing_params& params);

    const timing_params& params() const { return m_params; }
    const iommu_clock& clock() const { return m_clock; }
    bool functional() const { return m_clock.functional(); }
    sc_core::sc_time cycles(u64 n) const { return ps(m_clock.cycles(n)); }

    // A cache lookup of `lookup_cycles`: adds them to delay (no resource: caches are pipelined).
    void charge_lookup(unsigned lookup_cycles, sc_core::sc_time& delay) const;

    // One page walk: takes a walk slot, reads the tables through `mem`, releases the slot at the end.
    // delay: in, when the request is ready relative to sc_time_stamp(); out, when the walk ends.
    walk_outcome walk(const walk_format& fmt, u64 root, const xlate_request& req, const walk_context& ctx,
                      sc_core::sc_time& delay);

    // One table-entry read outside a walk (context entry, device-table entry, ...), `len` <= 8 bytes,
    // charged to delay. Returns false on a TLM error.
    bool read_entry(u64 address, unsigned char* data, unsigned len, sc_core::sc_time& delay);

    // The invalidation engine does `cycles` of work for one invalidation request (a queued descriptor,
    // a command): waits for the engine, returns with delay at the end of the work.
    void invalidate(unsigned cycles, sc_core::sc_time& delay);

    counted_resource& walk_slots() { return m_walk_slots; }
    counted_resource& inval_engine() { return m_inval; }
    const page_walker::statistics& walk_stats() const { return m_walker.stats(); }
    u64 memory_errors() const { return m_memory_errors; }

    static sc_core::sc_time ps(u64 v) { return tlmx::from_ps(v); }
    static u64 to_ps(const sc_core::sc_time& t) { return tlmx::to_ps(t); }

private:
    bool read(u64 address, unsigned char* data, unsigned len, u64& delay_ps) override;

    timing_params m_params;
    iommu_clock m_clock;
    page_walker m_walker;
    counted_resource m_walk_slots;
    counted_resource m_inval;
    sc_core::sc_time m_read_offset; // delay annotation of the next table read, relative to now
    u64 m_memory_errors = 0;
};

} // namespace iommusim::iommu

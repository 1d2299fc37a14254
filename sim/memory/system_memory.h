// System memory as a TLM-2.0 target: a sparse_store behind a simple_target_socket, with a loosely timed
// memory channel. Every b_transport annotates
//     queueing (the channel is busy until an earlier transfer ends) + latency_ns + length / bandwidth
// and moves the channel's busy-until time, so back-to-back transfers queue instead of overlapping.
// Requests outside [0, size) answer TLM_ADDRESS_ERROR_RESPONSE; byte enables and streaming width are
// honoured (IEEE 1666-2011 §14.13, §14.15); DMI pointers to 64 KiB chunks are granted when `dmi` is set.
// peek/poke give testbenches and the simulated kernel direct access (no time, no statistics).
#pragma once
#include "sim/memory/busy_calendar.h"
#include "sim/memory/memory_params.h"
#include "sim/memory/sparse_store.h"

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

namespace iommusim::memory {

class system_memory : public sc_core::sc_module {
public:
    // Optional binding: a platform may create memory that an IOMMU model reaches some other way.
    tlm_utils::simple_target_socket_optional<system_memory> socket;

    system_memory(sc_core::sc_module_name name, const memory_params& params = {});

    const memory_params& params() const { return m_params; }
    u64 size() const { return m_store.size(); }

    // Direct access (no timing). False when the range is outside the memory.
    bool peek(u64 addr, void* data, u64 len) const;
    bool poke(u64 addr, const void* data, u64 len);
    bool fill(u64 addr, u8 byte, u64 len);
    // Little-endian scalars of 1..8 bytes; out of range reads 0 / writes nothing.
    u64 read_le(u64 addr, unsigned len) const;
    void write_le(u64 addr, unsigned len, u64 value);
    // Drops every page (memory reads zero again) and invalidates DMI pointers handed out.
    void clear();

    struct statistics {
        u64 reads = 0, writes = 0, bytes_read = 0, bytes_written = 0;
        u64 address_errors = 0, other_errors = 0, dmi_grants = 0;
    };
    const statistics& stats() const { return m_stats; }
    u64 allocated_bytes() const { return m_store.allocated_bytes(); }
    // End of the memory channel's current occupation (absolute simulation time).
    sc_core::sc_time busy_until() const { return double(m_channel.busy_until()) * sc_core::sc_time(1, sc_core::SC_PS); }

private:
    void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
    unsigned transport_dbg(tlm::tlm_generic_payload& gp);
    bool get_direct_mem_ptr(tlm::tlm_generic_payload& gp, tlm::tlm_dmi& dmi);
    // Moves the data of gp, honouring byte enables and streaming width; returns the response status.
    tlm::tlm_response_status access(tlm::tlm_generic_payload& gp);
    sc_core::sc_time transfer_time(u64 bytes) const;

    memory_params m_params;
    sparse_store m_store;
    statistics m_stats;
    sc_core::sc_time m_latency;
    u64 m_latency_ps;        // the same in picoseconds, for the per-access arithmetic
    double m_ps_per_byte;    // channel occupation per byte
    busy_calendar m_channel; // picoseconds
};

} // namespace iommusim::memory

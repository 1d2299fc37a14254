// A PCIe link as the bench's requester sees it: two independent directions, each a serial pipe that
// carries one TLP at a time (busy-until), so many outstanding reads queue behind each other.
//
// Wire cost of a TLP, from pcie-bench's model (reference anchors §4.1, pcie-model/model/pcie.py):
//   payload + header + framing, where the header is the 4-byte generic part plus 12 bytes for a
//   memory request with a 64-bit address or 8 bytes for a completion (PCIe Base §2.2.1, §2.2.9), and
//   framing is 8 bytes (Gen3 STP token + sequence number + LCRC, PCIe Base §4.2.2.3) per TLP.
// Rate: lanes x GT/s x encoding (8b/10b for Gen1/2, 128b/130b for Gen3-5, PCIe Base §4.2.2).
// Flow-control and ACK DLLPs are not modelled (a few per cent at these sizes).
//
// The crossing itself (PHY and data-link pipeline) is the fabric's hop latency (pci_timing::hop_ns);
// this model adds serialization and queueing only, plus an optional extra fixed latency per direction.
#pragma once
#include "sim/core/types.h"
#include "sim/memory/busy_calendar.h"

namespace iommusim::bench {

struct pcie_link_params {
    unsigned generation = 3;        // 1..5
    unsigned lanes = 8;             // 1, 2, 4, 8, 16, 32
    double latency_ns = 0;          // fixed extra latency per direction, beyond the fabric's hop
    unsigned framing_bytes = 8;     // per TLP
    unsigned request_header_bytes = 16;    // MRd with a 64-bit address: 4 generic + 12
    unsigned completion_header_bytes = 12; // CplD: 4 generic + 8

    // Throws iommusim::input_error (location "/link.<name>") for an unusable set.
    void validate() const;
};

class pcie_link {
public:
    explicit pcie_link(const pcie_link_params& p);

    // Bytes per nanosecond one direction carries (after line encoding).
    double bytes_per_ns() const { return m_bytes_per_ns; }
    // Wire time of a memory read request / a completion with `payload` bytes, in picoseconds.
    u64 request_ps() const;
    u64 completion_ps(unsigned payload) const;

    // One TLP of `wire_ps` ready to go at `ready_ps` (absolute): returns when its last byte has arrived
    // at the other end (queueing + wire time + latency). Each direction is a busy calendar: TLPs are sent
    // in the order of their ready times even when they are handed over out of order (completions of
    // IOTLB hits overtake those of earlier misses, as a root complex returns them).
    u64 send_upstream(u64 ready_ps, u64 wire_ps) { return send(m_up, ready_ps, wire_ps); }
    u64 send_downstream(u64 ready_ps, u64 wire_ps) { return send(m_down, ready_ps, wire_ps); }

    void reset() {
        m_up.clear();
        m_down.clear();
    }
    const pcie_link_params& params() const { return m_params; }

private:
    u64 send(memory::busy_calendar& dir, u64 ready_ps, u64 wire_ps);
    u64 wire_ps(unsigned bytes) const;

    pcie_link_params m_params;
    double m_bytes_per_ns;
    u64 m_latency_ps;
    memory::busy_calendar m_up, m_down;
};

} // namespace iommusim::bench

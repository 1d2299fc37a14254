// Where upstream requests (DMA) went: a per-platform record the fabric models write into, so a
// peer-to-peer transfer that never reaches the root complex (and so never an IOMMU) is observable.
// Counters per route kind plus a ring of the most recent records. Pure C++ (no SystemC).
#pragma once
#include "sim/core/types.h"

#include <array>
#include <cstddef>
#include <vector>

namespace iommusim::pci {

enum class dma_route {
    to_root_complex, // left a host bridge through to_iommu_or_memory
    peer_to_peer,    // delivered to a sibling's BAR by a switch, a root complex or a shared PCI bus
    blocked,         // stopped in the fabric: ACS (SV, TB, UF), Bus Master Enable off, nowhere to go
};
const char* to_string(dma_route r);

struct dma_record {
    dma_route route = dma_route::to_root_complex;
    u16 requester_id = 0;   // as seen where the decision was made
    u64 address = 0;
    u32 length = 0;
    bool write = false;
    const char* where = ""; // the deciding model's SystemC name (lives as long as the model)
    const char* reason = ""; // why, for blocked and peer_to_peer records (a string literal)
};

class dma_trace {
public:
    explicit dma_trace(size_t capacity = 256) : m_ring(capacity ? capacity : 1) {}

    void record(dma_record r);
    u64 count(dma_route r) const { return m_counts[size_t(r)]; }
    u64 total() const { return m_total; }
    // The most recent records, oldest first (at most capacity()).
    std::vector<dma_record> recent() const;
    size_t capacity() const { return m_ring.size(); }
    void clear();

private:
    std::vector<dma_record> m_ring;
    std::array<u64, 3> m_counts{};
    u64 m_total = 0;
};

} // namespace iommusim::pci

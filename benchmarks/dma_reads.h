// What the DMA benchmarks share: one 64-byte DMA read from a requester, loosely timed (the initiator's local
// time advances by the returned delay, no sc_start), and the Google Benchmark loop over a span of pages in
// turn or at random, with the unit's walk fraction when it counts walks and hits.
#pragma once
#include "sim/core/types.h"
#include "sim/tlm/payload_data.h"
#include "sim/tlm/pci_extension.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <functional>
#include <random>
#include <systemc>
#include <tlm>
#include <utility>

namespace iommusim::bench {

constexpr u64 READ_PAGE = 4096;

// One 64-byte read; false on an error response.
template <class Socket>
bool dma_read(Socket& s, u64 addr, u16 requester_id, sc_core::sc_time& now) {
    unsigned char data[64];
    tlm::tlm_generic_payload gp;
    tlmx::init_payload(gp, tlm::TLM_READ_COMMAND, addr, data, 64);
    tlmx::pci_extension ext;
    ext.request = tlmx::pci_request::dma;
    ext.requester_id = requester_id;
    tlmx::scoped_extension scope(gp, &ext);
    sc_core::sc_time d = now;
    s->b_transport(gp, d);
    now = d;
    return gp.is_response_ok();
}

// Reads over [base, base + span) page by page, in turn or at random. walks_hits (may be empty): the unit's
// running (walks, cache hits), for the walk_fraction counter.
template <class Socket>
void run_reads(benchmark::State& state, Socket& s, u64 base, u64 span, bool random, u16 requester_id,
               sc_core::sc_time& now, const std::function<std::pair<u64, u64>()>& walks_hits = {}) {
    std::mt19937_64 rng(1);
    const u64 pages = span / READ_PAGE;
    u64 i = 0, errors = 0;
    const auto before = walks_hits ? walks_hits() : std::pair<u64, u64>{};
    for (auto _ : state) {
        const u64 page = random ? rng() % pages : i++ % pages;
        errors += !dma_read(s, base + page * READ_PAGE + (i & 63) * 64 % READ_PAGE, requester_id, now);
    }
    state.SetItemsProcessed(state.iterations());
    if (errors) state.SkipWithError("DMA read failed");
    if (walks_hits) {
        const auto after = walks_hits();
        const double walks = double(after.first - before.first), hits = double(after.second - before.second);
        state.counters["walk_fraction"] = walks / std::max(1.0, walks + hits);
    }
}

// A benchmark executable's sc_main: the system is elaborated (once per process, SystemC) before the first
// benchmark runs.
inline int run_benchmarks(int argc, char** argv, const std::function<void()>& elaborate) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    elaborate();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

} // namespace iommusim::bench

// DMA transactions per host second through a POWER PHB's TCE unit (Google Benchmark).
//
// One elaboration per process (SystemC): an initiator, an address router in front of system memory, and two
// PHB units (models/iommu/tce/tlm/phb_iommu) programmed alike through their OPAL interface, one timed and
// one functional (timing.functional = true). PE 1 owns bus 1; its TVE#0 is a two-level table of 4 KiB
// TCEs (1 GiB of reach) mapping 64 MiB at bus address 256 MiB, its TVE#1 a bypass window at 1 << 59. Each iteration is one
// 64-byte DMA read with requester ID 01:00.0, b_transport with a local time that advances by the returned
// delay (loosely timed, no sc_start):
//
//   no_iommu              initiator -> router -> memory
//   bypass/...            initiator -> PHB (RID -> PE, TVE#1, real address) -> memory
//   tce_cache_hit/...     initiator -> PHB -> memory, 16 pages in turn (always in the TCE cache)
//   tce_walk/...          the same over 64 MiB at random (almost every read fetches its TCEs)
//
//   build/benchmarks/bench_tce
#include "benchmarks/dma_reads.h"
#include "models/iommu/tce/phb_opal.h"
#include "models/iommu/tce/tce_defs.h"
#include "models/iommu/tce/tlm/phb_iommu.h"
#include "sim/memory/system_memory.h"
#include "sim/tlm/address_router.h"
#include "sim/tlm/payload_data.h"

#include <benchmark/benchmark.h>

#include <memory>
#include <tlm_utils/simple_initiator_socket.h>

namespace {

using namespace iommusim;
using namespace iommusim::tce;

constexpr u64 PAGE = 4096;
constexpr u64 k_bus = u64(256) << 20, k_phys = u64(4) << 30, k_tables = u64(8) << 30;
constexpr u64 k_span = u64(64) << 20;
constexpr u16 k_rid = 0x0100;
constexpr unsigned k_pe = 1;
constexpr unsigned k_level_shift = 9; // 512 entries (4 KiB) per level: two levels reach 1 GiB of 4 KiB pages

struct initiator : sc_core::sc_module {
    tlm_utils::simple_initiator_socket<initiator> direct{"direct"}, timed{"timed"}, functional{"functional"},
        regs_timed{"regs_timed"}, regs_functional{"regs_functional"};
    explicit initiator(sc_core::sc_module_name n) : sc_module(n) {}
};

struct system {
    std::unique_ptr<memory::system_memory> mem;
    std::unique_ptr<tlmx::address_router> router;
    std::unique_ptr<phb_iommu> timed_unit, functional_unit;
    std::unique_ptr<initiator> cpu;
    u64 next_table = k_tables, root = 0;
    sc_core::sc_time now = sc_core::SC_ZERO_TIME;

    system() {
        memory::memory_params mp;
        mp.dmi = false;
        mem = std::make_unique<memory::system_memory>("memory", mp);
        router = std::make_unique<tlmx::address_router>("router");
        router->map(0, mp.size, router->connect(mem->socket), "memory");
        tce_unit_params timed, functional;
        functional.phb.timing.functional = true;
        timed_unit = std::make_unique<phb_iommu>("phb_timed", 0x3ffe00000000, timed);
        functional_unit = std::make_unique<phb_iommu>("phb_functional", 0x3ffe00100000, functional);
        cpu = std::make_unique<initiator>("cpu");
        for (phb_iommu* u : {timed_unit.get(), functional_unit.get()}) {
            u->out.bind(router->target);
            u->engine.mem.bind(router->target);
        }
        cpu->direct.bind(router->target);
        cpu->timed.bind(timed_unit->dma);
        cpu->functional.bind(functional_unit->dma);
        cpu->regs_timed.bind(timed_unit->regs);
        cpu->regs_functional.bind(functional_unit->regs);
        sc_core::sc_start(sc_core::SC_ZERO_TIME);
        build_tables();
        for (phb_iommu* u : {timed_unit.get(), functional_unit.get()}) program(u->firmware());
    }

    u64 alloc() {
        const u64 a = next_table;
        next_table += PAGE;
        return a;
    }
    void put_be(u64 addr, u64 v) { mem->write_le(addr, 8, __builtin_bswap64(v)); }
    u64 get_be(u64 addr) { return __builtin_bswap64(mem->read_le(addr, 8)); }
    // The table Linux would build (pnv_tce): entry i translates bus page i of the window (which starts at 0).
    void build_tables() {
        root = alloc();
        for (u64 off = 0; off < k_span; off += PAGE) {
            const u64 idx = (k_bus + off) / PAGE;
            const u64 slot = root + (idx >> k_level_shift) * 8;
            u64 e = get_be(slot);
            if (!indirect_valid(e)) {
                e = make_indirect(alloc());
                put_be(slot, e);
            }
            put_be(indirect_next(e) + (idx & ((1u << k_level_shift) - 1)) * 8,
                   tce_entry::make(k_phys + off, TCE_PCI_READ | TCE_PCI_WRITE).v);
        }
    }
    // Firmware calls as Linux's pnv_ioda_configure_pe and pnv_pci_ioda2_set_window / _set_bypass make them.
    void program(phb& h) {
        if (h.set_pe(k_pe, k_rid, bus_compare::all, false, false, OPAL_MAP_PE) != OPAL_SUCCESS ||
            h.map_pe_dma_window(k_pe, 2 * k_pe, 2, root, 8 << k_level_shift, PAGE, u64(1) << 30) != OPAL_SUCCESS ||
            h.map_pe_dma_window_real(k_pe, 2 * k_pe + 1, u64(1) << TVE_SELECT_BIT, u64(16) << 30) != OPAL_SUCCESS)
            throw std::runtime_error("bench_tce: OPAL refused the set-up");
    }
};

system& sys() {
    static system s;
    return s;
}

void run(benchmark::State& state, tlm_utils::simple_initiator_socket<initiator>& s, u64 base, u64 span, bool random,
         const phb_iommu* unit) {
    std::function<std::pair<u64, u64>()> counters;
    if (unit) counters = [unit] { return std::pair<u64, u64>{unit->stats().tce_walks, unit->stats().tce_cache_hits}; };
    bench::run_reads(state, s, base, span, random, k_rid, sys().now, counters);
}

constexpr u64 k_bypass = u64(1) << TVE_SELECT_BIT;
void no_iommu(benchmark::State& state) { run(state, sys().cpu->direct, k_phys, 16 * PAGE, false, nullptr); }
void bypass_timed(benchmark::State& state) {
    run(state, sys().cpu->timed, k_bypass + k_phys, 16 * PAGE, false, nullptr);
}
void bypass_functional(benchmark::State& state) {
    run(state, sys().cpu->functional, k_bypass + k_phys, 16 * PAGE, false, nullptr);
}
void tce_cache_hit_timed(benchmark::State& state) {
    run(state, sys().cpu->timed, k_bus, 16 * PAGE, false, sys().timed_unit.get());
}
void tce_cache_hit_functional(benchmark::State& state) {
    run(state, sys().cpu->functional, k_bus, 16 * PAGE, false, sys().functional_unit.get());
}
void tce_walk_timed(benchmark::State& state) { run(state, sys().cpu->timed, k_bus, k_span, true, sys().timed_unit.get()); }
void tce_walk_functional(benchmark::State& state) {
    run(state, sys().cpu->functional, k_bus, k_span, true, sys().functional_unit.get());
}

BENCHMARK(no_iommu);
BENCHMARK(bypass_timed);
BENCHMARK(bypass_functional);
BENCHMARK(tce_cache_hit_timed);
BENCHMARK(tce_cache_hit_functional);
BENCHMARK(tce_walk_timed);
BENCHMARK(tce_walk_functional);

} // namespace

extern "C" int sc_main(int argc, char** argv) {
    return iommusim::bench::run_benchmarks(argc, argv, [] { sys(); });
}

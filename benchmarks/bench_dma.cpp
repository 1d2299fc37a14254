// DMA transactions per host second through the VT-d unit (Google Benchmark).
//
// One elaboration per process (SystemC), built once: an initiator, an address router in front of system
// memory, and two VT-d units sharing one set of tables in that memory, one timed and one functional
// (timing.functional = true). Each iteration is one 64-byte DMA read with a requester ID, b_transport
// with a local time that advances by the returned delay (loosely timed, no sc_start):
//
//   no_iommu             initiator -> router -> memory
//   iotlb_hit/...        initiator -> unit -> router -> memory, 16 pages in turn (always in the IOTLB)
//   page_walk/...        the same over 64 MiB at random (almost every read walks; the PDE cache misses)
//
// Goals (models/iommu/vtd/README.md, "Performance"): the IOTLB-hit path within 1.5x of the no-IOMMU path,
// and at least 10 million translated reads per host second in functional mode.
//
//   build/benchmarks/bench_dma
#include "benchmarks/dma_reads.h"
#include "models/iommu/vtd/tlm/vtd_unit.h"
#include "models/iommu/vtd/vtd_defs.h"
#include "models/iommu/vtd/vtd_regs.h"
#include "sim/memory/system_memory.h"
#include "sim/tlm/address_router.h"
#include "sim/tlm/payload_data.h"

#include <benchmark/benchmark.h>

#include <memory>
#include <tlm_utils/simple_initiator_socket.h>

namespace {

using namespace iommusim;
using namespace iommusim::vtd;

constexpr u64 k_iova = u64(1) << 30, k_phys = u64(4) << 30, k_tables = u64(8) << 30;
constexpr u64 k_span = u64(64) << 20;
constexpr u16 k_sid = 0x0100;

struct initiator : sc_core::sc_module {
    tlm_utils::simple_initiator_socket<initiator> direct{"direct"}, timed{"timed"}, functional{"functional"},
        regs_timed{"regs_timed"}, regs_functional{"regs_functional"};
    explicit initiator(sc_core::sc_module_name n) : sc_module(n) {}
};

struct system {
    std::unique_ptr<memory::system_memory> mem;
    std::unique_ptr<tlmx::address_router> router;
    std::unique_ptr<vtd_unit> unit_timed, unit_functional;
    std::unique_ptr<initiator> cpu;
    u64 next_table = k_tables, pml4 = 0;
    sc_core::sc_time now = sc_core::SC_ZERO_TIME; // the initiator's local time

    system() {
        memory::memory_params mp;
        mp.dmi = false; // every access through b_transport, as the IOMMU's output is
        mem = std::make_unique<memory::system_memory>("memory", mp);
        router = std::make_unique<tlmx::address_router>("router");
        const unsigned port = router->connect(mem->socket);
        router->map(0, mp.size, port, "memory");
        vtd_unit_params timed;
        vtd_unit_params functional;
        functional.timing.functional = true;
        unit_timed = std::make_unique<vtd_unit>("vtd_timed", 0xfed90000, timed);
        unit_functional = std::make_unique<vtd_unit>("vtd_functional", 0xfed91000, functional);
        cpu = std::make_unique<initiator>("cpu");
        for (vtd_unit* u : {unit_timed.get(), unit_functional.get()}) {
            u->out.bind(router->target);
            u->engine.mem.bind(router->target);
        }
        cpu->direct.bind(router->target);
        cpu->timed.bind(unit_timed->dma);
        cpu->functional.bind(unit_functional->dma);
        cpu->regs_timed.bind(unit_timed->regs);
        cpu->regs_functional.bind(unit_functional->regs);
        sc_core::sc_start(sc_core::SC_ZERO_TIME);
        build_tables();
    }

    u64 alloc() {
        const u64 a = next_table;
        next_table += PAGE_SIZE;
        return a;
    }
    void build_tables() {
        const u64 root = alloc(), ctx = alloc();
        pml4 = alloc();
        mem->write_le(root + (k_sid >> 8) * 16, 8, root_entry::make(ctx).lo);
        const context_entry ce = context_entry::make(pml4, 2, 1, translation_type::untranslated_only);
        mem->write_le(ctx + (k_sid & 0xff) * 16, 8, ce.lo);
        mem->write_le(ctx + (k_sid & 0xff) * 16 + 8, 8, ce.hi);
        for (u64 off = 0; off < k_span; off += PAGE_SIZE) map(k_iova + off, k_phys + off);
        for (auto* s : {&cpu->regs_timed, &cpu->regs_functional}) {
            reg(*s, 0xfed90000 + (s == &cpu->regs_functional ? 0x1000 : 0), 0x20, 8, root);
        }
        for (auto* s : {&cpu->regs_timed, &cpu->regs_functional}) {
            const u64 base = s == &cpu->regs_functional ? 0xfed91000 : 0xfed90000;
            reg(*s, base, 0x18, 4, regbits::GCMD_SRTP);
            reg(*s, base, 0x18, 4, regbits::GCMD_TE);
        }
    }
    void map(u64 iova, u64 pa) {
        u64 table = pml4;
        for (unsigned level = 4; level > 1; --level) {
            const u64 slot = table + level_index(iova, level) * 8;
            sl_entry e{mem->read_le(slot, 8)};
            if (!e.present()) {
                e = sl_entry::table(alloc());
                mem->write_le(slot, 8, e.v);
            }
            table = e.addr();
        }
        mem->write_le(table + level_index(iova, 1) * 8, 8, sl_entry::page(pa, true, true).v);
    }
    void reg(tlm_utils::simple_initiator_socket<initiator>& s, u64 base, u64 off, unsigned len, u64 v) {
        unsigned char b[8];
        tlmx::put_le(b, len, v);
        tlm::tlm_generic_payload gp;
        tlmx::init_payload(gp, tlm::TLM_WRITE_COMMAND, base + off, b, len);
        sc_core::sc_time d = sc_core::SC_ZERO_TIME;
        s->b_transport(gp, d);
    }
};

system& sys() {
    static system s;
    return s;
}

void run(benchmark::State& state, tlm_utils::simple_initiator_socket<initiator>& s, u64 base, u64 span, bool random,
         const vtd_unit* unit) {
    std::function<std::pair<u64, u64>()> counters;
    if (unit) counters = [unit] { return std::pair<u64, u64>{unit->stats().page_walks, unit->stats().iotlb_hits}; };
    bench::run_reads(state, s, base, span, random, k_sid, sys().now, counters);
}

void no_iommu(benchmark::State& state) { run(state, sys().cpu->direct, k_phys, 16 * PAGE_SIZE, false, nullptr); }
void iotlb_hit_timed(benchmark::State& state) {
    run(state, sys().cpu->timed, k_iova, 16 * PAGE_SIZE, false, sys().unit_timed.get());
}
void iotlb_hit_functional(benchmark::State& state) {
    run(state, sys().cpu->functional, k_iova, 16 * PAGE_SIZE, false, sys().unit_functional.get());
}
void page_walk_timed(benchmark::State& state) {
    run(state, sys().cpu->timed, k_iova, k_span, true, sys().unit_timed.get());
}
void page_walk_functional(benchmark::State& state) {
    run(state, sys().cpu->functional, k_iova, k_span, true, sys().unit_functional.get());
}

BENCHMARK(no_iommu);
BENCHMARK(iotlb_hit_timed);
BENCHMARK(iotlb_hit_functional);
BENCHMARK(page_walk_timed);
BENCHMARK(page_walk_functional);

} // namespace

extern "C" int sc_main(int argc, char** argv) {
    return iommusim::bench::run_benchmarks(argc, argv, [] { sys(); });
}

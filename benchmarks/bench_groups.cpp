// Grouping time for large generated topologies (Google Benchmark).
//
// One SystemC platform of ~10,500 functions (10 segments of 1,050) is built once per process (SystemC
// elaborates once). Each benchmark boots a fresh simulated kernel on the first N segments of it: every
// config cycle goes through TLM to the ECAM of the host bridges and through the bridges' routing, then
// ACS is enabled and pci_device_group() runs for every device. Growth is read from the ratio of
// per-device times between the 1- and 10-segment runs of the same process.
//
//   build/benchmarks/bench_groups                      (all sizes)
//   build/benchmarks/bench_groups --benchmark_filter=/10   (the 10,000-device point only)
#include "sim/host/kernel.h"
#include "sim/host/tlm/tlm_host_ops.h"
#include "sim/scenario/topology_gen.h"

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <memory>

namespace {

using namespace iommusim;

// Shows the kernel only the first `segments` host bridges of the machine: what ACPI would list on a
// smaller machine of the same shape.
class first_segments_ops : public host::pci_host_ops {
public:
    first_segments_ops(host::pci_host_ops& inner, size_t segments) : m_inner(inner), m_segments(segments) {}
    u32 config_read(u16 s, u8 b, u8 d, u16 r, unsigned l) override { return m_inner.config_read(s, b, d, r, l); }
    void config_write(u16 s, u8 b, u8 d, u16 r, unsigned l, u32 v) override { m_inner.config_write(s, b, d, r, l, v); }
    u64 mmio_read(u64 a, unsigned l) override { return m_inner.mmio_read(a, l); }
    void mmio_write(u64 a, unsigned l, u64 v) override { m_inner.mmio_write(a, l, v); }
    bool memory_read(u64 a, void* d, u64 l) override { return m_inner.memory_read(a, d, l); }
    bool memory_write(u64 a, const void* d, u64 l) override { return m_inner.memory_write(a, d, l); }
    host::firmware_info firmware() const override {
        host::firmware_info f = m_inner.firmware();
        if (f.root_buses.size() > m_segments) f.root_buses.resize(m_segments);
        return f;
    }

private:
    host::pci_host_ops& m_inner;
    size_t m_segments;
};

// libsystemc's main() prints a banner before calling sc_main; silence it before main() runs.
const bool banner_off = setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0) == 0;

scenario::topology_shape shape;
std::unique_ptr<host::tlm_machine> machine;
double elaboration_seconds = 0;

void BM_boot_and_group(benchmark::State& state) {
    const size_t segments = size_t(state.range(0));
    first_segments_ops ops(machine->ops(), segments);
    size_t devices = 0, groups = 0;
    for (auto _ : state) {
        host::kernel k(ops);
        k.boot();
        devices = k.devices().size();
        groups = k.groups().size();
        benchmark::DoNotOptimize(groups);
    }
    state.counters["devices"] = double(devices);
    state.counters["groups"] = double(groups);
    state.counters["time_per_device"] =
        benchmark::Counter(double(devices), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
    state.counters["elaboration_s"] = elaboration_seconds;
}
BENCHMARK(BM_boot_and_group)->Arg(1)->Arg(2)->Arg(5)->Arg(10)->Unit(benchmark::kMillisecond);

} // namespace

extern "C" int sc_main(int argc, char** argv) {
    const auto t0 = std::chrono::steady_clock::now();
    machine = std::make_unique<host::tlm_machine>(scenario::generate_topology(shape));
    elaboration_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    machine.reset();
    return 0;
}

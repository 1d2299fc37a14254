// Parameters of system memory (pure data, no SystemC): declared once here with their defaults, described
// by memory_model_info() for `iommusim describe`, set from a platform JSON's "params"."memory" object.
// The defaults are a plausible DDR4 channel (order of magnitude, not calibrated).
#pragma once
#include "sim/core/model_info.h"
#include "sim/core/types.h"

#include <fmt/format.h>
#include <string>

namespace iommusim::memory {

struct memory_params {
    u64 size = u64(1) << 40;                  // physical address space [0, size) backed by memory: 1 TiB
    double latency_ns = 80;                   // access latency of one transaction (row access + controller)
    double bandwidth_bytes_per_ns = 25.6;     // channel bandwidth (25.6 B/ns = 25.6 GB/s, one DDR4-3200 channel)
    bool dmi = true;                          // grant TLM-2.0 DMI pointers (fast path, bypasses the timing model)
};

inline model_info memory_model_info() {
    const memory_params d;
    auto num = [](double v) {
        std::string s = std::to_string(v);
        s.erase(s.find_last_not_of('0') + 1);
        if (!s.empty() && s.back() == '.') s.pop_back();
        return s;
    };
    return {"system_memory",
            "sparse system memory (TLM-2.0 target): untouched memory reads 0 and costs nothing; a busy-until "
            "channel queues back-to-back transfers (set as \"params\": {\"memory\": {...}} in a platform)",
            {{"size", "bytes", fmt::format("{:#x}", d.size),
              "physical address space [0, size) backed by memory; accesses beyond answer an address error"},
             {"latency_ns", "ns", num(d.latency_ns), "access latency of one transaction"},
             {"bandwidth_bytes_per_ns", "bytes/ns", num(d.bandwidth_bytes_per_ns),
              "channel bandwidth; a transfer occupies the channel for length / bandwidth"},
             {"dmi", "bool", d.dmi ? "true" : "false",
              "grant DMI pointers to initiators (bypasses the latency and bandwidth model)"}}};
}

} // namespace iommusim::memory

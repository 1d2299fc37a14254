// Logging through spdlog. Models and the simulated kernel log like the kernel does (dmesg-style lines);
// the CLI sets the level (-v / -q).
#pragma once
#include <spdlog/spdlog.h>

namespace iommusim {
// The shared logger ("iommusim"), created on first use, writing to stderr.
spdlog::logger& log();
} // namespace iommusim

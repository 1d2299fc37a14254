// Bit arithmetic as include/linux/log2.h names it, for code that follows Linux's sizing formulas.
#pragma once
#include "sim/core/types.h"

namespace iommusim {

// ilog2: the floor of log2(v); 0 for 0 (Linux leaves that undefined).
constexpr unsigned ilog2(u64 v) { return v ? 63u - unsigned(__builtin_clzll(v)) : 0; }
constexpr bool is_power_of_2(u64 v) { return v && !(v & (v - 1)); }
constexpr u64 rounddown_pow_of_two(u64 v) { return v ? u64(1) << ilog2(v) : 0; }
constexpr u64 roundup_pow_of_two(u64 v) { return v <= 1 ? 1 : u64(1) << (ilog2(v - 1) + 1); }

} // namespace iommusim

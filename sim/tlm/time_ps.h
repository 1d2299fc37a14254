// Simulated time as integer picoseconds, for the models' timing arithmetic. sc_time's constructors
// from (double, unit) go through floating point and a table lookup on every call; on the hot DMA path
// that costs more than the modelled work. With the kernel's default resolution of 1 ps (IEEE 1666
// §5.11.3; nothing in iommusim changes it) a sc_time's value() is its picosecond count, so both ways are
// exact integer operations; under any other resolution they fall back to the general conversion.
#pragma once
#include "sim/core/types.h"

#include <systemc>

namespace iommusim::tlmx {

inline bool resolution_is_ps() {
    static const bool ps = sc_core::sc_get_time_resolution() == sc_core::sc_time(1, sc_core::SC_PS);
    return ps;
}

inline u64 to_ps(const sc_core::sc_time& t) {
    if (resolution_is_ps()) return t.value();
    return u64(t / sc_core::sc_time(1, sc_core::SC_PS) + 0.5);
}

inline sc_core::sc_time from_ps(u64 ps) {
    if (resolution_is_ps()) return sc_core::sc_time::from_value(ps);
    return sc_core::sc_time(double(ps), sc_core::SC_PS);
}

} // namespace iommusim::tlmx

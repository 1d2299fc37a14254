#include "sim/scenario/group_result.h"

namespace iommusim::scenario {

const device_row* group_result::find(const bdf& b) const {
    for (const auto& d : devices)
        if (d.addr == b) return &d;
    return nullptr;
}

} // namespace iommusim::scenario

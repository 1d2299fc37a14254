// Evaluates a scenario's steps against what the simulated machine did. Pure: it only reads results, so
// it is unit-tested without SystemC.
#pragma once
#include "sim/scenario/group_result.h"
#include "sim/scenario/scenario.h"

#include <string>
#include <vector>

namespace iommusim::scenario {

struct step_result {
    const step* source = nullptr;
    bool passed = true;
    std::vector<std::string> messages;   // why it failed, or what it printed
};

// The step did not hold: why.
inline void fail(step_result& out, std::string message) {
    out.passed = false;
    out.messages.push_back(std::move(message));
}

step_result check_step(const step& s, const group_result& r);

} // namespace iommusim::scenario

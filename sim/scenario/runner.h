// Runs scenario files. Each scenario boots its own machine in a child process (SystemC elaborates once
// per process), so one `iommusim run` can take many files; results come back as JSON over a pipe.
#pragma once
#include "sim/scenario/junit.h"

#include <string>
#include <vector>

namespace iommusim::scenario {

enum class outcome { passed, failed, error };

struct step_outcome {
    std::string name;          // op and label
    std::string where;         // JSON pointer
    bool passed = true;
    std::vector<std::string> messages;
};

struct scenario_outcome {
    std::string file, name;
    outcome result = outcome::passed;
    std::string error;         // input or internal error text when result == error
    double seconds = 0;
    std::vector<step_outcome> steps;
};

// Loads, boots and checks one scenario in this process.
scenario_outcome run_scenario_here(const std::string& path);
// Same, in a forked child; survives crashes of the child (reported as an error outcome).
scenario_outcome run_scenario_isolated(const std::string& path);

junit_suite to_junit(const scenario_outcome& o);

} // namespace iommusim::scenario

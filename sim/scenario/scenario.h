// The scenario format, version 1: a platform, kernel options and a list of steps whose expectations
// become exit codes and JUnit XML. Built to grow: DMA, VFIO and interrupt steps join the same list.
//
//   { "name": "...", "description": "...",
//     "platform": "intel-client" | "path/to/platform.json" | { inline platform },  (or "lspci": "dump.txt")
//     "host": { "kernel": "6.1", "acs_override": "downstream", "iommu": "intel", ... },
//     "steps": [ { "op": "expect_groups", "groups": [["0000:00:1c.0"], ...] }, ... ] }
//
// Everything is validated when the file loads (`iommusim validate`), with the JSON pointer of each problem.
#pragma once
#include "platforms/desc/platform_desc.h"
#include "sim/core/bdf.h"
#include "sim/host/kernel_options.h"
#include "sim/scenario/calibration_step.h"
#include "sim/scenario/machine_step.h"
#include "sim/scenario/partition.h"
#include "sim/scenario/vfio_step.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace iommusim::scenario {

enum class step_op {
    print_groups,          // log the listing (with reasons) into the report
    expect_groups,         // the whole partition equals `groups` (inline, or a file with "file")
    expect_group_count,    // number of groups equals `count`
    expect_same_group,     // all `devices` share one group
    expect_isolated,       // `device` is alone in its group
    expect_different_groups, // no two of `devices` share a group
    expect_no_group,       // `device` has no IOMMU group (IOMMU off, or not covered)
    expect_reason,         // the reason of `device`'s group contains `text`
    machine,               // a step on the running machine (domains, DMA, faults): see machine_step.h
    iotlb_window,          // a calibration experiment on its own machine: see calibration_step.h
};

const char* to_string(step_op op);

struct step {
    step_op op = step_op::print_groups;
    std::string where;               // JSON pointer of the step, for messages and JUnit names
    std::string name;                // optional label
    std::vector<bdf> devices;
    std::optional<expected_groups> groups;
    int count = 0;
    std::string text;
    std::optional<machine_step> machine; // for step_op::machine
    std::optional<vfio_step> vfio;       // for step_op::machine: a VFIO step instead (see vfio_step.h)
    std::optional<calibration_step> calibration; // for step_op::iotlb_window
};

// "expect_groups", or the machine step's own op name ("dma").
std::string step_label(const step& s);


struct scenario_desc {
    std::string file;
    std::string name, description;
    platforms::platform_desc platform;
    host::kernel_options host;
    vfio_process_options process;  // "process" and host.allow_unsafe_interrupts, for VFIO steps
    std::vector<step> steps;
};

// Whether any step needs the running machine (DMA, domains) rather than the group partition only.
bool needs_machine(const scenario_desc& s);

scenario_desc load_scenario_file(const std::string& path);
scenario_desc load_scenario_json(const nlohmann::json& j, const std::string& file);

// Parses the "host" object (also used for defaults given on the command line). Throws input_error.
host::kernel_options parse_host_options(const nlohmann::json& j, const std::string& file, const std::string& pointer);

} // namespace iommusim::scenario

// IOMMU groups compared as a partition (a set of sets of BDFs): group numbers only reflect probe order,
// so two results agree when the same devices share groups.
#pragma once
#include "sim/core/bdf.h"
#include "sim/scenario/group_result.h"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace iommusim::scenario {

using partition = std::vector<std::vector<bdf>>; // each inner list sorted, outer sorted by first member

partition make_partition(std::vector<std::vector<bdf>> groups);
partition partition_of(const group_result& r);

// An expectation: the partition, and the group numbers when the expectation states them (the numbers
// are what /dev/vfio/N and /sys/kernel/iommu_groups/N show, so they are worth checking when known).
struct expected_groups {
    partition groups;
    std::map<bdf, int> ids;   // empty: numbering not stated
};

// Reads an expectation, in any of these forms:
//   {"groups": [["0000:00:1c.0", ...], ...]}                      partition only (oracle fixtures)
//   {"groups": [{"id": 3, "devices": [{"bdf": ...}]}, ...]}       `iommusim groups --json` output
//   {"groups": {"3": ["0000:00:1c.0", ...], ...}}                 numbered, as the oracle records sysfs
// `pointer` is the JSON pointer of `j` inside `file`, for messages. Throws input_error.
expected_groups parse_expected_groups(const nlohmann::json& j, const std::string& file, const std::string& pointer);
expected_groups load_expected_groups(const std::string& path);

// Human-readable differences; empty when the partitions are equal.
std::vector<std::string> diff_partitions(const partition& expected, const partition& actual);
// Differences in numbering, for the devices the expectation numbers; empty when they agree.
std::vector<std::string> diff_numbering(const std::map<bdf, int>& expected, const group_result& actual);
// Both of the above.
std::vector<std::string> diff_expected(const expected_groups& expected, const group_result& actual);

} // namespace iommusim::scenario

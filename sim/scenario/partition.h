// IOMMU groups compared as a partition (a set of sets of BDFs): group numbers only reflect probe order,
// so two results agree when the same devices share groups.
#pragma once
#include "sim/core/bdf.h"
#include "sim/scenario/group_result.h"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace iommusim::scenario {

using partition = std::vector<std::vector<bdf>>; // each inner list sorted, outer sorted by first member

partition make_partition(std::vector<std::vector<bdf>> groups);
partition partition_of(const group_result& r);

// Reads an expected partition: either {"groups": [["0000:00:1c.0", ...], ...]} (the oracle fixtures'
// form) or the `iommusim groups --json` form {"groups": [{"devices": [{"bdf": ...}]}]}. `pointer` is
// the JSON pointer of `j` inside `file`, for messages. Throws input_error.
partition parse_partition(const nlohmann::json& j, const std::string& file, const std::string& pointer);
partition load_partition_file(const std::string& path);

// Human-readable differences; empty when the partitions are equal.
std::vector<std::string> diff_partitions(const partition& expected, const partition& actual);

} // namespace iommusim::scenario

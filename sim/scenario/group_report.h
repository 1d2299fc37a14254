// Renders a group_result: the familiar text listing (`IOMMU Group N: 0000:00:1c.0 PCI bridge [0604]: ...`),
// optionally with the reasons, and the JSON form (`{"groups": [{"id", "devices", "reason"}], ...}`).
#pragma once
#include "sim/scenario/group_result.h"

#include <nlohmann/json.hpp>
#include <string>

namespace iommusim::scenario {

std::string format_groups_text(const group_result& r, bool explain);
nlohmann::json groups_to_json(const group_result& r);

} // namespace iommusim::scenario

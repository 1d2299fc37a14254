// The JSON platform format (docs/platform-format.md, platforms/schema/platform.schema.json): loading and
// strict validation. Every error is an input_error with the file and the full JSON pointer of the value.
#pragma once
#include "platforms/desc/platform_desc.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace iommusim::platforms {

// Reads and validates a platform file. Malformed JSON is reported as "line L, column C".
platform_desc load_platform_file(const std::string& path);

// Parses JSON text (source names it in messages), then as load_platform_json.
platform_desc load_platform_text(const std::string& text, const std::string& source);

// Validates an already parsed platform object. json_pointer_prefix is where the object sits in a larger
// document (e.g. "/platform" in a scenario) and prefixes every reported location.
platform_desc load_platform_json(const nlohmann::json& j, const std::string& source,
                                 const std::string& json_pointer_prefix = "");

// Presets: "qemu-q35", "intel-client", ... searched in $IOMMUSIM_PLATFORM_PATH (colon-separated), the
// installed share/iommusim/platforms, then the source tree's platforms/presets; the first match wins.
std::vector<std::string> preset_dirs();
std::vector<std::string> preset_names();
std::string preset_path(const std::string& name);   // throws input_error for an unknown name
platform_desc load_preset(const std::string& name);

} // namespace iommusim::platforms

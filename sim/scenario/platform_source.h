// Where a platform comes from: a preset name ("intel-client"), a JSON file, or a real machine's lspci
// dump. Resolves relative paths against the referring file's directory.
#pragma once
#include "platforms/desc/platform_desc.h"

#include <string>

namespace iommusim::scenario {

// `ref` is a preset name (no '/' and no extension) or a path (relative paths resolve against `base_dir`).
platforms::platform_desc load_platform_ref(const std::string& ref, const std::string& base_dir);
platforms::platform_desc load_lspci_ref(const std::string& path, const std::string& base_dir);

} // namespace iommusim::scenario

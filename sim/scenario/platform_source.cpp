#include "sim/scenario/platform_source.h"

#include "platforms/desc/lspci_import.h"
#include "platforms/desc/platform_loader.h"
#include "sim/core/input_error.h"

#include <filesystem>

namespace iommusim::scenario {

namespace fs = std::filesystem;

namespace {
bool looks_like_path(const std::string& ref) {
    return ref.find('/') != std::string::npos || fs::path(ref).has_extension();
}

std::string resolve(const std::string& ref, const std::string& base_dir) {
    fs::path p(ref);
    if (p.is_relative() && !base_dir.empty()) p = fs::path(base_dir) / p;
    return p.string();
}
} // namespace

platforms::platform_desc load_platform_ref(const std::string& ref, const std::string& base_dir) {
    if (ref.empty()) throw input_error("", "", "empty platform reference");
    if (looks_like_path(ref)) return platforms::load_platform_file(resolve(ref, base_dir));
    return platforms::load_preset(ref);
}

platforms::platform_desc load_lspci_ref(const std::string& path, const std::string& base_dir) {
    return platforms::import_lspci_file(resolve(path, base_dir));
}

} // namespace iommusim::scenario

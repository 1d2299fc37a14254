// The lspci importer: a real machine's `lspci -xxxx` (or -xxx / -x, with or without -D, -nn, -vvv) or
// `lspci -nn -vvv` text becomes a platform_desc. Hex dumps become `captured` functions with their bytes
// verbatim; decoded-only dumps are synthesised from the text. The tree is rebuilt from the firmware bus
// numbers of the bridges. Everything that had to be assumed is written to platform_desc::notes.
// See docs/lspci-import.md.
#pragma once
#include "platforms/desc/platform_desc.h"

#include <optional>
#include <string>

namespace iommusim::platforms {

struct lspci_import_options {
    std::optional<iommu_kind> iommu;   // overrides the guess (AMD IOMMU function present -> amd, else intel)
    std::string name;                  // platform name; default: the file's stem
};

// Errors are input_error with location "line N".
platform_desc import_lspci_text(const std::string& text, const std::string& source,
                                const lspci_import_options& opt = {});
platform_desc import_lspci_file(const std::string& path, const lspci_import_options& opt = {});

} // namespace iommusim::platforms

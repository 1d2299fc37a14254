// First stage of the lspci importer: splits `lspci [-D] [-nn] [-v..] [-x..]` text into one record per
// device (header fields, captured hex bytes, decoded -v lines) with strict checks on the hex rows.
// Turning records into a platform is lspci_import.cpp's job.
#pragma once
#include "sim/core/types.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace iommusim::platforms::lspci {

struct record {
    unsigned line = 0;                 // 1-based line of the device's header line
    u16 segment = 0;
    u8 bus = 0, devfn = 0;
    bool has_domain = false;           // printed with -D
    std::string class_name;            // "PCI bridge"
    std::optional<u16> class_id;       // [0604] (-nn)
    std::string description;           // "Intel Corporation ... Root Port"
    std::optional<u16> vendor, device; // [8086:a110] (-nn)
    std::optional<u8> revision, prog_if;
    std::vector<u8> bytes;             // captured config space (-x: 64, -xxx: 256, -xxxx: 4096), else empty
    std::vector<std::pair<unsigned, std::string>> decoded; // -v lines (line number, text without indentation)
};

struct parse_result {
    std::vector<record> records;
    std::vector<std::string> ignored;  // warning lines lspci/pcilib printed, kept for the notes
};

// Throws input_error(source, "line N", ...) on garbled header lines, bad hex rows, truncated dumps.
parse_result parse(const std::string& text, const std::string& source);

std::string bdf_string(const record& r);   // "0000:00:1c.0"

} // namespace iommusim::platforms::lspci

// Reading JSON input files with messages that name the file and the line and column of a syntax error.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace iommusim {

// Throws input_error: "cannot open file", or "line L, column C: malformed JSON (...)".
nlohmann::json read_json_file(const std::string& path);
nlohmann::json parse_json_text(const std::string& text, const std::string& source);

// Reads a whole text file; throws input_error when it cannot be opened or is not a regular file.
std::string read_text_file(const std::string& path);

} // namespace iommusim

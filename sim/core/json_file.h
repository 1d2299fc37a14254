// Reading user-written input files: JSON with messages that name the file and the line and column of a
// syntax error, and plain text (lspci dumps). Every failure is an input_error.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace iommusim {

// Reads a whole file; "cannot open file" / "is a directory" / "cannot read file".
std::string read_text_file(const std::string& path);

// Parses JSON text (// and /* */ comments allowed). Syntax errors: "line L, column C: malformed JSON: ...".
// Nesting deeper than max_depth is refused before parsing, so no later recursive walk over the document
// can be driven into the stack limit by a hostile file.
nlohmann::json parse_json_text(const std::string& text, const std::string& source, unsigned max_depth = 1100);
nlohmann::json read_json_file(const std::string& path);

// "line L, column C" of a byte offset into text (1-based; columns count bytes).
std::string line_column(std::string_view text, size_t byte_offset);

} // namespace iommusim

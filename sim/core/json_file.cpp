#include "sim/core/json_file.h"

#include "sim/core/input_error.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace iommusim {

std::string read_text_file(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw input_error(path, "", "is a directory, not a file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw input_error(path, "", "cannot open file");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw input_error(path, "", "cannot read file");
    return ss.str();
}

std::string line_column(std::string_view text, size_t byte_offset) {
    byte_offset = std::min(byte_offset, text.size());
    size_t line = 1, col = 1;
    for (size_t i = 0; i < byte_offset; ++i) {
        if (text[i] == '\n') {
            ++line;
            col = 1;
        } else {
            ++col;
        }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

namespace {
void check_nesting(const std::string& text, const std::string& source, unsigned max_depth) {
    unsigned depth = 0;
    bool in_string = false, escape = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (escape) escape = false;
            else if (c == '\\') escape = true;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max_depth) throw input_error(source, line_column(text, i), "JSON nested too deeply");
        } else if ((c == '}' || c == ']') && depth > 0) {
            --depth;
        }
    }
}
} // namespace

nlohmann::json parse_json_text(const std::string& text, const std::string& source, unsigned max_depth) {
    check_nesting(text, source, max_depth);
    try {
        return nlohmann::json::parse(text, nullptr, true, /*ignore_comments=*/true);
    } catch (const nlohmann::json::parse_error& e) {
        // "[json.exception.parse_error.101] parse error at line 3, column 5: syntax error ..." -> the reason;
        // e.byte points one past the offending character.
        const std::string what = e.what();
        const size_t colon = what.find(": ");
        const std::string reason = colon == std::string::npos ? what : what.substr(colon + 2);
        throw input_error(source, line_column(text, e.byte ? e.byte - 1 : 0), "malformed JSON: " + reason);
    }
}

nlohmann::json read_json_file(const std::string& path) { return parse_json_text(read_text_file(path), path); }

} // namespace iommusim

#include "sim/core/json_file.h"

#include "sim/core/input_error.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace iommusim {

std::string read_text_file(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw input_error(path, "", "is a directory, not a file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw input_error(path, "", "cannot open file");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

nlohmann::json parse_json_text(const std::string& text, const std::string& source) {
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        // nlohmann reports a byte offset (1-based, pointing past the offending character).
        size_t line = 1, col = 1;
        for (size_t i = 0; i < text.size() && i + 1 < e.byte; ++i) {
            if (text[i] == '\n') {
                ++line;
                col = 1;
            } else {
                ++col;
            }
        }
        std::string what = e.what();
        const auto pos = what.find("syntax error");
        throw input_error(source, fmt::format("line {}, column {}", line, col),
                          "malformed JSON: " + (pos == std::string::npos ? what : what.substr(pos)));
    }
}

nlohmann::json read_json_file(const std::string& path) { return parse_json_text(read_text_file(path), path); }

} // namespace iommusim

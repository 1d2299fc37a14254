// Strict reading of user-written JSON values: every failure is an input_error carrying the file and the
// full JSON pointer of the offending value, so a user can find it in a platform or scenario file.
// Shared by the platform loader (and usable by the scenario loader for its own fields).
#pragma once
#include "sim/core/closest_name.h"
#include "sim/core/input_error.h"
#include "sim/core/types.h"

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace iommusim::platforms {

// JSON pointer of member `key` / element `index` below `ptr` (RFC 6901 escaping of '~' and '/').
std::string json_ptr(const std::string& ptr, std::string_view key);
std::string json_ptr(const std::string& ptr, size_t index);

// Closest candidate to `word` by edit distance, if close enough to be a plausible typo.
using iommusim::closest_name;

class json_fields {
public:
    json_fields(std::string file) : m_file(std::move(file)) {}

    [[noreturn]] void fail(const std::string& ptr, const std::string& message) const;

    // Requires an object; rejects members not in `known`, suggesting the closest known name.
    void require_object(const nlohmann::json& v, const std::string& ptr) const;
    void check_members(const nlohmann::json& obj, const std::string& ptr,
                       std::initializer_list<const char*> known) const;

    // Unsigned integer from a JSON number or a string "0x1f" / "31"; must be <= max.
    u64 get_uint(const nlohmann::json& v, const std::string& ptr, u64 max) const;
    // Hexadecimal ID (vendor, device, class...): a JSON number or a string starting with 0x.
    u64 get_hex_id(const nlohmann::json& v, const std::string& ptr, u64 max) const;
    // Size in bytes: a number or "4K", "16M", "1G", "2T" (binary units), "0x1000".
    u64 get_size(const nlohmann::json& v, const std::string& ptr) const;
    bool get_bool(const nlohmann::json& v, const std::string& ptr) const;
    std::string get_string(const nlohmann::json& v, const std::string& ptr) const;

    const std::string& file() const { return m_file; }

private:
    std::string m_file;
};

const char* json_type_name(const nlohmann::json& v);

} // namespace iommusim::platforms

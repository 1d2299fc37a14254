#include "platforms/desc/json_fields.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <limits>
#include <vector>

namespace iommusim::platforms {

std::string json_ptr(const std::string& ptr, std::string_view key) {
    std::string out = ptr + "/";
    for (char c : key) {
        if (c == '~') out += "~0";
        else if (c == '/') out += "~1";
        else out += c;
    }
    return out;
}

std::string json_ptr(const std::string& ptr, size_t index) { return ptr + "/" + std::to_string(index); }

namespace {

// Only short printable excerpts of user text go into messages.
std::string quote_excerpt(std::string_view s) {
    std::string out = "\"";
    for (char c : s.substr(0, 60)) out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
    if (s.size() > 60) out += "...";
    return out + "\"";
}

} // namespace

const char* json_type_name(const nlohmann::json& v) {
    switch (v.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "an integer";
    case nlohmann::json::value_t::number_float: return "a floating-point number";
    default: return "an unsupported value";
    }
}

void json_fields::fail(const std::string& ptr, const std::string& message) const {
    throw input_error(m_file, ptr, message);
}

void json_fields::require_object(const nlohmann::json& v, const std::string& ptr) const {
    if (!v.is_object()) fail(ptr, std::string("expected an object, got ") + json_type_name(v));
}

void json_fields::check_members(const nlohmann::json& obj, const std::string& ptr,
                                std::initializer_list<const char*> known) const {
    require_object(obj, ptr);
    for (const auto& item : obj.items()) {
        const std::string& key = item.key();
        bool ok = std::any_of(known.begin(), known.end(), [&](const char* k) { return key == k; });
        if (ok) continue;
        std::string msg = "unknown field " + quote_excerpt(key);
        if (auto near = closest_name(key, known)) msg += "; did you mean \"" + *near + "\"?";
        else {
            msg += "; known fields:";
            for (const char* k : known) msg += std::string(" ") + k;
        }
        fail(json_ptr(ptr, key), msg);
    }
}

namespace {

// Parses all of s as an unsigned number in `base`; nullopt on junk or overflow.
std::optional<u64> parse_digits(std::string_view s, unsigned base) {
    if (s.empty() || s.size() > 32) return std::nullopt;
    u64 v = 0;
    for (char c : s) {
        unsigned d;
        if (c >= '0' && c <= '9') d = unsigned(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f') d = unsigned(c - 'a' + 10);
        else if (base == 16 && c >= 'A' && c <= 'F') d = unsigned(c - 'A' + 10);
        else if (c == '_') continue;  // "0x1_0000" reads better for big numbers
        else return std::nullopt;
        if (v > (std::numeric_limits<u64>::max() - d) / base) return std::nullopt;
        v = v * base + d;
    }
    return v;
}

std::optional<u64> parse_number_text(std::string_view s) {
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) return parse_digits(s.substr(2), 16);
    return parse_digits(s, 10);
}

} // namespace

u64 json_fields::get_uint(const nlohmann::json& v, const std::string& ptr, u64 max) const {
    u64 value = 0;
    if (v.is_number_unsigned()) value = v.get<u64>();
    else if (v.is_number_integer()) {
        if (v.get<i64>() < 0) fail(ptr, "must not be negative (got " + v.dump() + ")");
        value = u64(v.get<i64>());
    } else if (v.is_string()) {
        auto parsed = parse_number_text(v.get_ref<const std::string&>());
        if (!parsed) fail(ptr, "expected a number such as 31 or \"0x1f\", got " + quote_excerpt(v.get_ref<const std::string&>()));
        value = *parsed;
    } else {
        fail(ptr, std::string("expected an integer, got ") + json_type_name(v));
    }
    if (value > max) fail(ptr, "value " + std::to_string(value) + " is out of range (maximum " + std::to_string(max) + ")");
    return value;
}

u64 json_fields::get_hex_id(const nlohmann::json& v, const std::string& ptr, u64 max) const {
    if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        if (s.size() < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
            fail(ptr, "write hexadecimal IDs with a 0x prefix, e.g. \"0x8086\"; got " + quote_excerpt(s));
    }
    u64 value = get_uint(v, ptr, std::numeric_limits<u64>::max());
    if (value > max) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(max));
        fail(ptr, "value does not fit (maximum " + std::string(buf) + ")");
    }
    return value;
}

u64 json_fields::get_size(const nlohmann::json& v, const std::string& ptr) const {
    if (!v.is_string()) {
        u64 n = get_uint(v, ptr, std::numeric_limits<u64>::max());
        if (n == 0) fail(ptr, "size must not be zero");
        return n;
    }
    std::string s = v.get<std::string>();
    // Optional binary-unit suffix: K, M, G, T, with "B"/"iB" tolerated ("4K", "4KiB", "4KB").
    unsigned shift = 0;
    std::string num = s;
    for (const char* tail : {"iB", "B"}) {
        std::string t = tail;
        if (num.size() > t.size() + 1 && num.compare(num.size() - t.size(), t.size(), t) == 0) {
            num.resize(num.size() - t.size());
            break;
        }
    }
    if (!num.empty() && num.compare(0, 2, "0x") != 0) {
        switch (std::toupper(static_cast<unsigned char>(num.back()))) {
        case 'K': shift = 10; break;
        case 'M': shift = 20; break;
        case 'G': shift = 30; break;
        case 'T': shift = 40; break;
        default: break;
        }
        if (shift) num.pop_back();
    }
    auto parsed = parse_number_text(num);
    if (!parsed) fail(ptr, "expected a size such as 4096, \"4K\", \"16M\" or \"1G\", got " + quote_excerpt(s));
    if (*parsed == 0) fail(ptr, "size must not be zero");
    if (shift && *parsed > (std::numeric_limits<u64>::max() >> shift)) fail(ptr, "size " + quote_excerpt(s) + " is too large");
    return *parsed << shift;
}

bool json_fields::get_bool(const nlohmann::json& v, const std::string& ptr) const {
    if (!v.is_boolean()) fail(ptr, std::string("expected true or false, got ") + json_type_name(v));
    return v.get<bool>();
}

std::string json_fields::get_string(const nlohmann::json& v, const std::string& ptr) const {
    if (!v.is_string()) fail(ptr, std::string("expected a string, got ") + json_type_name(v));
    return v.get<std::string>();
}

} // namespace iommusim::platforms

#include "sim/scenario/partition.h"

#include "sim/core/input_error.h"
#include "sim/core/json_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

namespace iommusim::scenario {

namespace {
std::string join(const std::vector<bdf>& v) {
    std::string s;
    for (const auto& b : v) s += (s.empty() ? "" : ", ") + b.str();
    return "{" + s + "}";
}

bdf parse_member(const nlohmann::json& m, const std::string& file, const std::string& ptr) {
    const nlohmann::json* s = &m;
    if (m.is_object()) {
        if (!m.contains("bdf")) throw input_error(file, ptr, "device entry has no \"bdf\"");
        s = &m.at("bdf");
    }
    if (!s->is_string()) throw input_error(file, ptr, "expected a BDF string such as \"0000:00:1c.0\"");
    auto b = bdf::parse(s->get<std::string>());
    if (!b) throw input_error(file, ptr, fmt::format("\"{}\" is not a BDF (dddd:bb:dd.f)", s->get<std::string>()));
    return *b;
}
} // namespace

partition make_partition(std::vector<std::vector<bdf>> groups) {
    for (auto& g : groups) std::sort(g.begin(), g.end());
    groups.erase(std::remove_if(groups.begin(), groups.end(), [](const auto& g) { return g.empty(); }),
                 groups.end());
    std::sort(groups.begin(), groups.end());
    return groups;
}

partition partition_of(const group_result& r) {
    std::vector<std::vector<bdf>> groups;
    for (const auto& g : r.groups) groups.push_back(g.members);
    return make_partition(std::move(groups));
}

expected_groups parse_expected_groups(const nlohmann::json& j, const std::string& file, const std::string& pointer) {
    if (!j.is_object() || !j.contains("groups"))
        throw input_error(file, pointer.empty() ? "/" : pointer, "expected an object with a \"groups\" array or object");
    const auto& groups = j.at("groups");
    const std::string gp = pointer + "/groups";
    if (!groups.is_array() && !groups.is_object())
        throw input_error(file, gp, "\"groups\" must be an array of groups or an object keyed by group number");

    expected_groups out;
    std::vector<std::vector<bdf>> parts;
    std::map<bdf, std::string> seen;
    std::set<int> ids_seen;
    auto add_group = [&](const nlohmann::json& members, const std::string& mp, std::optional<int> id, const std::string& ip) {
        if (!members.is_array()) throw input_error(file, mp, "expected an array of BDFs");
        if (id && !ids_seen.insert(*id).second) throw input_error(file, ip, fmt::format("group {} is listed twice", *id));
        std::vector<bdf> g;
        for (size_t k = 0; k < members.size(); ++k) {
            const std::string p = fmt::format("{}/{}", mp, k);
            const bdf b = parse_member(members[k], file, p);
            auto [it, fresh] = seen.emplace(b, p);
            if (!fresh) throw input_error(file, p, fmt::format("{} is already listed at {}", b.str(), it->second));
            if (id) out.ids[b] = *id;
            g.push_back(b);
        }
        parts.push_back(std::move(g));
    };
    auto parse_id = [&](const nlohmann::json& v, const std::string& p) {
        long long id = -1;
        if (v.is_number_integer()) id = v.get<long long>();
        else if (v.is_string() && !v.get<std::string>().empty() && v.get<std::string>().size() < 10 &&
                 v.get<std::string>().find_first_not_of("0123456789") == std::string::npos)
            id = std::stoll(v.get<std::string>());
        if (id < 0 || id > 1000000) throw input_error(file, p, "a group number is a non-negative integer");
        return int(id);
    };

    if (groups.is_object()) {
        for (const auto& [key, members] : groups.items()) {
            const std::string p = gp + "/" + key;
            add_group(members, p, parse_id(nlohmann::json(key), p), p);
        }
    } else {
        for (size_t i = 0; i < groups.size(); ++i) {
            const std::string p = fmt::format("{}/{}", gp, i);
            if (groups[i].is_object()) {
                if (!groups[i].contains("devices")) throw input_error(file, p, "group has no \"devices\" array");
                std::optional<int> id;
                if (groups[i].contains("id")) id = parse_id(groups[i].at("id"), p + "/id");
                add_group(groups[i].at("devices"), p + "/devices", id, p + "/id");
            } else {
                add_group(groups[i], p, std::nullopt, p);
            }
        }
    }
    out.groups = make_partition(std::move(parts));
    return out;
}

expected_groups load_expected_groups(const std::string& path) {
    return parse_expected_groups(read_json_file(path), path, "");
}

std::vector<std::string> diff_partitions(const partition& expected, const partition& actual) {
    std::vector<std::string> out;
    std::map<bdf, size_t> actual_of, expected_of;
    for (size_t i = 0; i < actual.size(); ++i)
        for (const auto& b : actual[i]) actual_of[b] = i;
    for (size_t i = 0; i < expected.size(); ++i)
        for (const auto& b : expected[i]) expected_of[b] = i;

    for (const auto& g : expected) {
        std::set<size_t> parts;
        std::vector<bdf> missing;
        for (const auto& b : g) {
            auto it = actual_of.find(b);
            if (it == actual_of.end()) missing.push_back(b);
            else parts.insert(it->second);
        }
        if (!missing.empty())
            out.push_back(fmt::format("expected {} in a group, but the simulation has no group for {}",
                                      join(g), join(missing)));
        if (parts.size() > 1) {
            std::string got;
            for (size_t p : parts) got += " " + join(actual[p]);
            out.push_back(fmt::format("expected one group {}, got it split across:{}", join(g), got));
        } else if (parts.size() == 1) {
            const auto& a = actual[*parts.begin()];
            std::vector<bdf> extra;
            for (const auto& b : a)
                if (!std::binary_search(g.begin(), g.end(), b)) extra.push_back(b);
            if (!extra.empty())
                out.push_back(fmt::format("expected group {}, but the simulation also puts {} in it: {}",
                                          join(g), join(extra), join(a)));
        }
    }
    std::vector<bdf> unexpected;
    for (const auto& [b, i] : actual_of)
        if (!expected_of.count(b)) unexpected.push_back(b);
    if (!unexpected.empty())
        out.push_back(fmt::format("the simulation has groups for devices the expectation does not list: {}",
                                  join(unexpected)));
    // A merge reported from both sides is said twice; keep the first wording only.
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::vector<std::string> diff_numbering(const std::map<bdf, int>& expected, const group_result& actual) {
    std::vector<std::string> out;
    for (const auto& [b, id] : expected) {
        const device_row* d = actual.find(b);
        if (!d || !d->group) continue; // a missing device or group is a partition difference, said there
        if (*d->group != id)
            out.push_back(fmt::format("{} is group {} in the expectation, group {} here", b.str(), id, *d->group));
    }
    return out;
}

std::vector<std::string> diff_expected(const expected_groups& expected, const group_result& actual) {
    auto out = diff_partitions(expected.groups, partition_of(actual));
    for (auto& line : diff_numbering(expected.ids, actual)) out.push_back(std::move(line));
    return out;
}

} // namespace iommusim::scenario

#include "sim/scenario/step_checks.h"

#include "sim/scenario/group_report.h"

#include <fmt/format.h>

#include <set>

namespace iommusim::scenario {

namespace {
std::optional<int> group_of(const group_result& r, const bdf& b) {
    const device_row* d = r.find(b);
    return d ? d->group : std::nullopt;
}

const group_row* find_group(const group_result& r, int id) {
    for (const auto& g : r.groups)
        if (g.id == id) return &g;
    return nullptr;
}

// A device named in an expectation must exist: a typo must fail loudly, not pass vacuously.
bool require_devices(const step& s, const group_result& r, step_result& out) {
    for (const auto& b : s.devices)
        if (!r.find(b)) {
            out.passed = false;
            out.messages.push_back(fmt::format("{} does not exist on this platform", b.str()));
        }
    return out.passed;
}

std::string group_text(const group_result& r, const bdf& b) {
    auto g = group_of(r, b);
    return g ? fmt::format("group {}", *g) : "no group";
}
} // namespace

step_result check_step(const step& s, const group_result& r) {
    step_result out;
    out.source = &s;
    switch (s.op) {
    case step_op::print_groups:
        out.messages.push_back(format_groups_text(r, true));
        break;
    case step_op::machine:
    case step_op::iotlb_window:
        // Machine and calibration steps run on a machine, never against the partition alone.
        out.passed = false;
        out.messages.push_back("a machine step cannot be checked against the group partition alone");
        break;
    case step_op::expect_groups:
        out.messages = diff_expected(*s.groups, r);
        out.passed = out.messages.empty();
        break;
    case step_op::expect_group_count:
        if (int(r.groups.size()) != s.count) {
            out.passed = false;
            out.messages.push_back(fmt::format("expected {} groups, got {}", s.count, r.groups.size()));
        }
        break;
    case step_op::expect_same_group: {
        if (!require_devices(s, r, out)) break;
        std::set<std::optional<int>> ids;
        for (const auto& b : s.devices) ids.insert(group_of(r, b));
        if (ids.size() != 1 || !*ids.begin()) {
            out.passed = false;
            std::string got;
            for (const auto& b : s.devices) got += fmt::format(" {}: {};", b.str(), group_text(r, b));
            out.messages.push_back("expected one shared group, got" + got);
        }
        break;
    }
    case step_op::expect_different_groups: {
        if (!require_devices(s, r, out)) break;
        for (size_t i = 0; i < s.devices.size(); ++i)
            for (size_t k = i + 1; k < s.devices.size(); ++k) {
                auto a = group_of(r, s.devices[i]), b = group_of(r, s.devices[k]);
                if (a && a == b) {
                    out.passed = false;
                    const group_row* g = find_group(r, *a);
                    out.messages.push_back(fmt::format("{} and {} share group {}{}", s.devices[i].str(),
                                                       s.devices[k].str(), *a, g ? " (" + g->reason + ")" : ""));
                }
            }
        break;
    }
    case step_op::expect_isolated: {
        if (!require_devices(s, r, out)) break;
        auto g = group_of(r, s.devices[0]);
        const group_row* row = g ? find_group(r, *g) : nullptr;
        if (!row || row->members.size() != 1) {
            out.passed = false;
            std::string others;
            if (row)
                for (const auto& m : row->members)
                    if (m != s.devices[0]) others += " " + m.str();
            out.messages.push_back(row ? fmt::format("{} shares group {} with{} ({})", s.devices[0].str(), *g,
                                                     others, row->reason)
                                       : fmt::format("{} has no IOMMU group", s.devices[0].str()));
        }
        break;
    }
    case step_op::expect_no_group:
        if (!require_devices(s, r, out)) break;
        if (auto g = group_of(r, s.devices[0])) {
            out.passed = false;
            out.messages.push_back(fmt::format("{} is in group {}", s.devices[0].str(), *g));
        }
        break;
    case step_op::expect_reason: {
        if (!require_devices(s, r, out)) break;
        auto g = group_of(r, s.devices[0]);
        const group_row* row = g ? find_group(r, *g) : nullptr;
        if (!row || row->reason.find(s.text) == std::string::npos) {
            out.passed = false;
            out.messages.push_back(fmt::format("reason for {} does not contain \"{}\": {}", s.devices[0].str(),
                                               s.text, row ? "\"" + row->reason + "\"" : "no group"));
        }
        break;
    }
    }
    return out;
}

} // namespace iommusim::scenario

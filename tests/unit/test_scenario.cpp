// The scenario layer's pure logic: expectations, partition differences, step checks, the scenario
// loader's validation and JUnit XML. No SystemC: results are built by hand.
#include "sim/core/input_error.h"
#include "sim/scenario/group_report.h"
#include "sim/scenario/junit.h"
#include "sim/scenario/partition.h"
#include "sim/scenario/scenario.h"
#include "sim/scenario/step_checks.h"
#include "sim/scenario/topology_gen.h"

#include <catch2/catch.hpp>

using namespace iommusim;
using namespace iommusim::scenario;
using nlohmann::json;

namespace {

bdf B(const char* s) { return *bdf::parse(s); }

// Three groups: {00:00.0}, {00:1c.0, 01:00.0, 01:00.1}, {00:1d.0}; 02:00.0 without a group.
group_result sample() {
    group_result r;
    auto dev = [&](const char* b, std::optional<int> g) {
        device_row d;
        d.addr = B(b);
        d.group = g;
        d.class_code = 0x020000;
        d.class_name = "Ethernet controller";
        r.devices.push_back(d);
    };
    dev("0000:00:00.0", 0);
    dev("0000:00:1c.0", 1);
    dev("0000:00:1d.0", 2);
    dev("0000:01:00.0", 1);
    dev("0000:01:00.1", 1);
    dev("0000:02:00.0", std::nullopt);
    r.groups = {{0, {B("0000:00:00.0")}, "alone", std::nullopt},
                {1, {B("0000:00:1c.0"), B("0000:01:00.0"), B("0000:01:00.1")}, "Root Port 0000:00:1c.0 does not isolate",
                 std::nullopt},
                {2, {B("0000:00:1d.0")}, "alone", std::nullopt}};
    return r;
}

step make_step(step_op op, std::vector<const char*> devices, std::string text = {}, int count = 0) {
    step s;
    s.op = op;
    for (auto* d : devices) s.devices.push_back(B(d));
    s.text = std::move(text);
    s.count = count;
    return s;
}

scenario_desc load(const json& j) { return load_scenario_json(j, "t.json"); }

json minimal_platform() {
    return json::parse(R"({"root_buses": [{"devices": [{"addr": "00.0", "kind": "host_bridge"}]}]})");
}

std::string error_of(const json& j) {
    try {
        load(j);
    } catch (const input_error& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("expectations parse in all three forms and agree", "[scenario]") {
    const auto list = parse_expected_groups(json::parse(R"({"groups": [["0000:00:1d.0"], ["0000:01:00.0", "0000:00:1c.0"]]})"), "f", "");
    const auto numbered = parse_expected_groups(json::parse(R"({"groups": {"2": ["0000:00:1d.0"], "1": ["0000:00:1c.0", "0000:01:00.0"]}})"), "f", "");
    const auto cli = parse_expected_groups(json::parse(R"({"groups": [{"id": 1, "devices": [{"bdf": "0000:00:1c.0"}, {"bdf": "0000:01:00.0"}]}, {"id": 2, "devices": [{"bdf": "0000:00:1d.0"}]}]})"), "f", "");
    CHECK(list.groups == numbered.groups);
    CHECK(list.groups == cli.groups);
    CHECK(list.ids.empty());
    CHECK(numbered.ids.at(B("0000:01:00.0")) == 1);
    CHECK(cli.ids == numbered.ids);
}

TEST_CASE("bad expectations name the JSON pointer", "[scenario]") {
    auto err = [](const char* text) {
        try {
            parse_expected_groups(json::parse(text), "exp.json", "");
        } catch (const input_error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    CHECK(err(R"({"groups": [["0000:00:1c.0"], ["0000:00:1c.0"]]})").find("exp.json: /groups/1/0: 0000:00:1c.0 is already listed at /groups/0/0") != std::string::npos);
    CHECK(err(R"({"groups": [["00:1c"]]})").find("/groups/0/0") != std::string::npos);
    CHECK(err(R"({"groups": {"x": []}})").find("/groups/x: a group number") != std::string::npos);
    CHECK(err(R"({"groups": 3})").find("/groups") != std::string::npos);
    CHECK(err(R"([])").find("exp.json: /") != std::string::npos);
}

TEST_CASE("partition differences say what is split, merged, missing or extra", "[scenario]") {
    const group_result r = sample();
    const partition actual = partition_of(r);
    CHECK(diff_partitions(actual, actual).empty());

    auto split = diff_partitions(make_partition({{B("0000:00:00.0"), B("0000:00:1d.0")},
                                                 {B("0000:00:1c.0"), B("0000:01:00.0"), B("0000:01:00.1")}}),
                                 actual);
    REQUIRE(split.size() == 1);
    CHECK(split[0].find("split across") != std::string::npos);

    auto merged = diff_partitions(make_partition({{B("0000:00:00.0")}, {B("0000:00:1c.0"), B("0000:01:00.0")},
                                                  {B("0000:01:00.1")}, {B("0000:00:1d.0")}}),
                                  actual);
    CHECK_FALSE(merged.empty());
    CHECK(merged[0].find("also puts") != std::string::npos);

    auto missing = diff_partitions(make_partition({{B("0000:00:00.0")}, {B("0000:00:1c.0"), B("0000:01:00.0"), B("0000:01:00.1")},
                                                   {B("0000:00:1d.0")}, {B("0000:02:00.0")}}),
                                   actual);
    REQUIRE(missing.size() == 1);
    CHECK(missing[0].find("no group for {0000:02:00.0}") != std::string::npos);

    auto extra = diff_partitions(make_partition({{B("0000:00:00.0")}, {B("0000:00:1c.0"), B("0000:01:00.0"), B("0000:01:00.1")}}), actual);
    REQUIRE(extra.size() == 1);
    CHECK(extra[0].find("does not list: {0000:00:1d.0}") != std::string::npos);
}

TEST_CASE("group numbering is compared when the expectation states it", "[scenario]") {
    const group_result r = sample();
    expected_groups e;
    e.groups = partition_of(r);
    e.ids = {{B("0000:00:1c.0"), 1}, {B("0000:00:1d.0"), 2}};
    CHECK(diff_expected(e, r).empty());
    e.ids[B("0000:00:1d.0")] = 5;
    auto d = diff_expected(e, r);
    REQUIRE(d.size() == 1);
    CHECK(d[0] == "0000:00:1d.0 is group 5 in the expectation, group 2 here");
}

TEST_CASE("step checks pass and fail as their names say", "[scenario]") {
    const group_result r = sample();
    CHECK(check_step(make_step(step_op::expect_same_group, {"0000:00:1c.0", "0000:01:00.1"}), r).passed);
    CHECK_FALSE(check_step(make_step(step_op::expect_same_group, {"0000:00:1c.0", "0000:00:1d.0"}), r).passed);
    CHECK(check_step(make_step(step_op::expect_different_groups, {"0000:00:00.0", "0000:00:1d.0", "0000:01:00.0"}), r).passed);
    CHECK_FALSE(check_step(make_step(step_op::expect_different_groups, {"0000:00:1c.0", "0000:01:00.0"}), r).passed);
    CHECK(check_step(make_step(step_op::expect_isolated, {"0000:00:1d.0"}), r).passed);
    CHECK_FALSE(check_step(make_step(step_op::expect_isolated, {"0000:01:00.0"}), r).passed);
    CHECK(check_step(make_step(step_op::expect_no_group, {"0000:02:00.0"}), r).passed);
    CHECK_FALSE(check_step(make_step(step_op::expect_no_group, {"0000:00:00.0"}), r).passed);
    CHECK(check_step(make_step(step_op::expect_reason, {"0000:01:00.0"}, "does not isolate"), r).passed);
    CHECK_FALSE(check_step(make_step(step_op::expect_reason, {"0000:01:00.0"}, "ACS enabled"), r).passed);
    CHECK(check_step(make_step(step_op::expect_group_count, {}, {}, 3), r).passed);
    CHECK_FALSE(check_step(make_step(step_op::expect_group_count, {}, {}, 4), r).passed);
}

TEST_CASE("an expectation about a device that does not exist fails", "[scenario]") {
    const group_result r = sample();
    for (auto op : {step_op::expect_isolated, step_op::expect_no_group, step_op::expect_reason}) {
        auto res = check_step(make_step(op, {"0000:09:00.0"}, "x"), r);
        CHECK_FALSE(res.passed);
        CHECK(res.messages.at(0).find("does not exist") != std::string::npos);
    }
    CHECK_FALSE(check_step(make_step(step_op::expect_different_groups, {"0000:00:00.0", "0000:09:00.0"}), r).passed);
}

TEST_CASE("scenario loader validates every field with its JSON pointer", "[scenario]") {
    json ok = {{"platform", minimal_platform()}, {"steps", json::array({{{"op", "expect_group_count"}, {"count", 1}}})}};
    CHECK(load(ok).steps.size() == 1);

    auto with = [&](const char* key, json value) {
        json j = ok;
        j[key] = std::move(value);
        return error_of(j);
    };
    CHECK(with("stepz", 1).find("t.json: /stepz: unknown field") != std::string::npos);
    CHECK(with("steps", json::array({{{"op", "expect_isolated"}}})).find("/steps/0: missing field \"device\"") != std::string::npos);
    CHECK(with("steps", json::array({{{"op", "expect_same_group"}, {"devices", {"0000:00:00.0"}}}})).find("/steps/0/devices: needs at least 2") != std::string::npos);
    CHECK(with("steps", json::array({{{"op", "expect_group_count"}, {"count", -1}}})).find("/steps/0/count") != std::string::npos);
    CHECK(with("steps", json::array({{{"op", "print_groups"}, {"extra", 1}}})).find("/steps/0/extra") != std::string::npos);
    CHECK(with("host", {{"kernel", "6.x"}}).find("/host/kernel") != std::string::npos);
    CHECK(with("host", {{"iommu", "arm"}}).find("/host/iommu") != std::string::npos);
    CHECK(with("host", {{"disable_acs_redir", {"pci:12"}}}).find("/host/disable_acs_redir/0") != std::string::npos);
    CHECK(with("host", {{"assign_busses", "yes"}}).find("/host/assign_busses") != std::string::npos);
    CHECK(with("lspci", "x.txt").find("exactly one of \"platform\" or \"lspci\"") != std::string::npos);

    json inline_bad = ok;
    inline_bad["platform"]["root_buses"][0]["devices"][0]["kind"] = "gpu";
    CHECK(error_of(inline_bad).find("t.json: /platform/root_buses/0/devices/0/kind") != std::string::npos);
}

TEST_CASE("host options reach the kernel options", "[scenario]") {
    json j = {{"platform", minimal_platform()},
              {"host", {{"kernel", "5.4"}, {"acs_override", "downstream"}, {"iommu", "none"},
                        {"disable_acs_redir", {"0000:00:1c.0", "pci:8086:a110"}}, {"assign_busses", true},
                        {"external_facing", {"0000:00:1d.0"}}}}};
    const auto s = load(j);
    CHECK(s.host.kernel_version == "5.4");
    CHECK(s.host.acs_override == "downstream");
    CHECK(s.host.iommu == host::firmware_iommu::none);
    CHECK(s.host.disable_acs_redir.size() == 2);
    CHECK(s.host.assign_busses);
    CHECK(s.host.external_facing == std::vector<bdf>{B("0000:00:1d.0")});
}

TEST_CASE("JUnit XML escapes and counts", "[scenario]") {
    junit_suite s{"suite <1>", {{"ok", "c", 0.5, false, false, "", ""}, {"bad & worse", "c", 0, true, false, "x\x01y", ""}}};
    const std::string xml = to_junit_xml({s});
    CHECK(xml.find("tests=\"2\" failures=\"1\" errors=\"0\"") != std::string::npos);
    CHECK(xml.find("suite &lt;1&gt;") != std::string::npos);
    CHECK(xml.find("bad &amp; worse") != std::string::npos);
    CHECK(xml.find('\x01') == std::string::npos);
}

TEST_CASE("the text listing and JSON report carry every group and reason", "[scenario]") {
    const group_result r = sample();
    const std::string text = format_groups_text(r, true);
    CHECK(text.find("IOMMU Group 1: 0000:01:00.1 Ethernet controller [0200]") != std::string::npos);
    CHECK(text.find("why: Root Port 0000:00:1c.0 does not isolate") != std::string::npos);
    CHECK(text.find("No IOMMU group: 0000:02:00.0") != std::string::npos);
    const json j = groups_to_json(r);
    CHECK(j["groups"].size() == 3);
    CHECK(j["groups"][1]["devices"][2]["bdf"] == "0000:01:00.1");
    CHECK(j["devices_without_group"][0]["bdf"] == "0000:02:00.0");
    // The report is itself a valid expectation.
    CHECK(parse_expected_groups(j, "r", "").groups == partition_of(r));
}

TEST_CASE("generated topologies have the size asked for", "[scenario]") {
    const auto p = generate_topology(10000);
    size_t n = 0;
    std::function<void(const std::vector<platforms::function_desc>&)> count = [&](const auto& fs) {
        for (const auto& f : fs) {
            ++n;
            count(f.children);
        }
    };
    for (const auto& rb : p.root_buses) count(rb.functions);
    CHECK(n >= 10000);
    CHECK(n < 11000);
}

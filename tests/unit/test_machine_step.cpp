// Scenario steps on the running machine: parsing and validation of every op, with the JSON pointer of
// each problem. Execution is tested by the scenarios themselves (tests/scenarios).
#include "sim/core/input_error.h"
#include "sim/scenario/scenario.h"

#include <catch2/catch.hpp>

using namespace iommusim;
using namespace iommusim::scenario;
using nlohmann::json;

namespace {

json with_steps(const json& steps) {
    json j = json::parse(R"({"platform": {"root_buses": [{"devices": [{"addr": "00.0", "kind": "host_bridge"}]}]}})");
    j["steps"] = steps;
    return j;
}

machine_step one(const json& step) {
    const scenario_desc s = load_scenario_json(with_steps(json::array({step})), "t.json");
    REQUIRE(s.steps.size() == 1);
    REQUIRE(s.steps[0].op == step_op::machine);
    REQUIRE(s.steps[0].machine);
    return *s.steps[0].machine;
}

std::string error_of(const json& step) {
    try {
        load_scenario_json(with_steps(json::array({step})), "t.json");
    } catch (const input_error& e) {
        return e.what();
    }
    return "(no error)";
}

} // namespace

TEST_CASE("machine steps: map parses addresses, sizes with units and protections", "[scenario][machine]") {
    const machine_step m = one(json::parse(
        R"({"op": "map", "domain": "d", "iova": "0x200000", "phys": 1073741824, "size": "2M", "prot": "r"})"));
    CHECK(m.op == machine_op::map);
    CHECK(m.domain == "d");
    CHECK(m.iova == 0x200000);
    CHECK(m.phys == 0x40000000);
    CHECK(m.size == 0x200000);
    CHECK(m.prot == prot_read);
    CHECK_FALSE(m.expect_errno);
    CHECK(one(json::parse(R"({"op": "map", "domain": "d", "iova": 0, "phys": 0, "size": 4096, "expect_errno": 17})"))
              .expect_errno == 17);
}

TEST_CASE("machine steps: dma, msi, faults, stats and routes parse", "[scenario][machine]") {
    const machine_step d = one(json::parse(
        R"({"op": "dma", "device": "0000:01:00.0", "direction": "write", "address": "0x1000", "size": 64,
            "pattern": "0xa5a5a5a5", "expect": "error"})"));
    CHECK(d.op == machine_op::dma);
    CHECK(d.device->str() == "0000:01:00.0");
    CHECK(d.write);
    CHECK(d.pattern == 0xa5a5a5a5);
    CHECK(d.expect == "error");
    CHECK(one(json::parse(R"({"op": "dma", "device": "0000:01:00.0", "direction": "read", "address": 0, "size": 4})"))
              .expect == "ok");

    const machine_step f = one(json::parse(
        R"({"op": "expect_fault", "device": "0000:01:00.0", "reason": "read_not_allowed", "address": "0x5000", "write": false})"));
    CHECK(f.reason == 0x06u);
    CHECK(f.fault_address == 0x5000u);
    CHECK(f.fault_write == false);
    CHECK(one(json::parse(R"({"op": "expect_fault", "device": "0000:01:00.0", "reason": "0x2"})")).reason == 0x02u);
    // AMD-Vi event names are matched by name (their codes overlap VT-d's reasons).
    const auto amd = one(json::parse(R"({"op": "expect_fault", "device": "0000:01:00.0", "reason": "IO_PAGE_FAULT"})"));
    CHECK(amd.reason_name == "IO_PAGE_FAULT");
    CHECK_FALSE(amd.reason);

    const machine_step i = one(json::parse(R"({"op": "msi", "device": "0000:01:00.0", "msi_address": "0xfee00000",
                                               "msi_data": "0x4031", "expect": "blocked"})"));
    CHECK(i.msi_address == 0xfee00000u);
    CHECK(i.msi_data == 0x4031u);
    CHECK_FALSE(i.vector);

    const machine_step st = one(json::parse(R"({"op": "expect_stat", "stat": "iotlb.hits", "min": 1})"));
    CHECK(st.stat == "iotlb.hits");
    CHECK(st.min == 1u);
    CHECK_FALSE(st.max);
    CHECK(one(json::parse(R"({"op": "expect_route", "device": "0000:02:00.0", "route": "peer"})")).route == "peer");
    CHECK(one(json::parse(R"({"op": "inject", "fault": "skip_iotlb_invalidation", "count": 2})")).count == 2);
}

TEST_CASE("machine steps: every malformed field is reported at its JSON pointer", "[scenario][machine]") {
    struct bad {
        const char* step;
        const char* pointer;
        const char* words;
    };
    const bad cases[] = {
        {R"({"op": "map", "domain": "d", "iova": 0, "size": 4096})", "/steps/0", "missing field \"phys\""},
        {R"({"op": "map", "domain": "d", "iova": "0xfffffffffffff000", "phys": 0, "size": "8K"})", "/steps/0/iova", "wraps"},
        {R"({"op": "map", "domain": "d", "iova": 0, "phys": 0, "size": 0})", "/steps/0/size", "must not be zero"},
        {R"({"op": "map", "domain": "d", "iova": 0, "phys": 0, "size": 4096, "prot": "rx"})", "/steps/0/prot", "not one of"},
        {R"({"op": "map", "domain": "d", "iova": 0, "phys": 0, "size": 4096, "protect": "r"})", "/steps/0/protect", "unknown field"},
        {R"({"op": "dma", "device": "01:00", "direction": "read", "address": 0, "size": 4})", "/steps/0/device", "not a BDF"},
        {R"({"op": "dma", "device": "0000:01:00.0", "direction": "raed", "address": 0, "size": 4})", "/steps/0/direction",
         "did you mean \"read\""},
        {R"({"op": "dma", "device": "0000:01:00.0", "direction": "read", "address": 0, "size": 4, "pattern": 1})",
         "/steps/0/pattern", "a read has none"},
        {R"({"op": "dma", "device": "0000:01:00.0", "direction": "read", "address": 0, "size": "2G"})", "/steps/0/size",
         "more than this step allows"},
        {R"({"op": "msi", "device": "0000:01:00.0", "expect": "delivered"})", "/steps/0", "exactly one of"},
        {R"({"op": "msi", "device": "0000:01:00.0", "vector": 1, "msi_data": 3, "expect": "delivered"})", "/steps/0/msi_data",
         "belongs with"},
        {R"({"op": "expect_fault", "device": "0000:01:00.0", "reason": "0x1d"})", "/steps/0/reason", "neither a VT-d fault reason nor an AMD-Vi event code"},
        {R"({"op": "expect_fault", "device": "0000:01:00.0", "reason": "bogus"})", "/steps/0/reason", "neither"},
        {R"({"op": "expect_stat", "stat": "iotlb.hits"})", "/steps/0", "needs \"min\""},
        {R"({"op": "expect_stat", "stat": "iotlb.hits", "min": 5, "max": 2})", "/steps/0/max", "below"},
        {R"({"op": "inject", "fault": "drop_everything"})", "/steps/0/fault", "not one of"},
        {R"({"op": "attach", "device": "0000:01:00.0", "domain": ""})", "/steps/0/domain", "needs a name"},
    };
    for (const bad& b : cases) {
        INFO(b.step);
        const std::string e = error_of(json::parse(b.step));
        CHECK_THAT(e, Catch::Contains(std::string("t.json: ") + b.pointer + ":") );
        CHECK_THAT(e, Catch::Contains(b.words));
    }
}

TEST_CASE("machine steps: an unknown op lists the machine ops too", "[scenario][machine]") {
    const std::string e = error_of(json::parse(R"({"op": "dam"})"));
    CHECK_THAT(e, Catch::Contains("unknown op \"dam\""));
    CHECK_THAT(e, Catch::Contains("expect_fault"));
    const scenario_desc s = load_scenario_json(with_steps(json::parse(R"([{"op": "print_groups"}])")), "t.json");
    CHECK_FALSE(needs_machine(s));
    CHECK(needs_machine(load_scenario_json(with_steps(json::parse(R"([{"op": "print_stats"}])")), "t.json")));
}

// JSON platform loader: every class of user error is an input_error carrying the JSON pointer.
#include "platforms/desc/platform_loader.h"
#include "sim/core/bdf.h"
#include "sim/core/input_error.h"

#include <catch2/catch.hpp>

using namespace iommusim;
using namespace iommusim::platforms;
using nlohmann::json;

namespace {

// A minimal valid platform; tests patch one value into it.
json base() {
    return json::parse(R"({
      "name": "t", "iommu": "intel",
      "root_buses": [{"segment": 0, "bus": 0, "devices": [
        {"addr": "00.0", "kind": "host_bridge"},
        {"addr": "1c.0", "kind": "root_port", "children": [
          {"addr": "00.0", "kind": "endpoint", "vendor": "0x8086", "device": "0x10d3"}]}
      ]}]})");
}

// Loads j (under prefix) and returns the error's location; fails the test if it loads.
std::string error_at(const json& j, const std::string& contains, const std::string& prefix = "") {
    try {
        load_platform_json(j, "p.json", prefix);
    } catch (const input_error& e) {
        INFO(e.what());
        CHECK_THAT(e.message(), Catch::Contains(contains));
        CHECK(e.file() == "p.json");
        return e.location();
    }
    FAIL("loaded without error; expected: " << contains);
    return "";
}

json& dev(json& j, size_t i) { return j["root_buses"][0]["devices"][i]; }

} // namespace

TEST_CASE("loader: minimal platform loads with defaults") {
    auto p = load_platform_json(base(), "p.json");
    REQUIRE(p.root_buses.size() == 1);
    const auto& host = p.root_buses[0].functions[0];
    CHECK(host.params.class_code == 0x060000);
    CHECK(host.where == "/root_buses/0/devices/0");
    const auto& rp = p.root_buses[0].functions[1];
    CHECK(rp.params.class_code == 0x060400);
    CHECK(rp.devfn == pci_devfn(0x1c, 0));
    CHECK(rp.children.at(0).params.vendor_id == 0x8086);
}

TEST_CASE("loader: errors carry the scenario prefix") {
    json j = base();
    dev(j, 0)["kind"] = "hostbridge";
    CHECK(error_at(j, "did you mean \"host_bridge\"", "/platform") == "/platform/root_buses/0/devices/0/kind");
}

TEST_CASE("loader: unknown field suggests the closest name") {
    json j = base();
    dev(j, 1)["chidren"] = json::array();
    CHECK(error_at(j, "did you mean \"children\"") == "/root_buses/0/devices/1/chidren");
    json k = base();
    k["root_busses"] = 1;
    CHECK(error_at(k, "did you mean \"root_buses\"") == "/root_busses");
}

TEST_CASE("loader: wrong types") {
    json j = base();
    dev(j, 0)["vendor"] = true;
    CHECK(error_at(j, "expected an integer") == "/root_buses/0/devices/0/vendor");
    json k = base();
    k["root_buses"] = json::object();
    CHECK(error_at(k, "expected an array") == "/root_buses");
    json m = base();
    dev(m, 0)["vendor"] = "8086";
    CHECK(error_at(m, "0x prefix") == "/root_buses/0/devices/0/vendor");
}

TEST_CASE("loader: out-of-range slot, function, bus") {
    json j = base();
    dev(j, 0)["addr"] = "20.0";
    CHECK(error_at(j, "out of range") == "/root_buses/0/devices/0/addr");
    json k = base();
    dev(k, 0).erase("addr");
    dev(k, 0)["slot"] = 0;
    dev(k, 0)["function"] = 8;
    CHECK(error_at(k, "out of range") == "/root_buses/0/devices/0/function");
    json m = base();
    m["root_buses"][0]["bus"] = 256;
    CHECK(error_at(m, "out of range") == "/root_buses/0/bus");
}

TEST_CASE("loader: BAR index, size and overlap") {
    json j = base();
    dev(j, 0)["bars"] = json::parse(R"([{"index": 6, "size": "4K"}])");
    CHECK(error_at(j, "out of range") == "/root_buses/0/devices/0/bars/0/index");
    json k = base();
    dev(k, 0)["bars"] = json::parse(R"([{"index": 0, "size": "3K"}])");
    CHECK(error_at(k, "power of two") == "/root_buses/0/devices/0/bars/0/size");
    json m = base();
    dev(m, 0)["bars"] = json::parse(R"([{"index": 0, "size": "1M", "type": "mem64"}, {"index": 1, "size": "4K"}])");
    CHECK(error_at(m, "already used") == "/root_buses/0/devices/0/bars/1");
    json n = base();
    dev(n, 0)["bars"] = json::parse(R"([{"index": 5, "size": "1M", "type": "mem64"}])");
    CHECK(error_at(n, "two registers") == "/root_buses/0/devices/0/bars/0/index");
    json b = base();
    dev(b, 1)["bars"] = json::parse(R"([{"index": 2, "size": "4K"}])");  // type 1 header: BAR 0-1 only
    CHECK(error_at(b, "out of range") == "/root_buses/0/devices/1/bars/0/index");
}

TEST_CASE("loader: sizes accept K/M/G suffixes") {
    json j = base();
    dev(j, 0)["bars"] = json::parse(R"([{"index": 0, "size": "2M"}, {"index": 1, "size": "1G"}, {"index": 2, "size": 4096}])");
    auto p = load_platform_json(j, "p.json");
    const auto& bars = p.root_buses[0].functions[0].params.bars;
    CHECK(bars[0].size == (2u << 20));
    CHECK(bars[1].size == (1u << 30));
    CHECK(bars[2].size == 4096);
}

TEST_CASE("loader: ACS flags as names or hex, ctrl must be within cap") {
    json j = base();
    dev(j, 1)["acs"] = json::parse(R"({"cap": ["SV", "RR", "CR", "UF"], "ctrl": "0x0001"})");
    auto p = load_platform_json(j, "p.json");
    CHECK(p.root_buses[0].functions[1].params.acs->cap == 0x1d);
    CHECK(p.root_buses[0].functions[1].params.acs->ctrl == 0x01);
    json k = base();
    dev(k, 1)["acs"] = json::parse(R"({"cap": ["SV"], "ctrl": ["RR"]})");
    CHECK(error_at(k, "does not advertise") == "/root_buses/0/devices/1/acs/ctrl");
    json m = base();
    dev(m, 1)["acs"] = json::parse(R"({"cap": ["SV", "RX"]})");
    CHECK(error_at(m, "unknown ACS flag") == "/root_buses/0/devices/1/acs/cap/1");
    json n = base();
    dev(n, 0)["acs"] = json::parse(R"({"cap": ["SV"]})");
    CHECK(error_at(n, "no PCIe capability") == "/root_buses/0/devices/0/acs");
}

TEST_CASE("loader: children under a non-bridge") {
    json j = base();
    dev(j, 0)["children"] = json::array();
    CHECK(error_at(j, "only bridges") == "/root_buses/0/devices/0/children");
}

TEST_CASE("loader: duplicate address on a bus") {
    json j = base();
    dev(j, 1)["addr"] = "00.0";
    CHECK(error_at(j, "duplicate address 00.0") == "/root_buses/0/devices/1");
}

TEST_CASE("loader: function > 0 without function 0") {
    json j = base();
    j["root_buses"][0]["devices"].push_back(json::parse(R"({"addr": "03.1", "kind": "rc_endpoint"})"));
    CHECK(error_at(j, "no function 0") == "/root_buses/0/devices/2");
}

TEST_CASE("loader: function 0 explicitly not multifunction while siblings exist") {
    json j = base();
    j["root_buses"][0]["devices"].push_back(json::parse(R"({"addr": "03.0", "kind": "rc_endpoint", "multifunction": false})"));
    j["root_buses"][0]["devices"].push_back(json::parse(R"({"addr": "03.1", "kind": "rc_endpoint"})"));
    CHECK(error_at(j, "multifunction") == "/root_buses/0/devices/2");
}

TEST_CASE("loader: only device 0 below a root port") {
    json j = base();
    dev(j, 1)["children"][0]["addr"] = "01.0";
    CHECK(error_at(j, "only device 0") == "/root_buses/0/devices/1/children/0");
}

TEST_CASE("loader: firmware bus numbers must be consistent") {
    json j = base();
    dev(j, 1)["bus_numbers"] = json::parse(R"({"primary": 0, "secondary": 0, "subordinate": 1})");
    CHECK(error_at(j, "must be above") == "/root_buses/0/devices/1/bus_numbers/secondary");
    json k = base();
    dev(k, 1)["bus_numbers"] = json::parse(R"({"primary": 1, "secondary": 2, "subordinate": 2})");
    CHECK(error_at(k, "primary bus") == "/root_buses/0/devices/1/bus_numbers/primary");
    json m = base();
    dev(m, 1)["bus_numbers"] = json::parse(R"({"primary": 0, "secondary": 1, "subordinate": 3})");
    m["root_buses"][0]["devices"].push_back(json::parse(
        R"({"addr": "1d.0", "kind": "root_port", "bus_numbers": {"primary": 0, "secondary": 3, "subordinate": 4}})"));
    CHECK(error_at(m, "overlaps") == "/root_buses/0/devices/2/bus_numbers");
    json n = base();
    n["root_buses"][0]["bus_end"] = 5;
    dev(n, 1)["bus_numbers"] = json::parse(R"({"primary": 0, "secondary": 1, "subordinate": 9})");
    CHECK(error_at(n, "outside the range") == "/root_buses/0/devices/1/bus_numbers");
}

TEST_CASE("loader: more buses needed than the root bus range allows") {
    json j = base();
    j["root_buses"][0]["bus_end"] = 0;
    CHECK(error_at(j, "needs 2 bus numbers") == "/root_buses/0");
}

TEST_CASE("loader: duplicate and overlapping root buses") {
    json j = base();
    j["root_buses"].push_back(j["root_buses"][0]);
    CHECK(error_at(j, "duplicate root bus") == "/root_buses/1");
    json k = base();
    k["root_buses"][0]["bus_end"] = "0x90";
    json second = base()["root_buses"][0];
    second["bus"] = "0x80";
    k["root_buses"].push_back(second);
    CHECK(error_at(k, "overlaps root bus") == "/root_buses/1");
}

TEST_CASE("loader: nesting deeper than 256 buses is rejected") {
    json leaf = json::parse(R"({"addr": "00.0", "kind": "endpoint"})");
    for (int i = 0; i < 300; ++i) {
        json b = json::parse(R"({"addr": "00.0", "kind": "pci_bridge"})");
        b["children"] = json::array({leaf});
        leaf = b;
    }
    json j = base();
    j["root_buses"][0]["devices"] = json::array({leaf});
    std::string where = error_at(j, "deeper than 256");
    CHECK(where.rfind("/root_buses/0/devices/0/children", 0) == 0);
}

TEST_CASE("loader: malformed JSON reports line and column") {
    try {
        load_platform_text("{\n  \"name\": \"x\",\n  \"iommu\": intel\n}\n", "bad.json");
        FAIL("no error");
    } catch (const input_error& e) {
        CHECK(e.location() == "line 3, column 12");
        CHECK_THAT(e.message(), Catch::Contains("malformed JSON"));
    }
}

TEST_CASE("loader: unreadable file") {
    try {
        load_platform_file("/nonexistent/platform.json");
        FAIL("no error");
    } catch (const input_error& e) {
        CHECK(e.file() == "/nonexistent/platform.json");
    }
}

TEST_CASE("loader: captured function from hex config") {
    json j = base();
    std::string cfg = "8680d310" + std::string(504, '0');
    j["root_buses"][0]["devices"].push_back({{"addr", "02.0"}, {"kind", "captured"}, {"config", cfg}});
    auto p = load_platform_json(j, "p.json");
    CHECK(p.root_buses[0].functions[2].params.device_id == 0x10d3);
    json k = base();
    k["root_buses"][0]["devices"].push_back({{"addr", "02.0"}, {"kind", "captured"}, {"config", "8680"}, {"vendor", "0x8086"}});
    CHECK(error_at(k, "from its config bytes") == "/root_buses/0/devices/2/vendor");
}

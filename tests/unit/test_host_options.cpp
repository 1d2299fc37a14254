// Parsing of the simulated kernel's options (version, pcie_acs_override=) and the group-id allocator.
#include "sim/core/input_error.h"
#include "sim/host/ida.h"
#include "sim/host/kernel_options.h"
#include "test_host_util.h"

using namespace iommusim;
using namespace iommusim::host;

TEST_CASE("kernel versions parse as major.minor, stable suffix ignored", "[host][options]") {
    CHECK(kernel_version::parse("6.1")->str() == "6.1");
    CHECK(kernel_version::parse("v5.10")->str() == "5.10");
    CHECK(kernel_version::parse("6.1.55")->str() == "6.1");
    CHECK_FALSE(kernel_version::parse("six"));
    CHECK_FALSE(kernel_version::parse("6"));
    CHECK(kernel_version::parse("5.10")->at_least(5, 6));
    CHECK_FALSE(kernel_version::parse("5.4")->at_least(5, 6));
    test::fake_fabric f;
    kernel_options o;
    o.kernel_version = "3.10";
    CHECK_THROWS_AS(kernel(f, o), iommusim::input_error);
    o.kernel_version = "bogus";
    CHECK_THROWS_AS(kernel(f, o), iommusim::input_error);
}

TEST_CASE("pcie_acs_override tokens: downstream, multifunction, id:vvvv:dddd", "[host][override]") {
    auto o = acs_override::parse("downstream,multifunction,id:8086:10fb,id:1b4b:9123");
    CHECK(o.downstream);
    CHECK(o.multifunction);
    REQUIRE(o.ids.size() == 2);
    CHECK(o.ids[1].vendor == 0x1b4b);
    CHECK(o.ids[1].device == 0x9123);
    CHECK(o.warnings.empty());
    CHECK_FALSE(acs_override::parse("").enabled());
    // Prefix match, as strncmp does: "downstreamXYZ" still sets downstream.
    CHECK(acs_override::parse("downstreamXYZ").downstream);
    auto bad = acs_override::parse("id:zz:10fb,id:8086");
    CHECK(bad.ids.empty());
    CHECK(bad.warnings == std::vector<std::string>{"PCIe ACS ID parse error -22", "PCIe ACS invalid ID"});
}

TEST_CASE("pcie_acs_override holds at most 15 ids (NUM_ACS_IDS - 1)", "[host][override]") {
    std::string s;
    for (int i = 0; i < 17; ++i) s += (i ? "," : "") + std::string("id:8086:") + std::to_string(1000 + i);
    auto o = acs_override::parse(s);
    CHECK(o.ids.size() == 15);
    CHECK(o.warnings.size() == 2);
    CHECK(o.warnings[0] == "Out of PCIe ACS override slots (16)");
}

TEST_CASE("group ids: lowest free id, reused after free", "[host][groups]") {
    ida ids;
    CHECK(ids.alloc() == 0);
    CHECK(ids.alloc() == 1);
    CHECK(ids.alloc() == 2);
    ids.free(1);
    CHECK(ids.alloc() == 1);
    CHECK(ids.alloc() == 3);
    ids.free(0);
    ids.free(2);
    CHECK(ids.alloc() == 0);
    CHECK(ids.alloc() == 2);
}

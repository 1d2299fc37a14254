// Unit tests of the PHB IOMMU unit's parameters (models/iommu/tce/tlm/tce_unit_params, compiled into the
// pure library): every described name settable in the form `describe` prints, the unit's own latencies,
// errors naming the JSON location with a suggestion over every name.
#include "models/iommu/tce/tlm/tce_unit_params.h"
#include "sim/core/input_error.h"

#include <catch2/catch.hpp>

using namespace iommusim;
using namespace iommusim::tce;

TEST_CASE("tce unit params: every described parameter is settable by name", "[tce][params]") {
    const model_info info = tce_unit_params_info();
    CHECK(info.name == "tce");
    REQUIRE(info.params.size() == tce_params_info().params.size() + 3);
    tce_unit_params p;
    for (const auto& row : info.params) {
        INFO(row.name);
        nlohmann::json v;
        if (row.type == "bool") v = row.default_value == "true";
        else if (row.type == "MHz") v = std::stod(row.default_value);
        else v = row.default_value;
        CHECK_NOTHROW(set_tce_unit_param(p, row.name, v, "platform.json", "/params/tce/" + row.name));
    }
    set_tce_unit_param(p, "tce_kill_cycles", "0x80", "f", "/k");
    set_tce_unit_param(p, "rtt_fetch_cycles", 7, "f", "/r");
    set_tce_unit_param(p, "tce_cache_ways", 16, "f", "/w");
    set_tce_unit_param(p, "page_sizes", nlohmann::json::array({"4K", "2M"}), "f", "/p");
    CHECK(p.tce_kill_cycles == 0x80);
    CHECK(p.rtt_fetch_cycles == 7);
    CHECK(p.phb.tce_cache.geometry.ways == 16);
    CHECK(p.phb.page_sizes == (PGSIZE_4K | PGSIZE_2M));
    CHECK_NOTHROW(p.validate());
}

TEST_CASE("tce unit params: errors carry the location and a suggestion over PHB and unit names", "[tce][params]") {
    tce_unit_params p;
    try {
        set_tce_unit_param(p, "tce_kill_cycle", 4, "plat.json", "/params/tce/tce_kill_cycle");
        FAIL("an unknown name was accepted");
    } catch (const input_error& e) {
        CHECK(e.file() == "plat.json");
        CHECK(e.location() == "/params/tce/tce_kill_cycle");
        CHECK(e.message().find("did you mean \"tce_kill_cycles\"") != std::string::npos);
    }
    try {
        set_tce_unit_param(p, "reg_access_cycles", -1, "plat.json", "/x");
        FAIL("a negative latency was accepted");
    } catch (const input_error& e) {
        CHECK(e.message().find("\"reg_access_cycles\"") != std::string::npos);
    }
    CHECK_THROWS_AS(set_tce_unit_param(p, "num_pes", "many", "f", "/n"), input_error);
    CHECK_THROWS_AS(set_tce_unit_param(p, "functional", 1, "f", "/f"), input_error);
    tce_unit_params bad;
    bad.phb.reserved_pe = bad.phb.num_pes;
    CHECK_THROWS_AS(bad.validate(), input_error);
}

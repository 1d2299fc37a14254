// Unit tests of the TCE/PHB parameters (models/iommu/tce/tce_params): defaults and their description, every
// described parameter settable by name, value forms, and the configuration errors with their JSON location.
#include "models/iommu/tce/tce_params.h"
#include "sim/core/input_error.h"

#include <catch2/catch.hpp>
#include <set>

using namespace iommusim;
using namespace iommusim::tce;
using nlohmann::json;

namespace {
std::string set_error(tce_params& p, const std::string& name, const json& v) {
    try {
        set_tce_param(p, name, v, "platform.json", "/params/tce/" + name);
    } catch (const input_error& e) {
        CHECK(e.file() == "platform.json");
        CHECK(e.location() == "/params/tce/" + name);
        return e.message();
    }
    return "";
}
std::string validate_error(const tce_params& p) {
    try {
        p.validate();
    } catch (const input_error& e) {
        return e.location();
    }
    return "";
}
} // namespace

TEST_CASE("tce_params: defaults are PHB3's and valid", "[tce][params]") {
    const tce_params p;
    CHECK_NOTHROW(p.validate());
    CHECK(p.num_pes == 256);
    CHECK(p.reserved_pe == 255);
    CHECK(p.page_sizes == PHB3_PGSIZES);
    CHECK(p.max_windows == 2);
    CHECK(p.max_levels == 5);
    CHECK(p.dma32_window_size == 0x80000000ull);
}

TEST_CASE("tce_params: describe lists every parameter once and each is settable by name", "[tce][params]") {
    const model_info info = tce_params_info();
    CHECK(info.name == "tce");
    std::set<std::string> names;
    for (const auto& r : info.params) {
        CHECK(names.insert(r.name).second);
        CHECK_FALSE(r.description.empty());
        // Set every parameter to its described default, in the form `describe` prints it.
        tce_params p;
        json v;
        if (r.type == "bool") v = r.default_value == "true";
        else if (r.type == "MHz") v = std::stod(r.default_value);
        else v = r.default_value;
        INFO(r.name);
        CHECK_NOTHROW(set_tce_param(p, r.name, v, "", ""));
        CHECK_NOTHROW(p.validate());
    }
    for (const char* n : {"num_pes", "m32_segments", "m64_bars", "dma32_window_size", "page_sizes", "num_msi",
                          "tce_cache_sets", "tce_cache_lookup_cycles", "rtc_ways", "clock_mhz", "walk_slots"})
        CHECK(names.count(n) == 1);
    for (const auto& r : info.params)
        if (r.name == "num_pes") CHECK(r.default_value == "256");
}

TEST_CASE("tce_params: values as numbers, strings and page-size lists", "[tce][params]") {
    tce_params p;
    set_tce_param(p, "num_pes", "512", "", "");
    set_tce_param(p, "reserved_pe", 511, "", "");
    set_tce_param(p, "model", "phb4", "", "");
    set_tce_param(p, "page_sizes", json::array({"4K", "64K", "2M", "1G"}), "", "");
    set_tce_param(p, "m32_segments", "0x200", "", "");
    CHECK(p.num_pes == 512);
    CHECK(p.model == phb_model::phb4);
    CHECK(p.page_sizes == PHB4_PGSIZES);
    CHECK(p.m32_segments == 512);
    CHECK_NOTHROW(p.validate());
    set_tce_param(p, "page_sizes", json::array({"16G", 4096}), "", "");
    CHECK(p.page_sizes == (PGSIZE_16G | PGSIZE_4K));
    set_tce_param(p, "tce_cache_policy", "tree_plru", "", "");
    CHECK(p.tce_cache.geometry.policy == iommu::replacement_policy::tree_plru);
    set_tce_param(p, "functional", true, "", "");
    CHECK(p.timing.functional);
}

TEST_CASE("tce_params: bad names and values are input errors at their JSON path", "[tce][params]") {
    tce_params p;
    CHECK(set_error(p, "num_pe", 3).find("did you mean \"num_pes\"") != std::string::npos);
    CHECK(set_error(p, "completely_unknown", 3).find("iommusim describe tce") != std::string::npos);
    CHECK(set_error(p, "num_pes", -1).find("negative") != std::string::npos);
    CHECK(set_error(p, "num_pes", 0).find("1..4096") != std::string::npos);
    CHECK(set_error(p, "m64_bars", 64).find("0..63") != std::string::npos);
    CHECK(set_error(p, "model", "phb5").find("phb3") != std::string::npos);
    CHECK(set_error(p, "page_sizes", json::array({"3K"})).find("page sizes") != std::string::npos);
    CHECK(set_error(p, "functional", "yes").find("true or false") != std::string::npos);
    CHECK(set_error(p, "clock_mhz", 0).find("(0") != std::string::npos);
    CHECK(set_error(p, "rtc_policy", "mru").find("lru") != std::string::npos);
    CHECK(set_error(p, "num_msi", "lots").find("expected a number") != std::string::npos);
    CHECK(p.num_pes == 256); // nothing changed by the failed sets
}

TEST_CASE("tce_params: inconsistent sets fail validation at the parameter", "[tce][params]") {
    tce_params p;
    p.reserved_pe = 256;
    CHECK(validate_error(p) == "/reserved_pe");
    p = {};
    p.dma32_window_size = 0x60000000; // not a power of two
    CHECK(validate_error(p) == "/dma32_window_size");
    p = {};
    p.m32_pci_base = 0x40000000; // the 2 GiB DMA window would overlap M32
    p.m32_size = 0x40000000;
    CHECK(validate_error(p) == "/dma32_window_size");
    p = {};
    p.m32_size = 1000;
    CHECK(validate_error(p) == "/m32_size");
    p = {};
    p.m32_segments = 512;
    CHECK(validate_error(p) == "/m32_segments");
    p = {};
    p.page_sizes = 0x800; // 2 KiB
    CHECK(validate_error(p) == "/page_sizes");
    p = {};
    p.timing.walk_slots = 0;
    CHECK(validate_error(p) == "/walk_slots");
    // QEMU pseries' 1 GiB window is fine.
    p = {};
    p.dma32_window_size = 0x40000000;
    CHECK(validate_error(p).empty());
}

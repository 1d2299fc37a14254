// Every shipped preset loads and has the shape its comment promises.
#include "platforms/desc/platform_loader.h"
#include "platforms/desc/platform_check.h"
#include "sim/core/bdf.h"
#include "sim/core/input_error.h"

#include <catch2/catch.hpp>

using namespace iommusim;
using namespace iommusim::platforms;

namespace {
const function_desc* find(const std::vector<function_desc>& fs, unsigned slot, unsigned fn) {
    for (const auto& f : fs)
        if (f.devfn == pci_devfn(slot, fn)) return &f;
    return nullptr;
}
} // namespace

TEST_CASE("every preset loads") {
    auto names = preset_names();
    REQUIRE(names.size() >= 5);
    for (const auto& n : names) {
        INFO(n);
        platform_desc p;
        REQUIRE_NOTHROW(p = load_preset(n));
        CHECK(p.name == n);
        CHECK(!p.root_buses.empty());
    }
}

TEST_CASE("unknown preset names the known ones") {
    try {
        load_preset("nope");
        FAIL("no error");
    } catch (const input_error& e) {
        CHECK_THAT(e.message(), Catch::Contains("qemu-q35"));
    }
}

TEST_CASE("qemu-q35 preset matches QEMU's IDs and multifunction bits") {
    auto p = load_preset("qemu-q35");
    CHECK(p.iommu == iommu_kind::intel_vtd);
    const auto& bus0 = p.root_buses.at(0).functions;
    auto* host = find(bus0, 0, 0);
    REQUIRE(host);
    CHECK(host->params.vendor_id == 0x8086);
    CHECK(host->params.device_id == 0x29c0);
    auto* rp1 = find(bus0, 0x1c, 0);
    auto* rp2 = find(bus0, 0x1c, 1);
    REQUIRE(rp1);
    REQUIRE(rp2);
    CHECK(rp1->params.multifunction);
    CHECK_FALSE(rp2->params.multifunction);  // QEMU sets the bit on function 0 only
    REQUIRE(rp1->params.acs);
    CHECK(rp1->params.acs->cap == 0x005f);
    CHECK(rp1->params.acs->ctrl == 0);
    REQUIRE(rp1->children.size() == 1);
    CHECK(rp1->children[0].params.device_id == 0x10d3);
    auto* lpc = find(bus0, 0x1f, 0);
    REQUIRE(lpc);
    CHECK(lpc->params.multifunction);
    CHECK(lpc->params.kind == pci::function_kind::pci_endpoint);
}

TEST_CASE("intel-client preset: PEG port without ACS, SPT ports with ACS, GPU two functions") {
    auto p = load_preset("intel-client");
    const auto& bus0 = p.root_buses.at(0).functions;
    auto* peg = find(bus0, 1, 0);
    REQUIRE(peg);
    CHECK_FALSE(peg->params.acs);
    REQUIRE(peg->children.size() == 2);
    CHECK(peg->children[0].params.multifunction);
    CHECK(peg->children[1].params.device_id == 0x10f0);
    for (unsigned fn : {0u, 4u}) {
        auto* rp = find(bus0, 0x1c, fn);
        REQUIRE(rp);
        CHECK(rp->params.acs);
        CHECK(rp->params.multifunction);
    }
    auto* igpu = find(bus0, 2, 0);
    REQUIRE(igpu);
    CHECK(igpu->params.kind == pci::function_kind::rc_endpoint);
}

TEST_CASE("intel-client-haswell preset: LPC carries an enabled RCBA") {
    auto p = load_preset("intel-client-haswell");
    auto* lpc = find(p.root_buses.at(0).functions, 0x1f, 0);
    REQUIRE(lpc);
    REQUIRE(lpc->params.rcba);
    CHECK((*lpc->params.rcba & 1) == 1);
}

TEST_CASE("amd-epyc-server preset: four root buses with split bus ranges and IOMMU functions") {
    auto p = load_preset("amd-epyc-server");
    CHECK(p.iommu == iommu_kind::amd_vi);
    REQUIRE(p.root_buses.size() == 4);
    CHECK(p.root_buses[1].bus == 0x20);
    CHECK(p.root_buses[1].bus_end == 0x3f);  // defaults to just below the next root bus
    CHECK(p.root_buses[3].bus_end == 0xff);
    for (const auto& rb : p.root_buses) {
        auto* iommu = find(rb.functions, 0, 2);
        REQUIRE(iommu);
        CHECK(iommu->params.class_code == 0x080600);
    }
}

TEST_CASE("intel-xeon-server preset: PEX switch downstream ports have ACS") {
    auto p = load_preset("intel-xeon-server");
    REQUIRE(p.root_buses.size() == 4);
    auto* rp = find(p.root_buses[1].functions, 0, 0);
    REQUIRE(rp);
    REQUIRE(rp->children.size() == 1);
    const auto& usp = rp->children[0];
    CHECK(usp.params.kind == pci::function_kind::switch_upstream);
    REQUIRE(usp.children.size() == 4);
    for (const auto& dsp : usp.children) CHECK(dsp.params.acs);
}

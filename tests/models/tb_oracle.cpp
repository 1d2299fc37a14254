// End-to-end agreement through the SystemC fabric: a real machine's lspci -xxxx dump (tests/fixtures/
// oracle, recorded from Linux 6.1) is imported as captured functions, built into a platform of PCI
// models, enumerated by the simulated kernel through ECAM config cycles (tlm_host_ops), and the IOMMU
// groups it forms must equal the real kernel's. This exercises captured config spaces, type 1 routing by
// firmware bus numbers, the kernel's renumbering of unconfigured bridges and ACS enabling through the
// models' write masks. One TEST_CASE per fixture: each elaborates its own platform in its own process.
#include "platforms/desc/lspci_import.h"
#include "platforms/platform.h"
#include "sim/host/kernel.h"
#include "sim/host/tlm/tlm_host_ops.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>

using namespace iommusim;

namespace {

using partition = std::set<std::vector<std::string>>;

partition oracle_groups(const nlohmann::json& j) {
    partition p;
    for (const auto& g : j.at("groups")) {
        std::vector<std::string> members = g.get<std::vector<std::string>>();
        std::sort(members.begin(), members.end());
        p.insert(members);
    }
    return p;
}

// The IVRS the platform wrote must name the IOMMU function and capability offset the real kernel found
// ("pci 0000:00:01.0: AMD-Vi: Found IOMMU cap 0x40" in the recorded log).
void check_ivrs(const host::kernel& k, const std::string& name) {
    std::ifstream raw(std::string(IOMMUSIM_FIXTURE_DIR) + "/oracle/raw/" + name + ".json");
    REQUIRE(raw);
    const nlohmann::json rec = nlohmann::json::parse(raw);
    const std::regex found("pci ([0-9a-f:.]+): AMD-Vi: Found IOMMU cap (0x[0-9a-f]+)");
    std::vector<std::pair<std::string, unsigned>> want;
    for (const auto& line : rec.at("log")) {
        std::smatch m;
        const std::string l = line.get<std::string>();
        if (std::regex_search(l, m, found)) want.emplace_back(m[1].str(), unsigned(std::stoul(m[2].str(), nullptr, 16)));
    }
    REQUIRE(k.ivrs());
    std::vector<std::pair<std::string, unsigned>> got;
    for (const host::ivrs_ivhd* h : k.ivrs()->ivhds())
        got.emplace_back(bdf{h->pci_seg, u8(h->devid >> 8), u8(h->devid & 0xff)}.str(), h->cap_ptr);
    CHECK(got == want);
}

void check_fixture(const std::string& name) {
    const std::string base = std::string(IOMMUSIM_FIXTURE_DIR) + "/oracle/" + name;
    std::ifstream in(base + ".groups.json");
    REQUIRE(in);
    const nlohmann::json want = nlohmann::json::parse(in);
    platforms::lspci_import_options opt;
    opt.iommu = want.at("iommu") == "amd" ? platforms::iommu_kind::amd_vi : platforms::iommu_kind::intel_vtd;
    const platforms::platform_desc desc = platforms::import_lspci_file(base + ".xxxx", opt);

    host::tlm_machine machine(desc);
    host::kernel k(machine.ops());
    k.boot();

    partition got;
    for (const auto& g : k.groups()) {
        std::vector<std::string> members;
        for (const auto* dev : g.devices) members.push_back(dev->address().str());
        std::sort(members.begin(), members.end());
        got.insert(members);
    }
    INFO(k.log().text());
    CHECK(got == oracle_groups(want));
    if (opt.iommu == platforms::iommu_kind::amd_vi) check_ivrs(k, name);
    CHECK(k.devices().size() == machine.platform().functions().size());
}

} // namespace

#define ORACLE_CASE(name) \
    TEST_CASE("oracle through the fabric: " name, "[oracle]") { check_fixture(name); }

ORACLE_CASE("mf_endpoint")
ORACLE_CASE("mf_endpoint-amd")
ORACLE_CASE("nested_pci_bridges")
ORACLE_CASE("nested_pci_bridges-amd")
ORACLE_CASE("nested_switch")
ORACLE_CASE("nested_switch-amd")
ORACLE_CASE("noacs_rp_switch")
ORACLE_CASE("noacs_rp_switch-amd")
ORACLE_CASE("pci_bridge")
ORACLE_CASE("pci_bridge-amd")
ORACLE_CASE("pcie_pci_bridge")
ORACLE_CASE("pcie_pci_bridge-amd")
ORACLE_CASE("pxb")
ORACLE_CASE("pxb-amd")
ORACLE_CASE("pxb_switch")
ORACLE_CASE("pxb_switch-amd")
ORACLE_CASE("rciep")
ORACLE_CASE("rciep-amd")
ORACLE_CASE("rp_endpoints")
ORACLE_CASE("rp_endpoints-amd")
ORACLE_CASE("rp_noacs")
ORACLE_CASE("rp_noacs-amd")
ORACLE_CASE("switch")
ORACLE_CASE("switch-amd")

// Testbench of the platform builder: firmware view, address map, configuration errors and scale.
#include "models/iommu/amdvi/tlm/amdvi_unit.h"
#include "models/iommu/tce/tlm/phb_iommu.h"
#include "models/pci/cfg/pci_regs.h"
#include "models/pci/dma_engine.h"
#include "models/pci/intel_pch_lpc.h"
#include "models/pci/pci_bridge.h"
#include "platforms/platform.h"
#include "sim/core/bdf.h"
#include "platforms/desc/platform_loader.h"
#include "sim/core/input_error.h"
#include "sim/host/kernel.h"
#include "sim/host/tlm/tlm_host_ops.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <set>

using namespace iommusim;
using namespace iommusim::pci;
using iommusim::platforms::function_desc;
using iommusim::platforms::platform_desc;
using iommusim::platforms::root_bus_desc;

namespace {

function_desc fn(u8 devfn, function_kind kind) {
    function_desc f;
    f.devfn = devfn;
    f.where = "test";
    f.params.kind = kind;
    f.params.class_code = is_bridge(kind) ? 0x060400 : 0x020000;
    return f;
}

root_bus_desc root(u16 segment, u8 bus, std::vector<function_desc> funcs) {
    root_bus_desc rb;
    rb.where = "/root_buses/" + std::to_string(bus);
    rb.segment = segment;
    rb.bus = bus;
    rb.functions = std::move(funcs);
    return rb;
}

} // namespace

TEST_CASE("firmware lists root buses in order with disjoint bus ranges", "[platform]") {
    platform_desc d;
    d.iommu = platforms::iommu_kind::amd_vi;
    auto hb = fn(0, function_kind::host_bridge);
    hb.params.class_code = 0x060000;
    d.root_buses = {root(0, 0, {hb}), root(0, 0x80, {fn(0, function_kind::endpoint)}),
                    root(1, 0, {fn(pci_devfn(2, 0), function_kind::endpoint)})};
    host::tlm_machine m(d);
    const auto fw = m.ops().firmware();
    REQUIRE(fw.root_buses.size() == 3);
    CHECK(fw.iommu == host::firmware_iommu::ivrs);
    CHECK(fw.root_buses[0].segment == 0);
    CHECK(fw.root_buses[0].bus_start == 0);
    CHECK(fw.root_buses[0].bus_end == 0x7f);
    CHECK(fw.root_buses[1].bus_start == 0x80);
    CHECK(fw.root_buses[1].bus_end == 0xff);
    CHECK(fw.root_buses[2].segment == 1);
    CHECK(m.platform().ecam_base(0) == std::optional<u64>(0xe0000000));
    CHECK(m.platform().ecam_base(1).has_value());
    auto& ops = m.ops();
    CHECK(ops.config_read(0, 0, 0, PCI_CLASS_DEVICE, 2) == PCI_CLASS_BRIDGE_HOST);
    CHECK(ops.config_read(0, 0x80, 0, PCI_VENDOR_ID, 2) == 0x1b36);
    CHECK(ops.config_read(1, 0, pci_devfn(2, 0), PCI_VENDOR_ID, 2) == 0x1b36);
    CHECK(ops.config_read(1, 0, 0, PCI_VENDOR_ID, 2) == 0xffff);
    // The apertures do not overlap (the router would have refused).
    const auto ranges = m.platform().system_bus().ranges();
    CHECK(ranges.size() == 3 * 3);
}

TEST_CASE("firmware bus numbers stay in config space", "[platform]") {
    auto rp = fn(pci_devfn(1, 0), function_kind::root_port);
    rp.params.primary_bus = 0;
    rp.params.secondary_bus = 5;
    rp.params.subordinate_bus = 5;
    rp.children = {fn(0, function_kind::endpoint)};
    platform_desc d;
    d.iommu = platforms::iommu_kind::none;
    d.root_buses = {root(0, 0, {rp})};
    host::tlm_machine m(d);
    CHECK(m.ops().firmware().iommu == host::firmware_iommu::none);
    CHECK(m.ops().config_read(0, 0, pci_devfn(1, 0), PCI_PRIMARY_BUS, 4) == 0x00050500u);
    CHECK(m.ops().config_read(0, 5, 0, PCI_VENDOR_ID, 2) == 0x1b36);
    CHECK(m.platform().functions().at(1).parent == m.platform().functions().at(0).model);
}

TEST_CASE("duplicate devfn is a configuration error with its location", "[platform]") {
    platform_desc d;
    d.source = "dup.json";
    auto a = fn(8, function_kind::endpoint);
    auto b = fn(8, function_kind::endpoint);
    b.where = "/root_buses/0/devices/1";
    d.root_buses = {root(0, 0, {a, b})};
    try {
        platforms::platform p("platform", d);
        FAIL("no error");
    } catch (const input_error& e) {
        CHECK(e.file() == "dup.json");
        CHECK(e.location() == "/root_buses/0/devices/1");
    }
}

TEST_CASE("children below an endpoint are a configuration error", "[platform]") {
    platform_desc d;
    auto ep = fn(0, function_kind::endpoint);
    ep.children = {fn(0, function_kind::endpoint)};
    d.root_buses = {root(0, 0, {ep})};
    CHECK_THROWS_AS(platforms::platform("platform", d), input_error);
}

TEST_CASE("bad function parameters are a configuration error", "[platform]") {
    platform_desc d;
    auto ep = fn(0, function_kind::endpoint);
    ep.params.bars = {{0, 1000, false, false, false}};
    d.root_buses = {root(0, 0, {ep})};
    CHECK_THROWS_AS(platforms::platform("platform", d), input_error);
}

TEST_CASE("more than 10000 functions build in linear time with unique names", "[platform][scale]") {
    // Two root buses x 31 root ports x (switch upstream + 32 downstream ports x 8-function endpoints).
    platform_desc d;
    for (u8 r = 0; r < 2; ++r) {
        std::vector<function_desc> ports;
        for (unsigned slot = 1; slot < 32; ++slot) {
            auto rp = fn(pci_devfn(slot, 0), function_kind::root_port);
            auto up = fn(0, function_kind::switch_upstream);
            for (unsigned dn = 0; dn < 32; ++dn) {
                auto port = fn(pci_devfn(dn, 0), function_kind::switch_downstream);
                for (unsigned f = 0; f < 8; ++f) port.children.push_back(fn(pci_devfn(0, f), function_kind::endpoint));
                up.children.push_back(std::move(port));
            }
            rp.children = {std::move(up)};
            ports.push_back(std::move(rp));
        }
        d.root_buses.push_back(root(0, u8(r * 0x80), std::move(ports)));
    }
    const auto t0 = std::chrono::steady_clock::now();
    host::tlm_machine m(d);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    WARN("built " << m.platform().functions().size() << " functions in " << secs << " s");
    REQUIRE(m.platform().functions().size() == 2 * 31 * (2 + 32 * 9));
    std::set<std::string> names;
    for (const auto& f : m.platform().functions()) names.insert(f.model->name());
    CHECK(names.size() == m.platform().functions().size());
    // A deep function, reached after the kernel-style numbering of its path.
    auto& ops = m.ops();
    const u8 rp = pci_devfn(31, 0);
    ops.config_write(0, 0x80, rp, PCI_PRIMARY_BUS, 4, 0x80 | 0x81 << 8 | 0x90 << 16);
    ops.config_write(0, 0x81, 0, PCI_PRIMARY_BUS, 4, 0x81 | 0x82 << 8 | 0x90 << 16);
    ops.config_write(0, 0x82, pci_devfn(31, 0), PCI_PRIMARY_BUS, 4, 0x82 | 0x83 << 8 | 0x83 << 16);
    CHECK(ops.config_read(0, 0x83, pci_devfn(0, 7), PCI_VENDOR_ID, 2) == 0x1b36);
    CHECK(ops.config_read(0, 0x83, pci_devfn(0, 0), PCI_HEADER_TYPE, 1) == 0x80);
}

// Every shipped preset elaborates, and the simulated kernel enumerates every function of it through ECAM
// (bridges firmware left unnumbered are numbered by the kernel through the models' bus registers).
static void boot_preset(const std::string& name) {
    const auto desc = platforms::load_preset(name);
    host::tlm_machine m(desc);
    host::kernel k(m.ops());
    k.boot();
    INFO(k.log().text());
    CHECK(k.devices().size() == m.platform().functions().size());
    CHECK((k.iommu_enabled() == (desc.iommu != platforms::iommu_kind::none)));
    if (k.iommu_enabled()) CHECK(!k.groups().empty());
}

TEST_CASE("preset boots through the fabric: qemu-q35", "[platform][preset]") { boot_preset("qemu-q35"); }
TEST_CASE("preset boots through the fabric: intel-client", "[platform][preset]") { boot_preset("intel-client"); }
TEST_CASE("preset boots through the fabric: intel-client-haswell", "[platform][preset]") {
    boot_preset("intel-client-haswell");
}

// Lynx Point root ports get isolation from pci_quirk_enable_intel_pch_acs: the kernel reads RCBA from the
// LPC bridge's config 0xf0, BSPR through the RCBA window, and clears UPDCR's peer decode bits, all through
// the intel_pch_lpc model.
TEST_CASE("Intel PCH ACS quirk programs UPDCR through the RCBA window", "[platform][preset]") {
    auto desc = platforms::load_preset("intel-client-haswell");
    platforms::function_desc* lpc = nullptr;
    for (auto& f : desc.root_buses.at(0).functions)
        if (f.params.rcba) lpc = &f;
    REQUIRE(lpc);
    lpc->name = "lpc";
    lpc->params.rcba_bspr = 0;       // no peer decode disable by firmware
    lpc->params.rcba_updcr = 0x3f;   // peer decode enabled on all ports
    host::tlm_machine m(desc);
    CHECK(m.ops().mmio_read(0xfed1c000 + INTEL_UPDCR_REG, 4) == 0x3f);
    CHECK(m.ops().mmio_read(0xfed1c000 + INTEL_BSPR_REG, 4) == 0);
    host::kernel k(m.ops());
    k.boot();
    auto* model = dynamic_cast<pci::intel_pch_lpc*>(m.platform().find("lpc"));
    REQUIRE(model);
    INFO(k.log().text());
    CHECK(model->updcr() == 0);
}
TEST_CASE("preset boots through the fabric: intel-xeon-server", "[platform][preset]") {
    boot_preset("intel-xeon-server");
}
TEST_CASE("preset boots through the fabric: amd-epyc-server", "[platform][preset]") { boot_preset("amd-epyc-server"); }

// An AMD IOMMU's own PCI function (class 0x0806) at 00.2, as on EPYC root complexes.
static function_desc amd_iommu_fn() {
    auto iommu = fn(pci_devfn(0, 2), function_kind::rc_endpoint);
    iommu.params.vendor_id = PCI_VENDOR_ID_AMD;
    iommu.params.class_code = 0x080600;
    return iommu;
}

TEST_CASE("AMD-Vi firmware names the IOMMU's own function", "[platform]") {
    const auto iommu = amd_iommu_fn();
    auto hb = fn(0, function_kind::host_bridge);
    platform_desc d;
    d.iommu = platforms::iommu_kind::amd_vi;
    d.root_buses = {root(0, 0, {hb, iommu, fn(pci_devfn(1, 0), function_kind::endpoint)}), root(2, 0x40, {iommu})};
    host::tlm_machine m(d);
    const auto fw = m.ops().firmware();
    REQUIRE(fw.iommu_functions.size() == 2);
    CHECK(fw.iommu_functions[0] == bdf{0, 0, pci_devfn(0, 2)});
    CHECK(fw.iommu_functions[1] == bdf{2, 0x40, pci_devfn(0, 2)});
}

// One AMD IOMMU per IOMMU function: its registers at the base firmware wrote into the function's
// capability block (AMD IOMMU spec §3.3), the IVRS carrying the unit's own EFR (IVHD 11h, IVinfo.EFRSup),
// and the kernel's AMD-Vi driver bringing it up through those registers.
TEST_CASE("AMD-Vi units: one per IOMMU function placed through the capability block with its EFR in IVRS", "[platform]") {
    const auto desc = platforms::load_preset("dma-testbed-amd");
    host::tlm_machine m(desc);
    const auto& units = m.platform().amdvi_units();
    REQUIRE(units.size() == 1);
    CHECK(units[0]->reg_base() == 0xfed80000);
    const pci::pci_function* iommu = m.platform().find("iommu");
    REQUIRE(iommu);
    const auto cap = iommu->config().find_capability(0x0f);
    REQUIRE(cap);
    CHECK((iommu->config().get32(u16(*cap)) & 0x0007ffff) == (0x0f | 3u << 16));  // CapId 0Fh, CapType 011b
    CHECK(iommu->config().get32(u16(*cap + 4)) == (0xfed80000u | 1));            // BaseAddress, Enable
    CHECK(iommu->config().get32(u16(*cap + 8)) == 0);
    // Firmware reads the EFR at MMIO offset 0x30 through the system bus, as a BIOS does.
    const u64 efr = m.ops().mmio_read(0xfed80030, 4) | m.ops().mmio_read(0xfed80034, 4) << 32;
    CHECK(efr == units[0]->efr());
    CHECK(efr != 0);
    const auto fw = m.ops().firmware();
    REQUIRE(fw.ivrs.ivhds.size() == 2);
    CHECK(fw.ivrs.ivhds[1].type == 0x11);
    CHECK(fw.ivrs.ivhds[1].mmio_phys == 0xfed80000);
    CHECK(fw.ivrs.ivhds[1].efr_reg == efr);
    host::kernel k(m.ops());
    k.boot();
    INFO(k.log().text());
    REQUIRE(k.amdvi());
    REQUIRE(k.amdvi()->units().size() == 1);
    CHECK(k.amdvi()->units()[0]->mmio_base() == 0xfed80000);
    CHECK(k.iommu());
}

TEST_CASE("AMD-Vi units: several IOMMU functions get consecutive register windows", "[platform]") {
    const auto iommu = amd_iommu_fn();
    auto hb = fn(0, function_kind::host_bridge);
    platform_desc d;
    d.iommu = platforms::iommu_kind::amd_vi;
    d.root_buses = {root(0, 0, {hb, iommu}), root(0, 0x40, {hb, iommu}), root(0, 0x80, {hb})};
    host::tlm_machine m(d);
    const auto& units = m.platform().amdvi_units();
    REQUIRE(units.size() == 2);
    CHECK(units[0]->reg_base() == 0xfed80000);
    CHECK(units[1]->reg_base() >= 0xfed80000 + units[0]->reg_size());
    CHECK(units[1]->reg_base() % 0x4000 == 0);
    const auto fw = m.ops().firmware();
    REQUIRE(fw.ivrs.ivhds.size() == 4);
    CHECK(fw.ivrs.ivhds[3].mmio_phys == units[1]->reg_base());
    // Bus 0x80 has no IOMMU function: the segment's first unit covers it (its IVHD's ranges).
    bool covered = false;
    for (const auto& e : fw.ivrs.ivhds[1].entries)
        if (e.devid == 0x8000) covered = true;
    CHECK(covered);
}

// ---- the dma_engine kind and firmware's resource assignment ----------------------------------------

namespace {

// 00:01.0 root port -> dma_engine "eng" (PCIe Endpoint); 00:02.0 PCIe-to-PCI bridge -> 05.0 "old"
// (conventional dma_engine); 00:03.0 root port -> NIC with 32-bit and 64-bit prefetchable BARs.
const char* engine_platform = R"({
  "name": "engines", "iommu": "none",
  "root_buses": [{"devices": [
    {"addr": "00.0", "kind": "host_bridge"},
    {"addr": "01.0", "kind": "root_port", "children": [
      {"addr": "00.0", "kind": "dma_engine", "name": "eng", "dma_engine": {"max_payload": 128, "per_byte_ns": 0.5}}]},
    {"addr": "02.0", "kind": "pcie_to_pci_bridge", "children": [
      {"addr": "05.0", "kind": "dma_engine", "name": "old", "device": "0x1234"}]},
    {"addr": "03.0", "kind": "root_port", "children": [
      {"addr": "00.0", "kind": "endpoint", "name": "nic", "class": "0x020000",
       "bars": [{"index": 0, "size": "128K"}, {"index": 2, "size": "16M", "type": "mem64", "prefetchable": true},
                {"index": 4, "size": "32", "type": "io"}]}]},
    {"addr": "04.0", "kind": "endpoint", "name": "pinned", "bars": [{"index": 0, "size": "1M", "address": "0x80000000"}]}
  ]}]})";

} // namespace

TEST_CASE("dma_engine kind: a PCIe Endpoint on a link, conventional on a PCI bus, IDs overridable", "[platform][engine]") {
    const auto desc = platforms::load_platform_text(engine_platform, "engines.json");
    host::tlm_machine m(desc);
    auto* eng = dynamic_cast<dma_engine*>(m.platform().find("eng"));
    auto* old = dynamic_cast<dma_engine*>(m.platform().find("old"));
    REQUIRE(eng);
    REQUIRE(old);
    CHECK(eng->config().get16(PCI_VENDOR_ID) == 0x1b36);
    CHECK(eng->config().get16(PCI_DEVICE_ID) == 0xd4a0);
    CHECK(old->config().get16(PCI_DEVICE_ID) == 0x1234);
    CHECK((eng->config().get32(PCI_CLASS_REVISION) >> 8) == 0x088000);
    const auto exp = eng->config().find_capability(PCI_CAP_ID_EXP);
    REQUIRE(exp);
    CHECK(((eng->config().get16(*exp + PCI_EXP_FLAGS) & PCI_EXP_FLAGS_TYPE) >> 4) == PCI_EXP_TYPE_ENDPOINT);
    CHECK_FALSE(old->config().find_capability(PCI_CAP_ID_EXP));
    CHECK(eng->config().find_capability(PCI_CAP_ID_MSI));
    CHECK(eng->config().find_capability(PCI_CAP_ID_MSIX));
    CHECK(desc.root_buses[0].functions[1].children[0].params.engine.max_payload == 128);
    CHECK(desc.root_buses[0].functions[1].children[0].params.engine.per_byte_ns == 0.5);
}

TEST_CASE("dma_engine kind: bad parameters are refused with their JSON pointer", "[platform][engine]") {
    auto err = [](const std::string& device) -> std::string {
        const std::string text = R"({"root_buses": [{"devices": [{"addr": "01.0", "kind": "root_port", "children": [)" +
                                 device + "]}]}]}";
        try {
            platforms::load_platform_text(text, "e.json");
        } catch (const input_error& e) {
            return e.location() + ": " + e.message();
        }
        return "no error";
    };
    CHECK_THAT(err(R"({"addr": "00.0", "kind": "dma_engine", "dma_engine": {"max_payload": 100}})"),
               Catch::StartsWith("/root_buses/0/devices/0/children/0/dma_engine/max_payload: "));
    CHECK_THAT(err(R"({"addr": "00.0", "kind": "dma_engine", "dma_engine": {"max_read_request": "8K"}})"),
               Catch::StartsWith("/root_buses/0/devices/0/children/0/dma_engine/max_read_request: "));
    CHECK_THAT(err(R"({"addr": "00.0", "kind": "dma_engine", "dma_engine": {"per_byte_ns": -1}})"),
               Catch::StartsWith("/root_buses/0/devices/0/children/0/dma_engine/per_byte_ns: "));
    CHECK_THAT(err(R"({"addr": "00.0", "kind": "dma_engine", "dma_engine": {"burst": 1}})"),
               Catch::Contains("unknown field"));
    CHECK_THAT(err(R"({"addr": "00.0", "kind": "dma_engine", "bars": []})"),
               Catch::StartsWith("/root_buses/0/devices/0/children/0/bars: "));
    CHECK_THAT(err(R"({"addr": "00.0", "kind": "endpoint", "dma_engine": {}})"),
               Catch::StartsWith("/root_buses/0/devices/0/children/0/dma_engine: "));
    CHECK(err(R"({"addr": "00.0", "kind": "dma_engine", "dma_engine": {"max_payload": "4K"}})") == "no error");
}

TEST_CASE("firmware assigns BARs and windows: MMIO works before the OS, the kernel reads the same BARs", "[platform][firmware]") {
    const auto desc = platforms::load_platform_text(engine_platform, "engines.json");
    host::tlm_machine m(desc);
    auto& p = m.platform();
    const auto& roots = p.root_complexes();
    REQUIRE(roots.size() == 1);
    // Pinned first at the aperture base; the rest naturally aligned in their apertures.
    CHECK(p.bar_address("pinned", 0) == std::optional<u64>(0x80000000));
    const u64 eng = p.bar_address("eng", 0).value();
    const u64 nic0 = p.bar_address("nic", 0).value(), nic2 = p.bar_address("nic", 2).value();
    CHECK(eng % 0x10000 == 0);
    CHECK(eng >= roots[0].mmio32_base + 0x100000);
    CHECK(eng < roots[0].mmio32_base + roots[0].mmio32_size);
    CHECK(nic0 % 0x20000 == 0);
    CHECK(nic2 % 0x1000000 == 0);
    CHECK(nic2 >= roots[0].mmio64_base);
    CHECK(p.bar_address("nic", 4).has_value());
    CHECK_FALSE(p.bar_address("nic", 1));
    CHECK_FALSE(p.bar_address("nobody", 0));

    // No software has touched anything: firmware's windows and decode bits already route MMIO.
    auto& ops = m.ops();
    CHECK(u32(ops.mmio_read(eng + dma_engine::REG_ID, 4)) == dma_engine::ID_VALUE);
    CHECK(u32(ops.mmio_read(p.bar_address("old", 0).value() + dma_engine::REG_ID, 4)) == dma_engine::ID_VALUE);
    ops.mmio_write(nic2 + 0x10, 4, 0x12345678);
    CHECK(ops.mmio_read(nic2 + 0x10, 4) == 0x12345678u);
    // Bus mastering is left to drivers.
    CHECK((ops.config_read(0, 0, pci_devfn(1, 0), PCI_COMMAND, 2) & PCI_COMMAND_MASTER) == 0);
    CHECK((ops.config_read(0, 0, pci_devfn(1, 0), PCI_COMMAND, 2) & PCI_COMMAND_MEMORY) != 0);

    host::kernel k(ops);
    k.boot();
    INFO(k.log().text());
    std::map<std::string, const host::pci_dev*> by_name;
    for (const host::pci_dev* d : k.devices()) {
        for (const auto& f : p.functions())
            if (!f.desc->name.empty() && f.model->requester_id() == u16(d->address().bus << 8 | d->devfn))
                by_name[f.desc->name] = d;
    }
    REQUIRE(by_name.count("nic"));
    const host::pci_dev& nic = *by_name["nic"];
    REQUIRE(nic.resources.size() == 3);
    CHECK(nic.resources[0].index == 0);
    CHECK(nic.resources[0].base == nic0);
    CHECK(nic.resources[0].size == 0x20000);
    CHECK(nic.resources[1].index == 2);
    CHECK(nic.resources[1].base == nic2);
    CHECK(nic.resources[1].size == 0x1000000);
    CHECK(nic.resources[1].mem64);
    CHECK(nic.resources[1].prefetch);
    CHECK(nic.resources[2].io);
    CHECK(nic.resources[2].base == p.bar_address("nic", 4).value());
    REQUIRE(by_name.count("eng"));
    REQUIRE(by_name["eng"]->resources.size() == 1);
    CHECK(by_name["eng"]->resources[0].base == eng);
    CHECK(by_name["eng"]->resources[0].size == dma_engine::BAR0_SIZE);
    // Sizing left the device decoding as firmware set it up.
    CHECK(u32(ops.mmio_read(eng + dma_engine::REG_ID, 4)) == dma_engine::ID_VALUE);
}

TEST_CASE("firmware assignment: an aperture too small names the function", "[platform][firmware]") {
    const char* text = R"({"params": {"mmio32_base": "0xc0000000", "mmio32_limit": "0xc0100000"},
      "root_buses": [{"devices": [
        {"addr": "01.0", "kind": "endpoint", "bars": [{"index": 0, "size": "512K"}]},
        {"addr": "02.0", "kind": "endpoint", "bars": [{"index": 0, "size": "1M"}]}]}]})";
    const auto desc = platforms::load_platform_text(text, "small.json");
    try {
        host::tlm_machine m(desc);
        FAIL("built");
    } catch (const input_error& e) {
        CHECK(e.file() == "small.json");
        CHECK(e.location() == "/root_buses/0/devices/0");
        CHECK_THAT(e.message(), Catch::Contains("does not fit"));
    }
}

TEST_CASE("preset boots through the fabric: powernv-testbed", "[platform][preset]") { boot_preset("powernv-testbed"); }

// powernv: the kernel reaches the PHB both ways Linux does - OPAL calls (C++) and the PHB3 TCE Kill register
// (an MMIO write on the system bus) - and the host bridge asks the PHB before every access to a PE's BAR.
TEST_CASE("powernv: TCE kills through the PHB3 register and a frozen PE's BAR reads all ones", "[platform][powernv]") {
    const auto desc = platforms::load_preset("powernv-testbed");
    host::tlm_machine m(desc);
    host::kernel k(m.ops());
    k.boot();
    INFO(k.log().text());
    REQUIRE(k.tce_iommu());
    tce::phb_iommu* phb = m.platform().phb_of_root(1);
    REQUIRE(phb != nullptr);
    // set_window kills the PE's TCE cache through the register (pnv_pci_phb3_tce_invalidate_pe).
    CHECK(phb->stats().register_writes > 0);
    CHECK(phb->stats().tce_kills == phb->stats().register_writes);
    const host::pci_dev* dma2 = k.find(bdf{1, 3, 0});
    REQUIRE(dma2 != nullptr);
    const unsigned pe = k.pnv_phb_of(*dma2)->pe_of(*dma2)->number();
    const auto bar = m.platform().bar_address("dma2", 0);
    REQUIRE(bar);
    // Memory decode on, as a driver's pci_enable_device would.
    m.ops().config_write(1, 3, 0, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    CHECK(m.ops().mmio_read(*bar, 4) == 0x454d4144);
    phb->firmware().eeh(pe).freeze(tce::freeze_reason::mmio_error, *bar);
    CHECK(m.ops().mmio_read(*bar, 4) == 0xffffffff);
    CHECK(phb->stats().mmio_all_ones == 1);
    // The PE below the other downstream port is untouched.
    const auto bar3 = m.platform().bar_address("dma3", 0);
    REQUIRE(bar3);
    m.ops().config_write(1, 4, 0, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    CHECK(m.ops().mmio_read(*bar3, 4) == 0x454d4144);
    REQUIRE(phb->firmware().eeh_freeze_clear(pe, tce::OPAL_EEH_ACTION_CLEAR_FREEZE_ALL) == tce::OPAL_SUCCESS);
    CHECK(m.ops().mmio_read(*bar, 4) == 0x454d4144);
}

// The simulated kernel's reading of the IVRS (drivers/iommu/amd/init.c, v6.1) and what it changes in IOMMU
// grouping (amd_iommu_probe_device: check_device, setup_aliases). Expected values are computed from the
// IVRS rules by hand in each case, not from the parser.
#include "sim/host/drivers/amdvi/amd_iommu_ivrs.h"
#include "sim/host/kernel_log.h"
#include "test_host_util.h"

using namespace iommusim;
using namespace iommusim::test;
using host::ivhd_entry;
namespace ivrs = host::ivrs;

namespace {

// fake_fabric with an IVRS (the base fabric's firmware has none).
struct ivrs_fabric : fake_fabric {
    host::ivrs_table ivrs;
    std::vector<u8> ioapics{0};
    ivrs_fabric() : fake_fabric(host::firmware_iommu::ivrs) {}
    host::firmware_info firmware() const override {
        host::firmware_info fw = fake_fabric::firmware();
        fw.ivrs = ivrs;
        fw.ioapic_ids = ioapics;
        return fw;
    }
};

host::ivrs_ivhd ivhd(u8 type, u16 devid, std::vector<ivhd_entry> entries, u16 seg = 0) {
    host::ivrs_ivhd h;
    h.type = type;
    h.devid = devid;
    h.pci_seg = seg;
    h.cap_ptr = 0x40;
    h.mmio_phys = 0xfd200000;
    h.entries = std::move(entries);
    return h;
}

u16 id(const char* s) { return B(s).rid(); }

// Root bus 0: 00:00.0 AMD root complex (multifunction), 00:00.2 the IOMMU function, 00:03.0 and 00:04.0
// conventional PCI functions, 00:07.0 a root port with ACS and 01:00.0 below it.
void build_amd_topology(fake_fabric& f) {
    using K = pci::function_kind;
    f.at_root(devfn(0, 0), fn(K::host_bridge, 0x1022, 0x1480, true));
    auto iommu = fn(K::rc_endpoint, 0x1022, 0x1481);
    iommu.class_code = 0x080600;
    f.at_root(devfn(0, 2), iommu);
    f.at_root(devfn(3, 0), fn(K::pci_endpoint, 0x1102, 0x0002));
    f.at_root(devfn(4, 0), fn(K::pci_endpoint, 0x1274, 0x5000));
    auto& rp = f.at_root(devfn(7, 0), with_acs(fn(K::root_port, 0x1022, 0x1483), ACS_ALL4));
    f.below(rp, devfn(0, 0), fn(K::endpoint, 0x8086, 0x10d3));
}

// The IVRS a BIOS writes for that machine: the range 00:00.0-01:1f.7, the southbridge IO-APIC.
host::ivrs_table amd_ivrs_table(std::vector<ivhd_entry> extra = {}) {
    std::vector<ivhd_entry> e = {ivhd_entry::range_start(id("00:00.0")), ivhd_entry::range_end(id("01:1f.7")),
                                 ivhd_entry::special(ivrs::IVHD_SPECIAL_IOAPIC, 0, ivrs::IOAPIC_SB_DEVID, 0xd7)};
    e.insert(e.end(), extra.begin(), extra.end());
    host::ivrs_table t;
    t.ivinfo = ivrs::ivinfo(64, 48, 2, true);
    t.ivhds.push_back(ivhd(0x10, id("00:00.2"), e));
    t.ivhds.push_back(ivhd(0x11, id("00:00.2"), e));
    return t;
}

} // namespace

TEST_CASE("ivrs: the highest IVHD type describing the first IOMMU is used", "[host][ivrs]") {
    host::kernel_log log;
    SECTION("10h then 11h for the same IOMMU: 11h") {
        host::ivrs_table t;
        t.ivhds = {ivhd(0x10, 2, {ivhd_entry::all()}), ivhd(0x11, 2, {ivhd_entry::select(0x10)}),
                   ivhd(0x10, 0x4002, {}), ivhd(0x11, 0x4002, {})};
        host::amd_ivrs p(t, log);
        REQUIRE(p.parse() == 0);
        CHECK(p.target_type() == 0x11);
        REQUIRE(p.ivhds().size() == 2);  // only the 11h blocks
        CHECK(p.ivhds()[1]->devid == 0x4002);
        CHECK(p.last_bdf(0) == 0x10);    // DEV_ALL of the 10h block is not read
        CHECK(log.contains("AMD-Vi: Using global IVHD EFR:0x0, EFR2:0x0"));
    }
    SECTION("a 40h block for another IOMMU does not count") {
        host::ivrs_table t;
        t.ivhds = {ivhd(0x10, 2, {}), ivhd(0x40, 0x4002, {})};
        host::amd_ivrs p(t, log);
        REQUIRE(p.parse() == 0);
        CHECK(p.target_type() == 0x10);
        CHECK_FALSE(log.contains("Using global IVHD EFR"));  // no 11h/40h in use
    }
    SECTION("an unsupported type fails the parse") {
        host::ivrs_table t;
        t.ivhds = {ivhd(0x12, 2, {})};
        host::amd_ivrs p(t, log);
        CHECK(p.parse() == -EINVAL);
        CHECK(log.contains("AMD-Vi: Unsupported IVHD type 0x12"));
    }
    SECTION("no IVHD: no IVRS") {
        host::amd_ivrs p(host::ivrs_table{}, log);
        CHECK(p.parse() == -ENODEV);
    }
}

TEST_CASE("ivrs: last_bdf and the device table size", "[host][ivrs]") {
    host::kernel_log log;
    auto last = [&](std::vector<ivhd_entry> e) {
        host::ivrs_table t;
        t.ivhds = {ivhd(0x11, 2, std::move(e))};
        host::amd_ivrs p(t, log);
        REQUIRE(p.parse() == 0);
        return std::make_pair(p.last_bdf(0), p.segment(0)->dev_table_size());
    };
    // 32-byte DTEs for devid 0..last_bdf, rounded up to a power-of-two number of pages.
    CHECK(last({ivhd_entry::all()}) == std::make_pair(u16(0xffff), u64(2) << 20));
    CHECK(last({ivhd_entry::range_start(0x0000), ivhd_entry::range_end(0x00ff)}) == std::make_pair(u16(0xff), u64(8192)));
    CHECK(last({ivhd_entry::select(0x0010)}) == std::make_pair(u16(0x10), u64(4096)));
    // Range starts and alias targets do not raise it; alias sources do.
    CHECK(last({ivhd_entry::range_start(0x3000), ivhd_entry::alias(0x0200, 0x2f00)}) == std::make_pair(u16(0x200), u64(32768)));
    CHECK(last({ivhd_entry::alias_range_start(0x0300, 0x0300), ivhd_entry::range_end(0x0fff)}) ==
          std::make_pair(u16(0x0fff), u64(128) << 10));
}

TEST_CASE("ivrs: rlookup per IVHD, the IOMMU does not translate for itself", "[host][ivrs]") {
    host::kernel_log log;
    host::ivrs_table t;
    t.ivhds = {ivhd(0x11, id("00:00.2"), {ivhd_entry::range_start(id("00:00.0")), ivhd_entry::range_end(id("3f:1f.7"))}),
               ivhd(0x11, id("40:00.2"), {ivhd_entry::range_start(id("40:00.0")), ivhd_entry::range_end(id("7f:1f.7"))}),
               ivhd(0x11, id("00:00.2"), {ivhd_entry::select(id("00:01.0"))}, 1)};
    host::amd_ivrs p(t, log);
    REQUIRE(p.parse() == 0);
    CHECK(p.rlookup(0, id("00:01.0")) == 0);
    CHECK(p.rlookup(0, id("3f:1f.7")) == 0);
    CHECK(p.rlookup(0, id("40:00.0")) == 1);
    CHECK(p.rlookup(0, id("00:00.2")) == -1);   // cleared by init_iommu_one
    CHECK(p.rlookup(0, id("40:00.2")) == -1);
    CHECK(p.rlookup(0, id("80:00.0")) == -1);   // beyond last_bdf 7f:1f.7
    CHECK(p.last_bdf(0) == id("7f:1f.7"));
    CHECK(p.rlookup(1, id("00:01.0")) == 2);    // segment 1 has its own tables
    CHECK(p.rlookup(1, id("00:02.0")) == -1);
    CHECK(p.rlookup(2, id("00:01.0")) == -1);   // no IVHD for segment 2
}

TEST_CASE("ivrs: alias entries and DTE settings, erratum 63", "[host][ivrs]") {
    host::kernel_log log;
    host::ivrs_table t;
    t.ivhds = {ivhd(0x11, 2,
                    {ivhd_entry::select(id("00:10.0"), ivrs::ACPI_DEVFLAG_INITPASS | ivrs::ACPI_DEVFLAG_LINT1),
                     ivhd_entry::alias(id("05:00.0"), id("04:00.0"), ivrs::ACPI_DEVFLAG_NMI),
                     ivhd_entry::alias_range_start(id("06:00.0"), id("05:1f.0"), ivrs::ACPI_DEVFLAG_SYSMGT1),
                     ivhd_entry::range_end(id("06:01.7")),
                     ivhd_entry::range_start(id("07:00.0"), ivrs::ACPI_DEVFLAG_SYSMGT1 | ivrs::ACPI_DEVFLAG_SYSMGT2),
                     ivhd_entry::range_end(id("07:00.1"))})};
    host::amd_ivrs p(t, log);
    REQUIRE(p.parse() == 0);
    const host::amd_pci_seg& s = *p.segment(0);
    namespace bit = host::amd_dte_bit;
    CHECK(s.dte_bit(id("00:10.0"), bit::INIT_PASS));
    CHECK(s.dte_bit(id("00:10.0"), bit::LINT1_PASS));
    CHECK_FALSE(s.dte_bit(id("00:10.0"), bit::LINT0_PASS));
    // 42h: both the device and its alias get the settings; the alias table maps one way.
    CHECK(p.alias(0, id("05:00.0")) == id("04:00.0"));
    CHECK(p.alias(0, id("04:00.0")) == id("04:00.0"));
    CHECK(s.dte_bit(id("04:00.0"), bit::NMI_PASS));
    CHECK(p.rlookup(0, id("04:00.0")) == 0);
    // 43h..04h: every ID of the range aliases to the target.
    CHECK(p.alias(0, id("06:00.0")) == id("05:1f.0"));
    CHECK(p.alias(0, id("06:01.7")) == id("05:1f.0"));
    CHECK(p.alias(0, id("06:02.0")) == id("06:02.0"));
    // SysMgt = 01b needs IW (erratum 63); 11b does not.
    CHECK(s.dte_bit(id("06:00.3"), bit::SYSMGT1));
    CHECK(s.dte_bit(id("06:00.3"), bit::IW));
    CHECK(s.dte_bit(id("05:1f.0"), bit::IW));
    CHECK(s.dte_bit(id("07:00.1"), bit::SYSMGT2));
    CHECK_FALSE(s.dte_bit(id("07:00.1"), bit::IW));
    // A range start without its end sets nothing.
    CHECK(p.rlookup(0, id("07:00.2")) == -1);
}

TEST_CASE("ivrs: IO-APIC special devices decide interrupt remapping", "[host][ivrs]") {
    host::kernel_log log;
    auto table = [](std::vector<ivhd_entry> e) {
        host::ivrs_table t;
        t.ivhds = {ivhd(0x11, 2, std::move(e))};
        return t;
    };
    SECTION("the southbridge IO-APIC at 00:14.0") {
        host::amd_ivrs p(table({ivhd_entry::special(ivrs::IVHD_SPECIAL_IOAPIC, 0, 0x00a0),
                                ivhd_entry::special(ivrs::IVHD_SPECIAL_HPET, 0, 0x00a0)}), log);
        REQUIRE(p.parse() == 0);
        CHECK(p.get_ioapic_devid(0) == 0xa0);
        CHECK(p.hpet_map().size() == 1);
        // The entry sets the rlookup slot, but special entries do not raise last_bdf (0 here), so
        // check_device would still refuse a PCI device at 00:14.0.
        CHECK(p.segment(0)->rlookup[0xa0] == 0);
        CHECK(p.rlookup(0, 0xa0) == -1);
        CHECK(p.check_ioapic_information({0}));
        CHECK_FALSE(log.contains("Firmware Bug"));
        CHECK_FALSE(log.contains("Disabling interrupt remapping"));
    }
    SECTION("an IO-APIC at another requester ID") {
        host::amd_ivrs p(table({ivhd_entry::special(ivrs::IVHD_SPECIAL_IOAPIC, 0, id("00:18.0"))}), log);
        REQUIRE(p.parse() == 0);
        CHECK_FALSE(p.check_ioapic_information({0}));
        CHECK(log.contains("AMD-Vi: [Firmware Bug]: : No southbridge IOAPIC found"));
        CHECK(log.contains("AMD-Vi: Disabling interrupt remapping"));
    }
    SECTION("an MADT IO-APIC the IVRS does not list") {
        host::amd_ivrs p(table({ivhd_entry::special(ivrs::IVHD_SPECIAL_IOAPIC, 0, 0x00a0)}), log);
        REQUIRE(p.parse() == 0);
        // ret is what the last IO-APIC decided: the unlisted one comes after the southbridge one.
        CHECK_FALSE(p.check_ioapic_information({0, 9}));
        CHECK(log.contains("AMD-Vi: [Firmware Bug]: : IOAPIC[9] not in IVRS table"));
        CHECK(log.contains("AMD-Vi: Disabling interrupt remapping"));
        CHECK_FALSE(log.contains("No southbridge IOAPIC found"));
    }
}

TEST_CASE("ivrs: IVMD unity ranges and the global EFR", "[host][ivrs]") {
    host::kernel_log log;
    host::ivrs_table t;
    auto h0 = ivhd(0x11, 2, {ivhd_entry::range_start(0), ivhd_entry::range_end(0x1ff)});
    h0.efr_reg = 0x29d3;
    auto h1 = ivhd(0x11, 0x4002, {});
    h1.efr_reg = 0x2953;  // lacks GASup (bit 7)
    t.ivhds = {h0, h1};
    host::ivrs_ivmd sel;
    sel.type = ivrs::IVMD_TYPE_SELECT;
    sel.flags = ivrs::IVMD_FLAG_UNITY_MAP | ivrs::IVMD_FLAG_IR;
    sel.devid = 0x18;
    sel.range_start = 0xa0001;
    sel.range_length = 0x1800;
    host::ivrs_ivmd excl = sel;
    excl.type = ivrs::IVMD_TYPE_ALL;
    excl.flags = ivrs::IVMD_FLAG_EXCL_RANGE;
    host::ivrs_ivmd none = sel;
    none.flags = ivrs::IVMD_FLAG_IR;  // neither unity nor exclusion: ignored
    t.ivmds = {sel, excl, none};
    host::amd_ivrs p(t, log);
    REQUIRE(p.parse() == 0);
    const auto& u = p.segment(0)->unity_map;
    REQUIRE(u.size() == 2);
    CHECK(u[0].devid_start == 0x18);
    CHECK(u[0].devid_end == 0x18);
    CHECK(u[0].address_start == 0xa1000);              // PAGE_ALIGN(start)
    CHECK(u[0].address_end == 0xa1000 + 0x2000);       // + PAGE_ALIGN(length)
    CHECK(u[0].prot == 1);                             // IR only
    CHECK(u[1].devid_start == 0);
    CHECK(u[1].devid_end == 0x1ff);                    // IVMD_TYPE_ALL: up to last_bdf
    CHECK(u[1].prot == 3);                             // an exclusion range becomes a read/write unity map
    // EFR images differ: a firmware bug, ANDed.
    CHECK(p.global_efr() == (0x29d3 & 0x2953));
    CHECK(log.contains("EFR mismatch"));
    CHECK(log.contains("AMD-Vi: Using global IVHD EFR:0x2953, EFR2:0x0"));
    CHECK_FALSE(p.ga_allowed());
}

TEST_CASE("ivrs groups: the IOMMU function and uncovered devices get no group", "[host][ivrs]") {
    ivrs_fabric f;
    build_amd_topology(f);
    f.ivrs = amd_ivrs_table();
    // 01:00.0 is covered (range to 01:1f.7); narrow the range so it is not.
    f.ivrs.ivhds[1].entries[1] = ivhd_entry::range_end(id("00:1f.7"));
    auto k = boot(f);
    REQUIRE(k->ivrs());
    CHECK(gid(*k, "00:00.2") == host::no_group);
    CHECK(gid(*k, "01:00.0") == host::no_group);
    CHECK(gid(*k, "00:03.0") != host::no_group);
    CHECK(gid(*k, "00:07.0") != host::no_group);
    CHECK(k->log().contains("pci 0000:00:00.2: AMD-Vi: Found IOMMU; not translating for itself: no IOMMU group"));
    CHECK(k->groups().size() == 4);  // 00:00.0, 00:03.0, 00:04.0, 00:07.0
}

TEST_CASE("ivrs groups: an IVRS alias on the same bus becomes a DMA alias and merges groups", "[host][ivrs]") {
    ivrs_fabric plain;
    build_amd_topology(plain);
    plain.ivrs = amd_ivrs_table();
    auto k0 = boot(plain);
    CHECK(gid(*k0, "00:03.0") != gid(*k0, "00:04.0"));

    ivrs_fabric f;
    build_amd_topology(f);
    f.ivrs = amd_ivrs_table({ivhd_entry::alias(id("00:04.0"), id("00:03.0"))});
    auto k = boot(f);
    CHECK(gid(*k, "00:03.0") == gid(*k, "00:04.0"));
    CHECK(k->log().contains("pci 0000:00:04.0: Enabling fixed DMA alias to 03.0"));
    const auto facts = k->facts(*k->find(B("00:04.0")));
    CHECK(facts.dma_aliases == std::vector<u16>{id("00:04.0"), id("00:03.0")});
    CHECK(k->ivrs()->alias(0, id("00:04.0")) == id("00:03.0"));
}

TEST_CASE("ivrs groups: an IVRS alias on another bus leaves the PCI aliases alone", "[host][ivrs]") {
    ivrs_fabric f;
    build_amd_topology(f);
    f.ivrs = amd_ivrs_table({ivhd_entry::alias_range_start(id("01:00.0"), id("00:03.0")),
                             ivhd_entry::range_end(id("01:1f.7"))});
    auto k = boot(f);
    CHECK(gid(*k, "01:00.0") != gid(*k, "00:03.0"));
    CHECK(k->ivrs()->alias(0, id("01:00.0")) == id("00:03.0"));
    CHECK(k->facts(*k->find(B("01:00.0"))).dma_aliases == std::vector<u16>{id("01:00.0")});
    CHECK_FALSE(k->log().contains("Enabling fixed DMA alias"));
}

TEST_CASE("ivrs groups: an IVRS Linux cannot use means no AMD IOMMU", "[host][ivrs]") {
    ivrs_fabric f;
    build_amd_topology(f);
    f.ivrs = amd_ivrs_table();
    for (auto& h : f.ivrs.ivhds) h.type = 0x12;
    auto k = boot(f);
    CHECK(k->ivrs() == nullptr);
    CHECK(k->groups().empty());
    CHECK(k->log().contains("AMD-Vi: Unsupported IVHD type 0x12"));
}

// The description's "ivrs" object (platform_loader.cpp) and its errors with the JSON path.
#include "platforms/desc/platform_loader.h"
#include "sim/core/input_error.h"

TEST_CASE("ivrs description: aliases, IO-APIC and unity maps from platform JSON", "[host][ivrs][platform]") {
    const std::string head = R"({"iommu": "amd", "root_buses": [{"bus": "0x00", "devices": [
        {"addr": "00.0", "kind": "host_bridge", "vendor": "0x1022", "device": "0x1480"}]}], "ivrs": )";
    const auto d = platforms::load_platform_text(head + R"({
        "aliases": [{"devid": "00:04.0", "to": "00:03.0"}, {"devid": "02:00.0", "last": "02:1f.7", "to": "01:00.0", "segment": 1}],
        "ioapic": {"id": 2, "devid": "00:14.0"},
        "unity_maps": [{"start": 1048576, "length": 4096, "write": false}, {"devid": "00:03.0", "last": "00:04.7", "start": 0, "length": 8192}]}})",
                                                 "t.json");
    REQUIRE(d.ivrs.aliases.size() == 2);
    CHECK(d.ivrs.aliases[0].devid == id("00:04.0"));
    CHECK(d.ivrs.aliases[0].last == id("00:04.0"));
    CHECK(d.ivrs.aliases[0].to == id("00:03.0"));
    CHECK(d.ivrs.aliases[1].segment == 1);
    CHECK(d.ivrs.aliases[1].last == id("02:1f.7"));
    CHECK(d.ivrs.ioapic);
    CHECK(d.ivrs.ioapic_id == 2);
    CHECK(d.ivrs.ioapic_devid == 0xa0);
    REQUIRE(d.ivrs.unity.size() == 2);
    CHECK(d.ivrs.unity[0].type == ivrs::IVMD_TYPE_ALL);
    CHECK_FALSE(d.ivrs.unity[0].write);
    CHECK(d.ivrs.unity[1].type == ivrs::IVMD_TYPE_RANGE);
    CHECK(d.ivrs.unity[1].last == id("00:04.7"));

    CHECK_FALSE(platforms::load_platform_text(head + R"({"ioapic": false}})", "t.json").ivrs.ioapic);
    auto error_of = [&](const std::string& ivrs_json) -> std::string {
        try {
            platforms::load_platform_text(head + ivrs_json + "}", "t.json");
        } catch (const input_error& e) {
            return e.what();
        }
        return "";
    };
    CHECK_THAT(error_of(R"({"aliases": [{"devid": "0:4.0", "to": "00:03.0"}]})"), Catch::Contains("/ivrs/aliases/0/devid"));
    CHECK_THAT(error_of(R"({"aliases": [{"devid": "00:04.0"}]})"), Catch::Contains("/ivrs/aliases/0"));
    CHECK_THAT(error_of(R"({"aliases": [{"devid": "00:04.0", "last": "00:03.0", "to": "00:03.0"}]})"),
               Catch::Contains("/ivrs/aliases/0/last"));
    CHECK_THAT(error_of(R"({"alias": []})"), Catch::Contains("/ivrs"));
}

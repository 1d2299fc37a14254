// build_config_space: every register semantics the kernel relies on (RO, RW, RW1C, BAR sizing,
// capability lists, ACS control mask, captured bytes verbatim). Pure C++, no SystemC.
#include "models/pci/cfg/config_builder.h"
#include "models/pci/cfg/pci_regs.h"

#include <catch2/catch.hpp>

using namespace iommusim;
using namespace iommusim::pci;

namespace {

function_params endpoint_params() {
    function_params p;
    p.kind = function_kind::endpoint;
    p.vendor_id = 0x8086;
    p.device_id = 0x10d3;
    p.class_code = 0x020000;
    p.revision = 3;
    p.interrupt_pin = 1;
    return p;
}

function_params bridge_params(function_kind k) {
    function_params p;
    p.kind = k;
    p.class_code = 0x060400;
    return p;
}

// Writes all ones and restores, as Linux's __pci_read_base sizes a BAR.
u32 probe(config_space& c, u16 off) {
    const u32 old = c.read(off, 4);
    c.write(off, 4, 0xffffffffu);
    const u32 v = c.read(off, 4);
    c.write(off, 4, old);
    return v;
}

} // namespace

TEST_CASE("config builder: type 0 header identity registers are read-only", "[cfg]") {
    auto c = build_config_space(endpoint_params());
    CHECK(c.size() == PCI_CFG_SPACE_EXP_SIZE);
    CHECK(c.read(PCI_VENDOR_ID, 2) == 0x8086);
    CHECK(c.read(PCI_DEVICE_ID, 2) == 0x10d3);
    CHECK(c.read(PCI_CLASS_REVISION, 4) == 0x02000003);
    CHECK(c.read(PCI_HEADER_TYPE, 1) == PCI_HEADER_TYPE_NORMAL);
    CHECK(c.read(PCI_INTERRUPT_PIN, 1) == 1);
    c.write(PCI_VENDOR_ID, 4, 0x12345678);
    c.write(PCI_CLASS_REVISION, 4, 0);
    c.write(PCI_HEADER_TYPE, 1, 0xff);
    c.write(PCI_INTERRUPT_PIN, 1, 3);
    CHECK(c.read(PCI_VENDOR_ID, 4) == 0x10d38086);
    CHECK(c.read(PCI_CLASS_REVISION, 4) == 0x02000003);
    CHECK(c.read(PCI_HEADER_TYPE, 1) == 0);
    CHECK(c.read(PCI_INTERRUPT_PIN, 1) == 1);
}

TEST_CASE("config builder: COMMAND RW bits, STATUS RW1C bits, interrupt line RW", "[cfg]") {
    auto c = build_config_space(endpoint_params());
    c.write(PCI_COMMAND, 2, 0xffff);
    CHECK(c.read(PCI_COMMAND, 2) == PCI_COMMAND_WMASK);
    c.write(PCI_COMMAND, 2, 0);
    CHECK(c.read(PCI_COMMAND, 2) == 0);

    // The hardware sets error bits; software clears them by writing ones; CAP_LIST stays.
    const u16 status = c.get16(PCI_STATUS);
    CHECK((status & PCI_STATUS_CAP_LIST) != 0);
    c.set16(PCI_STATUS, u16(status | PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_DETECTED_PARITY));
    c.write(PCI_STATUS, 2, 0); // writing zeros changes nothing
    CHECK(c.read(PCI_STATUS, 2) == u16(status | PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_DETECTED_PARITY));
    c.write(PCI_STATUS, 2, PCI_STATUS_REC_MASTER_ABORT);
    CHECK(c.read(PCI_STATUS, 2) == u16(status | PCI_STATUS_DETECTED_PARITY));
    c.write(PCI_STATUS, 2, 0xffff);
    CHECK(c.read(PCI_STATUS, 2) == status);

    c.write(PCI_INTERRUPT_LINE, 1, 0x0b);
    CHECK(c.read(PCI_INTERRUPT_LINE, 1) == 0x0b);
}

TEST_CASE("config builder: BAR sizing returns the size mask with RO flag bits", "[cfg]") {
    auto p = endpoint_params();
    p.bars = {{0, 0x4000, false, false, false},          // 16 KiB, 32-bit
              {2, 0x100000000ull, false, true, true},    // 4 GiB, 64-bit prefetchable
              {4, 0x20, true, false, false}};            // 32-byte I/O
    p.rom_size = 0x10000;
    auto c = build_config_space(p);
    CHECK(probe(c, PCI_BASE_ADDRESS_0) == 0xffffc000u);
    CHECK(probe(c, PCI_BASE_ADDRESS_0 + 4) == 0); // unimplemented BAR1 is RO 0
    CHECK(probe(c, PCI_BASE_ADDRESS_0 + 8) == (0x0 | PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH));
    CHECK(probe(c, PCI_BASE_ADDRESS_0 + 12) == 0xffffffffu);
    CHECK(probe(c, PCI_BASE_ADDRESS_0 + 16) == (0xffffffe0u | PCI_BASE_ADDRESS_SPACE_IO));
    CHECK(probe(c, PCI_ROM_ADDRESS) == (0xffff0000u | PCI_ROM_ADDRESS_ENABLE));

    // Programming an address keeps the low bits the hardware owns.
    c.write(PCI_BASE_ADDRESS_0, 4, 0xfebf1234);
    CHECK(c.read(PCI_BASE_ADDRESS_0, 4) == 0xfebf0000u);
    c.write(PCI_BASE_ADDRESS_0 + 8, 4, 0xffffffffu);
    CHECK(c.read(PCI_BASE_ADDRESS_0 + 8, 4) == 0x0000000cu);
    c.write(PCI_BASE_ADDRESS_0 + 12, 4, 0x00000040);
    CHECK(c.read(PCI_BASE_ADDRESS_0 + 12, 4) == 0x40);
}

TEST_CASE("config builder: impossible BARs are configuration errors", "[cfg]") {
    auto p = endpoint_params();
    p.bars = {{0, 3000, false, false, false}};
    CHECK_THROWS_AS(build_config_space(p), std::invalid_argument);
    p.bars = {{5, 0x1000, false, true, false}};
    CHECK_THROWS_AS(build_config_space(p), std::invalid_argument);
    p.bars = {{0, 0x1000, false, true, false}, {1, 0x1000, false, false, false}};
    CHECK_THROWS_AS(build_config_space(p), std::invalid_argument);
    auto b = bridge_params(function_kind::root_port);
    b.bars = {{2, 0x1000, false, false, false}};
    CHECK_THROWS_AS(build_config_space(b), std::invalid_argument);
    auto conv = endpoint_params();
    conv.kind = function_kind::pci_endpoint;
    conv.acs = acs_params{};
    CHECK_THROWS_AS(build_config_space(conv), std::invalid_argument);
}

TEST_CASE("config builder: type 1 bus numbers and windows", "[cfg]") {
    auto c = build_config_space(bridge_params(function_kind::switch_downstream));
    CHECK(c.read(PCI_HEADER_TYPE, 1) == PCI_HEADER_TYPE_BRIDGE);
    CHECK(c.read(PCI_PRIMARY_BUS, 4) == 0); // unconfigured: the kernel assigns
    c.write(PCI_PRIMARY_BUS, 4, 0xff050201);
    CHECK(c.read(PCI_PRIMARY_BUS, 4) == 0x00050201); // secondary latency timer is RO 0 on PCIe

    // I/O window: bits 7:4 RW, 32-bit addressing type RO; upper 16 bits RW.
    c.write(PCI_IO_BASE, 2, 0xffff);
    CHECK(c.read(PCI_IO_BASE, 2) == 0xf1f1);
    c.write(PCI_IO_BASE_UPPER16, 4, 0x12345678);
    CHECK(c.read(PCI_IO_BASE_UPPER16, 4) == 0x12345678);
    // Memory window: bits 15:4 RW, 3:0 RO 0.
    c.write(PCI_MEMORY_BASE, 4, 0xfebffe10);
    CHECK(c.read(PCI_MEMORY_BASE, 4) == 0xfeb0fe10);
    // Prefetchable: 64-bit type RO, upper 32 RW.
    c.write(PCI_PREF_MEMORY_BASE, 4, 0xffffffffu);
    CHECK(c.read(PCI_PREF_MEMORY_BASE, 4) == 0xfff1fff1u);
    c.write(PCI_PREF_BASE_UPPER32, 4, 0x80);
    CHECK(c.read(PCI_PREF_BASE_UPPER32, 4) == 0x80);
    // Bridge control: PCIe bits only; secondary status RW1C.
    c.write(PCI_BRIDGE_CONTROL, 2, 0xffff);
    CHECK(c.read(PCI_BRIDGE_CONTROL, 2) == PCI_BRIDGE_CTL_PCIE_WMASK);
    c.set16(PCI_SEC_STATUS, PCI_STATUS_REC_MASTER_ABORT);
    c.write(PCI_SEC_STATUS, 2, PCI_STATUS_REC_MASTER_ABORT);
    CHECK(c.read(PCI_SEC_STATUS, 2) == 0);
}

TEST_CASE("config builder: firmware bus numbers are kept, windows start closed", "[cfg]") {
    auto p = bridge_params(function_kind::root_port);
    p.primary_bus = 0;
    p.secondary_bus = 3;
    p.subordinate_bus = 7;
    auto c = build_config_space(p);
    CHECK(c.read(PCI_PRIMARY_BUS, 4) == 0x00070300);
    CHECK(c.read(PCI_MEMORY_BASE, 2) > c.read(PCI_MEMORY_LIMIT, 2));
    auto conv = build_config_space(bridge_params(function_kind::pci_bridge));
    CHECK(conv.size() == PCI_CFG_SPACE_SIZE);
    CHECK(!conv.find_capability(PCI_CAP_ID_EXP));
    conv.write(PCI_SEC_LATENCY_TIMER, 1, 0x40);
    CHECK(conv.read(PCI_SEC_LATENCY_TIMER, 1) == 0x40);
    conv.write(PCI_BRIDGE_CONTROL, 2, 0xffff & ~PCI_BRIDGE_CTL_PCI_W1C);
    CHECK(conv.read(PCI_BRIDGE_CONTROL, 2) == (PCI_BRIDGE_CTL_PCI_WMASK & ~PCI_BRIDGE_CTL_PCI_W1C));
}

TEST_CASE("config builder: multifunction bit in the header type", "[cfg]") {
    auto p = endpoint_params();
    p.multifunction = true;
    auto c = build_config_space(p);
    CHECK(c.read(PCI_HEADER_TYPE, 1) == (PCI_HEADER_TYPE_MFD | PCI_HEADER_TYPE_NORMAL));
    auto b = bridge_params(function_kind::root_port);
    b.multifunction = true;
    CHECK(build_config_space(b).read(PCI_HEADER_TYPE, 1) == (PCI_HEADER_TYPE_MFD | PCI_HEADER_TYPE_BRIDGE));
}

TEST_CASE("config builder: capability list is walkable and well formed", "[cfg]") {
    auto p = endpoint_params();
    p.msi = msi_params{4, true, true};
    p.msix = msix_params{16, 2, 0x2000, 2, 0x3000};
    auto c = build_config_space(p);
    std::vector<u8> ids;
    unsigned pos = c.read(PCI_CAPABILITY_LIST, 1);
    for (int ttl = 48; pos && ttl; --ttl) {
        REQUIRE(pos >= 0x40);
        REQUIRE(pos <= 0xfc);
        REQUIRE((pos & 3) == 0);
        ids.push_back(u8(c.read(pos, 1)));
        pos = c.read(pos + 1, 1);
    }
    CHECK(ids == std::vector<u8>{PCI_CAP_ID_PM, PCI_CAP_ID_MSI, PCI_CAP_ID_MSIX, PCI_CAP_ID_EXP});
    // The capability pointer itself is RO.
    c.write(PCI_CAPABILITY_LIST, 1, 0);
    CHECK(c.read(PCI_CAPABILITY_LIST, 1) != 0);
}

TEST_CASE("config builder: power management PMCSR", "[cfg]") {
    auto c = build_config_space(endpoint_params());
    const u16 pm = *c.find_capability(PCI_CAP_ID_PM);
    c.write(pm + PCI_PM_CTRL, 2, 3);
    CHECK((c.read(pm + PCI_PM_CTRL, 2) & PCI_PM_CTRL_STATE_MASK) == 3);
    c.set16(pm + PCI_PM_CTRL, u16(c.get16(pm + PCI_PM_CTRL) | PCI_PM_CTRL_PME_STATUS));
    c.write(pm + PCI_PM_CTRL, 2, PCI_PM_CTRL_PME_STATUS | 3);
    CHECK((c.read(pm + PCI_PM_CTRL, 2) & PCI_PM_CTRL_PME_STATUS) == 0);
    CHECK(c.read(pm + PCI_PM_PMC, 2) == PCI_PM_CAP_VER_1_2); // RO
    c.write(pm + PCI_PM_PMC, 2, 0xffff);
    CHECK(c.read(pm + PCI_PM_PMC, 2) == PCI_PM_CAP_VER_1_2);
}

TEST_CASE("config builder: MSI layouts per parameters", "[cfg]") {
    SECTION("64-bit with per-vector mask, 4 vectors") {
        auto p = endpoint_params();
        p.msi = msi_params{4, true, true};
        auto c = build_config_space(p);
        const u16 msi = *c.find_capability(PCI_CAP_ID_MSI);
        const u16 flags = u16(c.read(msi + PCI_MSI_FLAGS, 2));
        CHECK((flags & PCI_MSI_FLAGS_64BIT) != 0);
        CHECK((flags & PCI_MSI_FLAGS_MASKBIT) != 0);
        CHECK((flags & PCI_MSI_FLAGS_QMASK) >> 1 == 2);
        c.write(msi + PCI_MSI_FLAGS, 2, 0xffff);
        CHECK(c.read(msi + PCI_MSI_FLAGS, 2) == (flags | PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE));
        c.write(msi + PCI_MSI_ADDRESS_LO, 4, 0xfee00003);
        CHECK(c.read(msi + PCI_MSI_ADDRESS_LO, 4) == 0xfee00000);
        c.write(msi + PCI_MSI_ADDRESS_HI, 4, 0x1);
        CHECK(c.read(msi + PCI_MSI_ADDRESS_HI, 4) == 1);
        c.write(msi + PCI_MSI_DATA_64, 2, 0x4041);
        CHECK(c.read(msi + PCI_MSI_DATA_64, 2) == 0x4041);
        c.write(msi + PCI_MSI_MASK_64, 4, 0xffffffffu);
        CHECK(c.read(msi + PCI_MSI_MASK_64, 4) == 0xf);
        c.write(msi + PCI_MSI_PENDING_64, 4, 0xffffffffu);
        CHECK(c.read(msi + PCI_MSI_PENDING_64, 4) == 0);
    }
    SECTION("32-bit, no mask") {
        auto p = endpoint_params();
        p.msi = msi_params{1, false, false};
        auto c = build_config_space(p);
        const u16 msi = *c.find_capability(PCI_CAP_ID_MSI);
        CHECK(c.read(msi + PCI_MSI_FLAGS, 2) == 0);
        c.write(msi + PCI_MSI_ADDRESS_HI, 4, 0xffffffffu); // that is DATA_32 at 8, 16 bits RW
        CHECK(c.read(msi + PCI_MSI_DATA_32, 4) == 0xffff);
    }
}

TEST_CASE("config builder: MSI-X table size, BIR and offsets RO, enable and mask-all RW", "[cfg]") {
    auto p = endpoint_params();
    p.msix = msix_params{64, 4, 0x1000, 4, 0x1800};
    auto c = build_config_space(p);
    const u16 x = *c.find_capability(PCI_CAP_ID_MSIX);
    CHECK(c.read(x + PCI_MSIX_FLAGS, 2) == 63);
    c.write(x + PCI_MSIX_FLAGS, 2, 0xffff);
    CHECK(c.read(x + PCI_MSIX_FLAGS, 2) == (63 | PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL));
    CHECK(c.read(x + PCI_MSIX_TABLE, 4) == 0x1004);
    CHECK(c.read(x + PCI_MSIX_PBA, 4) == 0x1804);
    c.write(x + PCI_MSIX_TABLE, 4, 0);
    CHECK(c.read(x + PCI_MSIX_TABLE, 4) == 0x1004);
}

TEST_CASE("config builder: PCI Express capability device/port type per kind", "[cfg]") {
    const std::pair<function_kind, unsigned> kinds[] = {
        {function_kind::endpoint, 0x0},        {function_kind::legacy_endpoint, 0x1},
        {function_kind::root_port, 0x4},       {function_kind::switch_upstream, 0x5},
        {function_kind::switch_downstream, 0x6}, {function_kind::pcie_to_pci_bridge, 0x7},
        {function_kind::pci_to_pcie_bridge, 0x8}, {function_kind::rc_endpoint, 0x9},
        {function_kind::rc_event_collector, 0xa},
    };
    for (const auto& [kind, type] : kinds) {
        function_params p;
        p.kind = kind;
        auto c = build_config_space(p);
        INFO(to_string(kind));
        REQUIRE(c.find_capability(PCI_CAP_ID_EXP));
        const u16 e = *c.find_capability(PCI_CAP_ID_EXP);
        const u16 flags = c.get16(e + PCI_EXP_FLAGS);
        CHECK((flags & PCI_EXP_FLAGS_VERS) == 2);
        CHECK(((flags & PCI_EXP_FLAGS_TYPE) >> 4) == type);
        const bool slot = kind == function_kind::root_port || kind == function_kind::switch_downstream;
        CHECK(((flags & PCI_EXP_FLAGS_SLOT) != 0) == slot);
        CHECK(c.size() == PCI_CFG_SPACE_EXP_SIZE);
        CHECK(c.read(PCI_CFG_SPACE_SIZE, 4) == 0); // no extended capabilities
    }
    for (auto kind : {function_kind::host_bridge, function_kind::pci_bridge, function_kind::pci_endpoint}) {
        function_params p;
        p.kind = kind;
        auto c = build_config_space(p);
        CHECK(c.size() == PCI_CFG_SPACE_SIZE);
        CHECK(!c.find_capability(PCI_CAP_ID_EXP));
        CHECK(c.read(PCI_CFG_SPACE_SIZE, 4) == 0xffffffffu);
    }
}

TEST_CASE("config builder: DEVCTL RW, DEVSTA RW1C, root control and slot status", "[cfg]") {
    auto c = build_config_space(bridge_params(function_kind::root_port));
    const u16 e = *c.find_capability(PCI_CAP_ID_EXP);
    c.write(e + PCI_EXP_DEVCTL, 2, 0x2810);
    CHECK(c.read(e + PCI_EXP_DEVCTL, 2) == 0x2810);
    c.set16(e + PCI_EXP_DEVSTA, 0x0029); // CED, URD and (RO) TRPND
    c.write(e + PCI_EXP_DEVSTA, 2, 0xffff);
    CHECK(c.read(e + PCI_EXP_DEVSTA, 2) == 0x0020);
    c.write(e + PCI_EXP_RTCTL, 2, 0xffff);
    CHECK(c.read(e + PCI_EXP_RTCTL, 2) == PCI_EXP_RTCTL_WMASK);
    CHECK((c.read(e + PCI_EXP_SLTSTA, 2) & PCI_EXP_SLTSTA_PDS) != 0);
    c.write(e + PCI_EXP_SLTSTA, 2, 0xffff); // PDS is RO
    CHECK((c.read(e + PCI_EXP_SLTSTA, 2) & PCI_EXP_SLTSTA_PDS) != 0);
    c.write(e + PCI_EXP_FLAGS, 2, 0);
    CHECK(((c.read(e + PCI_EXP_FLAGS, 2) & PCI_EXP_FLAGS_TYPE) >> 4) == PCI_EXP_TYPE_ROOT_PORT);
}

TEST_CASE("config builder: ACS control writable only in advertised bits", "[cfg]") {
    auto p = bridge_params(function_kind::switch_downstream);
    p.acs = acs_params{PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF, PCI_ACS_SV | PCI_ACS_TB, 0};
    auto c = build_config_space(p);
    const auto acs = c.find_ext_capability(PCI_EXT_CAP_ID_ACS);
    REQUIRE(acs);
    CHECK(*acs == 0x100);
    CHECK(((c.read(*acs, 4) >> 16) & 0xf) == 1); // capability version
    CHECK(c.read(*acs + PCI_ACS_CAP, 2) == (PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF));
    // Initial control is firmware's value masked to implemented features: TB is not advertised.
    CHECK(c.read(*acs + PCI_ACS_CTRL, 2) == PCI_ACS_SV);
    c.write(*acs + PCI_ACS_CTRL, 2, 0xffff);
    CHECK(c.read(*acs + PCI_ACS_CTRL, 2) == (PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF));
    c.write(*acs + PCI_ACS_CTRL, 2, 0);
    CHECK(c.read(*acs + PCI_ACS_CTRL, 2) == 0);
    c.write(*acs + PCI_ACS_CAP, 2, 0xffff);
    CHECK(c.read(*acs + PCI_ACS_CAP, 2) == (PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF));
}

TEST_CASE("config builder: ACS egress control vector sized by the capability", "[cfg]") {
    auto p = bridge_params(function_kind::switch_downstream);
    p.acs = acs_params{PCI_ACS_ALL, 0, 5};
    p.ats = true;
    auto c = build_config_space(p);
    const u16 acs = *c.find_ext_capability(PCI_EXT_CAP_ID_ACS);
    CHECK(c.read(acs + PCI_ACS_CAP, 2) == (0x0500 | PCI_ACS_ALL));
    c.write(acs + PCI_ACS_EGRESS_CTL_V, 4, 0xffffffffu);
    CHECK(c.read(acs + PCI_ACS_EGRESS_CTL_V, 4) == 0x1f);
    // The ATS capability follows the 12-byte ACS structure.
    CHECK(c.find_ext_capability(PCI_EXT_CAP_ID_ATS) == std::optional<u16>(0x10c));
}

TEST_CASE("config builder: ATS, PASID and PRI extended capabilities", "[cfg]") {
    auto p = endpoint_params();
    p.ats = p.pasid = p.pri = true;
    auto c = build_config_space(p);
    std::vector<u16> ids;
    unsigned pos = 0x100;
    for (int ttl = 480; ttl && pos >= 0x100; --ttl) {
        const u32 hdr = c.read(pos, 4);
        if (hdr == 0) break;
        ids.push_back(PCI_EXT_CAP_ID(hdr));
        pos = PCI_EXT_CAP_NEXT(hdr);
        if (!pos) break;
    }
    CHECK(ids == std::vector<u16>{PCI_EXT_CAP_ID_ATS, PCI_EXT_CAP_ID_PASID, PCI_EXT_CAP_ID_PRI});
    const u16 ats = *c.find_ext_capability(PCI_EXT_CAP_ID_ATS);
    c.write(ats + PCI_ATS_CTRL, 2, 0xffff);
    CHECK(c.read(ats + PCI_ATS_CTRL, 2) == (PCI_ATS_CTRL_ENABLE | PCI_ATS_CTRL_STU));
    const u16 pasid = *c.find_ext_capability(PCI_EXT_CAP_ID_PASID);
    CHECK(((c.read(pasid + PCI_PASID_CAP, 2) >> 8) & 0x1f) == 20);
    c.write(pasid + PCI_PASID_CTRL, 2, 0xffff);
    CHECK(c.read(pasid + PCI_PASID_CTRL, 2) == PCI_PASID_CTRL_ENABLE);
    const u16 pri = *c.find_ext_capability(PCI_EXT_CAP_ID_PRI);
    CHECK(c.read(pri + PCI_PRI_STATUS, 2) == PCI_PRI_STATUS_STOPPED);
    c.set16(pri + PCI_PRI_STATUS, PCI_PRI_STATUS_STOPPED | PCI_PRI_STATUS_RF);
    c.write(pri + PCI_PRI_STATUS, 2, 0xffff);
    CHECK(c.read(pri + PCI_PRI_STATUS, 2) == PCI_PRI_STATUS_STOPPED);
    c.write(pri + PCI_PRI_ALLOC_REQ, 4, 64);
    CHECK(c.read(pri + PCI_PRI_ALLOC_REQ, 4) == 64);
}

TEST_CASE("config builder: Intel PCH LPC RCBA register", "[cfg]") {
    function_params p;
    p.kind = function_kind::pci_endpoint;
    p.vendor_id = PCI_VENDOR_ID_INTEL;
    p.device_id = 0x3b07;
    p.class_code = 0x060100;
    p.rcba = 0xfed1c001;
    auto c = build_config_space(p);
    CHECK(c.read(INTEL_LPC_RCBA_REG, 4) == 0xfed1c001);
    c.write(INTEL_LPC_RCBA_REG, 4, 0xffffffffu);
    CHECK(c.read(INTEL_LPC_RCBA_REG, 4) == 0xffffc001u);
    c.write(INTEL_LPC_RCBA_REG, 4, 0xfed18000);
    CHECK(c.read(INTEL_LPC_RCBA_REG, 4) == 0xfed18000u);
}

TEST_CASE("config builder: captured type 0 bytes verbatim, 256-byte capture padded", "[cfg]") {
    std::vector<u8> bytes(256, 0);
    for (unsigned i = 0x40; i < 0x100; ++i) bytes[i] = u8(i); // device-specific junk survives
    bytes[0] = 0x86, bytes[1] = 0x80, bytes[2] = 0x34, bytes[3] = 0x12;
    bytes[0x06] = 0x10;                        // status: capability list
    bytes[0x0b] = 0x02;                        // class network
    bytes[0x10] = 0x0c, bytes[0x13] = 0xfe;    // BAR0 0xfe00000c, 64-bit prefetchable
    bytes[0x34] = 0x50;
    bytes[0x50] = PCI_CAP_ID_MSI, bytes[0x51] = 0, bytes[0x52] = 0x80, bytes[0x53] = 0; // 64-bit MSI
    function_params p;
    p.kind = function_kind::captured;
    p.config = bytes;
    auto c = build_config_space(p);
    REQUIRE(c.size() == PCI_CFG_SPACE_EXP_SIZE);
    for (unsigned i = 0; i < 256; ++i) REQUIRE(c.read(i, 1) == bytes[i]);
    CHECK(c.read(0x100, 4) == 0); // null extended capability header
    CHECK(c.read(0xffc, 4) == 0);

    // BARs are RO: sizes are unknown in a dump.
    c.write(PCI_BASE_ADDRESS_0, 4, 0xffffffffu);
    CHECK(c.read(PCI_BASE_ADDRESS_0, 4) == 0xfe00000cu);
    // COMMAND and STATUS behave.
    c.write(PCI_COMMAND, 2, 0xffff);
    CHECK(c.read(PCI_COMMAND, 2) == PCI_COMMAND_WMASK);
    // The MSI capability found by walking gets its semantics.
    c.write(0x50 + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE);
    CHECK(c.read(0x50 + PCI_MSI_FLAGS, 2) == (0x80 | PCI_MSI_FLAGS_ENABLE));
    c.write(0x50 + PCI_MSI_DATA_64, 2, 0x1234);
    CHECK(c.read(0x50 + PCI_MSI_DATA_64, 2) == 0x1234);
}

TEST_CASE("config builder: captured type 1 with ACS found in the extended list", "[cfg]") {
    std::vector<u8> bytes(4096, 0);
    bytes[0] = 0x86, bytes[1] = 0x80;
    bytes[0x06] = 0x10;
    bytes[0x0b] = 0x06, bytes[0x0a] = 0x04;
    bytes[0x0e] = 0x01;
    bytes[0x18] = 0x00, bytes[0x19] = 0x02, bytes[0x1a] = 0x04; // firmware numbering
    bytes[0x1c] = 0xf1, bytes[0x1d] = 0x01;                      // 32-bit I/O, closed
    bytes[0x24] = 0xf1, bytes[0x25] = 0xff, bytes[0x26] = 0x01;  // 64-bit prefetchable, closed
    bytes[0x34] = 0x40;
    bytes[0x40] = PCI_CAP_ID_EXP, bytes[0x42] = 0x42;            // v2 root port, no slot
    // extended list: 0x100 AER (skipped), next 0x148 ACS advertising SV RR CR UF, ctrl SV
    auto put32 = [&](unsigned off, u32 v) { for (int i = 0; i < 4; ++i) bytes[off + i] = u8(v >> (8 * i)); };
    put32(0x100, pci_ext_cap_header(PCI_EXT_CAP_ID_ERR, 2, 0x148));
    put32(0x148, pci_ext_cap_header(PCI_EXT_CAP_ID_ACS, 1, 0));
    put32(0x14c, u32(PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF) | u32(PCI_ACS_SV) << 16);
    function_params p;
    p.kind = function_kind::captured;
    p.config = bytes;
    p.multifunction = true;
    auto c = build_config_space(p);
    for (unsigned i = 0; i < 4096; ++i)
        if (i != PCI_HEADER_TYPE) REQUIRE(c.read(i, 1) == bytes[i]);
    CHECK(c.read(PCI_HEADER_TYPE, 1) == 0x81);

    CHECK(c.read(PCI_PRIMARY_BUS, 4) == 0x00040200);
    c.write(PCI_SECONDARY_BUS, 2, 0x0905);
    CHECK(c.read(PCI_PRIMARY_BUS, 4) == 0x00090500);
    c.write(PCI_MEMORY_BASE, 4, 0xfe1ffe00);
    CHECK(c.read(PCI_MEMORY_BASE, 4) == 0xfe10fe00);
    c.write(PCI_PREF_LIMIT_UPPER32, 4, 0x7);
    CHECK(c.read(PCI_PREF_LIMIT_UPPER32, 4) == 7);
    c.write(PCI_IO_BASE, 1, 0x21);
    CHECK(c.read(PCI_IO_BASE, 1) == 0x21);

    c.write(0x148 + PCI_ACS_CTRL, 2, 0xffff);
    CHECK(c.read(0x148 + PCI_ACS_CTRL, 2) == (PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF));
    c.write(0x148 + PCI_ACS_CTRL, 2, PCI_ACS_RR);
    CHECK(c.read(0x148 + PCI_ACS_CTRL, 2) == PCI_ACS_RR);
    c.write(0x40 + PCI_EXP_DEVCTL, 2, 0x0f);
    CHECK(c.read(0x40 + PCI_EXP_DEVCTL, 2) == 0x0f);
}

TEST_CASE("config builder: looping or truncated captures do not hang or crash", "[cfg]") {
    std::vector<u8> bytes(4096, 0);
    bytes[0x06] = 0x10;
    bytes[0x34] = 0x40;
    bytes[0x40] = PCI_CAP_ID_MSI, bytes[0x41] = 0x40; // points at itself
    bytes[0x0e] = 0x00;
    auto put32 = [&](unsigned off, u32 v) { for (int i = 0; i < 4; ++i) bytes[off + i] = u8(v >> (8 * i)); };
    bytes[0x80] = PCI_CAP_ID_EXP;
    bytes[0x41] = 0x80, bytes[0x81] = 0x40;           // 0x40 -> 0x80 -> 0x40 ...
    bytes[0x82] = 0x02;
    put32(0x100, pci_ext_cap_header(PCI_EXT_CAP_ID_ACS, 1, 0x100)); // ext loop
    put32(0xffc, 0xffffffffu);
    function_params p;
    p.kind = function_kind::captured;
    p.config = bytes;
    auto c = build_config_space(p);
    CHECK(c.read(0, 4) == 0);
    // Out-of-range and odd-sized accesses never crash.
    c.write(0xffe, 4, 0xffffffffu);
    CHECK(c.read(0x1000, 4) == 0xffffffffu);
    CHECK(c.read(0xffd, 4) == 0xffffffffu);
    p.config.resize(16);
    CHECK_THROWS_AS(build_config_space(p), std::invalid_argument);
}

TEST_CASE("config builder: Sunrise Point root port ACS control is the dword at cap+8", "[cfg]") {
    auto p = bridge_params(function_kind::root_port);
    p.vendor_id = PCI_VENDOR_ID_INTEL;
    p.device_id = 0xa110;
    p.acs = acs_params{PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF, 0, 0};
    auto c = build_config_space(p);
    CHECK(intel_spt_pch_acs_layout(c));
    const u16 acs = *c.find_ext_capability(PCI_EXT_CAP_ID_ACS);
    c.write(acs + PCI_ACS_CTRL, 2, 0xffff); // the standard place is RO here
    CHECK(c.read(acs + PCI_ACS_CTRL, 2) == 0);
    c.write(acs + PCI_ACS_CAP + 4, 4, 0xffffffffu);
    CHECK(c.read(acs + PCI_ACS_CAP + 4, 4) == (PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF));
    // Not a Sunrise Point port (other device ID, or an endpoint): standard layout.
    p.device_id = 0xa120;
    CHECK(!intel_spt_pch_acs_layout(build_config_space(p)));
    auto e = endpoint_params();
    e.device_id = 0xa110;
    CHECK(!intel_spt_pch_acs_layout(build_config_space(e)));
}

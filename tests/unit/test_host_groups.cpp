// pci_device_group() rules on small fabrics, and the worked example of linux-semantics §1.8.
#include "test_host_util.h"

using namespace iommusim;
using namespace iommusim::test;
using pci::function_kind;
using K = function_kind;

namespace {

constexpr u32 rcba_base = 0xfed1c000;

// linux-semantics §1.8: firmware leaves every bridge unconfigured, the kernel numbers them depth-first.
void build_worked_example(fake_fabric& f, bool rcba_enabled = true) {
    f.at_root(devfn(0, 0), fn(K::host_bridge, 0x8086, 0x0c00));
    auto& rp1 = f.at_root(devfn(1, 0), with_acs(fn(K::root_port, 0x8086, 0x0c01), ACS_ALL4));
    auto& usp = f.below(rp1, devfn(0, 0), fn(K::switch_upstream, 0x10b5, 0x8747));
    auto& dspa = f.below(usp, devfn(0, 0), with_acs(fn(K::switch_downstream, 0x10b5, 0x8747), ACS_ALL4));
    auto& dspb = f.below(usp, devfn(1, 0), fn(K::switch_downstream, 0x10b5, 0x8747));
    auto nvme = fn(K::endpoint, 0x144d, 0xa808);
    nvme.class_code = 0x010802;
    f.below(dspa, devfn(0, 0), nvme);
    f.below(dspb, devfn(0, 0), fn(K::endpoint, 0x15b3, 0x1015, true));
    f.below(dspb, devfn(0, 1), fn(K::endpoint, 0x15b3, 0x1015));
    f.at_root(devfn(2, 0), fn(K::rc_endpoint, 0x8086, 0x0412));
    auto& rp2 = f.at_root(devfn(0x1c, 0), fn(K::root_port, 0x8086, 0x8c10, true));
    rp2.cfg.set_wmask(host::INTEL_MPC_REG, 4, 0xffffffffu);
    f.below(rp2, devfn(0, 0), fn(K::endpoint, 0x10de, 0x1b80, true));
    f.below(rp2, devfn(0, 1), fn(K::endpoint, 0x10de, 0x10f0));
    auto& rp3 = f.at_root(devfn(0x1c, 4), fn(K::root_port, 0x8086, 0x8c18));
    auto& p2p = f.below(rp3, devfn(0, 0), fn(K::pcie_to_pci_bridge, 0x104c, 0x8240));
    f.below(p2p, devfn(4, 0), fn(K::pci_endpoint, 0x1102, 0x0002));
    f.below(p2p, devfn(5, 0), fn(K::pci_endpoint, 0x1274, 0x5000));
    auto& rp4 = f.at_root(devfn(0x1d, 0), fn(K::root_port, 0x1912, 0x0015));
    f.below(rp4, devfn(0, 0), fn(K::endpoint, 0x1b4b, 0x9123));
    auto lpc = fn(K::pci_endpoint, 0x8086, 0x8c44, true);
    lpc.class_code = 0x060100;
    lpc.rcba = rcba_base | (rcba_enabled ? 1u : 0u);
    f.at_root(devfn(0x1f, 0), lpc);
    f.at_root(devfn(0x1f, 3), fn(K::pci_endpoint, 0x8086, 0x8c22));
    f.at_root(devfn(0x1f, 4), fn(K::pci_endpoint, 0x8086, 0x8c24));
    f.mmio[rcba_base + host::INTEL_BSPR_REG] = 0;         // peer cycles allowed by strap
    f.mmio[rcba_base + host::INTEL_UPDCR_REG] = 0x3f;     // all peer decodes on
}

using groups_t = std::vector<std::vector<std::string>>;
groups_t all_groups(const host::kernel& k) {
    groups_t out;
    for (const auto& g : k.groups()) {
        REQUIRE(g.id == int(out.size()));
        out.push_back(members(k, g.id));
    }
    return out;
}

} // namespace

TEST_CASE("worked example of linux-semantics 1.8: probe order and groups", "[host][groups]") {
    fake_fabric f;
    build_worked_example(f);
    auto k = boot(f);
    CHECK(probe_order(*k) == std::vector<std::string>{
                                 "00:00.0", "00:01.0", "00:02.0", "00:1c.0", "00:1c.4", "00:1d.0", "00:1f.0",
                                 "00:1f.3", "00:1f.4", "01:00.0", "02:00.0", "02:01.0", "03:00.0", "04:00.0",
                                 "04:00.1", "05:00.0", "05:00.1", "06:00.0", "07:04.0", "07:05.0", "08:00.0"});
    CHECK(all_groups(*k) == groups_t{{"00:00.0"},
                                     {"00:01.0"},
                                     {"00:02.0"},
                                     {"00:1c.0"},
                                     {"00:1c.4"},
                                     {"00:1d.0", "08:00.0"},
                                     {"00:1f.0", "00:1f.3", "00:1f.4"},
                                     {"01:00.0"},
                                     {"02:00.0"},
                                     {"02:01.0", "04:00.0", "04:00.1"},
                                     {"03:00.0"},
                                     {"05:00.0", "05:00.1"},
                                     {"06:00.0", "07:04.0", "07:05.0"}});
    CHECK(k->log().contains("pci 0000:00:1c.0: Intel PCH root port ACS workaround enabled"));
    CHECK(k->log().contains("pci 0000:08:00.0: Enabling fixed DMA alias to 00.1"));
    CHECK(k->log().contains("pci 0000:04:00.1: Adding to iommu group 9"));
    // Explanations name the mechanism.
    CHECK_THAT(k->group(12)->explanation(), Catch::Contains("behind PCIe-to-PCI bridge 0000:06:00.0") &&
                                                Catch::Contains("requester ID 07:00.0"));
    CHECK_THAT(k->group(9)->explanation(),
               Catch::Contains("Downstream Port 0000:02:01.0 does not isolate (no ACS capability and no quirk): everything below it shares its group"));
    CHECK_THAT(k->group(5)->explanation(), Catch::Contains("Root Port 0000:00:1d.0 does not isolate (no ACS capability and no quirk)"));
    CHECK_THAT(k->group(6)->explanation(), Catch::Contains("multifunction device 0000:00:1f: functions without ACS share a group"));
    CHECK_THAT(k->group(10)->explanation(), Catch::Contains("single-function device with an ACS-isolated path"));
}

TEST_CASE("Intel PCH ACS quirk failure (RCBA disabled) leaves PCH root ports non-isolated", "[host][quirks]") {
    fake_fabric f;
    build_worked_example(f, false);
    auto k = boot(f);
    CHECK(k->log().contains("pci 0000:00:1c.0: Failed to enable Intel PCH ACS quirk"));
    CHECK(gid(*k, "00:1c.4") == gid(*k, "00:1c.0"));  // 1c.4 joins 1c.0's group
    // Everything below either port shares the port's group now.
    CHECK(gid(*k, "05:00.0") == gid(*k, "00:1c.0"));
    CHECK(gid(*k, "07:04.0") == gid(*k, "00:1c.0"));
    CHECK(f.mmio_writes.empty());
}

TEST_CASE("Intel PCH ACS quirk success programs UPDCR and MPC as Linux does", "[host][quirks]") {
    fake_fabric f;
    build_worked_example(f);
    auto k = boot(f);
    REQUIRE(!f.mmio_writes.empty());
    CHECK(f.mmio_writes.front() == std::make_pair(u64(rcba_base + host::INTEL_UPDCR_REG), u64(0)));
    CHECK(k->log().contains("pci 0000:00:1c.0: Disabling UPDCR peer decodes"));
    CHECK(k->log().contains("pci 0000:00:1c.0: Enabling MPC IRBNCE"));
    // Linux writes MPC back with a word access: the IRBNCE bit (26) never reaches the register.
    bool word_write = false;
    for (auto& [bus, df, reg, len, v] : f.config_writes)
        if (bus == 0 && df == devfn(0x1c, 0) && reg == host::INTEL_MPC_REG) word_write = len == 2;
    CHECK(word_write);
    CHECK((f.route(0, 0, devfn(0x1c, 0))->cfg.get32(host::INTEL_MPC_REG) & host::INTEL_MPC_REG_IRBNCE) == 0);
    CHECK((k->find(B("00:1c.0"))->dev_flags & host::PCI_DEV_FLAGS_ACS_ENABLED_QUIRK) != 0);
}

TEST_CASE("pcie_acs_override=downstream,multifunction on the worked example", "[host][override]") {
    fake_fabric f;
    build_worked_example(f);
    host::kernel_options o;
    o.acs_override = "downstream,multifunction";
    auto k = boot(f, o);
    CHECK(k->log().contains("Warning: PCIe ACS overrides enabled; This may allow non-IOMMU protected peer-to-peer DMA"));
    CHECK(members(*k, gid(*k, "02:01.0")) == std::vector<std::string>{"02:01.0"});
    CHECK(gid(*k, "04:00.0") != gid(*k, "04:00.1"));
    CHECK(gid(*k, "05:00.0") != gid(*k, "05:00.1"));
    CHECK(members(*k, gid(*k, "08:00.0")) == std::vector<std::string>{"08:00.0"});
    CHECK(members(*k, gid(*k, "00:1f.0")) == std::vector<std::string>{"00:1f.0", "00:1f.3", "00:1f.4"});
    CHECK(members(*k, gid(*k, "06:00.0")) == std::vector<std::string>{"06:00.0", "07:04.0", "07:05.0"});
}

TEST_CASE("no IOMMU in firmware (or iommu disabled): no ACS enabling, no groups", "[host][groups]") {
    fake_fabric f(host::firmware_iommu::none);
    auto& rp = f.at_root(devfn(1, 0), with_acs(fn(K::root_port, 0x1af4, 0x1000), ACS_ALL4));
    f.below(rp, devfn(0, 0), fn(K::endpoint, 0x1af4, 0x1001));
    auto k = boot(f);
    CHECK(k->groups().empty());
    CHECK(k->devices().size() == 2);
    CHECK(k->facts(*k->find(B("00:01.0"))).acs_ctrl == 0);  // pci_request_acs() never called

    fake_fabric g;
    g.at_root(devfn(1, 0), fn(K::endpoint, 0x1af4, 0x1001));
    host::kernel_options o;
    o.iommu = host::firmware_iommu::none;
    CHECK(boot(g, o)->groups().empty());
}

TEST_CASE("root port with ACS isolates its child, without ACS the child joins the port", "[host][acs]") {
    fake_fabric f;
    auto& rp1 = f.at_root(devfn(1, 0), with_acs(fn(K::root_port, 0x1af4, 0x1000), ACS_ALL4));
    auto& rp2 = f.at_root(devfn(2, 0), fn(K::root_port, 0x1af4, 0x1000));
    f.below(rp1, devfn(0, 0), fn(K::endpoint, 0x1af4, 0x1001));
    f.below(rp2, devfn(0, 0), fn(K::endpoint, 0x1af4, 0x1001));
    auto k = boot(f);
    CHECK(gid(*k, "01:00.0") != gid(*k, "00:01.0"));
    CHECK(gid(*k, "02:00.0") == gid(*k, "00:02.0"));
    // The kernel turned on what the capability advertises.
    CHECK(k->facts(*k->find(B("00:01.0"))).acs_ctrl == ACS_ALL4);
}

TEST_CASE("switch downstream port with ACS isolates, without ACS its children join it", "[host][acs]") {
    fake_fabric f;
    auto& rp = f.at_root(devfn(1, 0), with_acs(fn(K::root_port, 0x1af4, 0x1000), ACS_ALL4));
    auto& usp = f.below(rp, devfn(0, 0), fn(K::switch_upstream, 0x10b5, 0x8747));
    auto& d0 = f.below(usp, devfn(0, 0), with_acs(fn(K::switch_downstream, 0x10b5, 0x8747), ACS_ALL4));
    auto& d1 = f.below(usp, devfn(1, 0), fn(K::switch_downstream, 0x10b5, 0x8747));
    f.below(d0, devfn(0, 0), fn(K::endpoint, 0x1af4, 0x1001));
    f.below(d1, devfn(0, 0), fn(K::endpoint, 0x1af4, 0x1001));
    auto k = boot(f);
    CHECK(members(*k, gid(*k, "03:00.0")) == std::vector<std::string>{"03:00.0"});
    CHECK(members(*k, gid(*k, "02:01.0")) == std::vector<std::string>{"02:01.0", "04:00.0"});
}

TEST_CASE("a non-isolating root port above an ACS switch still merges everything below it", "[host][acs]") {
    fake_fabric f;
    auto& rp = f.at_root(devfn(1, 0), fn(K::root_port, 0x1af4, 0x1000));
    auto& usp = f.below(rp, devfn(0, 0), fn(K::switch_upstream, 0x10b5, 0x8747));
    auto& d0 = f.below(usp, devfn(0, 0), with_acs(fn(K::switch_downstream, 0x10b5, 0x8747), ACS_ALL4));
    f.below(d0, devfn(0, 0), fn(K::endpoint, 0x1af4, 0x1001));
    auto k = boot(f);
    CHECK(members(*k, gid(*k, "00:01.0")) == std::vector<std::string>{"00:01.0", "01:00.0", "02:00.0", "03:00.0"});
    CHECK_THAT(k->group(gid(*k, "00:01.0"))->explanation(), Catch::Contains("the path above 0000:02:00.0 is not isolated"));
}

TEST_CASE("controls not advertised are not required, except EC", "[host][acs]") {
    fake_fabric f;
    // Advertises SV RR CR only: UF is treated as hard-wired, so the port still isolates.
    auto& rp = f.at_root(devfn(1, 0), with_acs(fn(K::root_port, 0x1af4, 0x1000),
                                               pci::PCI_ACS_SV | pci::PCI_ACS_RR | pci::PCI_ACS_CR));
    f.below(rp, devfn(0, 0), fn(K::endpoint, 0x1af4, 0x1001));
    auto k = boot(f);
    CHECK(gid(*k, "01:00.0") != gid(*k, "00:01.0"));
    CHECK(k->acs_enabled(B("00:01.0"), host::REQ_ACS_FLAGS));
    // EC is never waived: not advertised and requested -> not enabled.
    CHECK_FALSE(k->acs_enabled(B("00:01.0"), host::REQ_ACS_FLAGS | pci::PCI_ACS_EC));
    // TB is not part of REQ_ACS_FLAGS and is not enabled for an internal port.
    CHECK((k->facts(*k->find(B("00:01.0"))).acs_ctrl & pci::PCI_ACS_TB) == 0);
}

TEST_CASE("each of SV RR CR UF is required when advertised", "[host][acs]") {
    for (u16 flag : {pci::PCI_ACS_SV, pci::PCI_ACS_RR, pci::PCI_ACS_CR, pci::PCI_ACS_UF}) {
        fake_fabric f;
        auto& rp = f.at_root(devfn(1, 0), with_acs(fn(K::root_port, 0x1af4, 0x1000), ACS_ALL4));
        f.below(rp, devfn(0, 0), fn(K::endpoint, 0x1af4, 0x1001));
        // Make the control bit read-only zero: the kernel's write cannot turn it on.
        const u16 acs = *rp.cfg.find_ext_capability(pci::PCI_EXT_CAP_ID_ACS);
        rp.cfg.set_wmask(acs + pci::PCI_ACS_CTRL, 2, u16(ACS_ALL4 & ~flag));
        auto k = boot(f);
        INFO("flag " << flag);
        CHECK(gid(*k, "01:00.0") == gid(*k, "00:01.0"));
    }
}

TEST_CASE("pci=disable_acs_redir clears RR CR EC and breaks isolation", "[host][acs]") {
    fake_fabric f;
    auto& rp = f.at_root(devfn(1, 0), with_acs(fn(K::root_port, 0x1af4, 0x1000), ACS_ALL4));
    f.below(rp, devfn(0, 0), fn(K::endpoint, 0x1af4, 0x1001));
    f.at_root(devfn(2, 0), fn(K::root_port, 0x1af4, 0x1000));
    host::kernel_options o;
    o.disable_acs_redir = {"0000:00:01.0", "pci:1af4:1000"};
    auto k = boot(f, o);
    CHECK(k->log().contains("pci 0000:00:01.0: disabled ACS redirect"));
    CHECK(k->log().contains("pci 0000:00:02.0: cannot disable ACS redirect for this hardware as it does not have ACS capabilities"));
    CHECK(k->facts(*k->find(B("00:01.0"))).acs_ctrl == (pci::PCI_ACS_SV | pci::PCI_ACS_UF));
    CHECK(gid(*k, "01:00.0") == gid(*k, "00:01.0"));
}

TEST_CASE("external-facing port gets Translation Blocking, its children are untrusted", "[host][acs]") {
    fake_fabric f;
    auto& rp = f.at_root(devfn(1, 0), with_acs(fn(K::root_port, 0x8086, 0x15d3), ACS_ALL4 | pci::PCI_ACS_TB));
    f.below(rp, devfn(0, 0), fn(K::endpoint, 0x1af4, 0x1001));
    host::kernel_options o;
    o.external_facing = {B("00:01.0")};
    auto k = boot(f, o);
    CHECK(k->facts(*k->find(B("00:01.0"))).acs_ctrl == (ACS_ALL4 | pci::PCI_ACS_TB));
    CHECK(k->find(B("01:00.0"))->untrusted);
}

TEST_CASE("multifunction endpoint without ACS: functions share one group", "[host][multifunction]") {
    fake_fabric f;
    auto& rp = f.at_root(devfn(1, 0), with_acs(fn(K::root_port, 0x1af4, 0x1000), ACS_ALL4));
    f.below(rp, devfn(0, 0), fn(K::endpoint, 0x1af4, 0x2000, true));
    f.below(rp, devfn(0, 1), fn(K::endpoint, 0x1af4, 0x2000));
    f.below(rp, devfn(0, 2), fn(K::endpoint, 0x1af4, 0x2000));
    auto k = boot(f);
    CHECK(members(*k, gid(*k, "01:00.0")) == std::vector<std::string>{"01:00.0", "01:00.1", "01:00.2"});
}

TEST_CASE("multifunction with ACS on some functions: the asymmetric split", "[host][multifunction]") {
    fake_fabric f;
    auto& rp = f.at_root(devfn(1, 0), with_acs(fn(K::root_port, 0x1af4, 0x1000), ACS_ALL4));
    // Function 0 has ACS (RR CR advertised and enabled), 1 and 2 have none.
    f.below(rp, devfn(0, 0), with_acs(fn(K::endpoint, 0x1af4, 0x2000, true), pci::PCI_ACS_RR | pci::PCI_ACS_CR));
    f.below(rp, devfn(0, 1), fn(K::endpoint, 0x1af4, 0x2000));
    f.below(rp, devfn(0, 2), fn(K::endpoint, 0x1af4, 0x2000));
    auto k = boot(f);
    CHECK(members(*k, gid(*k, "01:00.0")) == std::vector<std::string>{"01:00.0"});
    CHECK(members(*k, gid(*k, "01:00.1")) == std::vector<std::string>{"01:00.1", "01:00.2"});
}

TEST_CASE("functions > 0 count as multifunction even without the header bit", "[host][multifunction]") {
    fake_fabric f;
    f.at_root(devfn(3, 0), fn(K::pci_endpoint, 0x1af4, 0x2000, true));
    f.at_root(devfn(3, 1), fn(K::pci_endpoint, 0x1af4, 0x2000, false));
    // Function 0 without the bit hides later functions.
    f.at_root(devfn(4, 0), fn(K::pci_endpoint, 0x1af4, 0x2000, false));
    f.at_root(devfn(4, 1), fn(K::pci_endpoint, 0x1af4, 0x2000, false));
    auto k = boot(f);
    CHECK(k->find(B("00:03.1"))->multifunction);
    CHECK(k->find(B("00:04.1")) == nullptr);
    CHECK(gid(*k, "00:03.0") == gid(*k, "00:03.1"));
}

TEST_CASE("RCiEPs: single-function own group, multifunction non-Intel shares", "[host][rciep]") {
    fake_fabric f;
    f.at_root(devfn(2, 0), fn(K::rc_endpoint, 0x1234, 0x0001));
    f.at_root(devfn(3, 0), fn(K::rc_endpoint, 0x1234, 0x0002, true));
    f.at_root(devfn(3, 1), fn(K::rc_endpoint, 0x1234, 0x0003));
    auto k = boot(f);
    CHECK(members(*k, gid(*k, "00:02.0")) == std::vector<std::string>{"00:02.0"});
    CHECK(gid(*k, "00:03.0") == gid(*k, "00:03.1"));
}

TEST_CASE("Intel RCiEP quirk isolates multifunction Intel RCiEPs from 5.1 on", "[host][rciep][version]") {
    auto build = [](fake_fabric& f) {
        f.at_root(devfn(0x14, 0), fn(K::rc_endpoint, 0x8086, 0xa36d, true));
        f.at_root(devfn(0x14, 2), fn(K::rc_endpoint, 0x8086, 0xa36f));
        f.at_root(devfn(0x14, 3), fn(K::pci_endpoint, 0x8086, 0xa370));  // no PCIe cap: never quirked
    };
    fake_fabric f;
    build(f);
    auto k = boot(f);
    CHECK(gid(*k, "00:14.0") != gid(*k, "00:14.2"));
    CHECK(members(*k, gid(*k, "00:14.3")) == std::vector<std::string>{"00:14.3"});
    fake_fabric g;
    build(g);
    host::kernel_options o;
    o.kernel_version = "5.0";
    auto k50 = boot(g, o);
    CHECK(members(*k50, gid(*k50, "00:14.0")) == std::vector<std::string>{"00:14.0", "00:14.2", "00:14.3"});
}

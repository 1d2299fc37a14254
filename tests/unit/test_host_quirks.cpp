// Quirks from drivers/pci/quirks.c as the simulated kernel applies them: ACS quirk table entries,
// the Sunrise Point enable quirk, DMA alias fixups and bridge flags, and the out-of-tree ACS override.
#include "test_host_util.h"

#include "sim/host/dma_alias.h"

using namespace iommusim;
using namespace iommusim::test;
using K = pci::function_kind;

TEST_CASE("Sunrise Point root port: ACS control is the dword at cap+8", "[host][quirks]") {
    fake_fabric f;
    auto& rp0 = f.at_root(devfn(0x1c, 0), with_acs(fn(K::root_port, 0x8086, 0xa110, true), ACS_ALL4));
    auto& rp1 = f.at_root(devfn(0x1c, 1), with_acs(fn(K::root_port, 0x8086, 0xa111), ACS_ALL4));
    for (auto* rp : {&rp0, &rp1}) {
        const u16 acs = *rp->cfg.find_ext_capability(pci::PCI_EXT_CAP_ID_ACS);
        rp->cfg.set_wmask(acs + pci::PCI_ACS_CTRL, 2, 0);       // the spec's word is not the real control
        rp->cfg.set_wmask(acs + host::INTEL_SPT_ACS_CTRL, 4, 0x7f);
    }
    f.below(rp0, devfn(0, 0), fn(K::endpoint, 0x1af4, 0x1001));
    auto k = boot(f);
    CHECK(k->log().contains("pci 0000:00:1c.0: Intel SPT PCH root port ACS workaround enabled"));
    const u16 acs = *rp0.cfg.find_ext_capability(pci::PCI_EXT_CAP_ID_ACS);
    CHECK(rp0.cfg.get32(acs + host::INTEL_SPT_ACS_CTRL) == ACS_ALL4);
    CHECK(gid(*k, "00:1c.0") != gid(*k, "00:1c.1"));
    CHECK(gid(*k, "01:00.0") != gid(*k, "00:1c.0"));
}

TEST_CASE("AMD southbridge quirk isolates root-bus multifunction functions only with IVRS", "[host][quirks]") {
    auto build = [](fake_fabric& f) {
        f.at_root(devfn(0x14, 0), fn(K::pci_endpoint, 0x1002, 0x4385, true));
        f.at_root(devfn(0x14, 2), fn(K::pci_endpoint, 0x1002, 0x4383));
    };
    fake_fabric ivrs(host::firmware_iommu::ivrs);
    build(ivrs);
    auto k = boot(ivrs);
    CHECK(gid(*k, "00:14.0") != gid(*k, "00:14.2"));
    fake_fabric dmar(host::firmware_iommu::dmar);
    build(dmar);
    auto k2 = boot(dmar);
    CHECK(gid(*k2, "00:14.0") == gid(*k2, "00:14.2"));
}

TEST_CASE("multifunction endpoint quirk (Intel 82599 10fb) splits functions", "[host][quirks]") {
    fake_fabric f;
    auto& rp = f.at_root(devfn(1, 0), with_acs(fn(K::root_port, 0x1af4, 0x1000), ACS_ALL4));
    f.below(rp, devfn(0, 0), fn(K::endpoint, 0x8086, 0x10fb, true));
    f.below(rp, devfn(0, 1), fn(K::endpoint, 0x8086, 0x10fb));
    auto& rp2 = f.at_root(devfn(2, 0), with_acs(fn(K::root_port, 0x1af4, 0x1000), ACS_ALL4));
    f.below(rp2, devfn(0, 0), fn(K::endpoint, 0x8086, 0x1234, true));  // not in the table
    f.below(rp2, devfn(0, 1), fn(K::endpoint, 0x8086, 0x1234));
    auto k = boot(f);
    CHECK(gid(*k, "01:00.0") != gid(*k, "01:00.1"));
    CHECK(gid(*k, "02:00.0") == gid(*k, "02:00.1"));
    CHECK(k->facts(*k->find(B("01:00.0"))).acs_reason == "ACS quirk pci_quirk_mf_endpoint_acs reports it isolated");
}

TEST_CASE("root-port quirks (QCOM, Cavium, Zhaoxin) isolate ports without ACS", "[host][quirks]") {
    fake_fabric f;
    for (auto [slot, v, d] : {std::tuple{1u, u16(0x17cb), u16(0x0400)}, std::tuple{2u, u16(0x177d), u16(0xaf84)},
                              std::tuple{3u, u16(0x1d17), u16(0x0715)}, std::tuple{4u, u16(0x1d17), u16(0x0800)}}) {
        auto& rp = f.at_root(devfn(slot, 0), fn(K::root_port, v, d));
        f.below(rp, devfn(0, 0), fn(K::endpoint, 0x1af4, 0x1001));
    }
    auto k = boot(f);
    CHECK(gid(*k, "01:00.0") != gid(*k, "00:01.0"));
    CHECK(gid(*k, "02:00.0") != gid(*k, "00:02.0"));
    CHECK(gid(*k, "03:00.0") != gid(*k, "00:03.0"));
    CHECK(gid(*k, "04:00.0") == gid(*k, "00:04.0"));  // Zhaoxin port outside the list: "not isolated"
}

TEST_CASE("PCIe-to-PCI bridge alias: secondary bus, devfn 00.0", "[host][alias]") {
    fake_fabric f;
    auto& rp = f.at_root(devfn(1, 0), with_acs(fn(K::root_port, 0x1af4, 0x1000), ACS_ALL4));
    auto& br = f.below(rp, devfn(0, 0), fn(K::pcie_to_pci_bridge, 0x104c, 0x8240));
    f.below(br, devfn(4, 0), fn(K::pci_endpoint, 0x1102, 0x0002));
    auto k = boot(f);
    const auto facts = k->facts(*k->find(B("02:04.0")));
    CHECK(facts.dma_aliases == std::vector<u16>{0x0220, 0x0200});
    CHECK(gid(*k, "02:04.0") == gid(*k, "01:00.0"));
}

TEST_CASE("conventional PCI bridge alias: the bridge's own requester ID", "[host][alias]") {
    fake_fabric f;
    auto& rp = f.at_root(devfn(1, 0), with_acs(fn(K::root_port, 0x1af4, 0x1000), ACS_ALL4));
    auto& br = f.below(rp, devfn(0, 0), fn(K::pci_bridge, 0x1011, 0x0026));
    f.below(br, devfn(2, 0), fn(K::pci_endpoint, 0x1102, 0x0002));
    f.below(br, devfn(3, 0), fn(K::pci_endpoint, 0x1102, 0x0002));
    auto k = boot(f);
    CHECK(k->facts(*k->find(B("02:02.0"))).dma_aliases == std::vector<u16>{0x0210, 0x0100});
    CHECK(members(*k, gid(*k, "01:00.0")) == std::vector<std::string>{"01:00.0", "02:02.0", "02:03.0"});
    CHECK_THAT(k->group(gid(*k, "01:00.0"))->explanation(), Catch::Contains("behind conventional PCI bridge 0000:01:00.0"));
}

TEST_CASE("reverse (PCI-to-PCIe) bridge alias: the bridge's own requester ID", "[host][alias]") {
    fake_fabric f;
    auto& br = f.at_root(devfn(5, 0), fn(K::pci_to_pcie_bridge, 0x12d8, 0xe130));
    f.below(br, devfn(0, 0), fn(K::endpoint, 0x1af4, 0x1001));
    auto k = boot(f);
    CHECK(k->facts(*k->find(B("01:00.0"))).dma_aliases == std::vector<u16>{0x0100, 0x0028});
    CHECK(gid(*k, "01:00.0") == gid(*k, "00:05.0"));
    CHECK_THAT(k->group(gid(*k, "00:05.0"))->explanation(), Catch::Contains("PCI-to-PCIe bridge 0000:00:05.0"));
}

TEST_CASE("PCIe-bridge alias quirk for PCIe-to-PCI bridges without a PCIe capability", "[host][alias]") {
    fake_fabric f;
    auto& rp = f.at_root(devfn(1, 0), with_acs(fn(K::root_port, 0x8086, 0x1234), ACS_ALL4));
    auto& asm1083 = f.below(rp, devfn(0, 0), fn(K::pci_bridge, 0x1b21, 0x1080));
    f.below(asm1083, devfn(1, 0), fn(K::pci_endpoint, 0x1102, 0x0002));
    f.at_root(devfn(2, 0), fn(K::pci_bridge, 0x1b21, 0x1080));  // on the root bus: quirk does not apply
    auto k = boot(f);
    CHECK((k->find(B("01:00.0"))->dev_flags & host::PCI_DEV_FLAG_PCIE_BRIDGE_ALIAS) != 0);
    CHECK((k->find(B("00:02.0"))->dev_flags & host::PCI_DEV_FLAG_PCIE_BRIDGE_ALIAS) == 0);
    CHECK(k->facts(*k->find(B("02:01.0"))).dma_aliases == std::vector<u16>{0x0208, 0x0200});
    CHECK(gid(*k, "02:01.0") == gid(*k, "01:00.0"));
}

TEST_CASE("func0 DMA alias quirk (Ricoh) joins function 0's group", "[host][alias]") {
    fake_fabric f;
    auto& rp = f.at_root(devfn(1, 0), with_acs(fn(K::root_port, 0x1af4, 0x1000), ACS_ALL4));
    f.below(rp, devfn(0, 0), with_acs(fn(K::endpoint, 0x1180, 0xe822, true), pci::PCI_ACS_RR | pci::PCI_ACS_CR));
    f.below(rp, devfn(0, 2), with_acs(fn(K::endpoint, 0x1180, 0xe832), pci::PCI_ACS_RR | pci::PCI_ACS_CR));
    auto k = boot(f);
    CHECK(k->log().contains("pci 0000:01:00.2: Enabling fixed DMA alias to 00.0"));
    CHECK(gid(*k, "01:00.2") == gid(*k, "01:00.0"));
    CHECK_THAT(k->group(gid(*k, "01:00.0"))->explanation(), Catch::Contains("DMA alias (quirk) relation"));
}

TEST_CASE("func1 DMA alias to a ghost function keeps the device alone, a real function 1 joins", "[host][alias]") {
    fake_fabric f;
    auto& rp1 = f.at_root(devfn(1, 0), with_acs(fn(K::root_port, 0x1af4, 0x1000), ACS_ALL4));
    f.below(rp1, devfn(0, 0), fn(K::endpoint, 0x1b4b, 0x9123));  // function 1 absent: ghost requester
    auto& rp2 = f.at_root(devfn(2, 0), with_acs(fn(K::root_port, 0x1af4, 0x1000), ACS_ALL4));
    f.below(rp2, devfn(0, 0), with_acs(fn(K::endpoint, 0x1b4b, 0x9230, true), pci::PCI_ACS_RR | pci::PCI_ACS_CR));
    f.below(rp2, devfn(0, 1), with_acs(fn(K::endpoint, 0x1b4b, 0x9230), pci::PCI_ACS_RR | pci::PCI_ACS_CR));
    auto k = boot(f);
    CHECK(k->facts(*k->find(B("01:00.0"))).dma_aliases == std::vector<u16>{0x0100, 0x0101});
    CHECK(members(*k, gid(*k, "01:00.0")) == std::vector<std::string>{"01:00.0"});
    CHECK(gid(*k, "02:00.0") == gid(*k, "02:00.1"));
}

TEST_CASE("fixed DMA alias (Adaptec 3405) to devfn 01.0", "[host][alias]") {
    fake_fabric f;
    auto& rp = f.at_root(devfn(1, 0), with_acs(fn(K::root_port, 0x1af4, 0x1000), ACS_ALL4));
    auto& br = f.below(rp, devfn(0, 0), with_acs(fn(K::switch_upstream, 0x8086, 0x0370), 0));
    auto& dsp = f.below(br, devfn(0, 0), with_acs(fn(K::switch_downstream, 0x8086, 0x0372), ACS_ALL4));
    auto hba = fn(K::endpoint, 0x9005, 0x0285);
    hba.subsystem_vendor_id = 0x9005;
    hba.subsystem_id = 0x02bb;
    f.below(dsp, devfn(0, 0), hba);
    auto k = boot(f);
    CHECK(k->log().contains("pci 0000:03:00.0: Enabling fixed DMA alias to 01.0"));
    CHECK(k->facts(*k->find(B("03:00.0"))).dma_aliases == std::vector<u16>{0x0300, 0x0308});
}

TEST_CASE("Broadcom Vulcan root bridge (BRIDGE_XLATE_ROOT) stops the alias walk", "[host][alias]") {
    fake_fabric f;
    auto& root = f.at_root(devfn(0, 0), fn(K::pci_bridge, 0x14e4, 0x9000));
    auto& conv = f.below(root, devfn(1, 0), fn(K::pci_bridge, 0x1011, 0x0026));
    f.below(conv, devfn(0, 0), fn(K::pci_endpoint, 0x1102, 0x0002));
    auto k = boot(f);
    CHECK((k->find(B("00:00.0"))->dev_flags & host::PCI_DEV_FLAGS_BRIDGE_XLATE_ROOT) != 0);
    // The conventional bridge 01:01.0 aliases; the walk stops at 00:00.0 instead of adding its ID.
    CHECK(k->facts(*k->find(B("02:00.0"))).dma_aliases == std::vector<u16>{0x0200, 0x0108});
}

TEST_CASE("ACS override: id: entries and multifunction, no opinion on ACS-capable devices", "[host][override]") {
    fake_fabric f;
    auto& rp = f.at_root(devfn(1, 0), fn(K::root_port, 0xabcd, 0x0001));
    f.below(rp, devfn(0, 0), fn(K::endpoint, 0x1af4, 0x1001));
    // A port with an ACS capability whose RR cannot be enabled: the override must not rescue it.
    auto& rp2 = f.at_root(devfn(2, 0), with_acs(fn(K::root_port, 0x1af4, 0x1000), ACS_ALL4));
    rp2.cfg.set_wmask(*rp2.cfg.find_ext_capability(pci::PCI_EXT_CAP_ID_ACS) + pci::PCI_ACS_CTRL, 2,
                      pci::PCI_ACS_SV | pci::PCI_ACS_CR | pci::PCI_ACS_UF);
    f.below(rp2, devfn(0, 0), fn(K::endpoint, 0x1af4, 0x1001));
    host::kernel_options o;
    o.acs_override = "id:abcd:0001,downstream";
    auto k = boot(f, o);
    CHECK(gid(*k, "01:00.0") != gid(*k, "00:01.0"));
    CHECK(gid(*k, "02:00.0") == gid(*k, "00:02.0"));
    const auto& table = k->facts(*k->find(B("00:01.0")));
    CHECK(table.acs_reason == "ACS quirk pcie_acs_overrides (out-of-tree) reports it isolated");
}

TEST_CASE("ACS quirk table follows the kernel version", "[host][quirks][version]") {
    fake_fabric f;
    auto& rp = f.at_root(devfn(1, 0), fn(K::root_port, 0x1d17, 0x0715));  // Zhaoxin port, quirk from 5.7
    f.below(rp, devfn(0, 0), fn(K::endpoint, 0x1af4, 0x1001));
    host::kernel_options o;
    o.kernel_version = "5.4";
    auto k = boot(f, o);
    CHECK(gid(*k, "01:00.0") == gid(*k, "00:01.0"));
}

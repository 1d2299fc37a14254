// Enumeration by config cycles: slots and functions, bus numbering (firmware kept / kernel assigned),
// device-list order, hostile config, and the cost of a large topology.
#include "test_host_util.h"

#include <chrono>

using namespace iommusim;
using namespace iommusim::test;
using K = pci::function_kind;

TEST_CASE("firmware bus numbers are kept (pass 0), unconfigured bridges numbered after them (pass 1)", "[host][scan]") {
    fake_fabric f;
    auto& a = f.at_root(devfn(1, 0), with_acs(fn(K::root_port, 0x1af4, 0x1000), ACS_ALL4));  // unconfigured
    auto& b = f.at_root(devfn(2, 0), with_buses(with_acs(fn(K::root_port, 0x1af4, 0x1000), ACS_ALL4), 0, 5, 6));
    f.below(a, devfn(0, 0), fn(K::endpoint, 0x1af4, 0x1001));
    f.below(b, devfn(0, 0), fn(K::endpoint, 0x1af4, 0x1002));
    auto k = boot(f);
    REQUIRE(k->find(B("05:00.0")) != nullptr);
    REQUIRE(k->find(B("07:00.0")) != nullptr);  // max was 6 after pass 0
    CHECK(a.cfg.get8(pci::PCI_PRIMARY_BUS) == 0);
    CHECK(a.cfg.get8(pci::PCI_SECONDARY_BUS) == 7);
    CHECK(a.cfg.get8(pci::PCI_SUBORDINATE_BUS) == 7);
    CHECK(b.cfg.get8(pci::PCI_SECONDARY_BUS) == 5);
    CHECK(b.cfg.get8(pci::PCI_SUBORDINATE_BUS) == 6);
    // Device list (= probe) order: pass-0 subtrees are registered before pass-1 ones.
    CHECK(probe_order(*k) == std::vector<std::string>{"00:01.0", "00:02.0", "05:00.0", "07:00.0"});
    CHECK(gid(*k, "05:00.0") == 2);
    CHECK(gid(*k, "07:00.0") == 3);
}

TEST_CASE("pci=assign-busses renumbers firmware-configured bridges", "[host][scan]") {
    fake_fabric f;
    auto& b = f.at_root(devfn(2, 0), with_buses(fn(K::root_port, 0x1af4, 0x1000), 0, 5, 6));
    f.below(b, devfn(0, 0), fn(K::endpoint, 0x1af4, 0x1002));
    host::kernel_options o;
    o.assign_busses = true;
    auto k = boot(f, o);
    CHECK(k->find(B("01:00.0")) != nullptr);
    CHECK(b.cfg.get8(pci::PCI_SECONDARY_BUS) == 1);
}

TEST_CASE("devices are found only through config reads, 0xffff vendor means absent", "[host][scan]") {
    fake_fabric f;
    f.at_root(devfn(0, 0), fn(K::host_bridge, 0x8086, 0x29c0));
    f.at_root(devfn(7, 0), fn(K::endpoint, 0x1af4, 0x1041));
    auto k = boot(f);
    REQUIRE(k->devices().size() == 2);
    const auto facts = k->facts(*k->find(B("00:07.0")));
    CHECK(facts.vendor == 0x1af4);
    CHECK(facts.device == 0x1041);
    CHECK(facts.pcie_type_name == "Endpoint");
    CHECK(k->facts(*k->find(B("00:00.0"))).pcie_type_name == "conventional PCI");
    CHECK(k->log().contains("pci 0000:00:07.0: [1af4:1041] type 00 class 0xff0000"));
}

TEST_CASE("below a PCIe downstream port only device 0 is scanned unless pcie_scan_all", "[host][scan]") {
    auto build = [](fake_fabric& f) {
        auto& rp = f.at_root(devfn(1, 0), fn(K::root_port, 0x1af4, 0x1000));
        f.below(rp, devfn(0, 0), fn(K::endpoint, 0x1af4, 0x1001));
        f.below(rp, devfn(1, 0), fn(K::endpoint, 0x1af4, 0x1001));
        f.route(0, 0, devfn(1, 0))->downstream_link = false;  // hardware that answers anyway
    };
    fake_fabric f;
    build(f);
    CHECK(boot(f)->find(B("01:01.0")) == nullptr);
    fake_fabric g;
    build(g);
    host::kernel_options o;
    o.pcie_scan_all = true;
    CHECK(boot(g, o)->find(B("01:01.0")) != nullptr);
}

TEST_CASE("multiple root buses are scanned in firmware order", "[host][scan]") {
    fake_fabric f;
    f.add_root_bus(0, 0x80, 0xff);
    f.at_root(devfn(1, 0), fn(K::endpoint, 0x1af4, 0x1001), 1);
    auto& rp = f.at_root(devfn(2, 0), fn(K::root_port, 0x1af4, 0x1000), 1);
    f.below(rp, devfn(0, 0), fn(K::endpoint, 0x1af4, 0x1001));
    f.at_root(devfn(3, 0), fn(K::endpoint, 0x1af4, 0x1001), 0);
    auto k = boot(f);
    CHECK(probe_order(*k) == std::vector<std::string>{"00:03.0", "80:01.0", "80:02.0", "81:00.0"});
}

TEST_CASE("hostile config: a capability list that loops ends at the TTL", "[host][hostile]") {
    fake_fabric f;
    pci::config_space c(4096);
    c.set16(pci::PCI_VENDOR_ID, 0x1af4);
    c.set16(pci::PCI_DEVICE_ID, 0x10ff);
    c.set16(pci::PCI_STATUS, pci::PCI_STATUS_CAP_LIST);
    c.set8(pci::PCI_CAPABILITY_LIST, 0x40);
    c.set8(0x40, pci::PCI_CAP_ID_MSI);
    c.set8(0x41, 0x40);  // next = itself
    f.at_root_raw(devfn(4, 0), std::move(c));
    // A PCIe function whose extended capability list loops too.
    auto p = fn(K::endpoint, 0x1af4, 0x1100);
    auto& n = f.at_root(devfn(5, 0), p);
    n.cfg.set32(0x100, pci::pci_ext_cap_header(pci::PCI_EXT_CAP_ID_ERR, 1, 0x100));
    auto k = boot(f);
    CHECK(k->devices().size() == 2);
    CHECK_FALSE(pci_is_pcie(*k->find(B("00:04.0"))));
    CHECK(k->find(B("00:05.0"))->acs_cap == 0);
    CHECK(f.config_reads < 2000);
}

TEST_CASE("hostile config: bus numbers pointing back up are reconfigured, overlaps not scanned twice", "[host][hostile]") {
    fake_fabric f;
    // Secondary == its own bus: a loop in the routing. Linux: "bridge configuration invalid".
    auto& loop = f.at_root(devfn(1, 0), with_buses(fn(K::pci_bridge, 0x1011, 0x0026), 0, 0, 0x10));
    f.below(loop, devfn(0, 0), fn(K::pci_endpoint, 0x1102, 0x0002));
    // Two bridges claiming the same range.
    auto& a = f.at_root(devfn(2, 0), with_buses(fn(K::pci_bridge, 0x1011, 0x0026), 0, 0x20, 0x20));
    auto& b = f.at_root(devfn(3, 0), with_buses(fn(K::pci_bridge, 0x1011, 0x0026), 0, 0x20, 0x20));
    f.below(a, devfn(0, 0), fn(K::pci_endpoint, 0x1102, 0x0003));
    f.below(b, devfn(0, 0), fn(K::pci_endpoint, 0x1102, 0x0004));
    // A bridge whose child claims its parent's bus as secondary.
    auto& up = f.at_root(devfn(4, 0), with_buses(fn(K::pci_bridge, 0x1011, 0x0026), 0, 0x30, 0x31));
    f.below(up, devfn(0, 0), with_buses(fn(K::pci_bridge, 0x1011, 0x0026), 0x30, 0x30, 0x31));
    auto k = boot(f);
    CHECK(k->log().contains("pci 0000:00:01.0: bridge configuration invalid ([bus 00-10]), reconfiguring"));
    CHECK(k->log().contains("pci 0000:00:03.0: [bus 20-20] overlaps bus 20 already reached through another bridge"));
    CHECK(k->log().contains("pci 0000:30:00.0: bridge configuration invalid ([bus 30-31]), reconfiguring"));
    CHECK(k->find(B("20:00.0"))->device == 0x0003);
    // The looping bridge got a fresh number after the firmware ranges and its device was found there.
    const auto* br = k->find(B("00:01.0"));
    REQUIRE(br->subordinate != nullptr);
    CHECK(br->subordinate->number > 0x31);
    CHECK(k->find(bdf{0, br->subordinate->number, 0})->device == 0x0002);
}

TEST_CASE("mislabelled switch port: 6.1 corrects the type field the way the kernel does", "[host][scan][version]") {
    fake_fabric f;
    auto& rp = f.at_root(devfn(1, 0), fn(K::root_port, 0x1af4, 0x1000));
    auto& usp = f.below(rp, devfn(0, 0), fn(K::switch_downstream, 0x10b5, 0x8747));  // claims downstream
    f.below(usp, devfn(0, 0), fn(K::switch_downstream, 0x10b5, 0x8747));
    auto k = boot(f);
    CHECK(k->log().contains("pci 0000:01:00.0: claims to be downstream port but is acting as upstream port, correcting type"));
    // The type field is cleared and the new type ORed in unshifted: the port reads as an Endpoint.
    CHECK(pci_pcie_type(*k->find(B("01:00.0"))) == pci::PCI_EXP_TYPE_ENDPOINT);
}

TEST_CASE("before 5.3 a mislabelled port type is left as the hardware reports it", "[host][scan][version]") {
    fake_fabric f;
    auto& rp = f.at_root(devfn(1, 0), fn(K::root_port, 0x1af4, 0x1000));
    auto& usp = f.below(rp, devfn(0, 0), fn(K::switch_downstream, 0x10b5, 0x8747));
    f.below(usp, devfn(0, 0), fn(K::switch_downstream, 0x10b5, 0x8747));
    host::kernel_options o;
    o.kernel_version = "4.19";
    auto k = boot(f, o);
    CHECK_FALSE(k->log().contains("correcting type"));
    CHECK(pci_pcie_type(*k->find(B("01:00.0"))) == pci::PCI_EXP_TYPE_DOWNSTREAM);
}

TEST_CASE("unconfigured bridges are reported invalid in pass 0 and numbered in pass 1", "[host][scan]") {
    fake_fabric f;
    auto& br = f.at_root(devfn(1, 0), fn(K::pci_bridge, 0x1011, 0x0026));
    // Primary hard-wired to 0 on a bridge that is not on bus 0: corrected, not "invalid".
    auto hw0 = with_buses(fn(K::pci_bridge, 0x1011, 0x0026), 0, 2, 2);
    auto& inner = f.below(br, devfn(0, 0), hw0);
    inner.cfg.set_wmask(pci::PCI_PRIMARY_BUS, 1, 0);
    f.below(inner, devfn(0, 0), fn(K::pci_endpoint, 0x1102, 0x0002));
    auto k = boot(f);
    CHECK(k->log().contains("pci 0000:00:01.0: bridge configuration invalid ([bus 00-00]), reconfiguring"));
    CHECK(k->log().contains("pci 0000:01:00.0: Primary bus is hard wired to 0"));
    CHECK(k->find(B("02:00.0")) != nullptr);
    CHECK(br.cfg.get8(pci::PCI_SUBORDINATE_BUS) == 2);
}

TEST_CASE("an unconfigured bridge inside a full firmware range gets no bus", "[host][scan][hostile]") {
    fake_fabric f;
    auto& rp = f.at_root(devfn(1, 0), with_buses(fn(K::root_port, 0x1af4, 0x1000), 0, 5, 5));
    auto& usp = f.below(rp, devfn(0, 0), fn(K::switch_upstream, 0x10b5, 0x8747));  // unconfigured
    f.below(usp, devfn(0, 0), fn(K::switch_downstream, 0x10b5, 0x8747));
    auto k = boot(f);
    CHECK(k->log().contains("pci 0000:05:00.0: devices behind bridge are unusable because [bus 06-05] cannot be assigned for them"));
    CHECK(k->find(B("05:00.0"))->subordinate == nullptr);
    CHECK(k->devices().size() == 2);
}

TEST_CASE("10,000 devices enumerate and group well under a second", "[host][scan][perf]") {
    fake_fabric f;
    auto& rp = f.at_root(devfn(1, 0), with_acs(fn(K::root_port, 0x1af4, 0x1000), ACS_ALL4));
    auto& usp = f.below(rp, devfn(0, 0), fn(K::switch_upstream, 0x10b5, 0x8796));
    unsigned count = 2;
    for (unsigned d = 0; d < 20; ++d) {
        auto& dsp = f.below(usp, devfn(d, 0), with_acs(fn(K::switch_downstream, 0x10b5, 0x8796), ACS_ALL4));
        auto& br = f.below(dsp, devfn(0, 0), fn(K::pcie_to_pci_bridge, 0x104c, 0x8240));
        count += 2;
        for (unsigned slot = 0; slot < 32; ++slot)
            for (unsigned func = 0; func < 8; ++func) {
                pci::config_space c(256);
                c.set16(pci::PCI_VENDOR_ID, 0x1af4);
                c.set16(pci::PCI_DEVICE_ID, u16(0x2000 + func));
                c.set8(pci::PCI_HEADER_TYPE, func == 0 ? pci::PCI_HEADER_TYPE_MFD : 0);
                f.below_raw(br, devfn(slot, func), std::move(c));
                ++count;
            }
    }
    REQUIRE(count >= 5000);
    // Plus many PCIe multifunction endpoints on root buses of other segments.
    for (u16 seg = 1; seg <= 20; ++seg) {
        f.add_root_bus(seg, 0, 0xff);
        for (unsigned slot = 0; slot < 32; ++slot)
            for (unsigned func = 0; func < 8; ++func) {
                f.at_root(devfn(slot, func), fn(K::rc_endpoint, 0x1234, 0x5678, func == 0), seg);
                ++count;
            }
    }
    REQUIRE(count >= 10000);
    const auto t0 = std::chrono::steady_clock::now();
    auto k = boot(f);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(k->devices().size() == count);
    INFO("boot took " << secs << " s");
#if defined(__OPTIMIZE__) && !defined(__SANITIZE_ADDRESS__)
    CHECK(secs < 1.0);
#else
    CHECK(secs < 10.0);  // unoptimised or sanitised build: only guard against quadratic blow-ups
#endif
    CHECK(k->groups().size() == 2 + 20 * 2 + 20 * 32);  // RP, USP, DSPs, bridges, one per RCiEP slot
}

namespace {
const host::pci_resource* res(const host::pci_dev& d, unsigned index) {
    for (const auto& r : d.resources)
        if (r.index == index) return &r;
    return nullptr;
}
} // namespace

TEST_CASE("BARs: base and size read back as __pci_read_base does, 64-bit once, flags, ROM", "[host][scan][bars]") {
    fake_fabric f;
    auto p = fn(K::endpoint, 0x8086, 0x1533);
    p.bars = {{0, 0x20000, false, false, false}, {1, 0x100, true, false, false}, {2, u64(1) << 33, false, true, true},
              {5, 0x4000, false, false, true}};
    p.rom_size = 0x10000;
    auto& n = f.at_root(devfn(3, 0), p);
    // What firmware left in the registers (model-side writes, as a BIOS would have programmed them).
    n.cfg.set32(pci::PCI_BASE_ADDRESS_0, 0xfe000000);
    n.cfg.set32(pci::PCI_BASE_ADDRESS_0 + 4, 0x0000e001);
    n.cfg.set32(pci::PCI_BASE_ADDRESS_0 + 8, 0x0000000c | 0x00000000);
    n.cfg.set32(pci::PCI_BASE_ADDRESS_0 + 12, 0x00000102);
    n.cfg.set32(pci::PCI_BASE_ADDRESS_0 + 20, 0xfd004008);
    n.cfg.set32(pci::PCI_ROM_ADDRESS, 0xfc000001);
    n.cfg.set16(pci::PCI_COMMAND, pci::PCI_COMMAND_MEMORY | pci::PCI_COMMAND_IO | pci::PCI_COMMAND_MASTER);
    auto k = boot(f);
    const host::pci_dev& d = *k->find(B("00:03.0"));
    REQUIRE(d.resources.size() == 5);
    const auto* b0 = res(d, 0);
    REQUIRE(b0);
    CHECK(b0->base == 0xfe000000);
    CHECK(b0->size == 0x20000);
    CHECK_FALSE(b0->io);
    CHECK_FALSE(b0->mem64);
    const auto* b1 = res(d, 1);
    REQUIRE(b1);
    CHECK(b1->io);
    CHECK(b1->base == 0xe000);
    CHECK(b1->size == 0x100);
    const auto* b2 = res(d, 2);
    REQUIRE(b2);
    CHECK(b2->mem64);
    CHECK(b2->prefetch);
    CHECK(b2->base == 0x10200000000ull);
    CHECK(b2->size == u64(1) << 33);
    CHECK(res(d, 3) == nullptr); // the upper half of BAR 2
    CHECK(res(d, 4) == nullptr); // unimplemented
    const auto* b5 = res(d, 5);
    REQUIRE(b5);
    CHECK(b5->base == 0xfd004000);
    CHECK(b5->prefetch);
    const auto* rom = res(d, host::PCI_ROM_RESOURCE);
    REQUIRE(rom);
    CHECK(rom->base == 0xfc000000);
    CHECK(rom->size == 0x10000);
    CHECK(rom->rom_enabled);
    // Everything restored: registers as firmware left them, decode back on.
    CHECK(n.cfg.get32(pci::PCI_BASE_ADDRESS_0) == 0xfe000000);
    CHECK(n.cfg.get32(pci::PCI_BASE_ADDRESS_0 + 12) == 0x102);
    CHECK(n.cfg.get32(pci::PCI_ROM_ADDRESS) == 0xfc000001);
    CHECK(n.cfg.get16(pci::PCI_COMMAND) == (pci::PCI_COMMAND_MEMORY | pci::PCI_COMMAND_IO | pci::PCI_COMMAND_MASTER));
}

TEST_CASE("BARs: decode is off while a BAR holds all ones, except on host bridges (mmio_always_on)", "[host][scan][bars]") {
    fake_fabric f;
    auto ep = fn(K::endpoint, 0x1af4, 0x1000);
    ep.bars = {{0, 0x1000, false, false, false}};
    auto& n = f.at_root(devfn(2, 0), ep);
    n.cfg.set16(pci::PCI_COMMAND, pci::PCI_COMMAND_MEMORY);
    auto hb = fn(K::host_bridge, 0x8086, 0x29c0);
    hb.bars = {{0, 0x1000, false, false, false}};
    auto& h = f.at_root(devfn(0, 0), hb);
    h.cfg.set16(pci::PCI_COMMAND, pci::PCI_COMMAND_MEMORY);
    boot(f);
    // Replay the config writes: while BAR 0 of 00:02.0 holds all ones, COMMAND has no decode bit.
    bool ep_off = false, ep_sized = false, hb_cmd_written = false;
    u16 ep_cmd = pci::PCI_COMMAND_MEMORY;
    for (auto& [bus, df, reg, len, v] : f.config_writes) {
        if (bus != 0) continue;
        if (df == devfn(2, 0) && reg == pci::PCI_COMMAND) ep_cmd = u16(v), ep_off = ep_off || !(v & pci::PCI_COMMAND_MEMORY);
        if (df == devfn(2, 0) && reg == pci::PCI_BASE_ADDRESS_0 && v == 0xffffffffu) {
            ep_sized = true;
            CHECK((ep_cmd & (pci::PCI_COMMAND_MEMORY | pci::PCI_COMMAND_IO)) == 0);
        }
        if (df == devfn(0, 0) && reg == pci::PCI_COMMAND) hb_cmd_written = true;
    }
    CHECK(ep_off);
    CHECK(ep_sized);
    CHECK_FALSE(hb_cmd_written);
    CHECK(n.cfg.get16(pci::PCI_COMMAND) == pci::PCI_COMMAND_MEMORY);
}

TEST_CASE("BARs: a bridge's two BARs are read, a function without BARs has no resources", "[host][scan][bars]") {
    fake_fabric f;
    auto rp = fn(K::root_port, 0x1af4, 0x1000);
    rp.bars = {{0, 0x4000, false, true, false}};
    auto& port = f.at_root(devfn(1, 0), rp);
    port.cfg.set32(pci::PCI_BASE_ADDRESS_0, 0xfe100004);
    f.below(port, 0, fn(K::endpoint, 0x1af4, 0x1001));
    auto k = boot(f);
    const auto& p = *k->find(B("00:01.0"));
    REQUIRE(p.resources.size() == 1);
    CHECK(p.resources[0].index == 0);
    CHECK(p.resources[0].mem64);
    CHECK(p.resources[0].base == 0xfe100000);
    CHECK(p.resources[0].size == 0x4000);
    CHECK(k->find(B("01:00.0"))->resources.empty());
}

// Driver binding, group DMA ownership and vfio viability in the simulated kernel (v6.1 rules of
// drivers/base/dd.c, pci_dma_configure, iommu.c's owner_cnt, vfio's GROUP_GET_STATUS), including the
// vfio-oracle's findings: a group whose sibling is on a host DMA driver is not viable and cannot be
// claimed (EPERM), and a host driver cannot bind to a member of a group in use (EBUSY).
#include "sim/host/driver/driver_binding.h"
#include "test_host_util.h"

#include <cerrno>

using namespace iommusim;
using namespace iommusim::test;
using host::driver_kind;
using K = pci::function_kind;

namespace {

// The vfio-oracle's viability topology: 01:00.0 + 01:00.1 (one multifunction slot without ACS: one
// group) behind root port 00:1c.0, 02:00.0 alone behind root port 00:1d.0; both ports with ACS. The
// endpoints are 82574L NICs (8086:10d3), which a distro binds to e1000e.
void oracle_topology(fake_fabric& f) {
    f.at_root(devfn(0, 0), fn(K::host_bridge, 0x8086, 0x29c0));
    auto& rp1 = f.at_root(devfn(0x1c, 0), with_acs(fn(K::root_port, 0x8086, 0x2940), ACS_ALL4));
    auto& rp2 = f.at_root(devfn(0x1d, 0), with_acs(fn(K::root_port, 0x8086, 0x2940), ACS_ALL4));
    f.below(rp1, devfn(0, 0), fn(K::endpoint, 0x8086, 0x10d3, true));
    f.below(rp1, devfn(0, 1), fn(K::endpoint, 0x8086, 0x10d3, true));
    f.below(rp2, devfn(0, 0), fn(K::endpoint, 0x8086, 0x10d3));
}

std::string drv(host::kernel& k, const char* b) {
    const host::driver_info* d = k.drivers().driver_of(B(b));
    return d ? d->name : "(none)";
}

const int vfio_owner = 0;  // any address stands for the VFIO group that claims ownership
const int other_owner = 1;

} // namespace

TEST_CASE("driver binding: boot binds PCIe ports to pcieport and known endpoints to in-box drivers", "[host][driver]") {
    fake_fabric f;
    oracle_topology(f);
    auto nvme = fn(K::endpoint, 0x144d, 0xa808);
    nvme.class_code = 0x010802;
    auto& rp3 = f.at_root(devfn(0x1e, 0), fn(K::root_port, 0x8086, 0x2940));
    f.below(rp3, devfn(0, 0), nvme);
    f.at_root(devfn(0x1f, 0), fn(K::pci_bridge, 0x8086, 0x244e));
    f.at_root(devfn(3, 0), fn(K::endpoint, 0x1234, 0x5678));
    auto k = boot(f);
    CHECK(drv(*k, "00:00.0") == "(none)");   // host bridge: no driver
    CHECK(drv(*k, "00:1c.0") == "pcieport");
    CHECK(drv(*k, "00:1d.0") == "pcieport");
    CHECK(drv(*k, "00:1f.0") == "(none)");   // conventional PCI bridge: pcieport refuses it
    CHECK(drv(*k, "01:00.0") == "e1000e");
    CHECK(drv(*k, "01:00.1") == "e1000e");
    CHECK(drv(*k, "02:00.0") == "e1000e");
    CHECK(drv(*k, "03:00.0") == "nvme");     // by class code
    CHECK(drv(*k, "00:03.0") == "(none)");   // unknown IDs stay unbound
    const auto* port = k->drivers().find_driver("pcieport");
    REQUIRE(port);
    CHECK(port->driver_managed_dma);
    CHECK(k->drivers().find_driver("e1000e")->kind == driver_kind::host_dma);
    CHECK_FALSE(k->drivers().find_driver("e1000e")->driver_managed_dma);
    // Kernel DMA users count on their group; pcieport does not.
    CHECK(k->drivers().owner_count(gid(*k, "01:00.0")) == 2);
    CHECK(k->drivers().owner_count(gid(*k, "00:1c.0")) == (gid(*k, "00:1c.0") == gid(*k, "01:00.0") ? 2u : 0u));
    CHECK(k->drivers().dma_owner_claimed(gid(*k, "02:00.0")));

    // Another policy: nothing autoprobed, one device chosen explicitly.
    host::boot_binding policy;
    policy.autoprobe = false;
    policy.drivers.push_back({B("02:00.0"), "vfio-pci"});
    CHECK(k->drivers().boot(policy) == 0);
    CHECK(drv(*k, "01:00.0") == "(none)");
    CHECK(drv(*k, "02:00.0") == "vfio-pci");
    CHECK(drv(*k, "00:1c.0") == "pcieport");
    CHECK(k->drivers().owner_count(gid(*k, "01:00.0")) == 0);
    CHECK(k->drivers().owner_count(gid(*k, "02:00.0")) == 0);
}

TEST_CASE("driver binding: the vfio-oracle viability flow", "[host][driver][vfio]") {
    fake_fabric f;
    oracle_topology(f);
    auto k = boot(f);
    auto& d = k->drivers();
    const int ga = gid(*k, "01:00.0"), gb = gid(*k, "02:00.0");
    REQUIRE(ga == gid(*k, "01:00.1"));
    REQUIRE(ga != gb);
    // All three start on e1000e: nothing is viable.
    CHECK_FALSE(d.group_viable(ga));
    CHECK_FALSE(d.group_viable(gb));
    // 1. 01:00.0 -> vfio-pci while 01:00.1 stays on e1000e: not viable, SET_CONTAINER's claim is EPERM.
    REQUIRE(d.bind(B("01:00.0"), "vfio-pci") == 0);
    CHECK(drv(*k, "01:00.0") == "vfio-pci");
    CHECK(d.owner_count(ga) == 1);
    CHECK_FALSE(d.group_viable(ga));
    CHECK(d.claim_dma_owner(ga, &vfio_owner) == -EPERM);
    CHECK(d.dma_owner(ga) == nullptr);
    // 2. 01:00.1 unbound: viable, and the claim succeeds.
    REQUIRE(d.bind(B("01:00.1"), "none") == 0);
    CHECK(drv(*k, "01:00.1") == "(none)");
    CHECK(d.owner_count(ga) == 0);
    CHECK(d.group_viable(ga));
    CHECK_FALSE(d.dma_owner_claimed(ga));
    REQUIRE(d.claim_dma_owner(ga, &vfio_owner) == 0);
    CHECK(d.dma_owner(ga) == &vfio_owner);
    CHECK(d.dma_owner_claimed(ga));
    CHECK(d.group_viable(ga));  // owned by a user (it has a container): viable
    // One owner at a time: a second claim is EPERM too (owner_cnt != 0).
    CHECK(d.claim_dma_owner(ga, &other_owner) == -EPERM);
    // 4. A host driver may not bind to a member of a group in use; the device stays unbound.
    CHECK(d.bind(B("01:00.1"), "e1000e") == -EBUSY);
    CHECK(drv(*k, "01:00.1") == "(none)");
    CHECK(d.owner_count(ga) == 1);
    CHECK(d.group_viable(ga));
    // Drivers that manage DMA themselves may: pci-stub, vfio-pci.
    CHECK(d.bind(B("01:00.1"), "pci-stub") == 0);
    CHECK(d.bind(B("01:00.1"), "vfio-pci") == 0);
    // A release by someone else changes nothing; by the owner, the host driver may come back.
    d.release_dma_owner(ga, &other_owner);
    CHECK(d.dma_owner(ga) == &vfio_owner);
    d.release_dma_owner(ga, &vfio_owner);
    CHECK_FALSE(d.dma_owner_claimed(ga));
    CHECK(d.bind(B("01:00.1"), "e1000e") == 0);
    CHECK_FALSE(d.group_viable(ga));
    // The other group is untouched throughout.
    CHECK(drv(*k, "02:00.0") == "e1000e");
    CHECK(d.owner_count(gb) == 1);
}

TEST_CASE("driver binding: errno of bind", "[host][driver]") {
    fake_fabric f;
    oracle_topology(f);
    f.at_root(devfn(0x1f, 0), fn(K::pci_bridge, 0x8086, 0x244e));
    auto k = boot(f);
    auto& d = k->drivers();
    CHECK(d.bind(B("07:00.0"), "vfio-pci") == -ENODEV);      // no such device
    // An unknown driver: no drivers/<name>/bind; the old driver was already unbound by then.
    CHECK(d.bind(B("02:00.0"), "no-such-driver") == -ENOENT);
    CHECK(drv(*k, "02:00.0") == "(none)");
    CHECK(d.owner_count(gid(*k, "02:00.0")) == 0);
    // vfio-pci refuses bridges (vfio_pci_core_register_device: normal header only) with EINVAL and says so.
    CHECK(d.bind(B("00:1c.0"), "vfio-pci") == -EINVAL);
    CHECK(drv(*k, "00:1c.0") == "(none)");
    CHECK(k->log().contains("vfio-pci: probe of 0000:00:1c.0 failed with error -22"));
    CHECK(d.bind(B("00:1c.0"), "pcieport") == 0);
    // pcieport only takes PCIe ports; host drivers only endpoints: ENODEV, quietly.
    const unsigned port_users = d.owner_count(gid(*k, "00:1c.0"));
    CHECK(d.bind(B("02:00.0"), "pcieport") == -ENODEV);
    CHECK(d.bind(B("00:1f.0"), "pcieport") == -ENODEV);
    CHECK(d.bind(B("00:1c.0"), "e1000e") == -ENODEV);
    CHECK(d.owner_count(gid(*k, "00:1c.0")) == port_users);  // the failed probe gave its use back
    CHECK_FALSE(k->log().contains("pcieport: probe of"));
    CHECK(d.bind(B("00:1f.0"), "pci-stub") == 0);            // pci-stub claims anything
    // Rebinding the same driver is unbind + bind: fine, and counts stay balanced.
    REQUIRE(d.bind(B("02:00.0"), "e1000e") == 0);
    REQUIRE(d.bind(B("02:00.0"), "e1000e") == 0);
    CHECK(d.owner_count(gid(*k, "02:00.0")) == 1);
    // A further host driver can be registered.
    d.add_driver({"dma_engine_drv", driver_kind::host_dma, false});
    CHECK(d.bind(B("02:00.0"), "dma_engine_drv") == 0);
    CHECK(d.owner_count(gid(*k, "02:00.0")) == 1);
    CHECK(d.claim_dma_owner(12345, &vfio_owner) == -ENODEV);
    CHECK(d.claim_dma_owner(gid(*k, "02:00.0"), nullptr) == -EINVAL);
    CHECK_FALSE(d.group_viable(12345));
}

TEST_CASE("driver binding: vfio hooks take part in bind and unbind", "[host][driver][vfio]") {
    fake_fabric f;
    oracle_topology(f);
    auto k = boot(f);
    auto& d = k->drivers();
    int probes = 0, removes = 0;
    int probe_result = 0, remove_result = 0;
    d.set_vfio_hooks({[&](host::pci_dev&) { ++probes; return probe_result; },
                      [&](host::pci_dev&) { ++removes; return remove_result; }});
    REQUIRE(d.bind(B("02:00.0"), "vfio-pci") == 0);
    CHECK(probes == 1);
    // The device is open: the hook refuses the unbind (the real kernel would block), nothing changes.
    remove_result = -EBUSY;
    CHECK(d.bind(B("02:00.0"), "e1000e") == -EBUSY);
    CHECK(drv(*k, "02:00.0") == "vfio-pci");
    remove_result = 0;
    CHECK(d.bind(B("02:00.0"), "none") == 0);
    CHECK(removes == 2);
    // A failing registration fails the bind.
    probe_result = -ENOMEM;
    CHECK(d.bind(B("02:00.0"), "vfio-pci") == -ENOMEM);
    CHECK(drv(*k, "02:00.0") == "(none)");
}

TEST_CASE("driver binding: no IOMMU means no groups, vfio-pci cannot bind, host drivers always can", "[host][driver]") {
    fake_fabric f(host::firmware_iommu::none);
    oracle_topology(f);
    auto k = boot(f);
    auto& d = k->drivers();
    CHECK(drv(*k, "01:00.0") == "e1000e");
    CHECK(d.bind(B("01:00.0"), "vfio-pci") == -EINVAL);  // vfio_group_find_or_alloc: no iommu_group
    CHECK(d.bind(B("01:00.0"), "e1000e") == 0);
}

TEST_CASE("driver binding: before 5.19 viability is vfio_dev_viable per member", "[host][driver][vfio]") {
    fake_fabric f;
    oracle_topology(f);
    host::kernel_options o;
    o.kernel_version = "5.15";
    auto k = boot(f, o);
    auto& d = k->drivers();
    const int ga = gid(*k, "01:00.0");
    CHECK_FALSE(d.group_viable(ga));
    REQUIRE(d.bind(B("01:00.0"), "vfio-pci") == 0);
    CHECK_FALSE(d.group_viable(ga));
    REQUIRE(d.bind(B("01:00.1"), "pci-stub") == 0);  // vfio_driver_allowed[]
    CHECK(d.group_viable(ga));
    REQUIRE(d.bind(B("01:00.1"), "none") == 0);
    CHECK(d.group_viable(ga));
}

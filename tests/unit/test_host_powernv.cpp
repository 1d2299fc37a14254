// The simulated powernv kernel over a pure PHB (models/iommu/tce/phb.h as OPAL): PE assignment per bus,
// groups per PE, the default and bypass windows in the TVT, TCE tables in kernel memory, EEH through OPAL.
#include "models/iommu/tce/phb.h"
#include "sim/host/drivers/tce/pnv_phb.h"
#include "test_host_util.h"

#include <array>
#include <cerrno>
#include <cstring>
#include <map>

using namespace iommusim;
using namespace iommusim::test;
using pci::function_kind;

namespace {

// A fabric with memory (4 KiB pages on demand) and one pure PHB per root bus, answering OPAL by id.
class power_fabric : public fake_fabric {
public:
    explicit power_fabric(size_t phbs = 1) : fake_fabric(host::firmware_iommu::opal) {
        for (size_t i = 1; i < phbs; ++i) add_root_bus(u16(i), 0, 0xff);
        for (size_t i = 0; i < phbs; ++i) {
            m_phbs.push_back(std::make_unique<tce::phb>(tce::tce_params{}));
            host::opal_phb_info info;
            info.opal_id = i;
            info.m64_base = m64_base(i);
            info.m64_size = m64_size;
            info.tce_pgsizes = tce::PHB3_PGSIZES;
            info.regs = 0; // PHB4-style kills through OPAL
            m_info.push_back(info);
        }
    }
    host::firmware_info firmware() const override {
        host::firmware_info fw = fake_fabric::firmware();
        fw.opal_phbs = m_info;
        fw.memory_size = u64(16) << 30;
        return fw;
    }
    tce::phb* opal_phb(u64 id) override { return id < m_phbs.size() ? m_phbs[id].get() : nullptr; }
    bool memory_read(u64 a, void* d, u64 l) override {
        auto* p = static_cast<unsigned char*>(d);
        for (u64 i = 0; i < l; ++i) p[i] = byte(a + i);
        return true;
    }
    bool memory_write(u64 a, const void* d, u64 l) override {
        const auto* p = static_cast<const unsigned char*>(d);
        for (u64 i = 0; i < l; ++i) m_mem[(a + i) >> 12][(a + i) & 0xfff] = p[i];
        return true;
    }
    unsigned char byte(u64 a) const {
        auto it = m_mem.find(a >> 12);
        return it == m_mem.end() ? 0 : it->second[a & 0xfff];
    }
    tce::phb& phb(size_t i) { return *m_phbs.at(i); }
    // Each PHB's M64 window: 64 GiB (256 MiB segments) at 1 TiB + i * 64 GiB.
    static constexpr u64 m64_size = u64(64) << 30;
    static u64 m64_base(size_t i) { return (u64(1) << 40) + i * m64_size; }

private:
    std::vector<std::unique_ptr<tce::phb>> m_phbs;
    std::vector<host::opal_phb_info> m_info;
    std::map<u64, std::array<unsigned char, 4096>> m_mem;
};

pci::function_params endpoint(bool mf = false) {
    auto p = fn(function_kind::endpoint, 0x1014, 0x1234, mf);
    p.class_code = 0x020000;
    return p;
}

// A root port with a switch below it (buses 1..4): its two downstream ports lead to buses 3 and 4.
std::pair<fake_fabric::node*, fake_fabric::node*> root_port_and_switch(power_fabric& f, size_t root) {
    auto& rp = f.at_root(0x00, with_buses(fn(function_kind::root_port, 0x1014, 0x03dc), 0, 1, 4), root);
    auto& up = f.below(rp, 0x00, with_buses(fn(function_kind::switch_upstream, 0x10b5, 0x8725), 1, 2, 4));
    auto& dn0 = f.below(up, 0x00, with_buses(fn(function_kind::switch_downstream, 0x10b5, 0x8725), 2, 3, 3));
    auto& dn1 = f.below(up, 0x08, with_buses(fn(function_kind::switch_downstream, 0x10b5, 0x8725), 2, 4, 4));
    return {&dn0, &dn1};
}

// PHB0: root port -> endpoint (2 functions); root port 00:00.0 only on the root bus.
// PHB1: root port -> switch up (bus 1) -> two downstream ports (bus 2) -> an endpoint each (bus 3, 4).
// PHB2: root port -> PCIe-to-PCI bridge (bus 1) -> buses 2..3 (a PCI-PCI bridge on bus 2 leads to bus 3).
void build(power_fabric& f) {
    auto& rp0 = f.at_root(0x00, with_buses(fn(function_kind::root_port, 0x1014, 0x03dc), 0, 1, 1), 0);
    f.below(rp0, 0x00, endpoint(true));
    f.below(rp0, 0x01, endpoint());

    auto [dn0p, dn1p] = root_port_and_switch(f, 1);
    auto& dn0 = *dn0p;
    auto& dn1 = *dn1p;
    f.below(dn0, 0x00, endpoint());
    f.below(dn1, 0x00, endpoint());

    auto& rp2 = f.at_root(0x00, with_buses(fn(function_kind::root_port, 0x1014, 0x03dc), 0, 1, 3), 2);
    auto& p2p = f.below(rp2, 0x00, with_buses(fn(function_kind::pcie_to_pci_bridge, 0x1b36, 0x000e), 1, 2, 3));
    auto pe = fn(function_kind::pci_endpoint, 0x8086, 0x100e);
    pe.class_code = 0x020000;
    f.below(p2p, 0x08, pe);
    auto& pb = f.below(p2p, 0x10, with_buses(fn(function_kind::pci_bridge, 0x1b36, 0x0001), 2, 3, 3));
    f.below(pb, 0x00, pe);
}

host::pnv_ioda_pe* pe_of(host::kernel& k, const char* dev) {
    for (auto& phb : k.pnv_phbs())
        if (phb->owns(*k.find(B(dev)))) return phb->pe_of(*k.find(B(dev)));
    return nullptr;
}

} // namespace

TEST_CASE("powernv: a PE per bus, the subtree below a PCIe-to-PCI bridge one PE, a group per PE with DMA",
          "[host][powernv]") {
    power_fabric f(3);
    build(f);
    auto k = boot(f);
    REQUIRE(k->tce_iommu());
    // Groups in bus-add order; bridges before the PE's first endpoint get none.
    CHECK(members(*k, 0) == std::vector<std::string>{"01:00.0", "01:00.1"});
    CHECK(gid(*k, "0000:00:00.0") == host::no_group);
    CHECK(gid(*k, "0001:01:00.0") == host::no_group);
    CHECK(gid(*k, "0001:02:00.0") == host::no_group);
    CHECK(gid(*k, "0001:02:01.0") == host::no_group);
    CHECK(gid(*k, "0001:03:00.0") != gid(*k, "0001:04:00.0")); // no ACS, yet apart: different PEs
    CHECK(gid(*k, "0002:01:00.0") == host::no_group);
    // Buses 2..3 below the PCIe-to-PCI bridge: one PE, and the PCI bridge on bus 2 after the endpoint joins.
    CHECK(gid(*k, "0002:02:01.0") == gid(*k, "0002:03:00.0"));
    CHECK(gid(*k, "0002:02:02.0") == gid(*k, "0002:02:01.0"));
    // PE numbers: reserved 255, root 254, then allocated downwards.
    CHECK(pe_of(*k, "0000:00:00.0")->number() == 254);
    CHECK(pe_of(*k, "0000:01:00.0")->number() == 253);
    CHECK(pe_of(*k, "0001:01:00.0")->number() == 253);
    CHECK(pe_of(*k, "0001:02:00.0")->number() == 252);
    CHECK(pe_of(*k, "0001:03:00.0")->number() == 251);
    CHECK(pe_of(*k, "0001:04:00.0")->number() == 250);
    CHECK(pe_of(*k, "0002:03:00.0")->number() == 252);
    // The RTT as OPAL was told: bus 2..3 of PHB2 compare 7 bits (two buses), the others exact.
    CHECK(f.phb(2).pe_map().pe_of(0x0308) == 252);
    CHECK(f.phb(1).pe_map().pe_of(0x0400) == 250);
    CHECK(f.phb(1).pe_map().pe_of(0x0500) == tce::tce_params{}.reserved_pe);
    CHECK(k->log().contains("[PE# fc] Secondary bus 0x0000000000000002..0x0000000000000003 associated with PE#fc"));
    CHECK(k->log().contains("pci 0002:03:00.0: Added to existing PE#fc"));
    CHECK_THAT(k->group(gid(*k, "0002:03:00.0"))->explanation(), Catch::Contains("buses 02..03"));
    // The group's PE facts (what groups --json shows).
    const auto& pe = *k->group(0)->pe;
    CHECK(pe.tce32_size == 0x80000000);
    CHECK(pe.pgsizes == tce::PHB3_PGSIZES);
    CHECK(pe.max_dynamic_windows == 2);
    CHECK(pe.v2_only);
    // 2 GiB of 4 KiB TCEs in one level: 4 MiB of table, twice (the userspace copy).
    CHECK(pe.v2_default_window_locked_bytes == u64(8) << 20);
}

TEST_CASE("powernv: a bus range that is no power of two is matched exactly by the PHB", "[host][powernv]") {
    power_fabric f(1);
    auto& rp = f.at_root(0x00, with_buses(fn(function_kind::root_port, 0x1014, 0x03dc), 0, 1, 4), 0);
    auto& p2p = f.below(rp, 0x00, with_buses(fn(function_kind::pcie_to_pci_bridge, 0x1b36, 0x000e), 1, 2, 4));
    auto& pb = f.below(p2p, 0x00, with_buses(fn(function_kind::pci_bridge, 0x1b36, 0x0001), 2, 3, 4));
    auto& pb2 = f.below(pb, 0x00, with_buses(fn(function_kind::pci_bridge, 0x1b36, 0x0001), 3, 4, 4));
    auto ep = fn(function_kind::pci_endpoint, 0x8086, 0x100e);
    f.below(pb2, 0x00, ep);
    auto k = boot(f);
    CHECK(k->log().contains("Number of subordinate buses 3 unsupported"));
    // Linux's reverse map claims buses 2..4, so the device on bus 4 is "added" to the PE ...
    CHECK(k->log().contains("pci 0000:04:00.0: Added to existing PE#fc"));
    CHECK(gid(*k, "0000:04:00.0") != host::no_group);
    // ... but the PHB compares the whole bus number: its DMA would come from the reserved PE.
    CHECK(f.phb(0).pe_map().pe_of(0x0200) == 252);
    CHECK(f.phb(0).pe_map().pe_of(0x0400) == 255);
}

TEST_CASE("powernv: the kernel's default window and bypass in the TVT, handed over and back", "[host][powernv]") {
    power_fabric f(1);
    auto& rp = f.at_root(0x00, with_buses(fn(function_kind::root_port, 0x1014, 0x03dc), 0, 1, 1), 0);
    f.below(rp, 0x00, endpoint());
    auto k = boot(f);
    host::iommu_table_group* tg = k->table_group(gid(*k, "0000:01:00.0"));
    REQUIRE(tg != nullptr);
    const unsigned pe = 253;
    // pnv_pci_ioda2_setup_default_config: 16 GiB of memory -> a 16 GiB window of 64 KiB TCEs, two levels.
    const auto& w0 = f.phb(0).window(pe, 0);
    CHECK(w0.mode == tce::dma_window_state::kind::tce);
    CHECK(w0.window.page_shift == 16);
    CHECK(w0.window.levels == 2);
    CHECK(w0.window.size == u64(16) << 30);
    CHECK(f.phb(0).window(pe, 1).mode == tce::dma_window_state::kind::bypass);
    REQUIRE(tg->tables[0]);
    CHECK(tg->tables[0]->bus_size() == u64(16) << 30);

    tg->take_ownership();
    CHECK(f.phb(0).window(pe, 0).mode == tce::dma_window_state::kind::disabled);
    CHECK(f.phb(0).window(pe, 1).mode == tce::dma_window_state::kind::disabled);
    CHECK(!tg->tables[0]);

    // A user's 64-bit window: two levels of 64 KiB TCEs at 1 << 59.
    std::shared_ptr<host::iommu_table> t;
    REQUIRE(tg->create_table(1, 16, u64(1) << 30, 2, t) == 0);
    CHECK(t->bus_start() == u64(1) << 59);
    CHECK(t->allocated_size() == tg->get_table_size(16, u64(1) << 30, 2));
    REQUIRE(tg->set_window(1, t) == 0);
    CHECK(f.phb(0).window(pe, 1).mode == tce::dma_window_state::kind::tce);
    u64 hpa = 0x40010000;
    auto dir = host::dma_direction::from_device; // write-only mappings are made readable too
    const u64 index = t->offset() + 5;
    REQUIRE(t->xchg_no_kill(index, hpa, dir) == 0);
    CHECK(hpa == 0);
    CHECK(dir == host::dma_direction::none);
    CHECK(t->get(index) == (0x40010000 | tce::TCE_PCI_READ | tce::TCE_PCI_WRITE));
    // The PHB finds the same TCE in memory (big-endian, through the indirect level).
    const auto r = f.phb(0).route(0x0100, (u64(1) << 59) + 5 * 0x10000 + 0x123);
    CHECK(r.what == tce::dma_route::kind::translate);
    u64 out_of_range_hpa = 0x1000;
    auto d2 = host::dma_direction::bidirectional;
    CHECK(t->xchg_no_kill(t->offset() + t->size(), out_of_range_hpa, d2) == -EINVAL);
    CHECK(tg->unset_window(1) == 0);
    CHECK(f.phb(0).window(pe, 1).mode == tce::dma_window_state::kind::disabled);

    tg->release_ownership();
    CHECK(f.phb(0).window(pe, 0).mode == tce::dma_window_state::kind::tce);
    CHECK(f.phb(0).window(pe, 1).mode == tce::dma_window_state::kind::bypass);
}

TEST_CASE("powernv: EEH operations through OPAL freeze state", "[host][powernv][eeh]") {
    power_fabric f(1);
    auto& rp = f.at_root(0x00, with_buses(fn(function_kind::root_port, 0x1014, 0x03dc), 0, 1, 1), 0);
    f.below(rp, 0x00, endpoint());
    auto k = boot(f);
    host::eeh_pe_ops* eeh = k->table_group(gid(*k, "0000:01:00.0"))->eeh();
    REQUIRE(eeh != nullptr);
    CHECK(eeh->get_state() == tce::EEH_PE_STATE_NORMAL);
    f.phb(0).eeh(253).freeze(tce::freeze_reason::dma_out_of_window, 0x100000000);
    CHECK(eeh->get_state() == tce::EEH_PE_STATE_STOPPED_IO_DMA);
    CHECK(eeh->set_option(tce::EEH_OPT_THAW_MMIO) == 0);
    CHECK(eeh->get_state() == tce::EEH_PE_STATE_STOPPED_DMA);
    CHECK(eeh->set_option(tce::EEH_OPT_THAW_DMA) == 0);
    CHECK(eeh->get_state() == tce::EEH_PE_STATE_NORMAL);
    CHECK(eeh->set_option(7) == -EINVAL);
    CHECK(eeh->reset(tce::EEH_RESET_HOT) == 0);
    CHECK(eeh->get_state() == tce::EEH_PE_STATE_RESET);
    CHECK(eeh->reset(tce::EEH_RESET_DEACTIVATE) == 0);
    CHECK(eeh->get_state() == tce::EEH_PE_STATE_NORMAL); // re-enabled: thawed after the reset
    CHECK(eeh->reset(2) == -EINVAL);
    CHECK(eeh->inject_err(2, 0, 0, 0) == -EINVAL);
    CHECK(eeh->inject_err(tce::EEH_ERR_TYPE_32, 20, 0, 0) == -EINVAL);
    CHECK(eeh->inject_err(tce::EEH_ERR_TYPE_32, tce::EEH_ERR_FUNC_LD_MEM_ADDR, 0, 0) == 0);
    CHECK(eeh->configure() == 0);
}

TEST_CASE("powernv: M64 segments pick the PE of a bus with 64-bit prefetchable BARs, a compound PE",
          "[host][powernv][m64]") {
    power_fabric f(1);
    auto [dn0p, dn1p] = root_port_and_switch(f, 0);
    auto& dn0 = *dn0p;
    auto& dn1 = *dn1p;
    // A GPU-like function whose 512 MiB prefetchable BAR firmware put at M64 segments 4 and 5, and an
    // endpoint with 32-bit BARs only.
    auto gpu = endpoint();
    pci::bar_params bar;
    bar.index = 0;
    bar.size = u64(512) << 20;
    bar.mem64 = true;
    bar.prefetchable = true;
    gpu.bars = {bar};
    auto& g = f.below(dn0, 0x00, gpu);
    const u64 where = power_fabric::m64_base(0) + 4 * (u64(256) << 20); // as firmware assigned it
    g.cfg.set32(pci::PCI_BASE_ADDRESS_0, u32(where) | (g.cfg.get32(pci::PCI_BASE_ADDRESS_0) & 0xf));
    g.cfg.set32(pci::PCI_BASE_ADDRESS_0 + 4, u32(where >> 32));
    f.below(dn1, 0x00, endpoint());
    auto k = boot(f);
    CHECK(k->log().contains("Using M64 #15 as default window"));
    // The BAR in the split M64 BAR: segment n belongs to PE n.
    CHECK(f.phb(0).pe_map().mmio_owner(power_fabric::m64_base(0) + 4 * (u64(256) << 20)) == 4u);
    // Bus 3's PE is the master of its segments' PEs; bus 4 allocates as usual.
    host::pnv_ioda_pe* gpu_pe = pe_of(*k, "0000:03:00.0");
    REQUIRE(gpu_pe != nullptr);
    CHECK(gpu_pe->number() == 4);
    REQUIRE(gpu_pe->slaves.size() == 1);
    CHECK(gpu_pe->slaves[0]->number() == 5);
    CHECK(f.phb(0).pe_map().pe_of(0x0300) == 4);
    CHECK(pe_of(*k, "0000:04:00.0")->number() == 251); // 254 root, 253 bus 1, 252 bus 2
    // PELT-V: master and slave freeze each other; the switch buses' PEs freeze the PEs below them.
    CHECK(f.phb(0).in_peltv(4, 5));
    CHECK(f.phb(0).in_peltv(5, 4));
    CHECK(f.phb(0).in_peltv(252, 4));
    CHECK(f.phb(0).in_peltv(253, 251));
    CHECK(f.phb(0).in_peltv(254, 5));
    CHECK_FALSE(f.phb(0).in_peltv(251, 4));
    // A DMA error of the GPU freezes its slave's MMIO too; EEH sees the compound and thaws both.
    f.phb(0).eeh(4).on_dma_fault(tce::tce_fault::tce_invalid, 0x1000);
    CHECK(f.phb(0).eeh(5).mmio_frozen());
    host::eeh_pe_ops* eeh = k->table_group(gid(*k, "0000:03:00.0"))->eeh();
    CHECK(eeh->get_state() == tce::EEH_PE_STATE_STOPPED_IO_DMA);
    CHECK(eeh->set_option(tce::EEH_OPT_THAW_MMIO) == 0);
    CHECK(eeh->set_option(tce::EEH_OPT_THAW_DMA) == 0);
    CHECK_FALSE(f.phb(0).eeh(5).mmio_frozen());
    CHECK(eeh->get_state() == tce::EEH_PE_STATE_NORMAL);
    // An error of the switch's downstream bus PE freezes both endpoints' PEs.
    f.phb(0).eeh(252).on_mmio_error(0);
    CHECK(f.phb(0).eeh(4).dma_frozen());
    CHECK(f.phb(0).eeh(251).dma_frozen());
}

TEST_CASE("powernv: the host IOMMU API over PEs - TCE windows as a domain's geometry", "[host][powernv][iommu]") {
    power_fabric f(1);
    auto [dn0p, dn1p] = root_port_and_switch(f, 0);
    auto& dn0 = *dn0p;
    auto& dn1 = *dn1p;
    f.below(dn0, 0x00, endpoint());
    f.below(dn1, 0x00, endpoint());
    auto k = boot(f);
    host::iommu_core* core = k->iommu();
    REQUIRE(core != nullptr);
    const host::pci_dev& a = *k->find(B("0000:03:00.0"));
    const host::pci_dev& b = *k->find(B("0000:04:00.0"));
    CHECK(core->capable(a, host::iommu_cap::cache_coherency));
    // The default domain is the kernel's own configuration: the PE's default window.
    REQUIRE(core->default_domain(a.group) != nullptr);
    CHECK(core->default_domain(a.group)->geometry().at(0).size == u64(16) << 30);

    auto d = core->domain_alloc(host::iommu_domain_type::unmanaged, a);
    REQUIRE(d);
    REQUIRE(d->geometry().size() == 1);
    CHECK(d->geometry()[0].start == 0);
    CHECK(d->geometry()[0].size == 0x80000000);
    CHECK(d->geometry()[0].pgsize_bitmap == 0x1000);
    REQUIRE(core->attach_group(d, a.group) == 0);
    REQUIRE(core->attach_group(d, b.group) == 0);
    const unsigned pa = pe_of(*k, "0000:03:00.0")->number(), pb = pe_of(*k, "0000:04:00.0")->number();
    // Both PEs' TVE#0 hold the domain's table; the kernel's bypass is gone.
    CHECK(f.phb(0).window(pa, 0).window.root == f.phb(0).window(pb, 0).window.root);
    CHECK(f.phb(0).window(pa, 1).mode == tce::dma_window_state::kind::disabled);
    REQUIRE(d->map(0x100000, 0x40000000, 0x2000, host::IOMMU_READ | host::IOMMU_WRITE) == 0);
    CHECK(d->map(0x101000, 0x50000000, 0x1000, host::IOMMU_READ) == -EEXIST);
    CHECK(d->map(0x80000000, 0x40000000, 0x1000, host::IOMMU_READ) == -EINVAL); // outside the window
    CHECK(d->iova_to_phys(0x101234) == 0x40001234);
    // The PHB walks the same table for either PE.
    const auto r = f.phb(0).route(0x0400, 0x101000);
    CHECK(r.what == tce::dma_route::kind::translate);
    CHECK(r.pe == pb);
    // A 64-bit window created at run time is programmed into both PEs.
    u64 start = 0;
    REQUIRE(d->create_window({16, u64(1) << 30, 2}, start) == 0);
    CHECK(start == u64(1) << 59);
    CHECK(f.phb(0).window(pb, 1).mode == tce::dma_window_state::kind::tce);
    REQUIRE(d->map(start + 0x10000, 0x60000000, 0x10000, host::IOMMU_WRITE) == 0);
    CHECK(d->iova_to_phys(start + 0x10010) == 0x60000010);
    CHECK(d->create_window({16, u64(1) << 30, 2}, start) == -ENOSPC);
    REQUIRE(d->remove_window(start) == 0);
    CHECK(f.phb(0).window(pb, 1).mode == tce::dma_window_state::kind::disabled);
    CHECK(d->unmap(0x100000, 0x2000) == 0x2000);
    CHECK(d->iova_to_phys(0x100000) == 0);
    // Back to the default domain: the kernel's configuration returns.
    core->detach_group(d, b.group);
    CHECK(f.phb(0).window(pb, 1).mode == tce::dma_window_state::kind::bypass);
    CHECK(f.phb(0).window(pb, 0).window.page_shift == 16);
    CHECK(f.phb(0).window(pa, 0).window.page_shift == 12); // still the domain's
    core->detach_group(d, a.group);
    CHECK(f.phb(0).window(pa, 1).mode == tce::dma_window_state::kind::bypass);
}

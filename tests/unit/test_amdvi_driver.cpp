// The simulated kernel's AMD-Vi driver against a fake of the hardware built on the model's pure parts
// (support/fake_amdvi_hw.h): what it writes to registers, the device table, page tables, interrupt
// remapping tables and the command buffer, checked with the model's reference walk (amdvi::v1_translator)
// and against the values Linux 6.1 produces.
#include "support/fake_amdvi_hw.h"

#include "models/iommu/amdvi/amdvi_defs.h"
#include "sim/host/drivers/amdvi/amd_iommu_driver.h"
#include "sim/host/iommu/iommu_core.h"
#include "sim/host/kernel_log.h"
#include "sim/memory/page_allocator.h"
#include "sim/vfio/vfio_core.h"
#include "test_host_util.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include <fcntl.h>
#include <linux/vfio.h>

using namespace iommusim;
using namespace iommusim::test;
using host::IOMMU_READ;
using host::IOMMU_WRITE;
using host::iommu_domain_type;
using host::ivhd_entry;
namespace ctl = amdvi::control;

namespace {

constexpr u64 amd_base = 0xfd200000;
constexpr u64 kmem_base = 0x40000000, kmem_size = 64ull << 20;
constexpr u64 SZ_4K = 1ull << 12, SZ_64K = 1ull << 16, SZ_2M = 1ull << 21;

u16 id(const char* s) { return B(s).rid(); }

// 00:00.0 host bridge (multifunction), 00:00.2 the IOMMU, 00:02.0 root port -> 01:00.0 endpoint,
// 00:03.0 root port -> 02:00.0 PCIe-to-PCI bridge -> 03:04.0 and 03:05.0 (DMA alias 03:00.0).
void build_topology(fake_amdvi_hw& f, const amdvi::amdvi_params& p) {
    using K = pci::function_kind;
    f.at_root(devfn(0, 0), fn(K::host_bridge, 0x1022, 0x1480, true));
    f.add_unit(devfn(0, 2), amd_base, p);
    auto& rp1 = f.at_root(devfn(2, 0), with_acs(fn(K::root_port, 0x1022, 0x1483), ACS_ALL4));
    f.below(rp1, devfn(0, 0), fn(K::endpoint, 0x8086, 0x10d3));
    auto& rp2 = f.at_root(devfn(3, 0), with_acs(fn(K::root_port, 0x1022, 0x1483), ACS_ALL4));
    auto& p2p = f.below(rp2, devfn(0, 0), fn(K::pcie_to_pci_bridge, 0x104c, 0x8240));
    f.below(p2p, devfn(4, 0), fn(K::pci_endpoint, 0x1102, 0x0002));
    f.below(p2p, devfn(5, 0), fn(K::pci_endpoint, 0x1274, 0x5000));
}

host::ivrs_table ivrs_for(const fake_amdvi_hw& f, const amdvi::amdvi_params& p, bool ioapic = true) {
    host::ivrs_ivhd h;
    h.type = 0x11;
    h.devid = id("00:00.2");
    h.cap_ptr = f.cap_ptr();
    h.mmio_phys = amd_base;
    h.flags = host::ivrs::IVHD_FLAG_COHERENT;
    h.efr_reg = amdvi::build_efr(p);
    h.entries = {ivhd_entry::range_start(0), ivhd_entry::range_end(0xffff)};
    if (ioapic) h.entries.push_back(ivhd_entry::special(host::ivrs::IVHD_SPECIAL_IOAPIC, 0, host::ivrs::IOAPIC_SB_DEVID));
    host::ivrs_table t;
    t.ivinfo = host::ivrs::ivinfo(64, 48, 2, true);
    t.ivhds.push_back(h);
    return t;
}

struct amd_world {
    fake_amdvi_hw hw{0, 1ull << 36};
    amdvi::amdvi_params params;
    std::unique_ptr<host::kernel> k;
    host::kernel_log log;
    memory::page_allocator pages{kmem_base, kmem_size};
    std::unique_ptr<host::amd_iommu_driver> amd;
    std::unique_ptr<host::iommu_core> core;
    int init_result = 0;

    explicit amd_world(amdvi::amdvi_params p = {}, host::amd_iommu_options o = {}, bool ioapic = true,
                       host::iommu_core_options co = {}, bool dead = false) : params(p) {
        build_topology(hw, params);
        hw.ivrs = ivrs_for(hw, params, ioapic);
        hw.hw().dead = dead;
        host::kernel_options ko;
        ko.iommu_driver = false;  // the tests bring the driver up themselves
        k = boot(hw, ko);
        REQUIRE(k->ivrs());
        o.poll_limit = 200;
        amd = std::make_unique<host::amd_iommu_driver>(hw, pages, log, *k->ivrs(), hw.ioapics, o);
        core = std::make_unique<host::iommu_core>(*k, log, co);
        init_result = amd->init();
        if (init_result == 0) {
            core->add_driver(*amd);
            REQUIRE(core->probe() == 0);
        }
    }
    ~amd_world() {
        core.reset();
        amd.reset();
    }
    host::pci_dev& dev(const char* b) { return const_cast<host::pci_dev&>(*k->find(B(b))); }
    int group(const char* b) { return gid(*k, b); }
    amdvi::dte dte(u16 devid) { return amd->get_dte(0, devid); }
    std::vector<amdvi::command> commands_since(size_t n) {
        const auto& c = amd->units().front()->commands();
        return {c.begin() + long(n), c.end()};
    }
    size_t ncommands() { return amd->units().front()->commands().size(); }
    std::shared_ptr<host::iommu_domain> unmanaged(const char* b) {
        auto d = core->domain_alloc(iommu_domain_type::unmanaged, dev(b));
        REQUIRE(d);
        REQUIRE(core->attach_group(d, group(b)) == 0);
        return d;
    }
};

host::protection_domain& as_pd(const std::shared_ptr<host::iommu_domain>& d) {
    return static_cast<host::protection_domain&>(*d);
}

} // namespace

TEST_CASE("amdvi init: early_enable_iommu order, device table, command buffer and event log", "[host][amdvi]") {
    amd_world w;
    REQUIRE(w.init_result == 0);
    auto& u = w.hw.hw();
    const auto& unit = *w.amd->units().front();
    // Device table: last_bdf 0xffff -> 2 MiB, size field 511; 8 KiB rings with length 2^9.
    const u64 dtb = u.reg(amdvi::reg_id::DEV_TABLE_BASE);
    CHECK((dtb & 0x1ff) == 511);
    CHECK((dtb & amdvi::devtab_base::BASE) == w.amd->dev_table(0));
    CHECK(w.amd->dev_table(0) % SZ_2M == 0);
    CHECK(u.reg(amdvi::reg_id::CMD_BUF_BASE) == amdvi::ring_base::make(unit.cmd_buf(), 9));
    CHECK(u.reg(amdvi::reg_id::EVENT_LOG_BASE) == amdvi::ring_base::make(unit.evt_buf(), 9));
    // Control after boot: IommuEn, event log and its interrupt, command buffer, coherent, 1 s timeout, GA
    // (the IVHD's EFR image has GASup), XT (XTSup but no MsiCapMmioSup: off).
    const u64 c = u.reg(amdvi::reg_id::CONTROL);
    CHECK((c & ctl::IOMMU_EN));
    CHECK((c & ctl::EVENT_LOG_EN));
    CHECK((c & ctl::EVENT_INT_EN));
    CHECK((c & ctl::CMD_BUF_EN));
    CHECK((c & ctl::COHERENT));
    CHECK((c & ctl::GA_EN));
    CHECK_FALSE((c & ctl::XT_EN));
    CHECK(((c & ctl::INV_TIMEOUT) >> ctl::INV_TIMEOUT_SHIFT) == 4);
    // IommuEn is the last bit early_enable_iommu sets: no earlier Control write had it.
    const auto& cw = u.control_writes;
    const auto first_en = std::find_if(cw.begin(), cw.end(), [](u64 v) { return v & ctl::IOMMU_EN; });
    REQUIRE(first_en != cw.end());
    CHECK((*first_en & ctl::CMD_BUF_EN));
    CHECK((*first_en & ctl::EVENT_LOG_EN));
    CHECK((*first_en & ctl::GA_EN));
    CHECK_FALSE((*first_en & ctl::EVENT_INT_EN));  // interrupts come after PCI init
    // With IASup: INVALIDATE_IOMMU_ALL then COMPLETION_WAIT, executed by the hardware.
    REQUIRE(u.executed.size() >= 2);
    CHECK(u.executed[0].opcode() == u8(amdvi::cmd_opcode::invalidate_iommu_all));
    CHECK(u.executed[1].opcode() == u8(amdvi::cmd_opcode::completion_wait));
    CHECK(u.executed[1].cw_store_address() == unit.cmd_sem());
    CHECK(w.hw.read64(unit.cmd_sem()) == u.executed.back().cw_store_data());
    // An unprobed device ID: V + TV (DMA blocked), IV (interrupts blocked until a table exists).
    const auto idle = w.dte(id("07:00.0"));
    CHECK(idle.v());
    CHECK(idle.tv());
    CHECK(idle.mode() == 0);
    CHECK_FALSE(idle.ir());
    CHECK_FALSE(idle.iw());
    CHECK(idle.iv());
    CHECK(idle.int_tab_len() == 0);
    // The IVRS IO-APIC entry's DTE settings reached the table (none given here: 0).
    CHECK_FALSE(w.dte(0xa0).init_pass());
    // Log lines as 6.1 prints them.
    const u64 efr = amdvi::build_efr(w.params);
    std::string feats;
    const char* names[] = {"PreF", "PPR", "X2APIC", "NX", "GT", "[5]", "IA", "GA", "HE", "PC"};
    for (unsigned i = 0; i < 10; ++i)
        if (efr & (1ull << i)) feats += std::string(" ") + names[i];
    CHECK(w.log.contains(fmt::format("pci 0000:00:00.2: AMD-Vi: Found IOMMU cap 0x{:x}", w.hw.cap_ptr())));
    CHECK(w.log.contains(fmt::format("AMD-Vi: Extended features ({:#x}, 0x0):{}", efr, feats)));
    CHECK(w.log.contains("AMD-Vi: Interrupt remapping enabled"));
    CHECK_FALSE(w.log.contains("Using strict mode"));
}

TEST_CASE("amdvi init: the event interrupt is the IOMMU function's MSI, compatibility format", "[host][amdvi]") {
    amd_world w;
    REQUIRE(w.init_result == 0);
    auto* n = w.hw.route(0, 0, devfn(0, 2));
    REQUIRE(n);
    const u16 msi = *n->cfg.find_capability(0x05);
    CHECK((n->cfg.get16(msi + 2) & 1));                                   // MSI enable
    CHECK(n->cfg.get32(msi + 4) == 0xfee00000u);                          // APIC 0
    CHECK(n->cfg.get16(msi + 12) == host::amd_iommu_driver::event_vector_base);
    CHECK(w.amd->units().front()->event_vector() == u8(host::amd_iommu_driver::event_vector_base));
}

TEST_CASE("amdvi attach: set_dte_entry for the device and its aliases, default domains", "[host][amdvi]") {
    amd_world w;
    REQUIRE(w.init_result == 0);
    auto* dom = w.core->group_domain(w.group("01:00.0"));
    REQUIRE(dom);
    auto& pd = static_cast<host::protection_domain&>(*dom);
    const auto d = w.dte(id("01:00.0"));
    CHECK(d.v());
    CHECK(d.tv());
    CHECK(d.ir());
    CHECK(d.iw());
    CHECK(d.mode() == 3);
    CHECK(d.page_table_root() == pd.root());
    CHECK(d.domain_id() == pd.id());
    CHECK(pd.id() >= 1);
    // The conventional devices behind the PCIe-to-PCI bridge: the whole DTE cloned to 03:00.0 (and the
    // bridge's own 02:00.0 entry as pci_for_each_dma_alias reports it).
    const auto a = w.dte(id("03:04.0"));
    const auto alias = w.dte(id("03:00.0"));
    CHECK(a.mode() == 3);
    CHECK(alias.w[0] == a.w[0]);
    CHECK(alias.w[1] == a.w[1]);
    // The IOMMU function itself is not probed: its entry stays blocked.
    CHECK(w.dte(id("00:00.2")).mode() == 0);
    CHECK_FALSE(w.dte(id("00:00.2")).ir());
    // DTE flushes for every alias were issued for the bridge group.
    bool flushed_alias = false;
    for (const auto& c : w.amd->units().front()->commands())
        if (c.opcode() == u8(amdvi::cmd_opcode::invalidate_devtab_entry) && c.device_id() == id("03:00.0"))
            flushed_alias = true;
    CHECK(flushed_alias);
}

TEST_CASE("amdvi map: v1 tables checked with the model's walk, large pages, level growth", "[host][amdvi]") {
    amd_world w;
    REQUIRE(w.init_result == 0);
    auto d = w.unmanaged("01:00.0");
    auto& pd = as_pd(d);
    const u16 rid = id("01:00.0");
    // A DTE now names the new domain.
    CHECK(w.dte(rid).domain_id() == pd.id());
    REQUIRE(d->map(0x100000, 0x7000000, SZ_4K, IOMMU_READ) == 0);
    REQUIRE(d->map(0x400000, 0x8000000, SZ_2M, IOMMU_READ | IOMMU_WRITE) == 0);
    REQUIRE(d->map(0x800000, 0x9010000, SZ_64K, IOMMU_WRITE) == 0);
    CHECK(d->iova_to_phys(0x100123) == 0x7000123);
    CHECK(d->iova_to_phys(0x5fffff) == 0x81fffff);
    CHECK(d->iova_to_phys(0x80abcd) == 0x901abcd);
    CHECK(d->iova_to_phys(0x200000) == 0);
    // The hardware's walk agrees, with the rights given.
    auto r = w.hw.translate(rid, 0x100123, false);
    REQUIRE(r.ok());
    CHECK(r.addr == 0x7000123);
    CHECK(r.fc);
    CHECK(w.hw.translate(rid, 0x100000, true).fault);  // read-only
    auto r2 = w.hw.translate(rid, 0x4abcde, true);
    REQUIRE(r2.ok());
    CHECK(r2.addr == 0x80abcde);
    CHECK(r2.page_shift == 21);
    auto r3 = w.hw.translate(rid, 0x80f000, true);
    REQUIRE(r3.ok());
    CHECK(r3.addr == 0x901f000);
    CHECK(r3.page_shift == 16);
    // 64 KiB is 16 replicated next-level-7 PTEs in the leaf table.
    u64 pgsize = 0;
    const u64 pte_pa = pd.fetch_pte(0x800000, pgsize);
    CHECK(pgsize == SZ_64K);
    for (unsigned i = 0; i < 16; ++i) {
        const amdvi::pte e{w.hw.read64(pte_pa + 8 * i)};
        CHECK(e.next_level() == 7);
        CHECK(amdvi::large_page_shift(e.v) == 16);
    }
    // 2^40 is beyond 3 levels (2^39): the table grows to 4, the DTE follows.
    CHECK(pd.mode() == 3);
    REQUIRE(d->map(1ull << 40, 0xa000000, SZ_4K, IOMMU_READ) == 0);
    CHECK(pd.mode() == 4);
    CHECK(w.dte(rid).mode() == 4);
    CHECK(w.dte(rid).page_table_root() == pd.root());
    CHECK(w.hw.translate(rid, (1ull << 40) + 8, false).addr == 0xa000008);
    CHECK(w.hw.translate(rid, 0x100000, false).addr == 0x7000000);  // the old tables are below
    // No R/W: -EINVAL; an identity domain has no table.
    CHECK(d->map(0x300000, 0x1000, SZ_4K, 0) == -EINVAL);
}

TEST_CASE("amdvi unmap: whole pages, one ranged INVALIDATE_IOMMU_PAGES then COMPLETION_WAIT", "[host][amdvi]") {
    amd_world w;
    REQUIRE(w.init_result == 0);
    auto d = w.unmanaged("01:00.0");
    auto& pd = as_pd(d);
    REQUIRE(d->map(0x100000, 0x7000000, 2 * SZ_4K, IOMMU_READ | IOMMU_WRITE) == 0);
    REQUIRE(d->map(0x400000, 0x8000000, SZ_2M, IOMMU_READ) == 0);
    const size_t n0 = w.ncommands();
    CHECK(d->unmap(0x100000, 2 * SZ_4K) == 2 * SZ_4K);
    const auto cmds = w.commands_since(n0);
    REQUIRE(cmds.size() == 2);
    CHECK(cmds[0].opcode() == u8(amdvi::cmd_opcode::invalidate_iommu_pages));
    CHECK(cmds[0].domain_id() == pd.id());
    CHECK(cmds[0].s());
    CHECK(cmds[0].pde());
    const auto range = amdvi::decode_inv_range(cmds[0].address(), cmds[0].s());
    CHECK(range.base == 0x100000);
    CHECK(range.size == 2 * SZ_4K);
    CHECK(cmds[1].opcode() == u8(amdvi::cmd_opcode::completion_wait));
    CHECK(d->iova_to_phys(0x100000) == 0);
    // Unmapping 4 KiB inside a 2 MiB page removes the whole page.
    CHECK(d->unmap(0x401000, SZ_4K) == SZ_2M);
    CHECK(d->iova_to_phys(0x400000) == 0);
    // A single page is flushed without S.
    REQUIRE(d->map(0x900000, 0x7000000, SZ_4K, IOMMU_READ) == 0);
    const size_t n1 = w.ncommands();
    CHECK(d->unmap(0x900000, SZ_4K) == SZ_4K);
    const auto one = w.commands_since(n1);
    REQUIRE_FALSE(one.empty());
    CHECK_FALSE(one[0].s());
    CHECK(one[0].address() == 0x900000);
}

TEST_CASE("amdvi: a skipped invalidation leaves a stale IOTLB entry the device still uses", "[host][amdvi]") {
    amd_world w;
    REQUIRE(w.init_result == 0);
    auto d = w.unmanaged("01:00.0");
    const u16 rid = id("01:00.0");
    REQUIRE(d->map(0x100000, 0x7000000, SZ_4K, IOMMU_READ) == 0);
    REQUIRE(w.hw.translate(rid, 0x100000, false).ok());  // now cached
    w.amd->inject_skip_invalidations(1);
    CHECK(d->unmap(0x100000, SZ_4K) == SZ_4K);
    CHECK(w.amd->units().front()->skipped_invalidations() == 1);
    auto stale = w.hw.translate(rid, 0x100000, false);
    CHECK(stale.ok());
    CHECK(stale.addr == 0x7000000);
    // The next unmap is flushed again: the entry is gone after a map/unmap of that page.
    REQUIRE(d->map(0x100000, 0x7000000, SZ_4K, IOMMU_READ) == 0);
    CHECK(d->unmap(0x100000, SZ_4K) == SZ_4K);
    CHECK(w.hw.translate(rid, 0x100000, false).fault);
}

TEST_CASE("amdvi faults: the event log handler prints 6.1's lines and advances the head", "[host][amdvi]") {
    amd_world w;
    REQUIRE(w.init_result == 0);
    auto d = w.unmanaged("01:00.0");
    auto& pd = as_pd(d);
    // A write to an unmapped address: the hardware logs IO_PAGE_FAULT.
    CHECK(w.hw.translate(id("01:00.0"), 0x123000, true).fault);
    w.hw.log_event(amdvi::event::io_page_fault(id("05:00.0"), 7, 0x5000, amdvi::event_flags{}));
    w.hw.log_event(amdvi::event::illegal_command_error(0x40001230));
    CHECK(w.amd->handle_events() == 3);
    CHECK(w.log.contains(fmt::format(
        "pci 0000:01:00.0: AMD-Vi: Event logged [IO_PAGE_FAULT domain=0x{:04x} address=0x123000 flags=0x0020]", pd.id())));
    CHECK(w.log.contains("AMD-Vi: Event logged [IO_PAGE_FAULT device=0000:05:00.0 domain=0x0007 address=0x5000 flags=0x0000]"));
    CHECK(w.log.contains("iommu ivhd0: AMD-Vi: Event logged [ILLEGAL_COMMAND_ERROR address=0x40001230]"));
    auto& u = w.hw.hw();
    CHECK((u.reg(amdvi::reg_id::EVENT_LOG_HEAD) & amdvi::RING_PTR) == 3 * 16);
    CHECK((u.reg(amdvi::reg_id::EVENT_LOG_HEAD) & amdvi::RING_PTR) == (u.reg(amdvi::reg_id::EVENT_LOG_TAIL) & amdvi::RING_PTR));
    CHECK_FALSE((u.reg(amdvi::reg_id::STATUS) & amdvi::status::EVENT_LOG_INT));
    const auto& h = w.amd->units().front()->event_history();
    REQUIRE(h.size() == 3);
    CHECK(h[0].type == u8(amdvi::event_code::io_page_fault));
    CHECK(h[0].devid == id("01:00.0"));
    CHECK(w.amd->handle_events() == 0);
}

TEST_CASE("amdvi interrupt remapping: per-device tables, 32-bit and GA IRTEs, aligned blocks", "[host][amdvi]") {
    SECTION("GA: the IVHD's EFR image has GASup") {
        amd_world w;
        REQUIRE(w.init_result == 0);
        CHECK(w.amd->ga_mode());
        host::remapped_msi m;
        REQUIRE(w.amd->msi_alloc(w.dev("01:00.0"), 3, 0x40, 2, m) == 0);
        CHECK(m.index == 0);
        CHECK(m.count == 4);
        REQUIRE(m.msgs.size() == 4);
        CHECK(m.msgs[2].address() == 0xfee00000u);
        CHECK(m.msgs[2].data == 2);
        const auto d = w.dte(id("01:00.0"));
        CHECK(d.iv());
        CHECK(d.int_tab_len() == 9);
        CHECK(d.intctl() == amdvi::int_ctl::remap);
        const u64 table = d.int_table_root();
        CHECK(table == w.amd->irq_remap()->table_of(0, id("01:00.0")));
        const amdvi::irte_ga e{w.hw.read64(table + 16 * 2), w.hw.read64(table + 16 * 2 + 8)};
        CHECK(e.remap_en());
        CHECK(e.vector() == 0x42);
        CHECK(e.destination() == 2);
        // The next single vector comes after the block.
        host::remapped_msi m2;
        REQUIRE(w.amd->msi_alloc(w.dev("01:00.0"), 1, 0x50, 0, m2) == 0);
        CHECK(m2.index == 4);
        // INVALIDATE_INTERRUPT_TABLE for the device after each entry.
        unsigned irt = 0;
        for (const auto& c : w.amd->units().front()->commands())
            if (c.opcode() == u8(amdvi::cmd_opcode::invalidate_interrupt_table) && c.device_id() == id("01:00.0")) ++irt;
        CHECK(irt == 5);
        w.amd->msi_free(m);
        CHECK(w.amd->irq_remap()->used(table) == 1);
        CHECK_FALSE(amdvi::irte_ga{w.hw.read64(table + 32), w.hw.read64(table + 40)}.remap_en());
    }
    SECTION("32-bit IRTEs without GASup; the table is shared with the bridge alias") {
        amdvi::amdvi_params p;
        p.ga_sup = false;
        amd_world w(p);
        REQUIRE(w.init_result == 0);
        CHECK_FALSE(w.amd->ga_mode());
        CHECK_FALSE((w.hw.hw().reg(amdvi::reg_id::CONTROL) & ctl::GA_EN));
        host::remapped_msi m;
        REQUIRE(w.amd->msi_alloc(w.dev("03:04.0"), 1, 0x41, 1, m) == 0);
        const u64 table = w.dte(id("03:04.0")).int_table_root();
        CHECK(w.dte(id("03:00.0")).int_table_root() == table);
        CHECK(w.dte(id("03:00.0")).iv());
        const amdvi::irte32 e{u32(w.hw.read64(table + 4 * u64(m.index)))};
        CHECK(e.remap_en());
        CHECK(e.vector() == 0x41);
        CHECK(e.destination() == 1);
        // 03:05.0 has no table of its own and its IVRS alias is itself: a new table, set for 03:05.0 and
        // again for the shared requester ID 03:00.0 (the last writer wins there, as in Linux).
        host::remapped_msi m2;
        REQUIRE(w.amd->msi_alloc(w.dev("03:05.0"), 1, 0x42, 1, m2) == 0);
        const u64 t2 = w.dte(id("03:05.0")).int_table_root();
        CHECK(t2 != 0);
        CHECK(t2 != table);
        CHECK(w.dte(id("03:00.0")).int_table_root() == t2);
    }
}

TEST_CASE("amdvi: no interrupt remapping with intremap=off or without the southbridge IO-APIC", "[host][amdvi]") {
    SECTION("intremap=off") {
        host::amd_iommu_options o;
        o.intremap = false;
        amd_world w({}, o);
        REQUIRE(w.init_result == 0);
        CHECK_FALSE(w.amd->irq_remapping_enabled());
        CHECK_FALSE(w.core->capable(w.dev("01:00.0"), host::iommu_cap::intr_remap));
        CHECK_FALSE(w.dte(id("07:00.0")).iv());
        CHECK_FALSE(w.log.contains("Interrupt remapping enabled"));
        host::remapped_msi m;
        CHECK(w.amd->msi_alloc(w.dev("01:00.0"), 1, 0x40, 0, m) == -ENODEV);
    }
    SECTION("IVRS without the IO-APIC") {
        amd_world w({}, {}, false);
        REQUIRE(w.init_result == 0);
        CHECK_FALSE(w.amd->irq_remapping_enabled());
        // The IVRS checks log to the kernel's dmesg (the kernel parsed the table).
        CHECK(w.k->log().contains("AMD-Vi: [Firmware Bug]: : IOAPIC[0] not in IVRS table"));
        CHECK(w.k->log().contains("AMD-Vi: Disabling interrupt remapping"));
    }
}

TEST_CASE("amdvi: capabilities and reserved regions as amd_iommu_get_resv_regions", "[host][amdvi]") {
    amd_world w;
    REQUIRE(w.init_result == 0);
    auto& dev = w.dev("01:00.0");
    CHECK(w.amd->capable(dev, host::iommu_cap::cache_coherency));
    CHECK(w.amd->capable(dev, host::iommu_cap::intr_remap));
    CHECK_FALSE(w.amd->capable(dev, host::iommu_cap::noexec));
    const auto r = w.amd->get_resv_regions(dev);
    REQUIRE(r.size() == 2);
    CHECK(r[0] == host::iommu_resv_region{0xfee00000, 0x100000, 0, host::iommu_resv_type::msi});
    CHECK(r[1] == host::iommu_resv_region{0xfd00000000ull, 0x300000000ull, 0, host::iommu_resv_type::reserved});
    auto d = w.core->domain_alloc(iommu_domain_type::unmanaged, dev);
    REQUIRE(d);
    CHECK(d->pgsize_bitmap() == 0xffffff7ffffff000ull);  // what VFIO reported on the real 6.1 kernel
    CHECK(d->enforce_cache_coherency());
}

TEST_CASE("amdvi: iommu.passthrough=1 gives identity default domains (Mode 0, IR/IW)", "[host][amdvi]") {
    amd_world w({}, {}, true, host::iommu_core_options{true});
    REQUIRE(w.init_result == 0);
    const auto d = w.dte(id("01:00.0"));
    CHECK(d.v());
    CHECK(d.tv());
    CHECK(d.mode() == 0);
    CHECK(d.ir());
    CHECK(d.iw());
    auto r = w.hw.translate(id("01:00.0"), 0x12345678, true);
    CHECK(r.ok());
    CHECK(r.pass_through);
}

TEST_CASE("amdvi: a unit whose command buffer never runs makes init fail, not hang", "[host][amdvi]") {
    amd_world w({}, {}, true, {}, true);
    CHECK(w.init_result == -EIO);
    CHECK(w.log.contains("AMD-Vi: Completion-Wait loop timed out"));
}

TEST_CASE("amdvi kernel boot: init_amd_iommu brings the driver and the IOMMU core up", "[host][amdvi]") {
    fake_amdvi_hw hw;
    amdvi::amdvi_params p;
    build_topology(hw, p);
    hw.ivrs = ivrs_for(hw, p);
    host::kernel_options ko;
    ko.kernel_memory_base = kmem_base;
    ko.kernel_memory_size = kmem_size;
    auto k = boot(hw, ko);
    REQUIRE(k->amdvi());
    REQUIRE(k->iommu());
    CHECK(k->iommu()->capable(*k->find(B("01:00.0")), host::iommu_cap::intr_remap));
    CHECK(k->amdvi()->get_dte(0, id("01:00.0")).mode() == 3);
    CHECK(k->log().contains("AMD-Vi: Interrupt remapping enabled"));
}

TEST_CASE("amdvi: an IVRS alias on another bus gets the device's DTE and its flushes", "[host][amdvi]") {
    fake_amdvi_hw hw;
    amdvi::amdvi_params p;
    build_topology(hw, p);
    hw.ivrs = ivrs_for(hw, p);
    // Firmware says DMA of 01:00.0 arrives as 00:02.0 (its root port): not a PCI DMA alias (other bus).
    hw.ivrs.ivhds[0].entries.push_back(ivhd_entry::alias(id("01:00.0"), id("00:02.0")));
    host::kernel_options ko;
    ko.kernel_memory_base = kmem_base;
    ko.kernel_memory_size = kmem_size;
    auto k = boot(hw, ko);
    REQUIRE(k->amdvi());
    const auto own = k->amdvi()->get_dte(0, id("01:00.0"));
    const auto alias = k->amdvi()->get_dte(0, id("00:02.0"));
    CHECK(own.mode() == 3);
    CHECK(alias.w[0] == own.w[0]);
    CHECK(alias.w[1] == own.w[1]);
    CHECK(k->facts(*k->find(B("01:00.0"))).dma_aliases == std::vector<u16>{id("01:00.0")});
    // DMA the device issues under the alias requester ID translates with the device's domain.
    auto* dom = k->iommu()->group_domain(gid(*k, "01:00.0"));
    REQUIRE(dom);
    REQUIRE(dom->map(0x10000, 0x5000000, SZ_4K, IOMMU_READ) == 0);
    CHECK(hw.translate(id("00:02.0"), 0x10010, false).addr == 0x5000010);
    bool flushed = false;
    for (const auto& c : k->amdvi()->units().front()->commands())
        flushed = flushed || (c.opcode() == u8(amdvi::cmd_opcode::invalidate_devtab_entry) && c.device_id() == id("00:02.0"));
    CHECK(flushed);
}

TEST_CASE("amdvi NpCache: strict mode, flush after map, naturally aligned flush pieces", "[host][amdvi]") {
    amdvi::amdvi_params p;
    p.np_cache = true;
    amd_world w(p);
    REQUIRE(w.init_result == 0);
    CHECK(w.amd->np_cache());
    CHECK(w.log.contains("AMD-Vi: Using strict mode due to virtualization"));
    auto d = w.unmanaged("01:00.0");
    const size_t n0 = w.ncommands();
    REQUIRE(d->map(0x1000, 0x7000000, 3 * SZ_4K, IOMMU_READ) == 0);
    auto after_map = w.commands_since(n0);
    // [0x1000, 0x4000): 4 KiB at 0x1000 (its alignment), then 8 KiB at 0x2000; then the wait.
    REQUIRE(after_map.size() == 3);
    CHECK(amdvi::decode_inv_range(after_map[0].address(), after_map[0].s()).base == 0x1000);
    CHECK(amdvi::decode_inv_range(after_map[0].address(), after_map[0].s()).size == SZ_4K);
    CHECK(amdvi::decode_inv_range(after_map[1].address(), after_map[1].s()).base == 0x2000);
    CHECK(amdvi::decode_inv_range(after_map[1].address(), after_map[1].s()).size == 2 * SZ_4K);
    CHECK(after_map[2].opcode() == u8(amdvi::cmd_opcode::completion_wait));
}

TEST_CASE("amdvi x2APIC: XTSup and MsiCapMmioSup in the IVHD image, IntCapXT for the event interrupt", "[host][amdvi]") {
    fake_amdvi_hw hw;
    amdvi::amdvi_params p;
    build_topology(hw, p);
    hw.ivrs = ivrs_for(hw, p);
    hw.ivrs.ivhds[0].efr_reg |= amdvi::efr::MSI_CAP_MMIO_SUP;  // the unit's MMIO EFR lacks it: a mismatch
    host::kernel_options ko;
    ko.kernel_memory_base = kmem_base;
    ko.kernel_memory_size = kmem_size;
    auto k = boot(hw, ko);
    REQUIRE(k->amdvi());
    const u64 c = hw.hw().reg(amdvi::reg_id::CONTROL);
    CHECK((c & ctl::XT_EN));
    CHECK((c & ctl::INT_CAP_XT_EN));
    const u64 xt = hw.hw().reg(amdvi::reg_id::XT_GEN_INTR_CTRL);
    CHECK(((xt >> 32) & 0xff) == host::amd_iommu_driver::event_vector_base);
    CHECK(k->log().contains("AMD-Vi: X2APIC enabled"));
    CHECK(k->log().contains("[Firmware Bug]: EFR mismatch"));
    // The MSI capability stays untouched.
    auto* n = hw.route(0, 0, devfn(0, 2));
    CHECK_FALSE((n->cfg.get16(*n->cfg.find_capability(0x05) + 2) & 1));
}

namespace {
// The VFIO core over the AMD kernel: every device may be bound to vfio-pci, every group is viable, and
// process memory is one linear range.
struct amd_vfio_host : vfio::vfio_host {
    amd_world& w;
    explicit amd_vfio_host(amd_world& world) : w(world) {}
    host::iommu_core* iommu() override { return w.core.get(); }
    const host::iommu_group* group(int g) const override { return w.k->group(g); }
    bool is_vfio_device(const host::pci_dev&) const override { return true; }
    bool group_viable(int) const override { return true; }
    int claim_dma_owner(int, const void*) override { return 0; }
    void release_dma_owner(int, const void*) override {}
};
struct linear_mm : vfio::vfio_mm {
    u64 va, pa, len;
    linear_mm(u64 v, u64 p, u64 l) : va(v), pa(p), len(l) {}
    int pin(u64 vaddr, u64 n, bool, std::vector<vfio::pin_run>& out) override {
        if (vaddr < va || vaddr - va + n > len) return -EFAULT;
        out.push_back({vaddr, pa + (vaddr - va), n, false});
        return 0;
    }
    void unpin(const std::vector<vfio::pin_run>&) override {}
};
} // namespace

TEST_CASE("amdvi under VFIO type1: GET_INFO as the real 6.1 kernel answered, MAP_DMA reaches the hardware", "[host][amdvi][vfio]") {
    amd_world w;
    REQUIRE(w.init_result == 0);
    amd_vfio_host h(w);
    constexpr u64 VA = 0x7f0000000000ull, PA = 0x100000000ull;
    linear_mm mm(VA, PA, 64ull << 20);
    vfio::vfio_core v(h, mm);
    auto io = [&](int fd, unsigned long req, const void* arg) { return v.ioctl(fd, req, reinterpret_cast<unsigned long>(arg)); };
    const int c = v.open("/dev/vfio/vfio", O_RDWR);
    const int g = v.open("/dev/vfio/" + std::to_string(w.group("01:00.0")), O_RDWR);
    REQUIRE(c >= 0);
    REQUIRE(g >= 0);
    REQUIRE(io(g, VFIO_GROUP_SET_CONTAINER, &c) == 0);
    // Interrupt remapping is on, so type1 accepts the group without allow_unsafe_interrupts.
    REQUIRE(v.ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == 0);
    std::vector<u64> buf(512, 0);
    auto* info = reinterpret_cast<vfio_iommu_type1_info*>(buf.data());
    info->argsz = 4096;
    REQUIRE(io(c, VFIO_IOMMU_GET_INFO, info) == 0);
    // tests/fixtures/vfio-oracle/probe-amd.txt: iova_pgsizes=0xffffff7ffffff000, DMA_AVAIL 65535, IOVA_RANGE
    // [0x0-0xfedfffff] [0xfef00000-0xfcffffffff] [0x10000000000-0xffffffffffffffff].
    CHECK(info->iova_pgsizes == 0xffffff7ffffff000ull);
    const auto* base = reinterpret_cast<const unsigned char*>(buf.data());
    u32 off = info->cap_offset;
    std::vector<vfio_iova_range> ranges;
    u32 avail = 0;
    while (off) {
        vfio_info_cap_header hdr;
        std::memcpy(&hdr, base + off, sizeof hdr);
        if (hdr.id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
            vfio_iommu_type1_info_dma_avail a;
            std::memcpy(&a, base + off, sizeof a);
            avail = a.avail;
        }
        if (hdr.id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
            vfio_iommu_type1_info_cap_iova_range r;
            std::memcpy(&r, base + off, sizeof r);
            ranges.resize(r.nr_iovas);
            std::memcpy(ranges.data(), base + off + sizeof r, ranges.size() * sizeof(vfio_iova_range));
        }
        off = hdr.next;
    }
    CHECK(avail == 65535);
    REQUIRE(ranges.size() == 3);
    CHECK(ranges[0].start == 0);
    CHECK(ranges[0].end == 0xfedfffffull);
    CHECK(ranges[1].start == 0xfef00000ull);
    CHECK(ranges[1].end == 0xfcffffffffull);
    CHECK(ranges[2].start == 0x10000000000ull);
    // The real kernel says 0xffffffffffffffff; a dma_window cannot hold 2^64 bytes (README COMPLIANCE).
    CHECK(ranges[2].end >= 0xfffffffffffffffeull);
    vfio_iommu_type1_dma_map m{32, 3, VA + 0x3000, 0x100000, 0x2000};
    REQUIRE(io(c, VFIO_IOMMU_MAP_DMA, &m) == 0);
    auto r = w.hw.translate(id("01:00.0"), 0x101008, true);
    REQUIRE(r.ok());
    CHECK(r.addr == PA + 0x4008);
    vfio_iommu_type1_dma_unmap u{};
    u.argsz = 24;
    u.iova = 0x100000;
    u.size = 0x2000;
    REQUIRE(io(c, VFIO_IOMMU_UNMAP_DMA, &u) == 0);
    CHECK(w.hw.translate(id("01:00.0"), 0x101008, true).fault);
    v.close(g);
    v.close(c);
}

TEST_CASE("amdvi: an IVRS alias beyond last_bdf never writes past the device table", "[host][amdvi]") {
    fake_amdvi_hw hw;
    amdvi::amdvi_params p;
    build_topology(hw, p);
    hw.ivrs = ivrs_for(hw, p);
    // Buses 0-2 only: last_bdf 02:1f.7, (0x300 * 32) bytes = 6 pages, rounded to 8 (size field 7). The
    // alias target 05:00.0 does not raise last_bdf (find_last_devid_from_ivhd reads the source only).
    hw.ivrs.ivhds[0].entries[1] = ivhd_entry::range_end(id("02:1f.7"));
    hw.ivrs.ivhds[0].entries.push_back(ivhd_entry::alias(id("01:00.0"), id("05:00.0")));
    host::kernel_options ko;
    ko.kernel_memory_base = kmem_base;
    ko.kernel_memory_size = kmem_size;
    auto k = boot(hw, ko);
    REQUIRE(k->amdvi());
    CHECK((hw.hw().reg(amdvi::reg_id::DEV_TABLE_BASE) & 0x1ff) == 7);
    CHECK(k->amdvi()->get_dte(0, id("01:00.0")).mode() == 3);
    CHECK(gid(*k, "03:04.0") == host::no_group);
    // Nothing was written past the table, where 05:00.0's entry would be.
    const u64 end = k->amdvi()->dev_table(0) + 8 * 4096;
    CHECK(hw.read64(k->amdvi()->dev_table(0) + u64(id("05:00.0")) * 32) == 0);
    for (u64 a = end; a < end + 4096; a += 8) CHECK(hw.read64(a) == 0);
}

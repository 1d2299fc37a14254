// Upstream DMA through the fabric: into system memory with the requester ID real bridges produce,
// peer-to-peer under a switch and between root ports as ACS decides (PCIe §6.12), blocked requests, and
// the platform's dma_trace. A probe between the host bridge and memory shows what reaches the root
// complex. Each TEST_CASE runs in its own process (CTest).
#include "models/pci/cfg/config_builder.h"
#include "models/pci/cfg/pci_regs.h"
#include "models/pci/dma_engine.h"
#include "models/pci/dma_engine_driver.h"
#include "models/pci/pci_bridge.h"
#include "models/pci/pci_endpoint.h"
#include "platforms/platform.h"
#include "sim/core/bdf.h"
#include "sim/host/tlm/tlm_host_ops.h"
#include "sim/memory/system_memory.h"
#include "sim/tlm/payload_data.h"
#include "sim/tlm/pci_extension.h"

#include <catch2/catch.hpp>
#include <memory>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <vector>

using namespace iommusim;
using namespace iommusim::pci;
using iommusim::platforms::function_desc;
using iommusim::platforms::platform_desc;
using iommusim::platforms::root_bus_desc;

namespace {

// Sits where an IOMMU would: records what reaches the root complex, then forwards to memory.
struct probe : sc_core::sc_module {
    tlm_utils::simple_target_socket<probe> in{"in"};
    tlm_utils::simple_initiator_socket<probe> out{"out"};
    struct seen {
        u16 rid;
        u64 addr;
        bool write;
        tlmx::address_type at;
    };
    std::vector<seen> log;
    explicit probe(sc_core::sc_module_name n) : sc_module(n) { in.register_b_transport(this, &probe::b_transport); }
    void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
        const auto* ext = gp.get_extension<tlmx::pci_extension>();
        log.push_back({u16(ext ? ext->requester_id : 0xffff), gp.get_address(), gp.is_write(),
                       ext ? ext->at : tlmx::address_type::untranslated});
        out->b_transport(gp, delay);
    }
};

function_desc fn(u8 devfn, function_kind kind, std::string name) {
    function_desc f;
    f.devfn = devfn;
    f.name = std::move(name);
    f.where = "tb_dma/" + f.name;
    f.params.kind = kind;
    f.params.class_code = is_bridge(kind) ? 0x060400 : 0x020000;
    if (!is_bridge(kind)) f.params.bars = {{0, 0x4000, false, false, false}};
    return f;
}

function_desc with_acs(function_desc f, u16 cap) {
    f.params.acs = acs_params{cap, 0, 0};
    return f;
}

constexpr u16 acs_all = PCI_ACS_SV | PCI_ACS_TB | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF | PCI_ACS_DT;

// root bus 0:
//   00:01.0 root port rp1 -> bus 1: ep1
//   00:02.0 root port rp2 (ACS) -> bus 2: switch upstream usp -> bus 3:
//            03:00.0 dsp1 (ACS) -> bus 4: ep_a        03:01.0 dsp2 (ACS) -> bus 5: ep_b
//   00:03.0 PCIe-to-PCI bridge -> bus 6: 06:03.0 legacy (conventional PCI)
//   00:05.0 conventional PCI-to-PCI bridge -> bus 8: 08:00.0 behind_cbr
//   00:06.0 PCI-to-PCIe (reverse) bridge -> bus 9: 09:00.0 behind_rev
platform_desc topology() {
    auto rp1 = fn(pci_devfn(1, 0), function_kind::root_port, "rp1");
    rp1.children = {fn(0, function_kind::endpoint, "ep1")};
    auto dsp1 = with_acs(fn(pci_devfn(0, 0), function_kind::switch_downstream, "dsp1"), acs_all);
    dsp1.children = {fn(0, function_kind::endpoint, "ep_a")};
    auto dsp2 = with_acs(fn(pci_devfn(1, 0), function_kind::switch_downstream, "dsp2"), acs_all);
    dsp2.children = {fn(0, function_kind::endpoint, "ep_b")};
    auto usp = fn(0, function_kind::switch_upstream, "usp");
    usp.children = {dsp1, dsp2};
    auto rp2 = with_acs(fn(pci_devfn(2, 0), function_kind::root_port, "rp2"), acs_all);
    rp2.children = {usp};
    auto pb = fn(pci_devfn(3, 0), function_kind::pcie_to_pci_bridge, "pcie_pci");
    pb.children = {fn(pci_devfn(3, 0), function_kind::pci_endpoint, "legacy")};
    auto cbr = fn(pci_devfn(5, 0), function_kind::pci_bridge, "cbr");
    cbr.children = {fn(0, function_kind::pci_endpoint, "behind_cbr")};
    auto rev = fn(pci_devfn(6, 0), function_kind::pci_to_pcie_bridge, "rev");
    rev.children = {fn(0, function_kind::endpoint, "behind_rev")};
    platform_desc d;
    d.source = "tb_dma";
    root_bus_desc rb;
    rb.where = "/root_buses/0";
    rb.functions = {rp1, rp2, pb, cbr, rev};
    d.root_buses.push_back(std::move(rb));
    return d;
}

constexpr u16 mem_master = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;

struct bench {
    std::unique_ptr<probe> rc_probe;
    std::unique_ptr<host::tlm_machine> m;
    host::pci_host_ops* ops = nullptr;

    explicit bench(platform_desc d) {
        m = std::make_unique<host::tlm_machine>(d, [&](platforms::platform& p) {
            rc_probe = std::make_unique<probe>("rc_probe");
            p.root_complexes().at(0).host_bridge->to_iommu_or_memory.bind(rc_probe->in);
            rc_probe->out.bind(p.memory_bus()->target);
        });
        ops = &m->ops();
        // What firmware / the kernel does: bus numbers, windows, BARs, decode and bus mastering.
        bridge(0, pci_devfn(1, 0), 1, 1, 0x80000000, 0x800fffff);
        bridge(0, pci_devfn(2, 0), 2, 5, 0x90000000, 0x90ffffff);
        bridge(2, 0, 3, 5, 0x90000000, 0x90ffffff);
        bridge(3, pci_devfn(0, 0), 4, 4, 0x90100000, 0x901fffff);
        bridge(3, pci_devfn(1, 0), 5, 5, 0x90000000, 0x900fffff);
        bridge(0, pci_devfn(3, 0), 6, 6, 0xa0000000, 0xa00fffff);
        bridge(0, pci_devfn(5, 0), 8, 8, 0xa0100000, 0xa01fffff);
        bridge(0, pci_devfn(6, 0), 9, 9, 0xa0200000, 0xa02fffff);
        endpoint(1, 0, 0x80000000);
        endpoint(4, 0, 0x90100000);
        endpoint(5, 0, 0x90000000);
        endpoint(6, pci_devfn(3, 0), 0xa0000000);
        endpoint(8, 0, 0xa0100000);
        endpoint(9, 0, 0xa0200000);
    }
    void bridge(u8 bus, u8 devfn, u8 sec, u8 sub, u32 base, u32 limit) {
        ops->config_write(0, bus, devfn, PCI_PRIMARY_BUS, 4, u32(bus) | u32(sec) << 8 | u32(sub) << 16);
        ops->config_write(0, bus, devfn, PCI_MEMORY_BASE, 2, (base >> 16) & 0xfff0);
        ops->config_write(0, bus, devfn, PCI_MEMORY_LIMIT, 2, (limit >> 16) & 0xfff0);
        ops->config_write(0, bus, devfn, PCI_COMMAND, 2, mem_master);
    }
    void endpoint(u8 bus, u8 devfn, u32 bar0) {
        ops->config_write(0, bus, devfn, PCI_BASE_ADDRESS_0, 4, bar0);
        ops->config_write(0, bus, devfn, PCI_COMMAND, 2, mem_master);
    }
    platforms::platform& platform() { return m->platform(); }
    pci_function& find(const char* n) { return *platform().find(n); }
    u16 acs_ctrl_offset(const char* n) { return u16(*find(n).config().find_ext_capability(PCI_EXT_CAP_ID_ACS) + PCI_ACS_CTRL); }
    void set_acs(u8 bus, u8 devfn, const char* n, u16 ctrl) { ops->config_write(0, bus, devfn, acs_ctrl_offset(n), 2, ctrl); }

    // A 4-byte DMA write of `value` from function `n`.
    tlm::tlm_response_status dma_write(const char* n, u64 addr, u32 value,
                                       tlmx::address_type at = tlmx::address_type::untranslated) {
        tlm::tlm_generic_payload gp;
        tlmx::init_payload(gp, tlm::TLM_WRITE_COMMAND, addr, reinterpret_cast<unsigned char*>(&value), 4);
        tlmx::pci_extension ext;
        ext.at = at;
        tlmx::scoped_extension scope(gp, &ext);
        sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
        find(n).issue_dma(gp, delay);
        return gp.get_response_status();
    }
};

} // namespace

TEST_CASE("DMA reaches memory with the requester ID real bridges produce", "[dma]") {
    bench b(topology());
    auto& mem = *b.platform().memory();
    struct row {
        const char* name;
        u16 rid;
    };
    // Ports preserve the ID; a PCIe-to-PCI bridge takes (secondary bus, 00.0); a conventional PCI bridge
    // and a reverse bridge master the request upstream with their own ID.
    const row rows[] = {{"ep1", 0x0100}, {"ep_a", 0x0400}, {"legacy", 0x0600}, {"behind_cbr", pci_devfn(5, 0)},
                        {"behind_rev", pci_devfn(6, 0)}};
    u64 addr = 0x1000;
    for (const row& r : rows) {
        INFO(r.name);
        CHECK(b.dma_write(r.name, addr, 0xc0de0000u | r.rid) == tlm::TLM_OK_RESPONSE);
        REQUIRE(!b.rc_probe->log.empty());
        CHECK(b.rc_probe->log.back().rid == r.rid);
        CHECK(b.rc_probe->log.back().addr == addr);
        CHECK(mem.read_le(addr, 4) == (0xc0de0000u | r.rid));
        addr += 0x1000;
    }
    CHECK(b.platform().dma_trace().count(dma_route::to_root_complex) == 5);
    CHECK(b.platform().dma_trace().count(dma_route::peer_to_peer) == 0);
    // A read comes back from memory.
    u32 word = 0;
    tlm::tlm_generic_payload gp;
    tlmx::init_payload(gp, tlm::TLM_READ_COMMAND, 0x1000, reinterpret_cast<unsigned char*>(&word), 4);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    b.find("ep1").issue_dma(gp, delay);
    CHECK(gp.is_response_ok());
    CHECK(word == 0xc0de0100u);
    CHECK(delay > sc_core::sc_time(80, sc_core::SC_NS)); // fabric hops + memory latency
}

TEST_CASE("without a probe the platform binds its own memory to the host bridge", "[dma]") {
    host::tlm_machine m(topology());
    auto* hb = m.platform().root_complexes().at(0).host_bridge;
    CHECK(hb->upstream_attached());
    REQUIRE(m.platform().memory() != nullptr);
    CHECK(m.platform().memory()->size() == u64(1) << 40);
}

TEST_CASE("P2P under a switch without ACS RR reaches the sibling's BAR, never the root complex", "[dma][acs]") {
    bench b(topology());
    auto& ep_b = static_cast<pci_endpoint&>(b.find("ep_b"));
    CHECK(b.dma_write("ep_a", 0x90000010, 0x11223344) == tlm::TLM_OK_RESPONSE);
    CHECK(ep_b.peek(0, 0x10, 4) == 0x11223344u);
    CHECK(b.rc_probe->log.empty());
    const auto& trace = b.platform().dma_trace();
    CHECK(trace.count(dma_route::peer_to_peer) == 1);
    CHECK(trace.count(dma_route::to_root_complex) == 0);
    REQUIRE(trace.recent().size() == 1);
    CHECK(trace.recent()[0].requester_id == 0x0400);
    CHECK(std::string(trace.recent()[0].where).find("dsp1") != std::string::npos);

    // ACS P2P Request Redirect at the ingress port: up to the root complex (the root port forwards it
    // upstream because its Upstream Forwarding is on, as Linux enables it).
    b.set_acs(3, 0, "dsp1", PCI_ACS_RR);
    b.set_acs(0, pci_devfn(2, 0), "rp2", PCI_ACS_UF);
    CHECK(b.dma_write("ep_a", 0x90000020, 0x55667788) == tlm::TLM_OK_RESPONSE);
    CHECK(ep_b.peek(0, 0x20, 4) == 0);
    REQUIRE(b.rc_probe->log.size() == 1);
    CHECK(b.rc_probe->log[0].rid == 0x0400);
    CHECK(b.rc_probe->log[0].addr == 0x90000020);
    CHECK(trace.count(dma_route::to_root_complex) == 1);

    // Without UF at the root port the redirected request targets the port's own link: blocked (UR).
    b.set_acs(0, pci_devfn(2, 0), "rp2", 0);
    CHECK(b.dma_write("ep_a", 0x90000030, 1) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    CHECK(trace.count(dma_route::blocked) == 1);
    CHECK(b.rc_probe->log.size() == 1);

    // Direct Translated P2P: a translated request goes peer-to-peer despite RR.
    b.set_acs(3, 0, "dsp1", PCI_ACS_RR | PCI_ACS_DT);
    CHECK(b.dma_write("ep_a", 0x90000040, 0xabcd, tlmx::address_type::translated) == tlm::TLM_OK_RESPONSE);
    CHECK(ep_b.peek(0, 0x40, 4) == 0xabcdu);
    CHECK(trace.count(dma_route::peer_to_peer) == 2);
}

TEST_CASE("ACS Source Validation blocks a spoofed requester ID", "[dma][acs]") {
    bench b(topology());
    b.set_acs(3, 0, "dsp1", PCI_ACS_SV);
    b.find("ep_a").set_spoofed_requester_id(0x0500); // pretends to be ep_b
    CHECK(b.dma_write("ep_a", 0x2000, 1) == tlm::TLM_GENERIC_ERROR_RESPONSE);
    CHECK(b.rc_probe->log.empty());
    CHECK(b.platform().dma_trace().count(dma_route::blocked) == 1);
    CHECK(std::string(b.platform().dma_trace().recent().back().reason) == "ACS source validation");
    // An ID inside the port's bus range passes (SV checks the bus only).
    b.find("ep_a").set_spoofed_requester_id(0x0408);
    CHECK(b.dma_write("ep_a", 0x2000, 1) == tlm::TLM_OK_RESPONSE);
    CHECK(b.rc_probe->log.back().rid == 0x0408);
    // SV off: the spoofed ID goes through (what an IOMMU would then see).
    b.set_acs(3, 0, "dsp1", 0);
    b.find("ep_a").set_spoofed_requester_id(0x0500);
    CHECK(b.dma_write("ep_a", 0x2000, 1) == tlm::TLM_OK_RESPONSE);
    CHECK(b.rc_probe->log.back().rid == 0x0500);
}

TEST_CASE("ACS Translation Blocking blocks translated requests only", "[dma][acs]") {
    bench b(topology());
    b.set_acs(3, 0, "dsp1", PCI_ACS_TB);
    CHECK(b.dma_write("ep_a", 0x3000, 1, tlmx::address_type::translated) == tlm::TLM_GENERIC_ERROR_RESPONSE);
    CHECK(b.rc_probe->log.empty());
    CHECK(b.dma_write("ep_a", 0x3000, 1) == tlm::TLM_OK_RESPONSE);
    REQUIRE(b.rc_probe->log.size() == 1);
    CHECK(b.rc_probe->log[0].at == tlmx::address_type::untranslated);
    b.set_acs(3, 0, "dsp1", 0);
    CHECK(b.dma_write("ep_a", 0x3000, 1, tlmx::address_type::translated) == tlm::TLM_OK_RESPONSE);
    CHECK(b.rc_probe->log.back().at == tlmx::address_type::translated);
}

TEST_CASE("COMMAND.MASTER off stops DMA at the function and at each bridge", "[dma]") {
    bench b(topology());
    b.ops->config_write(0, 1, 0, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    CHECK(b.dma_write("ep1", 0x4000, 1) == tlm::TLM_GENERIC_ERROR_RESPONSE);
    b.ops->config_write(0, 1, 0, PCI_COMMAND, 2, mem_master);
    b.ops->config_write(0, 0, pci_devfn(1, 0), PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    CHECK(b.dma_write("ep1", 0x4000, 1) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    CHECK(b.rc_probe->log.empty());
    CHECK(b.platform().dma_trace().count(dma_route::blocked) == 2);
    CHECK(b.platform().memory()->read_le(0x4000, 4) == 0);
}

TEST_CASE("root ports: without root complex P2P support a sibling address goes to the root complex", "[dma][acs]") {
    SECTION("default (most Intel parts): to the root complex") {
        bench b(topology());
        CHECK(b.dma_write("ep1", 0x90000010, 7) == tlm::TLM_OK_RESPONSE);
        REQUIRE(b.rc_probe->log.size() == 1);
        CHECK(static_cast<pci_endpoint&>(b.find("ep_b")).peek(0, 0x10, 4) == 0);
    }
}

TEST_CASE("root ports: P2P between them when the root complex supports it", "[dma][acs]") {
    auto d = topology();
    d.params.p2p_between_root_ports = true;
    bench b(d);
    CHECK(b.dma_write("ep1", 0x90000010, 7) == tlm::TLM_OK_RESPONSE);
    CHECK(b.rc_probe->log.empty());
    CHECK(static_cast<pci_endpoint&>(b.find("ep_b")).peek(0, 0x10, 4) == 7u);
    CHECK(b.platform().dma_trace().count(dma_route::peer_to_peer) == 1);
    // RR at the ingress root port sends it to the root complex instead.
    b.set_acs(0, pci_devfn(2, 0), "rp2", PCI_ACS_RR); // rp2 is not the ingress: no effect
    CHECK(b.dma_write("ep1", 0x90000014, 8) == tlm::TLM_OK_RESPONSE);
    CHECK(b.platform().dma_trace().count(dma_route::peer_to_peer) == 2);
}

TEST_CASE("out-of-range DMA answers an address error from memory", "[dma]") {
    auto d = topology();
    d.params.memory.size = u64(1) << 30;
    bench b(d);
    CHECK(b.dma_write("ep1", u64(1) << 30, 1) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    CHECK(b.dma_write("ep1", ~u64(0) - 1, 1) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    CHECK(b.dma_write("ep1", (u64(1) << 30) - 4, 1) == tlm::TLM_OK_RESPONSE);
}

// ---- the DMA engine endpoint ----------------------------------------------------------------------


namespace {

// A dma_engine below its own root port (00:07.0 -> bus 10), attached while the platform elaborates.
struct engine_bench {
    std::unique_ptr<probe> rc_probe;
    std::unique_ptr<dma_engine> engine;
    std::unique_ptr<host::tlm_machine> m;
    host::pci_host_ops* ops = nullptr;
    std::vector<bool> intx_changes;
    static constexpr u64 bar0 = 0xb0000000;

    engine_bench() {
        auto d = topology();
        d.root_buses[0].functions.push_back(with_acs(fn(pci_devfn(7, 0), function_kind::root_port, "rp3"), acs_all));
        m = std::make_unique<host::tlm_machine>(d, [&](platforms::platform& p) {
            rc_probe = std::make_unique<probe>("rc_probe");
            p.root_complexes().at(0).host_bridge->to_iommu_or_memory.bind(rc_probe->in);
            rc_probe->out.bind(p.memory_bus()->target);
            function_params fp;
            fp.kind = function_kind::endpoint;
            fp.interrupt_pin = 1;
            fp.bars = {{0, dma_engine::BAR0_SIZE, false, true, false}};
            fp.msi = msi_params{4, true, true};
            fp.msix = msix_params{4, 0, u32(dma_engine::MSIX_TABLE), 0, u32(dma_engine::MSIX_PBA)};
            engine = std::make_unique<dma_engine>("engine", 0, build_config_space(fp));
            static_cast<pci_bridge*>(p.find("rp3"))->secondary().attach(*engine);
        });
        ops = &m->ops();
        engine->on_intx([this](bool level) { intx_changes.push_back(level); });
        ops->config_write(0, 0, pci_devfn(7, 0), PCI_PRIMARY_BUS, 4, 0u | 10u << 8 | 10u << 16);
        ops->config_write(0, 0, pci_devfn(7, 0), PCI_MEMORY_BASE, 2, (bar0 >> 16) & 0xfff0);
        ops->config_write(0, 0, pci_devfn(7, 0), PCI_MEMORY_LIMIT, 2, ((bar0 + 0xfffff) >> 16) & 0xfff0);
        ops->config_write(0, 0, pci_devfn(7, 0), PCI_COMMAND, 2, mem_master);
        ops->config_write(0, 10, 0, PCI_BASE_ADDRESS_0, 4, u32(bar0));
        ops->config_write(0, 10, 0, PCI_BASE_ADDRESS_0 + 4, 4, 0);
        ops->config_write(0, 10, 0, PCI_COMMAND, 2, mem_master);
    }
    void reg(u64 off, unsigned len, u64 v) { ops->mmio_write(bar0 + off, len, v); }
    u64 reg(u64 off, unsigned len = 4) { return ops->mmio_read(bar0 + off, len); }
    // Programs and kicks one operation through the driver helper; returns STATUS.
    u32 kick(u32 ctrl, u64 src, u64 dst, u32 len) {
        dma_engine_driver drv([this](u64 a, unsigned l) { return ops->mmio_read(a, l); },
                              [this](u64 a, unsigned l, u64 v) { ops->mmio_write(a, l, v); }, bar0);
        REQUIRE(drv.present());
        dma_engine_driver::operation o;
        o.op = ctrl & dma_engine::CTRL_OP;
        o.translated = ctrl & dma_engine::CTRL_TRANSLATED;
        o.irq = (ctrl & dma_engine::CTRL_IRQ_MASK) >> dma_engine::CTRL_IRQ_SHIFT;
        o.vector = (ctrl >> dma_engine::CTRL_VECTOR_SHIFT) & 0xff;
        o.src = src, o.dst = dst, o.len = len;
        o.pattern = u32(reg(dma_engine::REG_PATTERN));
        return drv.run(o);
    }
    memory::system_memory& mem() { return *m->platform().memory(); }
};

} // namespace

TEST_CASE("dma engine: copies memory to its buffer and back, fills, compares, in 4 KiB-safe pieces", "[dma][engine]") {
    engine_bench b;
    CHECK(b.reg(dma_engine::REG_ID) == dma_engine::ID_VALUE);
    for (u64 i = 0; i < 0x3000; i += 8) b.mem().write_le(0x10000 + i, 8, 0x0101010101010101ull * (i / 8 % 251));
    // memory -> buffer, unaligned start: pieces never cross 4 KiB
    CHECK(b.kick(dma_engine::OP_MEM_TO_BUF, 0x10ff0, 0, 0x2000) == dma_engine::STATUS_DONE);
    CHECK(b.reg(dma_engine::REG_BYTES) == 0x2000);
    for (const auto& s : b.rc_probe->log) CHECK(((s.addr & 0xfff) + 1) <= 0x1000);
    for (size_t i = 1; i < b.rc_probe->log.size(); ++i)
        CHECK((b.rc_probe->log[i].addr >> 12) == (b.rc_probe->log[i].addr >> 12)); // sanity
    const auto pieces = b.rc_probe->log.size();
    CHECK(pieces >= 0x2000 / 512 + 1);
    CHECK(b.rc_probe->log.front().rid == 0x0a00);
    CHECK(b.reg(dma_engine::BUFFER_OFFSET + 0x10, 8) == b.mem().read_le(0x11000, 8));
    // buffer -> memory
    CHECK(b.kick(dma_engine::OP_BUF_TO_MEM, 0, 0x40000, 0x2000) == dma_engine::STATUS_DONE);
    CHECK(b.mem().read_le(0x40010, 8) == b.mem().read_le(0x11000, 8));
    // compare: equal, then different
    CHECK(b.kick(dma_engine::OP_COMPARE, 0x40000, 0, 0x2000) == dma_engine::STATUS_DONE);
    b.mem().write_le(0x40100, 1, 0xee);
    CHECK(b.kick(dma_engine::OP_COMPARE, 0x40000, 0, 0x2000) == (dma_engine::STATUS_DONE | dma_engine::STATUS_MISCOMPARE));
    // fill
    b.reg(dma_engine::REG_PATTERN, 4, 0xa5a5c3c3);
    CHECK(b.kick(dma_engine::OP_FILL, 0, 0x80002, 0x1800) == dma_engine::STATUS_DONE);
    CHECK(b.mem().read_le(0x80002, 4) == 0xa5a5c3c3u);
    CHECK(b.mem().read_le(0x80002 + 0x17fc, 4) == 0xa5a5c3c3u);
    CHECK(b.mem().read_le(0x80002 + 0x1800, 4) == 0);
    CHECK(b.engine->last_duration() > sc_core::SC_ZERO_TIME);
}

TEST_CASE("dma engine: hostile register values give error status, never a crash or hang", "[dma][engine]") {
    engine_bench b;
    auto code = [&](u32 status) { return (status >> 8) & 0xff; };
    u32 s = b.kick(dma_engine::OP_FILL, 0, 0x1000, 0xffffffff); // huge LEN
    CHECK((s & dma_engine::STATUS_ERROR));
    CHECK(code(s) == dma_engine::ERR_LENGTH);
    CHECK(code(b.kick(dma_engine::OP_MEM_TO_BUF, 0x1000, 0, 0)) == dma_engine::ERR_LENGTH);
    CHECK(code(b.kick(dma_engine::OP_MEM_TO_BUF, 0x1000, 0x3fff, 2)) == dma_engine::ERR_BUFFER);
    CHECK(code(b.kick(dma_engine::OP_BUF_TO_MEM, ~u64(0) - 0x10, 0x1000, 0x10)) == dma_engine::ERR_BUFFER);
    CHECK(code(b.kick(dma_engine::OP_FILL, 0, ~u64(0) - 2, 16)) == dma_engine::ERR_ADDRESS);
    s = b.kick(dma_engine::OP_BUF_TO_MEM, 0, (u64(1) << 40) - 8, 16); // runs off the end of memory
    CHECK(code(s) == dma_engine::ERR_UNSUPPORTED);
    CHECK(b.reg(dma_engine::REG_ERR_ADDR, 8) == (u64(1) << 40));
    CHECK(b.reg(dma_engine::REG_BYTES) == 8);
    // Unaligned odd-sized copies work.
    CHECK(b.kick(dma_engine::OP_BUF_TO_MEM, 3, 0x5003, 7) == dma_engine::STATUS_DONE);
    // Bus master off: nothing leaves the device.
    const auto before = b.rc_probe->log.size();
    b.ops->config_write(0, 10, 0, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    CHECK(code(b.kick(dma_engine::OP_FILL, 0, 0x6000, 64)) == dma_engine::ERR_NOT_MASTER);
    CHECK(b.rc_probe->log.size() == before);
    // Random register garbage never hangs.
    b.ops->config_write(0, 10, 0, PCI_COMMAND, 2, mem_master);
    u64 x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 2000; ++i) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        b.reg((x >> 8) % 0x48 & ~u64(3), 4, x);
        if (i % 7 == 0) b.reg(dma_engine::REG_DOORBELL, 4, 1);
    }
    CHECK(b.reg(dma_engine::REG_ID) == dma_engine::ID_VALUE);
}

TEST_CASE("dma engine: DMA blocked by ACS and translated requests set error status", "[dma][engine]") {
    engine_bench b;
    // ACS off at rp3: a translated request reaches the root complex with AT = translated.
    CHECK(b.kick(dma_engine::OP_FILL | dma_engine::CTRL_TRANSLATED, 0, 0x7000, 8) == dma_engine::STATUS_DONE);
    CHECK(b.rc_probe->log.back().at == tlmx::address_type::translated);
    // Translation Blocking on at rp3: Completer Abort, error code 5, nothing reaches the root complex.
    const auto n = b.rc_probe->log.size();
    const u16 acs = *b.m->platform().find("rp3")->config().find_ext_capability(PCI_EXT_CAP_ID_ACS);
    b.ops->config_write(0, 0, pci_devfn(7, 0), acs + PCI_ACS_CTRL, 2, PCI_ACS_TB);
    const u32 s = b.kick(dma_engine::OP_FILL | dma_engine::CTRL_TRANSLATED, 0, 0x7000, 8);
    CHECK((s & dma_engine::STATUS_ERROR));
    CHECK(((s >> 8) & 0xff) == dma_engine::ERR_ABORT);
    CHECK(b.reg(dma_engine::REG_ERR_ADDR, 8) == 0x7000);
    CHECK(b.rc_probe->log.size() == n);
    // Source Validation with a spoofed ID: blocked as well.
    b.ops->config_write(0, 0, pci_devfn(7, 0), acs + PCI_ACS_CTRL, 2, PCI_ACS_SV);
    b.engine->set_spoofed_requester_id(0x0100);
    CHECK(((b.kick(dma_engine::OP_FILL, 0, 0x7000, 8) >> 8) & 0xff) == dma_engine::ERR_ABORT);
    b.engine->set_spoofed_requester_id(std::nullopt);
    CHECK(b.kick(dma_engine::OP_FILL, 0, 0x7000, 8) == dma_engine::STATUS_DONE);
}

TEST_CASE("dma engine: MSI, MSI-X and INTx", "[dma][engine]") {
    engine_bench b;
    const u16 msi = *b.engine->config().find_capability(PCI_CAP_ID_MSI);
    // MSI: address/data the kernel programmed, 2 vectors enabled; vector 1 ORs into the data.
    b.ops->config_write(0, 10, 0, msi + PCI_MSI_ADDRESS_LO, 4, 0xfee01000);
    b.ops->config_write(0, 10, 0, msi + PCI_MSI_ADDRESS_HI, 4, 0);
    b.ops->config_write(0, 10, 0, msi + PCI_MSI_DATA_64, 2, 0x4040);
    b.reg(dma_engine::REG_IRQ, 4, 3 | 1 << 8);
    CHECK((b.reg(dma_engine::REG_STATUS) & dma_engine::STATUS_IRQ_FAILED)); // MSI not enabled yet
    b.reg(dma_engine::REG_STATUS, 4, dma_engine::STATUS_IRQ_FAILED);
    b.ops->config_write(0, 10, 0, msi + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE | 1 << 4);
    b.reg(dma_engine::REG_IRQ, 4, 3 | 1 << 8);
    CHECK(b.reg(dma_engine::REG_STATUS) == 0);
    REQUIRE(!b.rc_probe->log.empty());
    CHECK(b.rc_probe->log.back().addr == 0xfee01000);
    CHECK(b.rc_probe->log.back().write);
    // The LAPICs' window, not memory, takes the message (the platform's interrupt controller).
    auto& intc = *b.m->platform().interrupt_controller();
    REQUIRE(intc.records().size() == 1);
    CHECK(intc.records().back().data == 0x4041u);
    // Completion interrupt by MSI after a transfer.
    CHECK(b.kick(dma_engine::OP_FILL | dma_engine::IRQ_MSI << dma_engine::CTRL_IRQ_SHIFT, 0, 0x9000, 4) ==
          dma_engine::STATUS_DONE);
    CHECK(intc.records().back().data == 0x4040u);

    // MSI-X: entry 2 in the BAR0 table; masked -> pending bit, unmasked -> message.
    const u16 msix = *b.engine->config().find_capability(PCI_CAP_ID_MSIX);
    b.ops->config_write(0, 10, 0, msix + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
    const u64 e2 = dma_engine::MSIX_TABLE + 2 * 16;
    b.reg(e2, 8, 0xfee02000);
    b.reg(e2 + 8, 4, 0x77);
    b.reg(e2 + 12, 4, 1); // masked
    b.reg(dma_engine::REG_IRQ, 4, 3 | 4 | 2 << 8);
    CHECK(b.reg(dma_engine::MSIX_PBA, 8) == 4u);
    CHECK(intc.records().size() == 2);
    b.reg(e2 + 12, 4, 0);
    b.reg(dma_engine::REG_IRQ, 4, 3 | 4 | 2 << 8);
    CHECK(intc.records().back().address == 0xfee02000u);
    CHECK(intc.records().back().data == 0x77u);
    CHECK(b.reg(dma_engine::MSIX_PBA, 8) == 0);

    // INTx: level, STATUS.INTERRUPT, COMMAND.INTX_DISABLE gates the line.
    b.reg(dma_engine::REG_IRQ, 4, 1);
    CHECK(b.engine->intx_line());
    CHECK((b.ops->config_read(0, 10, 0, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT));
    b.ops->config_write(0, 10, 0, PCI_COMMAND, 2, mem_master | PCI_COMMAND_INTX_DISABLE);
    CHECK_FALSE(b.engine->intx_line());
    CHECK((b.ops->config_read(0, 10, 0, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT)); // status still shows it
    b.ops->config_write(0, 10, 0, PCI_COMMAND, 2, mem_master);
    CHECK(b.engine->intx_line());
    b.reg(dma_engine::REG_IRQ, 4, 2);
    CHECK_FALSE(b.engine->intx_line());
    CHECK_FALSE((b.ops->config_read(0, 10, 0, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT));
    CHECK(b.intx_changes == std::vector<bool>{true, false, true, false});
}

TEST_CASE("dma engine from the platform description: without an IOMMU its MSI reaches the interrupt controller", "[dma][engine][intc]") {
    // 00:01.0 root port -> dma_engine; firmware assigned BAR0 and the port's window; the "driver" here only
    // numbers the bus, enables bus mastering and programs MSI, as Linux would.
    function_desc eng;
    eng.where = "/root_buses/0/devices/0/children/0";
    eng.name = "eng";
    eng.params = dma_engine_function_params();
    auto rp = fn(pci_devfn(1, 0), function_kind::root_port, "rp");
    rp.params.bars.clear();
    rp.children = {eng};
    platform_desc d;
    d.source = "tb_dma";
    root_bus_desc rb;
    rb.where = "/root_buses/0";
    rb.functions = {rp};
    d.root_buses.push_back(rb);
    host::tlm_machine m(d);
    auto& ops = m.ops();
    auto& p = m.platform();
    REQUIRE(dynamic_cast<dma_engine*>(p.find("eng")));
    auto* intc = p.interrupt_controller();
    REQUIRE(intc);
    const u64 bar0 = p.bar_address("eng", 0).value();

    ops.config_write(0, 0, pci_devfn(1, 0), PCI_PRIMARY_BUS, 4, 0u | 3u << 8 | 3u << 16);
    const u16 cmd = u16(ops.config_read(0, 0, pci_devfn(1, 0), PCI_COMMAND, 2));
    CHECK((cmd & PCI_COMMAND_MEMORY));
    ops.config_write(0, 0, pci_devfn(1, 0), PCI_COMMAND, 2, cmd | PCI_COMMAND_MASTER);
    ops.config_write(0, 3, 0, PCI_COMMAND, 2, ops.config_read(0, 3, 0, PCI_COMMAND, 2) | PCI_COMMAND_MASTER);
    const u16 msi = *p.find("eng")->config().find_capability(PCI_CAP_ID_MSI);
    ops.config_write(0, 3, 0, msi + PCI_MSI_ADDRESS_LO, 4, 0xfee05000); // APIC ID 5, physical
    ops.config_write(0, 3, 0, msi + PCI_MSI_ADDRESS_HI, 4, 0);
    ops.config_write(0, 3, 0, msi + PCI_MSI_DATA_64, 2, 0x0060);
    ops.config_write(0, 3, 0, msi + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE | 2 << 4); // 4 vectors

    dma_engine_driver drv([&](u64 a, unsigned l) { return ops.mmio_read(a, l); },
                          [&](u64 a, unsigned l, u64 v) { ops.mmio_write(a, l, v); }, bar0);
    REQUIRE(drv.present());
    dma_engine_driver::operation o;
    o.op = dma_engine::OP_FILL;
    o.dst = 0x200000000ull; // above 4 GiB: memory.high
    o.len = 64;
    o.pattern = 0xa5a55a5a;
    o.irq = dma_engine::IRQ_MSI;
    o.vector = 2;
    CHECK(drv.run(o) == dma_engine::STATUS_DONE);
    CHECK(p.memory()->read_le(0x200000000ull + 60, 4) == 0xa5a55a5au);
    REQUIRE(intc->records().size() == 1);
    const auto& r = intc->records().back();
    CHECK(r.requester_id == std::optional<u16>(0x0300));
    CHECK(r.msg.destination == 5);
    CHECK(r.msg.vector == 0x62);
    CHECK(r.msg.mode == intc::delivery_mode::fixed);

    // A device pointing a bulk write at the LAPIC window gets an error, the controller only counts it.
    o.dst = 0xfee00000;
    o.len = 16;
    o.irq = dma_engine::IRQ_NONE;
    const u32 s = drv.run(o);
    CHECK((s & dma_engine::STATUS_ERROR));
    CHECK(intc->records().size() == 1);
    CHECK(intc->stats().rejected == 1);
}

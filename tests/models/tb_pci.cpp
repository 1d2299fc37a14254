// Testbench of the PCI fabric models (pci_host_bridge, pci_bus, pci_bridge, pci_endpoint, intel_pch_lpc)
// through a platform built from a description and the simulated kernel's access path (tlm_host_ops).
// CTest runs each TEST_CASE in its own process: each elaborates its own small platform.
#include "models/pci/cfg/pci_regs.h"
#include "models/pci/intel_pch_lpc.h"
#include "models/pci/pci_bridge.h"
#include "models/pci/pci_endpoint.h"
#include "platforms/platform.h"
#include "sim/core/bdf.h"
#include "sim/host/tlm/tlm_host_ops.h"
#include "sim/tlm/payload_data.h"
#include "sim/tlm/pci_extension.h"

#include <catch2/catch.hpp>
#include <memory>
#include <tlm_utils/simple_target_socket.h>

using namespace iommusim;
using namespace iommusim::pci;
using iommusim::platforms::function_desc;
using iommusim::platforms::platform_desc;
using iommusim::platforms::root_bus_desc;

namespace {

function_desc fn(u8 devfn, function_kind kind, std::string name = {}) {
    function_desc f;
    f.devfn = devfn;
    f.name = std::move(name);
    f.where = "test/" + f.name;
    f.params.kind = kind;
    f.params.vendor_id = 0x1b36;
    f.params.device_id = u16(0x1000 + devfn);
    f.params.class_code = is_bridge(kind) ? 0x060400 : 0x020000;
    return f;
}

platform_desc one_root(std::vector<function_desc> funcs) {
    platform_desc d;
    d.source = "tb_pci";
    root_bus_desc rb;
    rb.where = "/root_buses/0";
    rb.functions = std::move(funcs);
    d.root_buses.push_back(std::move(rb));
    return d;
}

// Programs a bridge's bus numbers the way the kernel does (pci_scan_bridge): one dword write.
void set_buses(host::pci_host_ops& ops, u8 bus, u8 devfn, u8 primary, u8 secondary, u8 subordinate) {
    ops.config_write(0, bus, devfn, PCI_PRIMARY_BUS, 4, u32(primary) | u32(secondary) << 8 | u32(subordinate) << 16);
}

constexpr u32 all_ones = 0xffffffffu;

} // namespace

TEST_CASE("ECAM reaches root bus functions, empty devfns read all ones", "[pci]") {
    host::tlm_machine m(one_root({fn(pci_devfn(2, 0), function_kind::endpoint, "nic")}));
    auto& ops = m.ops();
    CHECK(ops.config_read(0, 0, pci_devfn(2, 0), PCI_VENDOR_ID, 4) == 0x10101b36u);
    CHECK(ops.config_read(0, 0, pci_devfn(2, 0), PCI_VENDOR_ID, 2) == 0x1b36);
    CHECK(ops.config_read(0, 0, pci_devfn(2, 0), PCI_DEVICE_ID + 1, 1) == 0x10);
    CHECK(ops.config_read(0, 0, pci_devfn(3, 0), PCI_VENDOR_ID, 4) == all_ones);
    CHECK(ops.config_read(0, 0, pci_devfn(2, 1), PCI_VENDOR_ID, 2) == 0xffff);
    CHECK(ops.config_read(1, 0, pci_devfn(2, 0), PCI_VENDOR_ID, 4) == all_ones); // no such segment
    // Writes to nothing vanish without harm.
    ops.config_write(0, 0, pci_devfn(9, 0), PCI_COMMAND, 2, 0xffff);
    // Misaligned and oversized requests never crash and read all ones.
    CHECK(ops.config_read(0, 0, pci_devfn(2, 0), PCI_VENDOR_ID + 1, 2) == 0xffff);
    CHECK(ops.config_read(0, 0, pci_devfn(2, 0), 0x1000, 4) == all_ones);
    CHECK(ops.config_read(0, 0, pci_devfn(2, 0), 0, 3) == 0xffffffu);
    CHECK(m.ops().elapsed() > sc_core::SC_ZERO_TIME); // delays are annotated...
    CHECK(sc_core::sc_time_stamp() == sc_core::SC_ZERO_TIME); // ...without advancing simulation time
}

TEST_CASE("RO, RW and RW1C registers through ECAM", "[pci]") {
    auto f = fn(pci_devfn(1, 0), function_kind::endpoint);
    f.params.bars = {{0, 0x4000, false, false, false}};
    host::tlm_machine m(one_root({f}));
    auto& ops = m.ops();
    const u8 d = pci_devfn(1, 0);
    ops.config_write(0, 0, d, PCI_VENDOR_ID, 4, 0); // RO
    CHECK(ops.config_read(0, 0, d, PCI_VENDOR_ID, 2) == 0x1b36);
    ops.config_write(0, 0, d, PCI_COMMAND, 2, 0xffff); // RW bits only
    CHECK(ops.config_read(0, 0, d, PCI_COMMAND, 2) == PCI_COMMAND_WMASK);
    // The model raises a status error bit; software clears it by writing one.
    auto* model = m.platform().functions().at(0).model;
    model->config().set16(PCI_STATUS, u16(model->config().get16(PCI_STATUS) | PCI_STATUS_SIG_SYSTEM_ERROR));
    CHECK((ops.config_read(0, 0, d, PCI_STATUS, 2) & PCI_STATUS_SIG_SYSTEM_ERROR) != 0);
    ops.config_write(0, 0, d, PCI_STATUS, 2, PCI_STATUS_SIG_SYSTEM_ERROR);
    CHECK((ops.config_read(0, 0, d, PCI_STATUS, 2) & PCI_STATUS_SIG_SYSTEM_ERROR) == 0);
    // BAR sizing through ECAM.
    ops.config_write(0, 0, d, PCI_BASE_ADDRESS_0, 4, all_ones);
    CHECK(ops.config_read(0, 0, d, PCI_BASE_ADDRESS_0, 4) == 0xffffc000u);
    // Extended space of a PCIe function: no extended capabilities (null header).
    CHECK(ops.config_read(0, 0, d, 0x100, 4) == 0);
    // The function captured its bus number from the type 0 write (PCIe Base §2.2.6.2).
    CHECK(model->captured_bus() == 0);
}

TEST_CASE("type 1 routing follows the programmed secondary and subordinate numbers", "[pci]") {
    // 00:1c.0 root port -> 01:00.0 switch upstream -> 02:{00,01}.0 downstream ports -> 03:00.0, 04:00.0
    auto rp = fn(pci_devfn(0x1c, 0), function_kind::root_port, "rp");
    auto up = fn(0, function_kind::switch_upstream, "up");
    auto dn0 = fn(pci_devfn(0, 0), function_kind::switch_downstream, "dn0");
    auto dn1 = fn(pci_devfn(1, 0), function_kind::switch_downstream, "dn1");
    dn0.children = {fn(0, function_kind::endpoint, "ep0")};
    dn1.children = {fn(0, function_kind::endpoint, "ep1")};
    up.children = {dn0, dn1};
    rp.children = {up};
    host::tlm_machine m(one_root({rp}));
    auto& ops = m.ops();
    const u8 rpd = pci_devfn(0x1c, 0);

    CHECK(ops.config_read(0, 0, rpd, PCI_VENDOR_ID, 2) == 0x1b36);
    // Unnumbered bridge: nothing below is reachable.
    CHECK(ops.config_read(0, 1, 0, PCI_VENDOR_ID, 4) == all_ones);

    set_buses(ops, 0, rpd, 0, 1, 1);
    CHECK(ops.config_read(0, 1, 0, PCI_DEVICE_ID, 2) == 0x1000);
    CHECK(ops.config_read(0, 2, 0, PCI_VENDOR_ID, 4) == all_ones); // beyond subordinate: unclaimed

    set_buses(ops, 0, rpd, 0, 1, 4);
    set_buses(ops, 1, 0, 1, 2, 4);
    CHECK(ops.config_read(0, 2, pci_devfn(0, 0), PCI_DEVICE_ID, 2) == 0x1000);
    CHECK(ops.config_read(0, 2, pci_devfn(1, 0), PCI_DEVICE_ID, 2) == 0x1008);
    CHECK(ops.config_read(0, 3, 0, PCI_VENDOR_ID, 4) == all_ones); // dn0 not numbered yet
    set_buses(ops, 2, pci_devfn(0, 0), 2, 3, 3);
    set_buses(ops, 2, pci_devfn(1, 0), 2, 4, 4);
    CHECK(ops.config_read(0, 3, 0, PCI_CLASS_DEVICE, 2) == 0x0200);
    CHECK(ops.config_read(0, 4, 0, PCI_CLASS_DEVICE, 2) == 0x0200);
    CHECK(ops.config_read(0, 5, 0, PCI_VENDOR_ID, 4) == all_ones);

    // Writes reach the right function; each captured its own bus number.
    ops.config_write(0, 4, 0, PCI_INTERRUPT_LINE, 1, 0x2a);
    CHECK(ops.config_read(0, 4, 0, PCI_INTERRUPT_LINE, 1) == 0x2a);
    CHECK(ops.config_read(0, 3, 0, PCI_INTERRUPT_LINE, 1) == 0);
    CHECK(m.platform().find("ep1")->captured_bus() == 4);
    CHECK(m.platform().find("ep1")->requester_id() == 0x0400);

    // Renumbering moves the hierarchy: the old number is no longer claimed.
    set_buses(ops, 2, pci_devfn(1, 0), 2, 4, 4);
    set_buses(ops, 0, rpd, 0, 1, 3);
    CHECK(ops.config_read(0, 4, 0, PCI_VENDOR_ID, 4) == all_ones);
}

TEST_CASE("a downstream port passes type 0 only to device 0", "[pci]") {
    auto rp = fn(pci_devfn(1, 0), function_kind::root_port);
    rp.children = {fn(pci_devfn(0, 0), function_kind::endpoint), fn(pci_devfn(1, 0), function_kind::endpoint)};
    auto pb = fn(pci_devfn(2, 0), function_kind::pcie_to_pci_bridge);
    pb.children = {fn(pci_devfn(0, 0), function_kind::pci_endpoint), fn(pci_devfn(5, 0), function_kind::pci_endpoint)};
    host::tlm_machine m(one_root({rp, pb}));
    auto& ops = m.ops();
    set_buses(ops, 0, pci_devfn(1, 0), 0, 1, 1);
    set_buses(ops, 0, pci_devfn(2, 0), 0, 2, 2);
    CHECK(ops.config_read(0, 1, pci_devfn(0, 0), PCI_VENDOR_ID, 2) == 0x1b36);
    CHECK(ops.config_read(0, 1, pci_devfn(1, 0), PCI_VENDOR_ID, 2) == 0xffff);
    // A conventional PCI bus below a PCIe-to-PCI bridge has many devices.
    CHECK(ops.config_read(0, 2, pci_devfn(0, 0), PCI_VENDOR_ID, 2) == 0x1b36);
    CHECK(ops.config_read(0, 2, pci_devfn(5, 0), PCI_VENDOR_ID, 2) == 0x1b36);
    // Conventional functions have no extended space.
    CHECK(ops.config_read(0, 2, pci_devfn(5, 0), 0x100, 4) == all_ones);
}

TEST_CASE("multifunction header bit on function 0 of a shared slot", "[pci]") {
    host::tlm_machine m(one_root({fn(pci_devfn(3, 0), function_kind::endpoint), fn(pci_devfn(3, 2), function_kind::endpoint),
                                  fn(pci_devfn(4, 0), function_kind::endpoint)}));
    auto& ops = m.ops();
    CHECK(ops.config_read(0, 0, pci_devfn(3, 0), PCI_HEADER_TYPE, 1) == 0x80);
    CHECK(ops.config_read(0, 0, pci_devfn(3, 2), PCI_HEADER_TYPE, 1) == 0x00);
    CHECK(ops.config_read(0, 0, pci_devfn(4, 0), PCI_HEADER_TYPE, 1) == 0x00);
    CHECK(ops.config_read(0, 0, pci_devfn(3, 1), PCI_HEADER_TYPE, 1) == 0xff);
}

TEST_CASE("a captured device reads back verbatim", "[pci]") {
    std::vector<u8> bytes(256);
    for (unsigned i = 0; i < bytes.size(); ++i) bytes[i] = u8(i * 7 + 3);
    bytes[PCI_HEADER_TYPE] = 0x00;
    bytes[PCI_STATUS] = 0; // no capability list: nothing to walk
    auto f = fn(pci_devfn(5, 0), function_kind::captured);
    f.params.config = bytes;
    host::tlm_machine m(one_root({f}));
    auto& ops = m.ops();
    for (unsigned i = 0; i < 256; i += 4) {
        const u32 want = u32(bytes[i]) | u32(bytes[i + 1]) << 8 | u32(bytes[i + 2]) << 16 | u32(bytes[i + 3]) << 24;
        REQUIRE(ops.config_read(0, 0, pci_devfn(5, 0), u16(i), 4) == want);
    }
    CHECK(ops.config_read(0, 0, pci_devfn(5, 0), 0x100, 4) == 0);
    CHECK(dynamic_cast<pci_endpoint*>(m.platform().functions()[0].model) != nullptr);
}

TEST_CASE("MMIO reaches a programmed BAR through the bridge windows", "[pci]") {
    auto rp = fn(pci_devfn(1, 0), function_kind::root_port);
    auto ep = fn(0, function_kind::endpoint, "ep");
    ep.params.bars = {{0, 0x4000, false, false, false}, {2, 0x200000, false, true, true}};
    rp.children = {ep};
    host::tlm_machine m(one_root({rp}));
    auto& ops = m.ops();
    const auto& rc = m.platform().root_complexes().at(0);
    REQUIRE(rc.mmio32_size >= 0x100000);
    const u64 bar0 = rc.mmio32_base, bar2 = rc.mmio64_base;
    const u8 rpd = pci_devfn(1, 0);
    set_buses(ops, 0, rpd, 0, 1, 1);
    // Undo firmware's assignment (platforms/desc/firmware_resources.h): windows closed, decode off.
    ops.config_write(0, 0, rpd, PCI_COMMAND, 2, 0);
    ops.config_write(0, 0, rpd, PCI_MEMORY_BASE, 2, 0xfff0);
    ops.config_write(0, 0, rpd, PCI_MEMORY_LIMIT, 2, 0);
    ops.config_write(0, 0, rpd, PCI_PREF_MEMORY_BASE, 2, 0xfff0);
    ops.config_write(0, 0, rpd, PCI_PREF_MEMORY_LIMIT, 2, 0);
    ops.config_write(0, 0, rpd, PCI_PREF_BASE_UPPER32, 4, 0);
    ops.config_write(0, 0, rpd, PCI_PREF_LIMIT_UPPER32, 4, 0);
    ops.config_write(0, 1, 0, PCI_BASE_ADDRESS_0, 4, u32(bar0));
    ops.config_write(0, 1, 0, PCI_BASE_ADDRESS_0 + 8, 4, u32(bar2));
    ops.config_write(0, 1, 0, PCI_BASE_ADDRESS_0 + 12, 4, u32(bar2 >> 32));
    ops.config_write(0, 1, 0, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);

    // The bridge's windows are closed: nothing reaches the endpoint.
    ops.mmio_write(bar0 + 0x10, 4, 0x12345678);
    CHECK(ops.mmio_read(bar0 + 0x10, 4) == 0xffffffffu);

    ops.config_write(0, 0, rpd, PCI_MEMORY_BASE, 2, u16(bar0 >> 16));
    ops.config_write(0, 0, rpd, PCI_MEMORY_LIMIT, 2, u16(bar0 >> 16));
    CHECK(ops.mmio_read(bar0 + 0x10, 4) == 0xffffffffu); // window open, bridge MEMORY off
    ops.config_write(0, 0, rpd, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    ops.mmio_write(bar0 + 0x10, 4, 0x12345678);
    CHECK(ops.mmio_read(bar0 + 0x10, 4) == 0x12345678u);
    CHECK(ops.mmio_read(bar0 + 0x12, 2) == 0x1234u);
    CHECK(ops.mmio_read(bar0 + 0x4000, 4) == 0xffffffffu); // past the BAR, still in the window
    auto* ep_model = dynamic_cast<pci_endpoint*>(m.platform().find("ep"));
    REQUIRE(ep_model);
    CHECK(ep_model->peek(0, 0x10, 4) == 0x12345678u);

    // 64-bit prefetchable BAR behind the prefetchable window.
    ops.mmio_write(bar2 + 8, 8, 0x1122334455667788ull);
    CHECK(ops.mmio_read(bar2 + 8, 8) == ~u64(0));
    ops.config_write(0, 0, rpd, PCI_PREF_MEMORY_BASE, 2, u16(bar2 >> 16));
    ops.config_write(0, 0, rpd, PCI_PREF_MEMORY_LIMIT, 2, u16(bar2 >> 16));
    ops.config_write(0, 0, rpd, PCI_PREF_BASE_UPPER32, 4, u32(bar2 >> 32));
    ops.config_write(0, 0, rpd, PCI_PREF_LIMIT_UPPER32, 4, u32(bar2 >> 32));
    ops.mmio_write(bar2 + 8, 8, 0x1122334455667788ull);
    CHECK(ops.mmio_read(bar2 + 8, 8) == 0x1122334455667788ull);

    // Memory decode off in the endpoint: master abort again.
    ops.config_write(0, 1, 0, PCI_COMMAND, 2, 0);
    CHECK(ops.mmio_read(bar0 + 0x10, 4) == 0xffffffffu);
    // Outside every aperture: the system bus has no target.
    CHECK(ops.mmio_read(0x1000, 4) == 0xffffffffu);
}

TEST_CASE("upstream DMA goes through the bridges to an unattached host bridge: address error", "[pci]") {
    auto rp = fn(pci_devfn(1, 0), function_kind::root_port);
    rp.children = {fn(0, function_kind::endpoint, "ep")};
    auto pb = fn(pci_devfn(2, 0), function_kind::pcie_to_pci_bridge);
    pb.children = {fn(pci_devfn(3, 0), function_kind::pci_endpoint, "legacy")};
    auto desc = one_root({rp, pb});
    desc.params.memory.size = 0; // no system memory: the host bridge keeps its unattached sink
    host::tlm_machine m(desc);
    auto& ops = m.ops();
    auto* hb = m.platform().root_complexes().at(0).host_bridge;
    REQUIRE(!hb->upstream_attached());
    set_buses(ops, 0, pci_devfn(1, 0), 0, 1, 1);
    set_buses(ops, 0, pci_devfn(2, 0), 0, 2, 2);
    ops.config_write(0, 1, 0, PCI_VENDOR_ID, 4, 0); // a type 0 write lets the endpoint capture bus 1

    auto* ep = m.platform().find("ep");
    u32 word = 0;
    tlm::tlm_generic_payload gp;
    auto dma = [&](pci_function* f, tlmx::pci_extension* ext) {
        tlmx::init_payload(gp, tlm::TLM_READ_COMMAND, 0x1000, reinterpret_cast<unsigned char*>(&word), 4);
        if (ext) gp.set_extension(ext);
        sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
        f->issue_dma(gp, delay);
        if (ext) gp.clear_extension(ext);
        return gp.get_response_status();
    };

    CHECK(dma(ep, nullptr) == tlm::TLM_GENERIC_ERROR_RESPONSE); // endpoint BME off: cannot master
    ops.config_write(0, 1, 0, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
    CHECK(dma(ep, nullptr) == tlm::TLM_ADDRESS_ERROR_RESPONSE); // root port BME off: UR
    CHECK(hb->unattached_dma_count() == 0);
    ops.config_write(0, 0, pci_devfn(1, 0), PCI_COMMAND, 2, PCI_COMMAND_MASTER);
    tlmx::pci_extension ext;
    ext.pasid = 5;
    CHECK(dma(ep, &ext) == tlm::TLM_ADDRESS_ERROR_RESPONSE); // reached the unattached host bridge
    CHECK(hb->unattached_dma_count() == 1);
    CHECK(ext.request == tlmx::pci_request::dma);
    CHECK(ext.requester_id == 0x0100);
    CHECK(ext.pasid == std::optional<u32>(5));
    CHECK(gp.get_extension<tlmx::pci_extension>() == nullptr);

    // Behind a PCIe-to-PCI bridge the bridge's secondary bus, devfn 0 becomes the requester.
    auto* legacy = m.platform().find("legacy");
    ops.config_write(0, 2, pci_devfn(3, 0), PCI_COMMAND, 2, PCI_COMMAND_MASTER);
    ops.config_write(0, 0, pci_devfn(2, 0), PCI_COMMAND, 2, PCI_COMMAND_MASTER);
    tlmx::pci_extension ext2;
    CHECK(dma(legacy, &ext2) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    CHECK(hb->unattached_dma_count() == 2);
    CHECK(ext2.requester_id == 0x0200);
}

TEST_CASE("Intel PCH LPC decodes RCBA: BSPR read-only, UPDCR read-write", "[pci]") {
    auto lpc = fn(pci_devfn(0x1f, 0), function_kind::pci_endpoint, "lpc");
    lpc.params.vendor_id = PCI_VENDOR_ID_INTEL;
    lpc.params.class_code = 0x060100;
    lpc.params.rcba = 0xfed1c001;
    lpc.params.rcba_bspr = 0x00000200;
    lpc.params.rcba_updcr = 0x0000003f;
    host::tlm_machine m(one_root({lpc}));
    auto& ops = m.ops();
    REQUIRE(dynamic_cast<intel_pch_lpc*>(m.platform().find("lpc")));
    CHECK(ops.config_read(0, 0, pci_devfn(0x1f, 0), INTEL_LPC_RCBA_REG, 4) == 0xfed1c001u);
    const u64 rcba = 0xfed1c000;
    CHECK(ops.mmio_read(rcba + INTEL_BSPR_REG, 4) == 0x200);
    ops.mmio_write(rcba + INTEL_BSPR_REG, 4, 0);
    CHECK(ops.mmio_read(rcba + INTEL_BSPR_REG, 4) == 0x200);
    CHECK(ops.mmio_read(rcba + INTEL_UPDCR_REG, 4) == 0x3f);
    ops.mmio_write(rcba + INTEL_UPDCR_REG, 4, 0x3f & ~0x3fu);
    CHECK(ops.mmio_read(rcba + INTEL_UPDCR_REG, 4) == 0);
    CHECK(ops.mmio_read(rcba + 0x10, 4) == 0);
    // The offset early Linux quirks used for UPDCR decodes nothing.
    ops.mmio_write(rcba + 0x1114, 4, 0xffffffffu);
    CHECK(ops.mmio_read(rcba + 0x1114, 4) == 0);
    // Disabling RCBA in config space removes the decode.
    ops.config_write(0, 0, pci_devfn(0x1f, 0), INTEL_LPC_RCBA_REG, 4, 0xfed1c000);
    CHECK(ops.mmio_read(rcba + INTEL_BSPR_REG, 4) == 0xffffffffu);
}

TEST_CASE("random guest config and MMIO traffic never crashes the fabric", "[pci][robustness]") {
    auto rp = fn(pci_devfn(1, 0), function_kind::root_port);
    auto ep = fn(0, function_kind::endpoint);
    ep.params.bars = {{0, 0x4000, false, false, false}, {2, 0x100000, false, true, true}};
    ep.params.msi = msi_params{};
    ep.params.msix = msix_params{};
    ep.params.acs = acs_params{PCI_ACS_ALL, 0, 0};
    ep.params.ats = ep.params.pasid = ep.params.pri = true;
    rp.children = {ep};
    auto lpc = fn(pci_devfn(0x1f, 0), function_kind::pci_endpoint);
    lpc.params.rcba = 0xfed1c001;
    std::vector<u8> junk(4096);
    u32 x = 12345;
    auto rnd = [&] { return x = x * 1103515245u + 12345u, x >> 8; };
    for (auto& b : junk) b = u8(rnd());
    auto cap = fn(pci_devfn(3, 0), function_kind::captured);
    cap.params.config = junk;
    cap.params.config[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_BRIDGE;
    host::tlm_machine m(one_root({rp, lpc, cap}));
    auto& ops = m.ops();
    const auto& rc = m.platform().root_complexes().at(0);
    for (int i = 0; i < 200000; ++i) {
        const u8 bus = u8(rnd() % 8);
        const u8 devfn = u8(rnd() % 4 == 0 ? rnd() : (rnd() % 2 ? pci_devfn(1, 0) : 0));
        const u16 reg = u16(rnd() % 0x1100);
        const unsigned len = 1u << (rnd() % 4); // 1, 2, 4 or 8
        if (rnd() % 2) ops.config_write(0, bus, devfn, reg, len, rnd() | rnd() << 24);
        else (void)ops.config_read(0, bus, devfn, reg, len);
        const u64 addr = rnd() % 3 == 0 ? rc.mmio32_base + rnd() % 0x200000
                         : rnd() % 2   ? rc.mmio64_base + rnd() % 0x200000
                                       : 0xfed1c000 + rnd() % 0x5000;
        if (rnd() % 2) ops.mmio_write(addr, 1u << (rnd() % 5), u64(rnd()) << 32 | rnd());
        else (void)ops.mmio_read(addr, 1u << (rnd() % 5));
    }
    CHECK(m.ops().transactions() > 300000);
    CHECK(ops.config_read(0, 0, pci_devfn(1, 0), PCI_VENDOR_ID, 2) == 0x1b36);
}

namespace {
// Stand-in for memory or an IOMMU below a host bridge: answers every request and remembers the last one.
struct dma_sink : sc_core::sc_module {
    tlm_utils::simple_target_socket<dma_sink> socket{"socket"};
    u16 last_rid = 0;
    u64 last_addr = 0;
    unsigned count = 0;
    explicit dma_sink(sc_core::sc_module_name n) : sc_module(n) {
        socket.register_b_transport(this, &dma_sink::b_transport);
    }
    void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time&) {
        if (auto* ext = gp.get_extension<tlmx::pci_extension>()) last_rid = ext->requester_id;
        last_addr = gp.get_address();
        ++count;
        gp.set_response_status(tlm::TLM_OK_RESPONSE);
    }
};
} // namespace

TEST_CASE("an attached target below the host bridge receives the DMA", "[pci]") {
    auto rp = fn(pci_devfn(1, 0), function_kind::root_port);
    rp.children = {fn(0, function_kind::endpoint, "ep")};
    std::unique_ptr<dma_sink> sink;
    host::tlm_machine m(one_root({rp}), [&](platforms::platform& p) {
        sink = std::make_unique<dma_sink>("memory");
        p.root_complexes().at(0).host_bridge->to_iommu_or_memory.bind(sink->socket);
    });
    auto& ops = m.ops();
    auto* hb = m.platform().root_complexes().at(0).host_bridge;
    CHECK(hb->upstream_attached());
    set_buses(ops, 0, pci_devfn(1, 0), 0, 1, 1);
    ops.config_write(0, 1, 0, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
    ops.config_write(0, 0, pci_devfn(1, 0), PCI_COMMAND, 2, PCI_COMMAND_MASTER);
    u64 data = 0;
    tlm::tlm_generic_payload gp;
    tlmx::init_payload(gp, tlm::TLM_WRITE_COMMAND, 0x12345000, reinterpret_cast<unsigned char*>(&data), 8);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    m.platform().find("ep")->issue_dma(gp, delay);
    CHECK(gp.is_response_ok());
    CHECK(sink->count == 1);
    CHECK(sink->last_rid == 0x0100);
    CHECK(sink->last_addr == 0x12345000);
    CHECK(hb->unattached_dma_count() == 0);
    // Two bus hops, the root port and the host bridge: the delay reflects the path.
    CHECK(delay > sc_core::SC_ZERO_TIME);
}

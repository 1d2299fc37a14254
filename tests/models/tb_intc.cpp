// Testbench of the interrupt controller (models/intc/msi_controller.h): MSI decode per Intel SDM Vol. 3
// §11.11, x2APIC destinations in address bits 63:40, records with requester ID and time, statistics, the
// callback, bounded history, error responses for what is not a message, and the controller's place on a
// platform's memory bus. Each TEST_CASE runs in its own process (CTest).
#include "models/intc/msi_controller.h"
#include "platforms/platform.h"
#include "sim/host/tlm/tlm_host_ops.h"
#include "sim/tlm/payload_data.h"
#include "sim/tlm/pci_extension.h"

#include <catch2/catch.hpp>
#include <memory>
#include <tlm_utils/simple_initiator_socket.h>

using namespace iommusim;
using namespace iommusim::intc;

namespace {

struct initiator : sc_core::sc_module {
    tlm_utils::simple_initiator_socket<initiator> socket{"socket"};
    explicit initiator(sc_core::sc_module_name n) : sc_module(n) {}

    tlm::tlm_response_status send(tlm::tlm_command cmd, u64 addr, u64 value, unsigned len,
                                  std::optional<u16> rid = std::nullopt, const unsigned char* be = nullptr,
                                  sc_core::sc_time* delay_out = nullptr) {
        unsigned char buf[8] = {};
        tlmx::put_le(buf, len, value);
        tlm::tlm_generic_payload gp;
        tlmx::init_payload(gp, cmd, addr, buf, len);
        if (be) {
            gp.set_byte_enable_ptr(const_cast<unsigned char*>(be));
            gp.set_byte_enable_length(len);
        }
        tlmx::pci_extension ext;
        if (rid) ext.requester_id = *rid;
        tlmx::scoped_extension scope(gp, rid ? &ext : nullptr);
        sc_core::sc_time delay(5, sc_core::SC_NS);
        socket->b_transport(gp, delay);
        if (delay_out) *delay_out = delay;
        return gp.get_response_status();
    }
};

struct bench {
    initiator cpu{"cpu"};
    msi_controller intc;
    explicit bench(size_t history = 65536) : intc("intc", sc_core::sc_time(20, sc_core::SC_NS), history) {
        cpu.socket.bind(intc.socket);
        sc_core::sc_start(sc_core::SC_ZERO_TIME);
    }
};

} // namespace

TEST_CASE("intc: an MSI is decoded as the SDM lays it out and recorded with its requester ID", "[intc]") {
    bench b;
    std::vector<u32> seen;
    b.intc.on_message([&](const msi_record& r) { seen.push_back(r.data); });
    sc_core::sc_start(100, sc_core::SC_NS);
    sc_core::sc_time delay;
    // Destination 0x2a, RH = 1, DM = logical; data: vector 0x41, lowest priority, level, assert.
    const u64 addr = 0xfee00000u | 0x2au << 12 | 0x8 | 0x4;
    const u32 data = 0x41 | 1u << 8 | 1u << 14 | 1u << 15;
    CHECK(b.cpu.send(tlm::TLM_WRITE_COMMAND, addr, data, 4, u16(0x0310), nullptr, &delay) == tlm::TLM_OK_RESPONSE);
    CHECK(delay == sc_core::sc_time(25, sc_core::SC_NS)); // the controller's latency is annotated
    REQUIRE(b.intc.records().size() == 1);
    const msi_record& r = b.intc.records().front();
    CHECK(r.address == addr);
    CHECK(r.data == data);
    CHECK(r.time == sc_core::sc_time(125, sc_core::SC_NS));
    CHECK(r.requester_id == std::optional<u16>(0x0310));
    CHECK(r.msg.destination == 0x2a);
    CHECK(r.msg.vector == 0x41);
    CHECK(r.msg.mode == delivery_mode::lowest_priority);
    CHECK(r.msg.logical);
    CHECK(r.msg.redirection_hint);
    CHECK(r.msg.level_triggered);
    CHECK(r.msg.assert_level);
    CHECK_FALSE(r.msg.remappable_format);
    CHECK(seen == std::vector<u32>{data});
    CHECK(b.intc.stats().delivered == 1);
    CHECK(b.intc.stats().by_mode[1] == 1);

    // Edge-triggered fixed, physical destination 0, no extension: no requester ID.
    CHECK(b.cpu.send(tlm::TLM_WRITE_COMMAND, 0xfee00000, 0x30, 4) == tlm::TLM_OK_RESPONSE);
    const msi_record& e = b.intc.records().back();
    CHECK_FALSE(e.requester_id);
    CHECK(e.msg.mode == delivery_mode::fixed);
    CHECK_FALSE(e.msg.logical);
    CHECK_FALSE(e.msg.level_triggered);
    CHECK(e.msg.destination == 0);
    CHECK(std::string(to_string(delivery_mode::nmi)) == "NMI");
}

TEST_CASE("intc: x2APIC destinations above 255 come from address bits 63:40, remappable format is flagged", "[intc]") {
    const msi_message m = decode_msi(u64(0x123456) << 40 | 0xfee78000u, 0x4ef);
    CHECK(m.destination == 0x12345678u);
    CHECK(m.vector == 0xef);
    CHECK(m.mode == delivery_mode::nmi);
    // The VT-d remappable format (bit 4) decodes, flagged, and counts in the statistics.
    bench b;
    CHECK(b.cpu.send(tlm::TLM_WRITE_COMMAND, u64(0x12) << 40 | 0xfee00010u, 0, 4) == tlm::TLM_OK_RESPONSE);
    CHECK(b.intc.records().back().msg.remappable_format);
    CHECK(b.intc.records().back().msg.destination == 0x1200);
    CHECK(b.intc.stats().remappable == 1);
}

TEST_CASE("intc: what is not an MSI gets an error response and is only counted", "[intc]") {
    bench b;
    const unsigned char half[4] = {TLM_BYTE_ENABLED, TLM_BYTE_ENABLED, TLM_BYTE_DISABLED, TLM_BYTE_DISABLED};
    CHECK(b.cpu.send(tlm::TLM_READ_COMMAND, 0xfee00000, 0, 4) == tlm::TLM_COMMAND_ERROR_RESPONSE);
    CHECK(b.cpu.send(tlm::TLM_WRITE_COMMAND, 0xfee00000, 0x30, 2) == tlm::TLM_BURST_ERROR_RESPONSE);
    CHECK(b.cpu.send(tlm::TLM_WRITE_COMMAND, 0xfee00000, 0x30, 8) == tlm::TLM_BURST_ERROR_RESPONSE);
    CHECK(b.cpu.send(tlm::TLM_WRITE_COMMAND, 0xfee00002, 0x30, 4) == tlm::TLM_BURST_ERROR_RESPONSE);
    CHECK(b.cpu.send(tlm::TLM_WRITE_COMMAND, 0xfee00000, 0x30, 4, std::nullopt, half) ==
          tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
    CHECK(b.cpu.send(tlm::TLM_WRITE_COMMAND, 0xfef00000, 0x30, 4) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    CHECK(b.cpu.send(tlm::TLM_WRITE_COMMAND, 0x1000, 0x30, 4) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    CHECK(b.intc.records().empty());
    CHECK(b.intc.stats().rejected == 7);
    CHECK(b.intc.stats().delivered == 0);
    // Debug access reads nothing.
    tlm::tlm_generic_payload gp;
    unsigned char buf[4];
    tlmx::init_payload(gp, tlm::TLM_READ_COMMAND, 0xfee00000, buf, 4);
    CHECK(b.cpu.socket->transport_dbg(gp) == 0);
}

TEST_CASE("intc: the history is bounded, statistics count everything, clear() resets", "[intc]") {
    bench b(4);
    for (u32 v = 0; v < 10; ++v) CHECK(b.cpu.send(tlm::TLM_WRITE_COMMAND, 0xfee00000, 0x20 + v, 4) == tlm::TLM_OK_RESPONSE);
    REQUIRE(b.intc.records().size() == 4);
    CHECK(b.intc.records().front().msg.vector == 0x26);
    CHECK(b.intc.records().back().msg.vector == 0x29);
    CHECK(b.intc.stats().delivered == 10);
    b.intc.deliver(0xfee01000, 0x55, u16(7));
    CHECK(b.intc.records().back().requester_id == std::optional<u16>(7));
    b.intc.clear();
    CHECK(b.intc.records().empty());
    CHECK(b.intc.stats().delivered == 0);
}

TEST_CASE("intc on the platform: the MSI window is carved out of memory, memory around it still works", "[intc][platform]") {
    platforms::platform_desc d;
    d.source = "tb_intc";
    platforms::root_bus_desc rb;
    rb.where = "/root_buses/0";
    platforms::function_desc hb;
    hb.where = "/root_buses/0/devices/0";
    hb.params.kind = pci::function_kind::host_bridge;
    hb.params.class_code = 0x060000;
    rb.functions.push_back(hb);
    d.root_buses.push_back(rb);
    d.params.memory.size = u64(8) << 30;
    host::tlm_machine m(d);
    auto* intc = m.platform().interrupt_controller();
    REQUIRE(intc);
    auto* bus = m.platform().memory_bus();
    REQUIRE(bus->find(0xfedfffff));
    CHECK(bus->find(0xfedfffff)->name == "memory");
    CHECK(bus->find(0xfee00000)->name == "msi");
    CHECK(bus->find(0xfeefffff)->name == "msi");
    CHECK(bus->find(0xfef00000)->name == "memory.high");
    CHECK(bus->find((u64(8) << 30) - 1)->name == "memory.high");
    CHECK(bus->find(u64(8) << 30) == nullptr);
    // The kernel's coherent path reaches memory on both sides of the hole, and not the LAPICs.
    auto& ops = m.ops();
    const u32 v = 0xcafef00d;
    CHECK(ops.memory_write(0xfedff000, &v, 4));
    CHECK(ops.memory_write(0x100000000ull, &v, 4));
    u32 r = 0;
    CHECK(ops.memory_read(0x100000000ull, &r, 4));
    CHECK(r == v);
    CHECK(m.platform().memory()->read_le(0xfedff000, 4) == v);
    CHECK(intc->records().empty());
}

TEST_CASE("intc on the platform: memory smaller than the MSI window's base is mapped as it is", "[intc][platform]") {
    platforms::platform_desc d;
    d.source = "tb_intc";
    platforms::root_bus_desc rb;
    rb.where = "/root_buses/0";
    platforms::function_desc hb;
    hb.params.kind = pci::function_kind::host_bridge;
    rb.functions.push_back(hb);
    d.root_buses.push_back(rb);
    d.params.memory.size = u64(1) << 30;
    host::tlm_machine m(d);
    auto* bus = m.platform().memory_bus();
    CHECK(bus->find((u64(1) << 30) - 1)->name == "memory");
    CHECK(bus->find(u64(1) << 30) == nullptr);
    CHECK(bus->find(0xfee00000)->name == "msi");
    CHECK(bus->find(0xfef00000) == nullptr);
}

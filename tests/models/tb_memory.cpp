// Testbench of system_memory: TLM-2.0 semantics (responses, byte enables, streaming width, DMI, debug
// transport), the busy-until channel model and the direct peek/poke helpers.
#include "sim/memory/system_memory.h"
#include "sim/tlm/payload_data.h"

#include <catch2/catch.hpp>
#include <memory>
#include <tlm_utils/simple_initiator_socket.h>

using namespace iommusim;
using iommusim::memory::memory_params;
using iommusim::memory::system_memory;

namespace {

struct initiator : sc_core::sc_module {
    tlm_utils::simple_initiator_socket<initiator> socket{"socket"};
    explicit initiator(sc_core::sc_module_name n) : sc_module(n) {}

    tlm::tlm_response_status access(tlm::tlm_command cmd, u64 addr, unsigned char* data, unsigned len,
                                    sc_core::sc_time& delay, unsigned char* be = nullptr, unsigned be_len = 0,
                                    unsigned width = 0) {
        tlm::tlm_generic_payload gp;
        tlmx::init_payload(gp, cmd, addr, data, len);
        gp.set_streaming_width(width ? width : len);
        gp.set_byte_enable_ptr(be);
        gp.set_byte_enable_length(be_len);
        socket->b_transport(gp, delay);
        last_dmi_allowed = gp.is_dmi_allowed();
        return gp.get_response_status();
    }
    bool last_dmi_allowed = false;
};

struct bench {
    std::unique_ptr<system_memory> mem;
    std::unique_ptr<initiator> cpu;
    explicit bench(const memory_params& p = {}) {
        mem = std::make_unique<system_memory>("memory", p);
        cpu = std::make_unique<initiator>("cpu");
        cpu->socket.bind(mem->socket);
        sc_core::sc_start(sc_core::SC_ZERO_TIME);
    }
};

} // namespace

TEST_CASE("memory: writes read back, untouched reads zero, 1 TiB costs nothing", "[memory]") {
    bench b;
    CHECK(b.mem->size() == u64(1) << 40);
    CHECK(b.mem->allocated_bytes() == 0);
    sc_core::sc_time d = sc_core::SC_ZERO_TIME;
    u64 v = 0x1122334455667788ull, r = ~u64(0);
    const u64 top = (u64(1) << 40) - 8;
    CHECK(b.cpu->access(tlm::TLM_READ_COMMAND, top, reinterpret_cast<unsigned char*>(&r), 8, d) == tlm::TLM_OK_RESPONSE);
    CHECK(r == 0);
    CHECK(b.cpu->access(tlm::TLM_WRITE_COMMAND, top, reinterpret_cast<unsigned char*>(&v), 8, d) == tlm::TLM_OK_RESPONSE);
    CHECK(b.cpu->access(tlm::TLM_READ_COMMAND, top, reinterpret_cast<unsigned char*>(&r), 8, d) == tlm::TLM_OK_RESPONSE);
    CHECK(r == v);
    CHECK(b.mem->read_le(top, 8) == v);
    CHECK(b.mem->read_le(top + 7, 1) == 0x11);
    CHECK(b.mem->allocated_bytes() == 64 * 1024);
    CHECK(b.mem->stats().writes == 1);
    CHECK(b.mem->stats().reads == 2);
    CHECK(b.mem->stats().bytes_read == 16);
}

TEST_CASE("memory: out of range and malformed requests fail cleanly", "[memory]") {
    memory_params p;
    p.size = 1 << 20;
    bench b(p);
    sc_core::sc_time d = sc_core::SC_ZERO_TIME;
    unsigned char buf[64] = {};
    CHECK(b.cpu->access(tlm::TLM_READ_COMMAND, 1 << 20, buf, 4, d) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    CHECK(b.cpu->access(tlm::TLM_WRITE_COMMAND, (1 << 20) - 4, buf, 8, d) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    CHECK(b.cpu->access(tlm::TLM_WRITE_COMMAND, ~u64(0) - 2, buf, 8, d) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    CHECK(b.cpu->access(tlm::TLM_READ_COMMAND, 0, nullptr, 8, d) == tlm::TLM_GENERIC_ERROR_RESPONSE);
    CHECK(b.cpu->access(tlm::TLM_IGNORE_COMMAND, 0, buf, 8, d) == tlm::TLM_OK_RESPONSE);
    unsigned char be[1] = {0xff};
    CHECK(b.cpu->access(tlm::TLM_WRITE_COMMAND, 0, buf, 8, d, be, 0) == tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
    CHECK(b.mem->stats().address_errors == 3);
    CHECK(b.mem->allocated_bytes() == 0);
    CHECK(d == sc_core::SC_ZERO_TIME); // failed requests never occupy the channel
    CHECK_FALSE(b.mem->poke(1 << 20, buf, 1));
    CHECK(b.mem->read_le(1 << 20, 4) == 0);
}

TEST_CASE("memory: byte enables and streaming width", "[memory]") {
    bench b;
    sc_core::sc_time d = sc_core::SC_ZERO_TIME;
    b.mem->write_le(0x100, 8, 0x1111111111111111ull);
    u64 v = 0xaabbccddeeff0011ull;
    unsigned char be[2] = {0xff, 0x00}; // every other byte
    CHECK(b.cpu->access(tlm::TLM_WRITE_COMMAND, 0x100, reinterpret_cast<unsigned char*>(&v), 8, d, be, 2) ==
          tlm::TLM_OK_RESPONSE);
    CHECK(b.mem->read_le(0x100, 8) == 0x11bb11dd11ff1111ull);
    // Streaming width 4: an 8-byte write lands twice on the same 4 bytes (the last wins).
    u64 w = 0x0102030405060708ull;
    CHECK(b.cpu->access(tlm::TLM_WRITE_COMMAND, 0x200, reinterpret_cast<unsigned char*>(&w), 8, d, nullptr, 0, 4) ==
          tlm::TLM_OK_RESPONSE);
    CHECK(b.mem->read_le(0x200, 8) == 0x01020304u);
    u64 r = 0;
    CHECK(b.cpu->access(tlm::TLM_READ_COMMAND, 0x200, reinterpret_cast<unsigned char*>(&r), 8, d, nullptr, 0, 4) ==
          tlm::TLM_OK_RESPONSE);
    CHECK(r == 0x0102030401020304ull);
}

TEST_CASE("memory: latency and bandwidth, back-to-back transfers queue", "[memory]") {
    memory_params p;
    p.latency_ns = 50;
    p.bandwidth_bytes_per_ns = 8;
    bench b(p);
    std::vector<unsigned char> buf(800);
    sc_core::sc_time d1 = sc_core::SC_ZERO_TIME, d2 = sc_core::SC_ZERO_TIME;
    REQUIRE(b.cpu->access(tlm::TLM_WRITE_COMMAND, 0, buf.data(), 800, d1) == tlm::TLM_OK_RESPONSE);
    CHECK(d1 == sc_core::sc_time(150, sc_core::SC_NS)); // 50 + 800 / 8
    // A second transfer issued at the same local time waits for the channel (busy until 100 ns).
    REQUIRE(b.cpu->access(tlm::TLM_READ_COMMAND, 0, buf.data(), 800, d2) == tlm::TLM_OK_RESPONSE);
    CHECK(d2 == sc_core::sc_time(250, sc_core::SC_NS)); // 100 queueing + 50 + 100
    CHECK(b.mem->busy_until() == sc_core::sc_time(200, sc_core::SC_NS));
    // One issued after the channel is free does not wait.
    sc_core::sc_time d3(1000, sc_core::SC_NS);
    REQUIRE(b.cpu->access(tlm::TLM_READ_COMMAND, 0, buf.data(), 8, d3) == tlm::TLM_OK_RESPONSE);
    CHECK(d3 == sc_core::sc_time(1051, sc_core::SC_NS));
}

TEST_CASE("memory: DMI pointers per chunk and debug transport", "[memory]") {
    bench b;
    sc_core::sc_time d = sc_core::SC_ZERO_TIME;
    u32 v = 0xdeadbeef;
    CHECK(b.cpu->access(tlm::TLM_WRITE_COMMAND, 0x12345, reinterpret_cast<unsigned char*>(&v), 4, d) ==
          tlm::TLM_OK_RESPONSE);
    CHECK(b.cpu->last_dmi_allowed);
    tlm::tlm_generic_payload gp;
    gp.set_address(0x12345);
    gp.set_command(tlm::TLM_READ_COMMAND);
    tlm::tlm_dmi dmi;
    REQUIRE(b.cpu->socket->get_direct_mem_ptr(gp, dmi));
    CHECK(dmi.get_start_address() == 0x10000);
    CHECK(dmi.get_end_address() == 0x1ffff);
    CHECK(dmi.is_read_write_allowed());
    CHECK(dmi.get_dmi_ptr()[0x2345] == 0xef);
    dmi.get_dmi_ptr()[0x2346] = 0x00;
    CHECK(b.mem->read_le(0x12345, 4) == 0xdead00efu);
    // Debug transport: no time, clipped at the end of memory.
    unsigned char buf[4] = {};
    tlm::tlm_generic_payload dbg;
    dbg.set_command(tlm::TLM_READ_COMMAND);
    dbg.set_address(0x12345);
    dbg.set_data_ptr(buf);
    dbg.set_data_length(4);
    CHECK(b.cpu->socket->transport_dbg(dbg) == 4);
    CHECK(buf[3] == 0xde);
    dbg.set_address((u64(1) << 40) - 2);
    CHECK(b.cpu->socket->transport_dbg(dbg) == 2);
    // Beyond the end: denied.
    gp.set_address(u64(1) << 41);
    tlm::tlm_dmi none;
    CHECK_FALSE(b.cpu->socket->get_direct_mem_ptr(gp, none));
}

TEST_CASE("memory: DMI can be turned off", "[memory]") {
    memory_params p;
    p.dmi = false;
    bench b(p);
    sc_core::sc_time d = sc_core::SC_ZERO_TIME;
    u32 v = 1;
    CHECK(b.cpu->access(tlm::TLM_WRITE_COMMAND, 0, reinterpret_cast<unsigned char*>(&v), 4, d) == tlm::TLM_OK_RESPONSE);
    CHECK_FALSE(b.cpu->last_dmi_allowed);
    tlm::tlm_generic_payload gp;
    gp.set_address(0);
    tlm::tlm_dmi dmi;
    CHECK_FALSE(b.cpu->socket->get_direct_mem_ptr(gp, dmi));
}

TEST_CASE("memory: impossible parameters are configuration errors", "[memory]") {
    CHECK_THROWS_AS(system_memory("no_size", memory_params{0, 1, 1, true}), std::invalid_argument);
    CHECK_THROWS_AS(system_memory("no_bandwidth", memory_params{4096, 1, 0, true}), std::invalid_argument);
}

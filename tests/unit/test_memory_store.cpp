// The pure part of system memory: sparse_store (chunks allocated on first write, zero reads, range checks).
#include "sim/memory/memory_params.h"
#include "sim/memory/sparse_store.h"

#include <catch2/catch.hpp>
#include <vector>

using namespace iommusim;
using iommusim::memory::sparse_store;

TEST_CASE("sparse store: untouched memory reads zero and costs nothing", "[memory]") {
    sparse_store s(u64(1) << 40);
    std::vector<unsigned char> buf(300, 0xaa);
    REQUIRE(s.read((u64(1) << 40) - 300, buf.data(), buf.size()));
    for (auto b : buf) CHECK(b == 0);
    CHECK(s.chunks() == 0);
    CHECK(s.fill(0x1000, 0, 1 << 20)); // zero fill of untouched memory allocates nothing
    CHECK(s.chunks() == 0);
}

TEST_CASE("sparse store: writes allocate chunks and read back, across chunk boundaries", "[memory]") {
    sparse_store s(u64(1) << 40);
    std::vector<unsigned char> in(200);
    for (size_t i = 0; i < in.size(); ++i) in[i] = (unsigned char)(i + 1);
    const u64 addr = 3 * sparse_store::chunk_size - 100; // straddles two chunks
    REQUIRE(s.write(addr, in.data(), in.size()));
    CHECK(s.chunks() == 2);
    std::vector<unsigned char> out(in.size());
    REQUIRE(s.read(addr, out.data(), out.size()));
    CHECK(out == in);
    unsigned char edge[4];
    REQUIRE(s.read(addr - 2, edge, 4));
    CHECK(edge[0] == 0);
    CHECK(edge[1] == 0);
    CHECK(edge[2] == 1);
    CHECK(edge[3] == 2);
    // Far apart writes: one chunk each, whatever the distance (cheap for huge sparse use).
    for (u64 i = 0; i < 1000; ++i) {
        const unsigned char b = (unsigned char)i;
        REQUIRE(s.write(i * (u64(1) << 30), &b, 1));
    }
    CHECK(s.chunks() == 1002);
    CHECK(s.allocated_bytes() == 1002 * sparse_store::chunk_size);
    CHECK(s.fill(0x10, 0x5a, 4));
    unsigned char f[6];
    REQUIRE(s.read(0xf, f, 6));
    CHECK(f[0] == 0);
    CHECK(f[1] == 0x5a);
    CHECK(f[4] == 0x5a);
    CHECK(f[5] == 0);
    s.clear();
    CHECK(s.chunks() == 0);
    REQUIRE(s.read(addr, out.data(), 1));
    CHECK(out[0] == 0);
}

TEST_CASE("sparse store: out-of-range and wrapping ranges are refused", "[memory]") {
    sparse_store s(0x10000 + 10); // not a chunk multiple
    unsigned char b[16] = {1};
    CHECK(s.write(0x10000, b, 10));
    CHECK_FALSE(s.write(0x10000, b, 11));
    CHECK_FALSE(s.read(0x1000a, b, 1));
    CHECK(s.read(0x1000a, b, 0)); // empty at the end is fine
    CHECK_FALSE(s.read(~u64(0), b, 2));
    CHECK_FALSE(s.write(~u64(0) - 1, b, 16));
    CHECK_FALSE(s.fill(5, 1, ~u64(0)));
    CHECK(s.in_range(0, 0x1000a));
    CHECK_FALSE(s.in_range(1, 0x1000a));
    CHECK_THROWS_AS(sparse_store(0), std::invalid_argument);
}

TEST_CASE("memory parameters are described with their defaults", "[memory]") {
    const auto info = memory::memory_model_info();
    CHECK(info.name == "system_memory");
    REQUIRE(info.params.size() == 4);
    CHECK(info.params[0].name == "size");
    CHECK(info.params[0].default_value == "0x10000000000");
    CHECK(info.params[1].default_value == "80");
}

#include "platforms/desc/platform_loader.h"
#include "sim/core/input_error.h"

namespace {
std::string with_params(const std::string& params) {
    return R"({"name": "t", "params": )" + params + R"(, "root_buses": [{"devices": []}]})";
}
} // namespace

TEST_CASE("platform params: memory and root-port P2P are read strictly", "[memory][loader]") {
    using iommusim::platforms::load_platform_text;
    const auto d = load_platform_text(
        with_params(R"({"memory": {"size": "64G", "latency_ns": 60, "bandwidth_bytes_per_ns": 12.8, "dmi": false},
                        "p2p_between_root_ports": true})"),
        "t.json");
    CHECK(d.params.memory.size == u64(64) << 30);
    CHECK(d.params.memory.latency_ns == 60);
    CHECK(d.params.memory.bandwidth_bytes_per_ns == 12.8);
    CHECK_FALSE(d.params.memory.dmi);
    CHECK(d.params.p2p_between_root_ports);
    const auto dflt = load_platform_text(with_params("{}"), "t.json");
    CHECK(dflt.params.memory.size == u64(1) << 40);
    CHECK_FALSE(dflt.params.p2p_between_root_ports);
    CHECK(load_platform_text(with_params(R"({"memory": {"size": 0}})"), "t.json").params.memory.size == 0);
    CHECK_THROWS_AS(load_platform_text(with_params(R"({"memory": {"sise": "1G"}})"), "t.json"), input_error);
    CHECK_THROWS_AS(load_platform_text(with_params(R"({"memory": {"size": "8P"}})"), "t.json"), input_error);
    CHECK_THROWS_AS(load_platform_text(with_params(R"({"memory": {"bandwidth_bytes_per_ns": 0}})"), "t.json"), input_error);
    CHECK_THROWS_AS(load_platform_text(with_params(R"({"memory": {"latency_ns": -1}})"), "t.json"), input_error);
    CHECK_THROWS_AS(load_platform_text(with_params(R"({"memory": 5})"), "t.json"), input_error);
    CHECK_THROWS_AS(load_platform_text(with_params(R"({"p2p_between_root_ports": "yes"})"), "t.json"), input_error);
}

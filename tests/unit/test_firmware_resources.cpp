// Firmware resource assignment (platforms/desc/firmware_resources.h): BAR placement by kind, natural
// alignment, bridge windows at 1 MiB / 4 KiB granularity covering what lies below, pinned BARs, errors
// naming the function, the registers program() writes, and structural invariants over a random tree.
#include "models/pci/cfg/config_builder.h"
#include "models/pci/cfg/pci_regs.h"
#include "platforms/desc/firmware_resources.h"
#include "sim/core/bdf.h"
#include "sim/core/input_error.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <random>

using namespace iommusim;
using namespace iommusim::platforms;
using pci::function_kind;

namespace {

constexpr u64 MiB = u64(1) << 20, GiB = u64(1) << 30, TiB = u64(1) << 40;

function_desc func(u8 devfn, function_kind kind, std::string where) {
    function_desc f;
    f.devfn = devfn;
    f.where = std::move(where);
    f.params.kind = kind;
    f.params.class_code = pci::is_bridge(kind) ? 0x060400 : 0x020000;
    return f;
}

pci::bar_params bar(unsigned index, u64 size, bool mem64 = false, bool pref = false, bool io = false) {
    pci::bar_params b;
    b.index = index;
    b.size = size;
    b.mem64 = mem64;
    b.prefetchable = pref;
    b.io = io;
    return b;
}

platform_desc one_root(std::vector<function_desc> funcs) {
    platform_desc d;
    d.source = "fw.json";
    root_bus_desc rb;
    rb.where = "/root_buses/0";
    rb.functions = std::move(funcs);
    d.root_buses.push_back(std::move(rb));
    return d;
}

root_apertures apertures(u64 mem32_size = 0x60000000, u64 mem64_size = 64 * GiB) {
    return {{0x1000, 0xf000}, {0x80000000, mem32_size}, {TiB, mem64_size}};
}

// rp (00:1c.0) -> ep (1M mem32, 16K mem32, 256M mem64 pref); 00:02.0 ep with 4K mem32 and 8G mem64 pref.
platform_desc sample() {
    auto ep = func(0, function_kind::endpoint, "/rp/ep");
    ep.params.bars = {bar(0, MiB), bar(1, 16 * 1024), bar(2, 256 * MiB, true, true)};
    auto rp = func(pci_devfn(0x1c, 0), function_kind::root_port, "/rp");
    rp.children = {ep};
    auto top = func(pci_devfn(2, 0), function_kind::endpoint, "/top");
    top.params.bars = {bar(0, 4096), bar(2, 8 * GiB, true, true)};
    return one_root({rp, top});
}

} // namespace

TEST_CASE("firmware resources: 64-bit prefetchable BARs in the 64-bit aperture, others in mmio32, windows cover them", "[firmware]") {
    const platform_desc d = sample();
    firmware_resources fw(d, {apertures()});
    const function_desc& rp = d.root_buses[0].functions[0];
    const function_desc& ep = rp.children[0];
    const function_desc& top = d.root_buses[0].functions[1];

    // Root bus, sorted by alignment: mem: the root port's window (2M: 1M + 16K rounded to 1 MiB, aligned
    // 1M) then top's 4K BAR; pref: top's 8G BAR (aligned 8G) then the window holding the 256M BAR.
    const function_resources* r = fw.find(rp);
    REQUIRE(r);
    CHECK(r->bridge);
    CHECK(r->mem_window.base == 0x80000000);
    CHECK(r->mem_window.size == 2 * MiB);
    CHECK(r->pref_window.base == TiB + 8 * GiB);
    CHECK(r->pref_window.size == 256 * MiB);
    CHECK(r->io_window.empty());
    CHECK(fw.bar_address(top, 0) == std::optional<u64>(0x80200000));
    CHECK(fw.bar_address(top, 2) == std::optional<u64>(TiB));
    CHECK(fw.bar_address(ep, 0) == std::optional<u64>(0x80000000));
    CHECK(fw.bar_address(ep, 1) == std::optional<u64>(0x80100000));
    CHECK(fw.bar_address(ep, 2) == std::optional<u64>(TiB + 8 * GiB));
    CHECK_FALSE(fw.bar_address(ep, 3));
    CHECK(fw.notes().empty());
}

TEST_CASE("firmware resources: program() writes BARs, base/limit registers and decode bits, never bus mastering", "[firmware]") {
    const platform_desc d = sample();
    firmware_resources fw(d, {apertures()});
    const function_desc& rp = d.root_buses[0].functions[0];
    const function_desc& ep = rp.children[0];

    pci::config_space b = pci::build_config_space(rp.params);
    firmware_resources::program(b, *fw.find(rp));
    CHECK(b.read(pci::PCI_MEMORY_BASE, 2) == 0x8000);
    CHECK(b.read(pci::PCI_MEMORY_LIMIT, 2) == 0x8010);  // limit 0x801fffff
    CHECK(b.read(pci::PCI_PREF_MEMORY_BASE, 2) == (0x0000 | pci::PCI_PREF_RANGE_TYPE_64)); // 0x102_0000_0000
    CHECK(b.read(pci::PCI_PREF_BASE_UPPER32, 4) == 0x102);
    CHECK(b.read(pci::PCI_PREF_LIMIT_UPPER32, 4) == 0x102);
    CHECK(b.read(pci::PCI_PREF_MEMORY_LIMIT, 2) == (0x0ff0 | pci::PCI_PREF_RANGE_TYPE_64)); // 0x102_0fff_ffff
    CHECK((b.read(pci::PCI_IO_BASE, 1) & 0xf0) > (b.read(pci::PCI_IO_LIMIT, 1) & 0xf0)); // I/O closed
    CHECK(b.read(pci::PCI_COMMAND, 2) == pci::PCI_COMMAND_MEMORY);

    pci::config_space e = pci::build_config_space(ep.params);
    firmware_resources::program(e, *fw.find(ep));
    CHECK(e.read(pci::PCI_BASE_ADDRESS_0, 4) == 0x80000000);
    CHECK(e.read(pci::PCI_BASE_ADDRESS_0 + 4, 4) == 0x80100000);
    CHECK(e.read(pci::PCI_BASE_ADDRESS_0 + 8, 4) ==
          (u32(TiB + 8 * GiB) | pci::PCI_BASE_ADDRESS_MEM_TYPE_64 | pci::PCI_BASE_ADDRESS_MEM_PREFETCH));
    CHECK(e.read(pci::PCI_BASE_ADDRESS_0 + 12, 4) == u32((TiB + 8 * GiB) >> 32));
    CHECK(e.read(pci::PCI_COMMAND, 2) == pci::PCI_COMMAND_MEMORY);
}

TEST_CASE("firmware resources: a 32-bit prefetchable BAR goes through the memory window, I/O at 4 KiB granularity", "[firmware]") {
    auto ep = func(0, function_kind::endpoint, "/rp/ep");
    ep.params.bars = {bar(0, 64 * 1024, false, true), bar(1, 32, false, false, true), bar(2, MiB, true, false)};
    auto rp = func(pci_devfn(1, 0), function_kind::root_port, "/rp");
    rp.children = {ep};
    const platform_desc d = one_root({rp});
    firmware_resources fw(d, {apertures()});
    const function_resources* r = fw.find(d.root_buses[0].functions[0]);
    REQUIRE(r);
    CHECK(r->pref_window.empty());
    CHECK(r->mem_window.base == 0x80000000);
    CHECK(r->mem_window.size == 2 * MiB); // 1M (64-bit non-prefetchable) + 64K, rounded
    CHECK(r->io_window.base == 0x1000);
    CHECK(r->io_window.size == 0x1000);
    const function_desc& e = d.root_buses[0].functions[0].children[0];
    CHECK(fw.bar_address(e, 2) == std::optional<u64>(0x80000000));
    CHECK(fw.bar_address(e, 0) == std::optional<u64>(0x80100000));
    CHECK(fw.bar_address(e, 1) == std::optional<u64>(0x1000));

    pci::config_space c = pci::build_config_space(e.params);
    firmware_resources::program(c, *fw.find(e));
    CHECK(c.read(pci::PCI_COMMAND, 2) == (pci::PCI_COMMAND_MEMORY | pci::PCI_COMMAND_IO));
    CHECK(c.read(pci::PCI_BASE_ADDRESS_0 + 4, 4) == (0x1000u | pci::PCI_BASE_ADDRESS_SPACE_IO));
}

TEST_CASE("firmware resources: without a 64-bit aperture prefetchable BARs share the 32-bit one", "[firmware]") {
    auto ep = func(pci_devfn(2, 0), function_kind::endpoint, "/ep");
    ep.params.bars = {bar(0, 4096), bar(2, 256 * MiB, true, true)};
    const platform_desc d = one_root({ep});
    firmware_resources fw(d, {apertures(0x60000000, 0)});
    CHECK(fw.bar_address(d.root_buses[0].functions[0], 2) == std::optional<u64>(0x80000000));
    CHECK(fw.bar_address(d.root_buses[0].functions[0], 0) == std::optional<u64>(0x90000000));
}

TEST_CASE("firmware resources: an aperture too small is an input_error at the function's JSON path", "[firmware]") {
    auto big = func(pci_devfn(3, 0), function_kind::endpoint, "/root_buses/0/devices/1");
    big.params.bars = {bar(0, GiB)};
    auto small = func(pci_devfn(2, 0), function_kind::endpoint, "/root_buses/0/devices/0");
    small.params.bars = {bar(0, 512 * MiB)};
    const platform_desc d = one_root({small, big});
    try {
        firmware_resources fw(d, {apertures(GiB)});
        FAIL("no error");
    } catch (const input_error& e) {
        // Sorted by alignment the 1G BAR is placed first and fills the aperture: the 512M one fails.
        CHECK(e.file() == "fw.json");
        CHECK(e.location() == "/root_buses/0/devices/0");
        CHECK_THAT(e.message(), Catch::Contains("does not fit") && Catch::Contains("32-bit MMIO aperture"));
    }
    // The same with a window: the bridge is named.
    auto ep = func(0, function_kind::endpoint, "/root_buses/0/devices/0/children/0");
    ep.params.bars = {bar(0, 8 * GiB, true, true)};
    auto rp = func(pci_devfn(1, 0), function_kind::root_port, "/root_buses/0/devices/0");
    rp.children = {ep};
    const platform_desc d2 = one_root({rp});
    CHECK_THROWS_MATCHES(firmware_resources(d2, {apertures(GiB, 4 * GiB)}), input_error,
                         Catch::Matchers::Predicate<input_error>([](const input_error& e) {
                             return e.location() == "/root_buses/0/devices/0" &&
                                    e.message().find("prefetchable memory window") != std::string::npos;
                         }));
    // Without a 64-bit aperture the 8G prefetchable BAR has to fit in mmio32, and cannot.
    const platform_desc d3 = sample();
    CHECK_THROWS_AS(firmware_resources(d3, {apertures(0x60000000, 0)}), input_error);
}

TEST_CASE("firmware resources: pinned BARs stay where the description puts them, the rest goes around", "[firmware]") {
    auto a = func(pci_devfn(2, 0), function_kind::endpoint, "/a");
    a.params.bars = {bar(0, MiB)};
    a.params.pinned_bars = {{0, 0x80000000}};
    auto b = func(pci_devfn(3, 0), function_kind::endpoint, "/b");
    b.params.bars = {bar(0, MiB), bar(1, 4096)};
    const platform_desc d = one_root({a, b});
    firmware_resources fw(d, {apertures()});
    CHECK(fw.bar_address(d.root_buses[0].functions[0], 0) == std::optional<u64>(0x80000000));
    CHECK(fw.bar_address(d.root_buses[0].functions[1], 0) == std::optional<u64>(0x80100000));
    CHECK(fw.bar_address(d.root_buses[0].functions[1], 1) == std::optional<u64>(0x80200000));

    // Outside the aperture, overlapping another pinned BAR, or below a bridge: errors at .../address.
    auto out = a;
    out.params.pinned_bars = {{0, 0x10000000}};
    CHECK_THROWS_MATCHES(firmware_resources(one_root({out}), {apertures()}), input_error,
                         Catch::Matchers::Predicate<input_error>(
                             [](const input_error& e) { return e.location() == "/a/bars/0/address"; }));
    auto twin = a;
    twin.devfn = pci_devfn(4, 0);
    twin.where = "/twin";
    CHECK_THROWS_MATCHES(firmware_resources(one_root({a, twin}), {apertures()}), input_error,
                         Catch::Matchers::Predicate<input_error>(
                             [](const input_error& e) { return e.message().find("overlaps") != std::string::npos; }));
    auto rp = func(pci_devfn(1, 0), function_kind::root_port, "/rp");
    auto below = a;
    below.devfn = 0;
    below.where = "/rp/a";
    rp.children = {below};
    CHECK_THROWS_MATCHES(firmware_resources(one_root({rp}), {apertures()}), input_error,
                         Catch::Matchers::Predicate<input_error>(
                             [](const input_error& e) { return e.location() == "/rp/a/bars/0/address"; }));
}

TEST_CASE("firmware resources: I/O space that runs out leaves BARs unassigned with a note, never an error", "[firmware]") {
    std::vector<function_desc> funcs;
    for (unsigned s = 0; s < 20; ++s) {
        auto rp = func(pci_devfn(s, 0), function_kind::root_port, "/rp" + std::to_string(s));
        auto ep = func(0, function_kind::endpoint, "/rp" + std::to_string(s) + "/ep");
        ep.params.bars = {bar(0, 16, false, false, true)};
        rp.children = {ep};
        funcs.push_back(rp);
    }
    const platform_desc d = one_root(funcs);
    root_apertures ap = apertures();
    ap.io = {0x1000, 0x4000}; // four 4 KiB bridge windows
    firmware_resources fw(d, {ap});
    unsigned assigned = 0;
    for (const auto& rp : d.root_buses[0].functions) assigned += fw.bar_address(rp.children[0], 0).has_value();
    CHECK(assigned == 4);
    CHECK(fw.notes().size() == 16);
    CHECK(fw.find(d.root_buses[0].functions[19])->io_window.empty());
}

TEST_CASE("firmware resources: the I/O space is shared equally by root buses", "[firmware]") {
    const auto io = split_io_space(3);
    REQUIRE(io.size() == 3);
    CHECK(io[0].base == 0x1000);
    CHECK(io[0].size == 0x5000);
    CHECK(io[2].end() == 0x10000);
}

TEST_CASE("firmware resources: a captured bridge with nothing described below it keeps its bytes", "[firmware]") {
    auto cap = func(pci_devfn(1, 0), function_kind::captured, "/cap");
    cap.params.config.assign(256, 0);
    cap.params.config[pci::PCI_HEADER_TYPE] = pci::PCI_HEADER_TYPE_BRIDGE;
    const platform_desc d = one_root({cap});
    firmware_resources fw(d, {apertures()});
    CHECK(fw.find(d.root_buses[0].functions[0]) == nullptr);
}

namespace {

struct checker {
    const firmware_resources& fw;
    unsigned bars = 0;
    // Every BAR naturally aligned and inside its parent's window of its kind; sibling ranges disjoint;
    // every window at its granularity. Returns nothing; fails through CHECK.
    void bus(const std::vector<function_desc>& funcs, const root_apertures& ap, const function_resources* parent) {
        std::vector<std::pair<u64, u64>> taken[3];
        for (const function_desc& f : funcs) {
            const function_resources* r = fw.find(f);
            REQUIRE(r);
            for (const assigned_bar& b : r->bars) {
                REQUIRE(b.assigned);
                ++bars;
                CHECK(b.address % b.size == 0);
                const int c = b.io ? 0 : (b.mem64 && b.prefetchable) ? 2 : 1;
                const address_range& w = !parent ? (c == 0 ? ap.io : c == 1 ? ap.mem32 : ap.mem64)
                                                 : (c == 0 ? parent->io_window : c == 1 ? parent->mem_window : parent->pref_window);
                CHECK(w.contains(b.address, b.size));
                taken[c].push_back({b.address, b.size});
            }
            if (!r->bridge) continue;
            const address_range* ws[3] = {&r->io_window, &r->mem_window, &r->pref_window};
            for (int c = 0; c < 3; ++c) {
                if (ws[c]->empty()) continue;
                const u64 g = c == 0 ? bridge_io_granularity : bridge_mem_granularity;
                CHECK(ws[c]->base % g == 0);
                CHECK(ws[c]->size % g == 0);
                const address_range& w = !parent ? (c == 0 ? ap.io : c == 1 ? ap.mem32 : ap.mem64)
                                                 : (c == 0 ? parent->io_window : c == 1 ? parent->mem_window : parent->pref_window);
                CHECK(w.contains(ws[c]->base, ws[c]->size));
                taken[c].push_back({ws[c]->base, ws[c]->size});
            }
            bus(f.children, ap, r);
        }
        for (auto& t : taken) {
            std::sort(t.begin(), t.end());
            for (size_t i = 1; i < t.size(); ++i) CHECK(t[i - 1].first + t[i - 1].second <= t[i].first);
        }
    }
};

function_desc random_tree(std::mt19937& rng, unsigned depth, const std::string& where, u8 devfn) {
    const bool bridge = depth < 4 && rng() % 3 == 0;
    auto f = func(devfn, bridge ? function_kind::switch_downstream : function_kind::endpoint, where);
    unsigned idx = 0;
    while (idx < (bridge ? 2u : 6u) && rng() % 2) {
        // I/O only on root-bus functions (15 bridge I/O windows fill the port space); sizes keep the
        // worst case inside the apertures.
        const unsigned kind = depth == 0 ? rng() % 4 : 1 + rng() % 3;
        const bool mem64 = kind >= 2 && idx + 1 < (bridge ? 2u : 6u);
        const u64 size = kind == 0 ? (u64(4) << (rng() % 7)) : (u64(16) << (rng() % (kind == 3 ? 27 : 17)));
        f.params.bars.push_back(bar(idx, size, mem64, kind == 3, kind == 0));
        idx += mem64 ? 2 : 1;
    }
    if (bridge)
        for (unsigned i = 0, n = rng() % 4; i < n; ++i)
            f.children.push_back(random_tree(rng, depth + 1, where + "/" + std::to_string(i), u8(i << 3)));
    return f;
}

} // namespace

TEST_CASE("firmware resources: random trees, every BAR aligned inside its window, siblings disjoint", "[firmware]") {
    for (unsigned seed = 1; seed <= 30; ++seed) {
        std::mt19937 rng(seed);
        std::vector<function_desc> funcs;
        for (unsigned s = 0; s < 8; ++s) funcs.push_back(random_tree(rng, 0, "/" + std::to_string(s), u8(s << 3)));
        const platform_desc d = one_root(funcs);
        const root_apertures ap = {{0x1000, 0xf000}, {0x80000000, 0x60000000}, {TiB, 4 * TiB}};
        firmware_resources fw(d, {ap});
        INFO("seed " << seed);
        REQUIRE(fw.notes().empty());
        checker c{fw};
        c.bus(d.root_buses[0].functions, ap, nullptr);
    }
}

TEST_CASE("firmware resources: 20,000 functions are assigned in linear time", "[firmware][perf]") {
    std::vector<function_desc> ports;
    for (unsigned s = 0; s < 32; ++s) {
        auto usp = func(0, function_kind::switch_upstream, "/usp");
        for (unsigned dsp = 0; dsp < 32; ++dsp) {
            auto port = func(u8(dsp << 3), function_kind::switch_downstream, "/dsp");
            for (unsigned fn = 0; fn < 8; ++fn) {
                auto ep = func(u8(fn), function_kind::endpoint, "/ep");
                ep.params.bars = {bar(0, 16 * 1024), bar(2, 64 * 1024, true, true)};
                port.children.push_back(ep);
            }
            usp.children.push_back(port);
        }
        auto rp = func(pci_devfn(s, 0), function_kind::root_port, "/rp");
        rp.children = {usp};
        ports.push_back(rp);
    }
    const platform_desc d = one_root(ports);
    const auto t0 = std::chrono::steady_clock::now();
    firmware_resources fw(d, {apertures()});
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(s < 1.0);
    checker c{fw};
    c.bus(d.root_buses[0].functions, apertures(), nullptr);
    CHECK(c.bars == 32 * 32 * 8 * 2);
}

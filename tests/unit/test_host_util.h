// Small helpers shared by the simulated kernel's unit tests.
#pragma once
#include "sim/host/kernel.h"
#include "test_host_fabric.h"

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

namespace iommusim::test {

inline std::unique_ptr<host::kernel> boot(fake_fabric& f, host::kernel_options o = {}) {
    auto k = std::make_unique<host::kernel>(f, std::move(o));
    k->boot();
    return k;
}

inline bdf B(const char* s) {
    auto b = bdf::parse(s);
    REQUIRE(b);
    return *b;
}

inline int gid(const host::kernel& k, const char* s) {
    const host::pci_dev* d = k.find(B(s));
    REQUIRE(d != nullptr);
    return d->group;
}

inline std::vector<std::string> members(const host::kernel& k, int id) {
    std::vector<std::string> out;
    if (const auto* g = k.group(id))
        for (const auto* d : g->devices) out.push_back(d->address().short_str());
    return out;
}

inline std::vector<std::string> probe_order(const host::kernel& k) {
    std::vector<std::string> out;
    for (const auto* d : k.devices()) out.push_back(d->address().short_str());
    return out;
}

inline u8 devfn(unsigned slot, unsigned func) { return pci_devfn(slot, func); }

} // namespace iommusim::test

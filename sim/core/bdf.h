// PCI segment/bus/device/function address, printed as Linux prints it: "dddd:bb:dd.f", lower-case hex.
#pragma once
#include "sim/core/types.h"
#include <optional>
#include <string>
#include <string_view>

namespace iommusim {

constexpr u8 pci_devfn(unsigned slot, unsigned func) { return u8(((slot & 0x1f) << 3) | (func & 0x07)); }
constexpr unsigned pci_slot(u8 devfn) { return (devfn >> 3) & 0x1f; }
constexpr unsigned pci_func(u8 devfn) { return devfn & 0x07; }
// Requester ID as the hardware and Linux's PCI_DEVID() form it: bus << 8 | devfn.
constexpr u16 pci_devid(u8 bus, u8 devfn) { return u16((bus << 8) | devfn); }

struct bdf {
    u16 segment = 0;
    u8 bus = 0;
    u8 devfn = 0;

    unsigned slot() const { return pci_slot(devfn); }
    unsigned func() const { return pci_func(devfn); }
    u16 rid() const { return pci_devid(bus, devfn); }
    std::string str() const;            // "0000:00:1c.0"
    std::string short_str() const;      // "00:1c.0"

    // Accepts "dddd:bb:dd.f" or "bb:dd.f" (segment 0); nullopt on anything else.
    static std::optional<bdf> parse(std::string_view text);

    friend bool operator==(const bdf& a, const bdf& b) {
        return a.segment == b.segment && a.bus == b.bus && a.devfn == b.devfn;
    }
    friend bool operator!=(const bdf& a, const bdf& b) { return !(a == b); }
    friend bool operator<(const bdf& a, const bdf& b) {
        if (a.segment != b.segment) return a.segment < b.segment;
        if (a.bus != b.bus) return a.bus < b.bus;
        return a.devfn < b.devfn;
    }
};

} // namespace iommusim

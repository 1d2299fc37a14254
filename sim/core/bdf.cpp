#include "sim/core/bdf.h"

#include <fmt/format.h>

namespace iommusim {

std::string bdf::str() const {
    return fmt::format("{:04x}:{:02x}:{:02x}.{:x}", segment, bus, slot(), func());
}

std::string bdf::short_str() const { return fmt::format("{:02x}:{:02x}.{:x}", bus, slot(), func()); }

namespace {
std::optional<unsigned> hex_field(std::string_view s, size_t width, unsigned max) {
    if (s.size() != width) return std::nullopt;
    unsigned v = 0;
    for (char c : s) {
        unsigned d;
        if (c >= '0' && c <= '9') d = unsigned(c - '0');
        else if (c >= 'a' && c <= 'f') d = unsigned(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = unsigned(c - 'A' + 10);
        else return std::nullopt;
        v = v * 16 + d;
    }
    if (v > max) return std::nullopt;
    return v;
}
} // namespace

std::optional<bdf> bdf::parse(std::string_view text) {
    bdf out;
    if (text.size() == 12) {                          // dddd:bb:dd.f
        if (text[4] != ':') return std::nullopt;
        auto seg = hex_field(text.substr(0, 4), 4, 0xffff);
        if (!seg) return std::nullopt;
        out.segment = u16(*seg);
        text.remove_prefix(5);
    }
    if (text.size() != 7 || text[2] != ':' || text[5] != '.') return std::nullopt;
    auto bus = hex_field(text.substr(0, 2), 2, 0xff);
    auto dev = hex_field(text.substr(3, 2), 2, 0x1f);
    auto fn = hex_field(text.substr(6, 1), 1, 7);
    if (!bus || !dev || !fn) return std::nullopt;
    out.bus = u8(*bus);
    out.devfn = pci_devfn(*dev, *fn);
    return out;
}

} // namespace iommusim

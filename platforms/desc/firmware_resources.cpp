#include "platforms/desc/firmware_resources.h"

#include "models/pci/cfg/pci_regs.h"
#include "platforms/desc/hex_text.h"
#include "platforms/desc/platform_check.h"
#include "sim/core/input_error.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace iommusim::platforms {

namespace {

// Round up to a power-of-two alignment; saturates instead of wrapping so an impossible layout fails the
// aperture check rather than landing at a small address.
u64 align_up(u64 v, u64 align) {
    const u64 r = (v + align - 1) & ~(align - 1);
    return r < v ? ~u64(0) & ~(align - 1) : r;
}

u64 granularity(int c) { return c == 0 ? bridge_io_granularity : bridge_mem_granularity; }

const char* class_name(int c) { return c == 0 ? "I/O" : c == 1 ? "memory" : "prefetchable memory"; }

std::string size_str(u64 size) {
    if (size >= (u64(1) << 30) && size % (u64(1) << 30) == 0) return fmt::format("{}G", size >> 30);
    if (size >= (u64(1) << 20) && size % (u64(1) << 20) == 0) return fmt::format("{}M", size >> 20);
    if (size >= (u64(1) << 10) && size % (u64(1) << 10) == 0) return fmt::format("{}K", size >> 10);
    return fmt::format("{}", size);
}

// A bridge routes 64-bit prefetchable memory only through a prefetchable window that decodes 64-bit
// addresses (bridge spec §3.2.5.10: the low nibble of Prefetchable Memory Base says so). Built bridges
// always have one; a captured bridge has what its bytes say.
bool has_pref64_window(const function_desc& f) {
    if (f.params.kind != pci::function_kind::captured) return true;
    const auto& c = f.params.config;
    if (c.size() <= pci::PCI_PREF_MEMORY_BASE) return false;
    return (c[pci::PCI_PREF_MEMORY_BASE] & pci::PCI_PREF_RANGE_TYPE_MASK) == pci::PCI_PREF_RANGE_TYPE_64;
}

} // namespace

std::vector<address_range> split_io_space(size_t roots) {
    std::vector<address_range> out(roots);
    if (roots == 0) return out;
    const u64 share = ((io_space_limit - io_space_base) / roots) & ~(bridge_io_granularity - 1);
    for (size_t i = 0; i < roots; ++i) out[i] = {share ? io_space_base + i * share : 0, share};
    return out;
}

firmware_resources::firmware_resources(const platform_desc& desc, const std::vector<root_apertures>& apertures)
    : m_source(desc.source) {
    if (apertures.size() != desc.root_buses.size())
        throw std::invalid_argument("firmware_resources: one set of apertures per root bus");
    for (size_t r = 0; r < desc.root_buses.size(); ++r) {
        const root_apertures& ap = apertures[r];
        lists l;
        size_bus(desc.root_buses[r].functions, l, true);

        // Pinned BARs: where the description says, inside the aperture of their kind, never overlapping.
        std::array<std::vector<address_range>, 3> reserved;
        for (const function_desc& f : desc.root_buses[r].functions) {
            const auto& bars = f.params.bars;
            for (size_t i = 0; i < bars.size(); ++i) {
                const pci::bar_params& b = bars[i];
                const auto pinned = pci::pinned_bar_address(f.params, b.index);
                if (!pinned || f.params.kind == pci::function_kind::captured) continue;
                const std::string where = sub_location(f.where, "/bars/" + std::to_string(i) + "/address");
                int c = b.io ? io_cls : mem_cls;
                if (!b.io && ap.mem64.contains(*pinned, b.size) && b.mem64) c = pref_cls; // 64-bit aperture
                const address_range& a = c == io_cls ? ap.io : c == mem_cls ? ap.mem32 : ap.mem64;
                if (!a.contains(*pinned, b.size))
                    throw input_error(m_source, where,
                                      fmt::format("BAR {} at {:#x} ({}) is outside the root bus's {} aperture{}",
                                                  b.index, *pinned, size_str(b.size),
                                                  b.io ? "I/O" : b.mem64 ? "32-bit or 64-bit" : "32-bit",
                                                  b.mem64 ? fmt::format(" [{:#x}-{:#x}] / [{:#x}-{:#x}]", ap.mem32.base,
                                                                        ap.mem32.end() - 1, ap.mem64.base, ap.mem64.end() - 1)
                                                          : fmt::format(" [{:#x}-{:#x}]", a.base, a.end() - 1)));
                for (const address_range& o : reserved[c])
                    if (*pinned < o.end() && o.base < *pinned + b.size)
                        throw input_error(m_source, where, fmt::format("BAR {} at {:#x} overlaps another pinned BAR at {:#x}",
                                                                       b.index, *pinned, o.base));
                reserved[c].push_back({*pinned, b.size});
                assigned_bar& ab = m_by_function[&f].bars[i];
                ab.address = *pinned;
                ab.assigned = true;
            }
        }
        // No 64-bit aperture: everything shares the 32-bit one.
        if (ap.mem64.empty()) {
            for (item& it : l[pref_cls]) l[mem_cls].push_back(it);
            l[pref_cls].clear();
        }
        place_root(r, l, ap, reserved);
    }
}

// Bottom-up: the resources a bus needs from the window above it, per class.
void firmware_resources::size_bus(const std::vector<function_desc>& funcs, lists& out, bool root) {
    for (const function_desc& f : funcs) {
        const bool captured = f.params.kind == pci::function_kind::captured;
        if (!captured) {
            function_resources& fr = m_by_function[&f];
            fr.bridge = desc_is_bridge(f);
            const auto& bars = f.params.bars;
            for (size_t i = 0; i < bars.size(); ++i) {
                const pci::bar_params& b = bars[i];
                const bool pinned = pci::pinned_bar_address(f.params, b.index).has_value();
                fr.bars.push_back({b.index, 0, b.size, b.io, b.mem64, b.prefetchable, pinned, false});
                if (pinned) {
                    if (!root)
                        fail(f, "/bars/" + std::to_string(i) + "/address",
                             "a pinned BAR address is supported on root-bus functions only (below a bridge the "
                             "bridge windows would have to be built around it)");
                    continue; // placed by the constructor
                }
                if (b.size == 0) continue;
                const int c = b.io ? io_cls : (b.mem64 && b.prefetchable) ? pref_cls : mem_cls;
                out[c].push_back({&f, int(i), b.size, b.size, 0, c});
            }
            // The expansion ROM BAR (PCI 3.0 §6.2.5.2) is a 32-bit memory BAR: resource index 6 as Linux
            // numbers it (PCI_ROM_RESOURCE), placed after the BARs.
            if (f.params.rom_size) {
                fr.bars.push_back({assigned_bar::rom_index, 0, f.params.rom_size, false, false, false, false, false});
                out[mem_cls].push_back({&f, int(fr.bars.size() - 1), f.params.rom_size, f.params.rom_size, 0, mem_cls});
            }
        }
        if (!desc_is_bridge(f)) continue;
        lists below;
        size_bus(f.children, below, false);
        if (captured) {
            if (below[0].empty() && below[1].empty() && below[2].empty()) continue; // keep the captured windows
            m_by_function[&f].bridge = true;
        }
        layout_window(f, below, out);
    }
}

// A bridge's windows: its bus's resources sorted by alignment (descending) at relative offsets; the
// window is as large as they need, rounded to the window granularity, aligned to the largest of them.
void firmware_resources::layout_window(const function_desc& bridge, lists& below, lists& parent) {
    if (!has_pref64_window(bridge)) {
        for (item& it : below[pref_cls]) below[mem_cls].push_back(it);
        below[pref_cls].clear();
    }
    for (int c = 0; c < 3; ++c) {
        auto& v = below[c];
        if (v.empty()) continue;
        std::stable_sort(v.begin(), v.end(), [](const item& a, const item& b) { return a.align > b.align; });
        u64 off = 0, align = granularity(c);
        for (item& it : v) {
            off = align_up(off, it.align);
            it.offset = off;
            off += it.size;
            align = std::max(align, it.align);
        }
        parent[c].push_back({&bridge, -1, align_up(off, granularity(c)), align, 0, c});
    }
    m_windows[&bridge] = std::move(below);
}

// Top of the tree: the root bus's resources in its apertures, around pinned BARs.
void firmware_resources::place_root(size_t r, lists& l, const root_apertures& ap,
                                    std::array<std::vector<address_range>, 3>& reserved) {
    for (int c = 0; c < 3; ++c) {
        const address_range& a = c == io_cls ? ap.io : c == mem_cls ? ap.mem32 : ap.mem64;
        auto& res = reserved[c];
        std::sort(res.begin(), res.end(), [](const address_range& x, const address_range& y) { return x.base < y.base; });
        auto& v = l[c];
        std::stable_sort(v.begin(), v.end(), [](const item& x, const item& y) { return x.align > y.align; });
        u64 cur = a.base;
        size_t k = 0;
        for (const item& it : v) {
            u64 pos = align_up(cur, it.align);
            for (;;) {
                while (k < res.size() && res[k].end() <= pos) ++k;
                if (k < res.size() && pos + it.size > res[k].base) {
                    pos = align_up(res[k].end(), it.align);
                    continue;
                }
                break;
            }
            const bool fits = !a.empty() && pos >= a.base && pos + it.size >= pos && pos + it.size <= a.end();
            const bool rom = it.bar >= 0 && size_t(it.bar) >= it.f->params.bars.size();
            const std::string what =
                rom ? fmt::format("the expansion ROM ({})", size_str(it.size)) :
                it.bar >= 0 ? fmt::format("BAR {} ({}{}{})", it.f->params.bars[size_t(it.bar)].index, size_str(it.size),
                                          it.f->params.bars[size_t(it.bar)].mem64 ? ", 64-bit" : "",
                                          it.f->params.bars[size_t(it.bar)].prefetchable ? ", prefetchable" : "")
                            : fmt::format("the {} window for the devices below this bridge ({}, aligned to {})",
                                          class_name(it.own), size_str(it.size), size_str(it.align));
            if (!fits) {
                const std::string ap_name = c == io_cls ? "I/O space" : c == mem_cls ? "32-bit MMIO aperture" : "64-bit MMIO aperture";
                const std::string msg = fmt::format("{} does not fit in root bus {}'s {} [{:#x}-{:#x}]", what, r, ap_name,
                                                    a.base, a.end() ? a.end() - 1 : 0);
                if (c == io_cls) { // BIOSes leave I/O they cannot place unassigned; the OS logs it
                    m_notes.push_back(it.f->where + ": " + msg + "; left unassigned");
                    continue;
                }
                fail(*it.f, "", msg + " (make the aperture larger in \"params\" or the BARs smaller)");
            }
            assign(it, pos);
            cur = pos + it.size;
        }
    }
}

// Top-down: a BAR gets its address; a window gets its range and passes it on to what it holds.
void firmware_resources::assign(const item& it, u64 address) {
    function_resources& fr = m_by_function[it.f];
    if (it.bar >= 0) {
        assigned_bar& b = fr.bars[size_t(it.bar)];
        b.address = address;
        b.assigned = true;
        return;
    }
    (it.own == io_cls ? fr.io_window : it.own == mem_cls ? fr.mem_window : fr.pref_window) = {address, it.size};
    for (const item& child : m_windows.at(it.f)[size_t(it.own)]) assign(child, address + child.offset);
}

void firmware_resources::fail(const function_desc& f, const std::string& suffix, const std::string& msg) const {
    throw input_error(m_source, suffix.empty() ? f.where : sub_location(f.where, suffix), msg);
}

const function_resources* firmware_resources::find(const function_desc& f) const {
    auto it = m_by_function.find(&f);
    return it == m_by_function.end() ? nullptr : &it->second;
}

std::optional<u64> firmware_resources::bar_address(const function_desc& f, unsigned bar) const {
    if (const function_resources* r = find(f))
        for (const assigned_bar& b : r->bars)
            if (b.index == bar && b.assigned) return b.address;
    return std::nullopt;
}

void firmware_resources::program(pci::config_space& cfg, const function_resources& r) {
    using namespace pci;
    u16 cmd = cfg.get16(PCI_COMMAND);
    for (const assigned_bar& b : r.bars) {
        if (!b.assigned) continue;
        if (b.index == assigned_bar::rom_index) {  // address only: firmware leaves the ROM's decode (bit 0) off
            const unsigned off = r.bridge ? PCI_ROM_ADDRESS1 : PCI_ROM_ADDRESS;
            cfg.set32(off, (cfg.get32(off) & ~PCI_ROM_ADDRESS_MASK) | (u32(b.address) & PCI_ROM_ADDRESS_MASK));
            continue;
        }
        const unsigned off = PCI_BASE_ADDRESS_0 + 4 * b.index;
        const u32 low = cfg.get32(off);
        if (b.io) {
            cfg.set32(off, (low & ~PCI_BASE_ADDRESS_IO_MASK) | (u32(b.address) & PCI_BASE_ADDRESS_IO_MASK));
            cmd |= PCI_COMMAND_IO;
            continue;
        }
        cfg.set32(off, (low & ~PCI_BASE_ADDRESS_MEM_MASK) | (u32(b.address) & PCI_BASE_ADDRESS_MEM_MASK));
        if (b.mem64) cfg.set32(off + 4, u32(b.address >> 32));
        cmd |= PCI_COMMAND_MEMORY;
    }
    if (r.bridge) {
        // Base/limit encodings of the bridge spec §3.2.5.6-10: address bits above the granularity in the
        // upper nibble(s), limit inclusive; a closed window has base above limit.
        const u8 io_type = cfg.get8(PCI_IO_BASE) & PCI_IO_RANGE_TYPE_MASK;
        if (!r.io_window.empty()) {
            const u64 last = r.io_window.end() - 1;
            cfg.set8(PCI_IO_BASE, u8(io_type | ((r.io_window.base >> 8) & 0xf0)));
            cfg.set8(PCI_IO_LIMIT, u8(io_type | ((last >> 8) & 0xf0)));
            if (io_type == PCI_IO_RANGE_TYPE_32) {
                cfg.set16(PCI_IO_BASE_UPPER16, u16(r.io_window.base >> 16));
                cfg.set16(PCI_IO_LIMIT_UPPER16, u16(last >> 16));
            }
            cmd |= PCI_COMMAND_IO;
        } else {
            cfg.set8(PCI_IO_BASE, u8(io_type | 0xf0));
            cfg.set8(PCI_IO_LIMIT, io_type);
        }
        if (!r.mem_window.empty()) {
            cfg.set16(PCI_MEMORY_BASE, u16((r.mem_window.base >> 16) & 0xfff0));
            cfg.set16(PCI_MEMORY_LIMIT, u16(((r.mem_window.end() - 1) >> 16) & 0xfff0));
            cmd |= PCI_COMMAND_MEMORY;
        } else {
            cfg.set16(PCI_MEMORY_BASE, 0xfff0);
            cfg.set16(PCI_MEMORY_LIMIT, 0);
        }
        const u16 pref_type = cfg.get16(PCI_PREF_MEMORY_BASE) & PCI_PREF_RANGE_TYPE_MASK;
        if (!r.pref_window.empty()) {
            const u64 last = r.pref_window.end() - 1;
            cfg.set16(PCI_PREF_MEMORY_BASE, u16(pref_type | ((r.pref_window.base >> 16) & 0xfff0)));
            cfg.set16(PCI_PREF_MEMORY_LIMIT, u16(pref_type | ((last >> 16) & 0xfff0)));
            if (pref_type == PCI_PREF_RANGE_TYPE_64) {
                cfg.set32(PCI_PREF_BASE_UPPER32, u32(r.pref_window.base >> 32));
                cfg.set32(PCI_PREF_LIMIT_UPPER32, u32(last >> 32));
            }
            cmd |= PCI_COMMAND_MEMORY;
        } else {
            cfg.set16(PCI_PREF_MEMORY_BASE, u16(pref_type | 0xfff0));
            cfg.set16(PCI_PREF_MEMORY_LIMIT, pref_type);
            if (pref_type == PCI_PREF_RANGE_TYPE_64) {
                cfg.set32(PCI_PREF_BASE_UPPER32, 0);
                cfg.set32(PCI_PREF_LIMIT_UPPER32, 0);
            }
        }
    }
    cfg.set16(PCI_COMMAND, cmd);
}

} // namespace iommusim::platforms

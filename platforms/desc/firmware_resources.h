// Firmware resource assignment: what a BIOS does before the OS boots (and Linux keeps, since it only
// reassigns what is missing or broken). Every BAR of every described function gets an address in its
// root complex's apertures, naturally aligned, and every bridge's I/O, memory and prefetchable windows
// are set to cover what lies below it. Pure C++: the platform builder programs the results into the
// config spaces it builds (program()), unit tests check them directly.
//
// Rules (Linux's pbus_size_mem / __pci_bus_size_bridges sort resources the same way):
//   * a 64-bit prefetchable BAR goes through prefetchable windows into the root's 64-bit aperture;
//     every other memory BAR (32-bit, 32-bit prefetchable, 64-bit non-prefetchable) goes through the
//     non-prefetchable memory windows into the 32-bit aperture. A bridge without a 64-bit prefetchable
//     window (a captured one) takes everything below it into its memory window; so does a root without
//     a 64-bit aperture.
//   * bridge memory windows have 1 MiB granularity (PCI-to-PCI Bridge 1.2 §3.2.5.8-9), I/O windows
//     4 KiB (§3.2.5.6); a window is aligned to the largest alignment inside it.
//   * I/O BARs come from the x86 port space [0x1000, 0x10000) shared equally by the root buses; when it
//     runs out a BAR stays unassigned (as BIOSes do: Linux then logs "no space") and notes() says so.
//     Memory that does not fit is an input_error naming the function's JSON path.
//   * a BAR with a pinned "address" is placed there (root-bus functions only: below a bridge the windows
//     would have to be built around it); it must lie inside the root's aperture of its kind.
//   * captured functions keep their captured BARs (sizes cannot be recovered from a dump); a captured
//     bridge is reprogrammed only when described functions below it need space.
//
// COMMAND: MEMORY (IO) is set on a function that got a memory (I/O) BAR and on a bridge whose memory or
// prefetchable (I/O) window is open. Bus Master Enable is left clear everywhere: BIOSes leave it to the
// OS, and Linux sets it per device in pci_set_master() (and on the bridges above in pci_enable_bridge()).
//
// Linear in the number of functions: one bottom-up pass sizes each bus (its resources sorted by
// alignment, descending, and laid out at relative offsets), one top-down pass adds the window bases.
#pragma once
#include "models/pci/cfg/config_space.h"
#include "platforms/desc/platform_desc.h"

#include <array>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace iommusim::platforms {

constexpr u64 bridge_mem_granularity = u64(1) << 20; // PCI-to-PCI Bridge 1.2 §3.2.5.8: 1 MiB
constexpr u64 bridge_io_granularity = u64(1) << 12;  // §3.2.5.6: 4 KiB
constexpr u64 io_space_base = 0x1000;                // below: legacy ISA ports, never given to PCI
constexpr u64 io_space_limit = 0x10000;              // x86 port space (exclusive)

struct address_range {
    u64 base = 0, size = 0;
    bool empty() const { return size == 0; }
    u64 end() const { return base + size; } // exclusive
    bool contains(u64 a, u64 len) const { return len && a >= base && a + len <= end() && a + len > a; }
};

struct root_apertures {
    address_range io, mem32, mem64;
};

// The I/O share of each of n root buses: [io_space_base, io_space_limit) split equally, 4 KiB aligned.
std::vector<address_range> split_io_space(size_t roots);

struct assigned_bar {
    static constexpr unsigned rom_index = 6;  // the expansion ROM (Linux's PCI_ROM_RESOURCE)
    unsigned index = 0;
    u64 address = 0, size = 0;
    bool io = false, mem64 = false, prefetchable = false;
    bool pinned = false;
    bool assigned = false; // false: no space (I/O only); the register is left 0 and decode off
};

struct function_resources {
    std::vector<assigned_bar> bars;
    bool bridge = false;
    address_range io_window, mem_window, pref_window; // bridges; empty = closed
};

class firmware_resources {
public:
    // Assigns every function of `desc`; apertures[i] belongs to desc.root_buses[i]. Throws input_error
    // (desc.source, the function's `where`) when memory does not fit or a pinned address is impossible.
    firmware_resources(const platform_desc& desc, const std::vector<root_apertures>& apertures);

    // nullptr for functions left as they are (captured ones with nothing to program).
    const function_resources* find(const function_desc& f) const;
    // The address assigned to BAR `bar` of f (the register index; a 64-bit BAR by its lower index).
    std::optional<u64> bar_address(const function_desc& f, unsigned bar) const;
    // What could not be assigned (I/O exhaustion), for reports.
    const std::vector<std::string>& notes() const { return m_notes; }

    // Writes BARs, windows and COMMAND decode bits into a built config space (model-side writes: the
    // registers' masks do not apply, firmware is not software here).
    static void program(pci::config_space& cfg, const function_resources& r);

private:
    enum cls { io_cls = 0, mem_cls = 1, pref_cls = 2 };
    struct item {
        const function_desc* f = nullptr;
        int bar = -1;        // index into f->params.bars; -1 = one of the bridge f's windows
        u64 size = 0, align = 0;
        u64 offset = 0;      // relative to the window holding it
        int own = 0;         // a window item: which of f's windows (io_cls, mem_cls, pref_cls)
    };
    using lists = std::array<std::vector<item>, 3>;

    void size_bus(const std::vector<function_desc>& funcs, lists& out, bool root);
    void layout_window(const function_desc& bridge, lists& below, lists& parent);
    void place_root(size_t r, lists& l, const root_apertures& ap, std::array<std::vector<address_range>, 3>& reserved);
    void assign(const item& it, u64 address);
    [[noreturn]] void fail(const function_desc& f, const std::string& suffix, const std::string& msg) const;

    std::string m_source;
    std::unordered_map<const function_desc*, function_resources> m_by_function;
    std::unordered_map<const function_desc*, lists> m_windows; // each bridge's laid-out contents
    std::vector<std::string> m_notes;
};

} // namespace iommusim::platforms

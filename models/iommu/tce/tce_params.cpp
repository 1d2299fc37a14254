#include "models/iommu/tce/tce_params.h"

#include "sim/core/closest_name.h"
#include "sim/core/input_error.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <functional>
#include <limits>
#include <optional>
#include <vector>

namespace iommusim::tce {

const char* to_string(phb_model m) { return m == phb_model::phb3 ? "phb3" : "phb4"; }

namespace {

using nlohmann::json;

struct where_ctx {
    const std::string& name;
    const std::string& source;
    const std::string& where;
    [[noreturn]] void fail(const std::string& why) const {
        throw input_error(source, where, "parameter \"" + name + "\": " + why);
    }
};

std::optional<u64> parse_uint(const std::string& s) {
    const bool hex = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    const std::string digits = hex ? s.substr(2) : s;
    if (digits.empty() || digits.size() > 20) return std::nullopt;
    for (char ch : digits)
        if (hex ? !std::isxdigit(static_cast<unsigned char>(ch)) : !std::isdigit(static_cast<unsigned char>(ch)))
            return std::nullopt;
    try {
        return std::stoull(digits, nullptr, hex ? 16 : 10);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// Unsigned integer from a JSON number or a decimal / 0x-hex string (the form `describe` prints).
u64 get_uint(const json& v, const where_ctx& c, u64 min, u64 max) {
    std::optional<u64> value;
    if (v.is_number_unsigned()) value = v.get<u64>();
    else if (v.is_number_integer()) {
        if (v.get<i64>() < 0) c.fail("must not be negative, got " + v.dump());
        value = u64(v.get<i64>());
    } else if (v.is_string()) {
        value = parse_uint(v.get_ref<const std::string&>());
        if (!value)
            c.fail("expected a number such as 256 or \"0x100\", got \"" + v.get<std::string>().substr(0, 40) + "\"");
    } else {
        c.fail("expected an unsigned integer, got " + std::string(v.type_name()));
    }
    if (*value < min || *value > max)
        c.fail("must be " + std::to_string(min) + ".." + std::to_string(max) + ", got " + std::to_string(*value));
    return *value;
}

// A page size written as "4K", "64K", "2M", "16M", "256M", "1G", "16G" or a number of bytes.
std::optional<unsigned> page_shift_of(const json& v) {
    u64 bytes = 0;
    if (v.is_number_unsigned()) bytes = v.get<u64>();
    else if (v.is_number_integer()) bytes = v.get<i64>() > 0 ? u64(v.get<i64>()) : 0;
    else if (v.is_string()) {
        std::string s = v.get<std::string>();
        u64 mult = 1;
        if (!s.empty()) {
            const char suffix = char(std::toupper(static_cast<unsigned char>(s.back())));
            if (suffix == 'K') mult = u64(1) << 10;
            if (suffix == 'M') mult = u64(1) << 20;
            if (suffix == 'G') mult = u64(1) << 30;
            if (mult != 1) s.pop_back();
        }
        const auto n = parse_uint(s);
        if (!n || *n == 0 || *n > (~u64(0)) / mult) return std::nullopt;
        bytes = *n * mult;
    } else {
        return std::nullopt;
    }
    if (bytes == 0 || (bytes & (bytes - 1))) return std::nullopt;
    unsigned s = 0;
    while ((u64(1) << s) != bytes) ++s;
    return s;
}

using setter = std::function<void(tce_params&, const json&, const where_ctx&)>;
struct slot {
    std::string name;
    setter set;
};

template <typename T, typename Get>
setter uint_field(Get get, u64 min = 0, u64 max = std::numeric_limits<T>::max()) {
    return [=](tce_params& p, const json& v, const where_ctx& c) { get(p) = T(get_uint(v, c, min, max)); };
}

void add_cache(std::vector<slot>& t, const std::string& prefix, iommu::cache_params& (*get)(tce_params&),
               unsigned min_ways) {
    t.push_back({prefix + "_sets",
                 uint_field<unsigned>([=](tce_params& p) -> unsigned& { return get(p).geometry.sets; }, 1, 1u << 20)});
    t.push_back({prefix + "_ways", uint_field<unsigned>([=](tce_params& p) -> unsigned& { return get(p).geometry.ways; },
                                                        min_ways, 1u << 16)});
    t.push_back({prefix + "_policy", [=](tce_params& p, const json& v, const where_ctx& c) {
                     if (!v.is_string()) c.fail("expected one of lru, fifo, random, tree_plru");
                     auto pol = iommu::parse_replacement_policy(v.get<std::string>());
                     if (!pol)
                         c.fail("expected one of lru, fifo, random, tree_plru, got \"" +
                                v.get<std::string>().substr(0, 40) + "\"");
                     get(p).geometry.policy = *pol;
                 }});
    t.push_back({prefix + "_seed", uint_field<u64>([=](tce_params& p) -> u64& { return get(p).geometry.seed; })});
    t.push_back({prefix + "_lookup_cycles",
                 uint_field<unsigned>([=](tce_params& p) -> unsigned& { return get(p).lookup_cycles; }, 0, 1u << 20)});
}

#define FIELD(f) [](tce_params& p) -> auto& { return p.f; }

const std::vector<slot>& slots() {
    static const std::vector<slot> table = [] {
        std::vector<slot> t;
        t.push_back({"model", [](tce_params& p, const json& v, const where_ctx& c) {
                         if (v == "phb3") p.model = phb_model::phb3;
                         else if (v == "phb4") p.model = phb_model::phb4;
                         else c.fail("expected \"phb3\" or \"phb4\", got " + v.dump().substr(0, 40));
                     }});
        t.push_back({"num_pes", uint_field<unsigned>(FIELD(num_pes), 1, 4096)});
        t.push_back({"reserved_pe", uint_field<unsigned>(FIELD(reserved_pe), 0, 4095)});
        t.push_back({"m32_pci_base", uint_field<u64>(FIELD(m32_pci_base), 0, 0xffffffffull)});
        t.push_back({"m32_size", uint_field<u64>(FIELD(m32_size), 0, u64(1) << 32)});
        t.push_back({"m32_segments", uint_field<unsigned>(FIELD(m32_segments), 1, 4096)});
        t.push_back({"m64_bars", uint_field<unsigned>(FIELD(m64_bars), 0, 63)});
        t.push_back({"dma32_window_size", uint_field<u64>(FIELD(dma32_window_size), 0, u64(1) << 32)});
        t.push_back({"page_sizes", [](tce_params& p, const json& v, const where_ctx& c) {
                         if (v.is_array()) {
                             u64 m = 0;
                             for (const auto& e : v) {
                                 const auto s = page_shift_of(e);
                                 if (!s) c.fail("expected page sizes such as \"4K\", \"64K\", \"16M\", got " + e.dump().substr(0, 40));
                                 m |= u64(1) << *s;
                             }
                             p.page_sizes = m;
                         } else {
                             p.page_sizes = get_uint(v, c, 1, ~u64(0));
                         }
                     }});
        t.push_back({"max_levels", uint_field<unsigned>(FIELD(max_levels), 1, MAX_LEVELS)});
        t.push_back({"max_windows", uint_field<unsigned>(FIELD(max_windows), 1, MAX_WINDOWS)});
        t.push_back({"num_msi", uint_field<unsigned>(FIELD(num_msi), 1, 0x10000)});
        t.push_back({"clock_mhz", [](tce_params& p, const json& v, const where_ctx& c) {
                         if (!v.is_number()) c.fail("expected a number, got " + std::string(v.type_name()));
                         const double d = v.get<double>();
                         if (!(d > 0) || d > 1e6) c.fail("must be in (0, 1e6]");
                         p.timing.clock_mhz = d;
                     }});
        t.push_back({"functional", [](tce_params& p, const json& v, const where_ctx& c) {
                         if (!v.is_boolean()) c.fail("expected true or false, got " + std::string(v.type_name()));
                         p.timing.functional = v.get<bool>();
                     }});
        t.push_back({"walk_slots", uint_field<unsigned>(FIELD(timing.walk_slots), 1, 1024)});
        t.push_back({"inval_slots", uint_field<unsigned>(FIELD(timing.inval_slots), 1, 1024)});
        t.push_back({"psc_lookup_cycles", uint_field<unsigned>(FIELD(timing.psc_lookup_cycles), 0, 1u << 20)});
        add_cache(t, "tce_cache", [](tce_params& p) -> iommu::cache_params& { return p.tce_cache; }, 0);
        add_cache(t, "rtc", [](tce_params& p) -> iommu::cache_params& { return p.rtc; }, 0);
        t.push_back({"tve_cycles", uint_field<unsigned>(FIELD(tve_cycles), 0, 1u << 20)});
        t.push_back({"mmio_check_cycles", uint_field<unsigned>(FIELD(mmio_check_cycles), 0, 1u << 20)});
        t.push_back({"msi_check_cycles", uint_field<unsigned>(FIELD(msi_check_cycles), 0, 1u << 20)});
        return t;
    }();
    return table;
}

#undef FIELD

std::string hex(u64 v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

} // namespace

void tce_params::validate() const {
    auto bad = [](const char* name, const std::string& why) { throw input_error("", std::string("/") + name, why); };
    if (num_pes == 0) bad("num_pes", "a PHB has at least one PE");
    if (reserved_pe >= num_pes) bad("reserved_pe", "must be below num_pes (" + std::to_string(num_pes) + ")");
    if (m32_segments == 0 || m32_segments > num_pes) bad("m32_segments", "must be 1..num_pes (one owner per segment)");
    if (m32_size % m32_segments) bad("m32_size", "must split into m32_segments equal segments");
    if (m32_pci_base + m32_size > (u64(1) << 32)) bad("m32_size", "the M32 window must end at or below 4 GiB");
    if (dma32_window_size == 0 || (dma32_window_size & (dma32_window_size - 1)))
        bad("dma32_window_size", "must be a power of two (TCE tables cover power-of-two windows)");
    if (dma32_window_size > m32_pci_base && m32_size != 0)
        bad("dma32_window_size", "the 32-bit DMA window must end at or below the M32 window (m32_pci_base)");
    if (page_sizes == 0) bad("page_sizes", "at least one IOMMU page size");
    if (page_sizes & ~(((u64(1) << 35) - 1) & ~((u64(1) << 12) - 1)))
        bad("page_sizes", "page sizes must be 4 KiB .. 16 GiB (bits 12..34)");
    if (max_levels < 1 || max_levels > MAX_LEVELS) bad("max_levels", "1..5 levels");
    if (max_windows < 1 || max_windows > MAX_WINDOWS) bad("max_windows", "1..2 windows per PE");
    if (num_msi == 0 || num_msi > 0x10000) bad("num_msi", "1..65536 interrupt sources");
    if (!(timing.clock_mhz > 0) || timing.clock_mhz > 1e6) bad("clock_mhz", "must be in (0, 1e6]");
    if (timing.walk_slots == 0) bad("walk_slots", "at least one TCE fetch must be possible");
    if (timing.inval_slots == 0) bad("inval_slots", "the invalidation engine needs a slot");
    if (tce_cache.geometry.sets == 0) bad("tce_cache_sets", "a cache has at least one set");
    if (rtc.geometry.sets == 0) bad("rtc_sets", "a cache has at least one set");
}

model_info tce_params_info() {
    const tce_params d;
    auto n = [](u64 v) { return std::to_string(v); };
    model_info m;
    m.name = "tce";
    m.summary = "POWER PCI host bridge (IODA2 PHB3 / IODA3 PHB4) with Partitionable Endpoints: RID-to-PE table, "
                "M32/M64 MMIO segments, per-PE DMA windows translated by multi-level TCE tables, MSI validation "
                "per PE, EEH freeze/thaw/reset/error injection; cycle-approximate";
    m.params = {
        {"model", "string", to_string(d.model), "phb3 (POWER8 IODA2) or phb4 (POWER9 IODA3, 2 TVEs per PE)"},
        {"num_pes", "u32", n(d.num_pes), "Partitionable Endpoints of the PHB: 256 on PHB3, up to 512 on PHB4"},
        {"reserved_pe", "u32", n(d.reserved_pe), "PE of every unassigned requester ID (RTT reset value); its windows stay disabled"},
        {"m32_pci_base", "u64", hex(d.m32_pci_base), "PCI address of the M32 MMIO window (the 32-bit DMA window ends below it)"},
        {"m32_size", "u64", hex(d.m32_size), "size of the M32 MMIO window"},
        {"m32_segments", "u32", n(d.m32_segments), "equal M32 segments, each owned by one PE (Linux: one per PE)"},
        {"m64_bars", "u32", n(d.m64_bars), "M64 BARs, each split in num_pes segments (segment i = PE i) or owned by one PE"},
        {"dma32_window_size", "u64", hex(d.dma32_window_size),
         "default 32-bit DMA window at bus address 0 (powernv: m32_pci_base; QEMU pseries: 0x40000000)"},
        {"page_sizes", "u64", hex(d.page_sizes),
         "IOMMU page sizes, bit n = 2^n bytes, or a list such as [\"4K\",\"64K\",\"16M\"] (PHB3 4K|64K|16M|256M, PHB4 4K|64K|2M|1G)"},
        {"max_levels", "u32", n(d.max_levels), "TCE table levels a window may have (POWERNV_IOMMU_MAX_LEVELS)"},
        {"max_windows", "u32", n(d.max_windows), "DMA windows per PE: the 32-bit window and one 64-bit window at 1<<59"},
        {"num_msi", "u32", n(d.num_msi), "interrupt vector table entries (MSI sources validated against their PE)"},
    };
    auto add = [&](std::vector<param_info> rows) { m.params.insert(m.params.end(), rows.begin(), rows.end()); };
    add(iommu::timing_param_infos(d.timing));
    add(iommu::cache_param_infos("tce_cache", "TCE cache (leaf TCEs by PE, window and page; 0 ways: none)", d.tce_cache));
    add(iommu::cache_param_infos("rtc", "RID translation cache (RTT entries of recent requesters; 0 ways: none)", d.rtc));
    add({{"tve_cycles", "cycles", n(d.tve_cycles), "TVT lookup once the PE is known"},
         {"mmio_check_cycles", "cycles", n(d.mmio_check_cycles), "M32/M64 segment owner and PE state check of an MMIO access"},
         {"msi_check_cycles", "cycles", n(d.msi_check_cycles), "IVE fetch and PE comparison of one MSI"}});
    return m;
}

void set_tce_param(tce_params& p, const std::string& name, const nlohmann::json& value, const std::string& source,
                   const std::string& where) {
    const where_ctx c{name, source, where};
    for (const auto& s : slots())
        if (s.name == name) {
            s.set(p, value, c);
            return;
        }
    std::string msg = "unknown TCE parameter \"" + name.substr(0, 60) + "\"";
    std::vector<std::string> names;
    for (const auto& s : slots()) names.push_back(s.name);
    if (const auto best = closest_name(name, names)) msg += "; did you mean \"" + *best + "\"?";
    else msg += "; `iommusim describe tce` lists them";
    throw input_error(source, where, msg);
}

} // namespace iommusim::tce

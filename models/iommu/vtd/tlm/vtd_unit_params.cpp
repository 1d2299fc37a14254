#include "models/iommu/vtd/tlm/vtd_unit_params.h"

#include "sim/core/closest_name.h"
#include "sim/core/input_error.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <limits>
#include <optional>
#include <vector>

namespace iommusim::vtd {

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

// Unsigned integer from a JSON number or a decimal / 0x-hex string (the form `describe` prints).
u64 get_uint(const json& v, const where_ctx& c, u64 min, u64 max) {
    std::optional<u64> value;
    if (v.is_number_unsigned()) value = v.get<u64>();
    else if (v.is_number_integer()) {
        if (v.get<i64>() < 0) c.fail("must not be negative, got " + v.dump());
        value = u64(v.get<i64>());
    } else if (v.is_string()) {
        const std::string& s = v.get_ref<const std::string&>();
        const bool hex = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
        const std::string digits = hex ? s.substr(2) : s;
        if (!digits.empty() && digits.size() <= 20 &&
            std::all_of(digits.begin(), digits.end(), [&](char ch) {
                return hex ? std::isxdigit(static_cast<unsigned char>(ch)) != 0
                           : std::isdigit(static_cast<unsigned char>(ch)) != 0;
            })) {
            try {
                value = std::stoull(digits, nullptr, hex ? 16 : 10);
            } catch (const std::exception&) {
            }
        }
        if (!value) c.fail("expected a number such as 31 or \"0x1f\", got \"" + s.substr(0, 40) + "\"");
    } else {
        c.fail("expected an unsigned integer, got " + std::string(v.type_name()));
    }
    if (*value < min || *value > max)
        c.fail("must be " + std::to_string(min) + ".." + std::to_string(max) + ", got " + std::to_string(*value));
    return *value;
}

bool get_bool(const json& v, const where_ctx& c) {
    if (!v.is_boolean()) c.fail("expected true or false, got " + std::string(v.type_name()));
    return v.get<bool>();
}

double get_double(const json& v, const where_ctx& c, double min, double max) {
    if (!v.is_number()) c.fail("expected a number, got " + std::string(v.type_name()));
    const double d = v.get<double>();
    if (!(d > min) || d > max) c.fail("must be in (" + std::to_string(min) + ", " + std::to_string(max) + "]");
    return d;
}

using setter = std::function<void(vtd_unit_params&, const json&, const where_ctx&)>;
struct slot {
    std::string name;
    setter set;
};

// A setter for an unsigned field of any width, reached through an accessor.
template <typename T, typename Get>
setter uint_field(Get get, u64 min = 0, u64 max = std::numeric_limits<T>::max()) {
    return [=](vtd_unit_params& p, const json& v, const where_ctx& c) { get(p) = T(get_uint(v, c, min, max)); };
}
template <typename Get>
setter bool_field(Get get) {
    return [=](vtd_unit_params& p, const json& v, const where_ctx& c) { get(p) = get_bool(v, c); };
}

// The five rows cache_param_infos() describes for one cache (lookup_cycles optional: the PSC levels
// share timing.psc_lookup_cycles).
void add_cache(std::vector<slot>& t, const std::string& prefix, iommu::cache_params& (*get)(vtd_unit_params&),
               bool with_lookup, unsigned min_ways) {
    t.push_back({prefix + "_sets", uint_field<unsigned>([=](vtd_unit_params& p) -> unsigned& {
                                                             return get(p).geometry.sets;
                                                         },
                                                         1, 1u << 20)});
    t.push_back({prefix + "_ways", uint_field<unsigned>([=](vtd_unit_params& p) -> unsigned& {
                                                             return get(p).geometry.ways;
                                                         },
                                                         min_ways, 1u << 16)});
    t.push_back({prefix + "_policy", [=](vtd_unit_params& p, const json& v, const where_ctx& c) {
                     if (!v.is_string()) c.fail("expected one of lru, fifo, random, tree_plru");
                     auto pol = iommu::parse_replacement_policy(v.get<std::string>());
                     if (!pol) c.fail("expected one of lru, fifo, random, tree_plru, got \"" +
                                      v.get<std::string>().substr(0, 40) + "\"");
                     get(p).geometry.policy = *pol;
                 }});
    t.push_back({prefix + "_seed", uint_field<u64>([=](vtd_unit_params& p) -> u64& { return get(p).geometry.seed; })});
    if (with_lookup)
        t.push_back({prefix + "_lookup_cycles", uint_field<unsigned>([=](vtd_unit_params& p) -> unsigned& {
                                                                          return get(p).lookup_cycles;
                                                                      },
                                                                      0, 1u << 20)});
}

#define HW(field) [](vtd_unit_params& p) -> auto& { return p.hw.field; }

const std::vector<slot>& slots() {
    static const std::vector<slot> table = [] {
        std::vector<slot> t;
        // vtd_params (the order of vtd_params_info()); ranges as narrow as the field, validate() does the rest.
        t.push_back({"version", uint_field<u8>(HW(version), 1)});
        t.push_back({"iro", uint_field<u32>(HW(iro), 0, 0x3ff0)});
        t.push_back({"fro", uint_field<u32>(HW(fro), 0, 0x3ff0)});
        t.push_back({"nfr", uint_field<u32>(HW(nfr), 1, 256)});
        t.push_back({"haw", uint_field<u32>(HW(haw), 32, 52)});
        t.push_back({"mgaw", uint_field<u32>(HW(mgaw), 30, 57)});
        t.push_back({"sagaw", uint_field<u8>(HW(sagaw), 0, 0x1f)});
        t.push_back({"sllps", uint_field<u8>(HW(sllps), 0, 0xf)});
        t.push_back({"nd", uint_field<u8>(HW(nd), 0, 6)});
        t.push_back({"cm", bool_field(HW(cm))});
        t.push_back({"rwbf", bool_field(HW(rwbf))});
        t.push_back({"plmr", bool_field(HW(plmr))});
        t.push_back({"phmr", bool_field(HW(phmr))});
        t.push_back({"zlr", bool_field(HW(zlr))});
        t.push_back({"psi", bool_field(HW(psi))});
        t.push_back({"mamv", uint_field<u8>(HW(mamv), 0, 63)});
        t.push_back({"dwd", bool_field(HW(dwd))});
        t.push_back({"drd", bool_field(HW(drd))});
        t.push_back({"pi", bool_field(HW(pi))});
        t.push_back({"c", bool_field(HW(c))});
        t.push_back({"qi", bool_field(HW(qi))});
        t.push_back({"dt", bool_field(HW(dt))});
        t.push_back({"ir", bool_field(HW(ir))});
        t.push_back({"eim", bool_field(HW(eim))});
        t.push_back({"pt", bool_field(HW(pt))});
        t.push_back({"sc", bool_field(HW(sc))});
        t.push_back({"mhmv", uint_field<u8>(HW(mhmv), 0, 15)});
        // Framework timing (timing_param_infos()).
        t.push_back({"clock_mhz", [](vtd_unit_params& p, const json& v, const where_ctx& c) {
                         p.timing.clock_mhz = get_double(v, c, 0, 1e6);
                     }});
        t.push_back({"functional", bool_field([](vtd_unit_params& p) -> bool& { return p.timing.functional; })});
        t.push_back({"walk_slots", uint_field<unsigned>([](vtd_unit_params& p) -> unsigned& { return p.timing.walk_slots; },
                                                        1, 1024)});
        t.push_back({"inval_slots", uint_field<unsigned>(
                                        [](vtd_unit_params& p) -> unsigned& { return p.timing.inval_slots; }, 1, 1024)});
        t.push_back({"psc_lookup_cycles",
                     uint_field<unsigned>([](vtd_unit_params& p) -> unsigned& { return p.timing.psc_lookup_cycles; },
                                          0, 1u << 20)});
        // Caches.
        add_cache(t, "context_cache", [](vtd_unit_params& p) -> iommu::cache_params& { return p.context_cache; }, true, 1);
        add_cache(t, "iotlb", [](vtd_unit_params& p) -> iommu::cache_params& { return p.iotlb; }, true, 1);
        add_cache(t, "iotlb_large", [](vtd_unit_params& p) -> iommu::cache_params& { return p.iotlb_large; }, true, 0);
        add_cache(t, "psc_l2", [](vtd_unit_params& p) -> iommu::cache_params& { return p.psc_l2; }, false, 0);
        add_cache(t, "psc_l3", [](vtd_unit_params& p) -> iommu::cache_params& { return p.psc_l3; }, false, 0);
        add_cache(t, "psc_l4", [](vtd_unit_params& p) -> iommu::cache_params& { return p.psc_l4; }, false, 0);
        add_cache(t, "psc_l5", [](vtd_unit_params& p) -> iommu::cache_params& { return p.psc_l5; }, false, 0);
        add_cache(t, "iec", [](vtd_unit_params& p) -> iommu::cache_params& { return p.iec; }, true, 1);
        // Unit latencies.
        t.push_back({"reg_access_cycles", uint_field<unsigned>(
                                              [](vtd_unit_params& p) -> unsigned& { return p.reg_access_cycles; }, 0,
                                              1u << 20)});
        t.push_back({"inval_cycles", uint_field<unsigned>([](vtd_unit_params& p) -> unsigned& { return p.inval_cycles; },
                                                          0, 1u << 20)});
        t.push_back({"ir_cycles", uint_field<unsigned>([](vtd_unit_params& p) -> unsigned& { return p.ir_cycles; }, 0,
                                                       1u << 20)});
        return t;
    }();
    return table;
}

#undef HW


} // namespace

void vtd_unit_params::validate() const {
    hw.validate();
    auto bad = [](const char* name, const std::string& why) { throw input_error("", std::string("/") + name, why); };
    if (!(timing.clock_mhz > 0) || timing.clock_mhz > 1e6) bad("clock_mhz", "must be in (0, 1e6]");
    if (timing.walk_slots == 0) bad("walk_slots", "at least one page walk must be possible");
    if (timing.inval_slots == 0) bad("inval_slots", "the invalidation engine needs a slot");
    auto need = [&](const iommu::cache_params& c, const char* name, bool may_be_empty) {
        if (c.geometry.sets == 0) bad(name, "a cache has at least one set");
        if (c.geometry.ways == 0 && !may_be_empty) bad(name, "this cache needs at least one way");
    };
    need(context_cache, "context_cache_ways", false);
    need(iotlb, "iotlb_ways", false);
    need(iotlb_large, "iotlb_large_ways", true);
    need(psc_l2, "psc_l2_ways", true);
    need(psc_l3, "psc_l3_ways", true);
    need(psc_l4, "psc_l4_ways", true);
    need(psc_l5, "psc_l5_ways", true);
    need(iec, "iec_ways", false);
}

model_info vtd_unit_params_info() {
    const vtd_unit_params d;
    model_info m = vtd_params_info();
    m.summary = "Intel VT-d remapping hardware unit as a SystemC/TLM model: legacy-mode DMA remapping with "
                "context cache, IOTLB and paging-structure caches, interrupt remapping with an interrupt entry "
                "cache, register-based and queued invalidation, primary fault logging; cycle-approximate";
    auto add = [&](std::vector<param_info> rows) { m.params.insert(m.params.end(), rows.begin(), rows.end()); };
    add(iommu::timing_param_infos(d.timing));
    add(iommu::cache_param_infos("context_cache", "context cache (context entries by source-id)", d.context_cache));
    add(iommu::cache_param_infos("iotlb", "IOTLB for 4 KiB pages", d.iotlb));
    add(iommu::cache_param_infos("iotlb_large",
                                 "IOTLB for 2 MiB / 1 GiB pages (0 ways: large pages cached as 4 KiB fragments)",
                                 d.iotlb_large));
    const struct {
        const char* prefix;
        const char* what;
        const iommu::cache_params& c;
    } psc[] = {{"psc_l2", "paging-structure cache of SL-PDEs (0 ways: not cached)", d.psc_l2},
               {"psc_l3", "paging-structure cache of SL-PDPEs (0 ways: not cached)", d.psc_l3},
               {"psc_l4", "paging-structure cache of SL-PML4Es (0 ways: not cached)", d.psc_l4},
               {"psc_l5", "paging-structure cache of SL-PML5Es (0 ways: not cached)", d.psc_l5}};
    for (const auto& l : psc) {
        auto rows = iommu::cache_param_infos(l.prefix, l.what, l.c);
        rows.pop_back();  // lookup_cycles: every level is probed at once in psc_lookup_cycles
        add(rows);
    }
    add(iommu::cache_param_infos("iec", "interrupt entry cache (IRTEs by interrupt_index)", d.iec));
    add({{"reg_access_cycles", "cycles", std::to_string(d.reg_access_cycles),
          "one MMIO access to the register window"},
         {"inval_cycles", "cycles", std::to_string(d.inval_cycles),
          "invalidation-engine work of one register-based invalidation or one queued descriptor"},
         {"ir_cycles", "cycles", std::to_string(d.ir_cycles),
          "interrupt-remapping decision once the IRTE is known (IEC lookup and IRTE fetch are extra)"}});
    return m;
}

void set_vtd_unit_param(vtd_unit_params& p, const std::string& name, const nlohmann::json& value,
                        const std::string& source, const std::string& where) {
    const where_ctx c{name, source, where};
    for (const auto& s : slots())
        if (s.name == name) {
            s.set(p, value, c);
            return;
        }
    std::string msg = "unknown VT-d parameter \"" + name.substr(0, 60) + "\"";
    std::vector<std::string> names;
    for (const auto& s : slots()) names.push_back(s.name);
    if (const auto best = closest_name(name, names)) msg += "; did you mean \"" + *best + "\"?";
    else msg += "; `iommusim describe vtd` lists them";
    throw input_error(source, where, msg);
}

} // namespace iommusim::vtd

#include "models/iommu/amdvi/tlm/amdvi_unit_params.h"

#include "sim/core/closest_name.h"
#include "sim/core/input_error.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <limits>
#include <optional>
#include <vector>

namespace iommusim::amdvi {

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

using setter = std::function<void(amdvi_unit_params&, const json&, const where_ctx&)>;
struct slot {
    std::string name;
    setter set;
};

template <typename T, typename Get>
setter uint_field(Get get, u64 min = 0, u64 max = std::numeric_limits<T>::max()) {
    return [=](amdvi_unit_params& p, const json& v, const where_ctx& c) { get(p) = T(get_uint(v, c, min, max)); };
}
template <typename Get>
setter bool_field(Get get) {
    return [=](amdvi_unit_params& p, const json& v, const where_ctx& c) { get(p) = get_bool(v, c); };
}

using cache_get = iommu::cache_params& (*)(amdvi_unit_params&);
void add_cache(std::vector<slot>& t, const std::string& prefix, cache_get get, bool with_lookup, unsigned min_ways) {
    t.push_back({prefix + "_sets", uint_field<unsigned>([=](amdvi_unit_params& p) -> unsigned& { return get(p).geometry.sets; },
                                                        1, 1u << 20)});
    t.push_back({prefix + "_ways", uint_field<unsigned>([=](amdvi_unit_params& p) -> unsigned& { return get(p).geometry.ways; },
                                                        min_ways, 1u << 16)});
    t.push_back({prefix + "_policy", [=](amdvi_unit_params& p, const json& v, const where_ctx& c) {
                     if (!v.is_string()) c.fail("expected one of lru, fifo, random, tree_plru");
                     auto pol = iommu::parse_replacement_policy(v.get<std::string>());
                     if (!pol) c.fail("expected one of lru, fifo, random, tree_plru, got \"" +
                                      v.get<std::string>().substr(0, 40) + "\"");
                     get(p).geometry.policy = *pol;
                 }});
    t.push_back({prefix + "_seed", uint_field<u64>([=](amdvi_unit_params& p) -> u64& { return get(p).geometry.seed; })});
    if (with_lookup)
        t.push_back({prefix + "_lookup_cycles",
                     uint_field<unsigned>([=](amdvi_unit_params& p) -> unsigned& { return get(p).lookup_cycles; }, 0,
                                          1u << 20)});
}

#define HW(field) [](amdvi_unit_params& p) -> auto& { return p.hw.field; }
#define U(field) [](amdvi_unit_params& p) -> auto& { return p.field; }

const std::vector<slot>& slots() {
    static const std::vector<slot> table = [] {
        std::vector<slot> t;
        // amdvi_params, in amdvi_params_info() order.
        t.push_back({"pref_sup", bool_field(HW(pref_sup))});
        t.push_back({"ppr_sup", bool_field(HW(ppr_sup))});
        t.push_back({"xt_sup", bool_field(HW(xt_sup))});
        t.push_back({"nx_sup", bool_field(HW(nx_sup))});
        t.push_back({"gt_sup", bool_field(HW(gt_sup))});
        t.push_back({"ia_sup", bool_field(HW(ia_sup))});
        t.push_back({"ga_sup", bool_field(HW(ga_sup))});
        t.push_back({"he_sup", bool_field(HW(he_sup))});
        t.push_back({"pc_sup", bool_field(HW(pc_sup))});
        t.push_back({"hats", uint_field<u8>(HW(hats), 0, 3)});
        t.push_back({"gam_sup", uint_field<u8>(HW(gam_sup), 0, 7)});
        t.push_back({"pas_max", uint_field<u8>(HW(pas_max), 0, 31)});
        t.push_back({"hd_sup", bool_field(HW(hd_sup))});
        t.push_back({"iotlb_sup", bool_field(HW(iotlb_sup))});
        t.push_back({"ht_tunnel", bool_field(HW(ht_tunnel))});
        t.push_back({"np_cache", bool_field(HW(np_cache))});
        t.push_back({"pa_size", uint_field<u8>(HW(pa_size), 0, 127)});
        t.push_back({"va_size", uint_field<u8>(HW(va_size), 0, 127)});
        t.push_back({"gva_size", uint_field<u8>(HW(gva_size), 0, 7)});
        t.push_back({"msi_num", uint_field<u8>(HW(msi_num), 0, 31)});
        // Framework timing.
        t.push_back({"clock_mhz", [](amdvi_unit_params& p, const json& v, const where_ctx& c) {
                         if (!v.is_number()) c.fail("expected a number, got " + std::string(v.type_name()));
                         const double d = v.get<double>();
                         if (!(d > 0) || d > 1e6) c.fail("must be in (0, 1e6]");
                         p.timing.clock_mhz = d;
                     }});
        t.push_back({"functional", bool_field(U(timing.functional))});
        t.push_back({"walk_slots", uint_field<unsigned>(U(timing.walk_slots), 1, 1024)});
        t.push_back({"inval_slots", uint_field<unsigned>(U(timing.inval_slots), 1, 1024)});
        t.push_back({"psc_lookup_cycles", uint_field<unsigned>(U(timing.psc_lookup_cycles), 0, 1u << 20)});
        add_cache(t, "dte_cache", [](amdvi_unit_params& p) -> iommu::cache_params& { return p.dte_cache; }, true, 1);
        add_cache(t, "iotlb", [](amdvi_unit_params& p) -> iommu::cache_params& { return p.iotlb; }, true, 1);
        add_cache(t, "pde_l2", [](amdvi_unit_params& p) -> iommu::cache_params& { return p.pde_l2; }, false, 0);
        add_cache(t, "pde_l3", [](amdvi_unit_params& p) -> iommu::cache_params& { return p.pde_l3; }, false, 0);
        add_cache(t, "pde_l4", [](amdvi_unit_params& p) -> iommu::cache_params& { return p.pde_l4; }, false, 0);
        add_cache(t, "pde_l5", [](amdvi_unit_params& p) -> iommu::cache_params& { return p.pde_l5; }, false, 0);
        add_cache(t, "pde_l6", [](amdvi_unit_params& p) -> iommu::cache_params& { return p.pde_l6; }, false, 0);
        add_cache(t, "irt_cache", [](amdvi_unit_params& p) -> iommu::cache_params& { return p.irt_cache; }, true, 1);
        t.push_back({"reg_access_cycles", uint_field<unsigned>(U(reg_access_cycles), 0, 1u << 20)});
        t.push_back({"inval_cycles", uint_field<unsigned>(U(inval_cycles), 0, 1u << 20)});
        t.push_back({"cmd_cycles", uint_field<unsigned>(U(cmd_cycles), 0, 1u << 20)});
        t.push_back({"ir_cycles", uint_field<unsigned>(U(ir_cycles), 0, 1u << 20)});
        return t;
    }();
    return table;
}

#undef HW
#undef U

} // namespace

void amdvi_unit_params::validate() const {
    hw.validate();
    auto bad = [](const char* name, const std::string& why) { throw input_error("", std::string("/") + name, why); };
    if (!(timing.clock_mhz > 0) || timing.clock_mhz > 1e6) bad("clock_mhz", "must be in (0, 1e6]");
    if (timing.walk_slots == 0) bad("walk_slots", "at least one page walk must be possible");
    if (timing.inval_slots == 0) bad("inval_slots", "the invalidation engine needs a slot");
    auto need = [&](const iommu::cache_params& c, const char* name, bool may_be_empty) {
        if (c.geometry.sets == 0) bad(name, "a cache has at least one set");
        if (c.geometry.ways == 0 && !may_be_empty) bad(name, "this cache needs at least one way");
    };
    need(dte_cache, "dte_cache_ways", false);
    need(iotlb, "iotlb_ways", false);
    need(pde_l2, "pde_l2_ways", true);
    need(pde_l3, "pde_l3_ways", true);
    need(pde_l4, "pde_l4_ways", true);
    need(pde_l5, "pde_l5_ways", true);
    need(pde_l6, "pde_l6_ways", true);
    need(irt_cache, "irt_cache_ways", false);
}

model_info amdvi_unit_params_info() {
    const amdvi_unit_params d;
    model_info m = amdvi_params_info();
    m.name = "amdvi";
    m.summary = "AMD IOMMU (AMD-Vi, spec #48882 rev 3.0x) as a SystemC/TLM model: device table with a DTE cache, "
                "v1 host page tables (1-6 levels, level skipping, large pages) with IOTLB and PDE caches, "
                "command buffer, event log with MSI, interrupt remapping (32-bit and GA IRTEs) with an "
                "interrupt table cache; cycle-approximate. Cache sizes and latencies are assumptions";
    auto add = [&](std::vector<param_info> rows) { m.params.insert(m.params.end(), rows.begin(), rows.end()); };
    add(iommu::timing_param_infos(d.timing));
    add(iommu::cache_param_infos("dte_cache", "DTE cache (device table entries by DeviceID)", d.dte_cache));
    add(iommu::cache_param_infos("iotlb", "IOTLB (4 KiB, 2 MiB, 1 GiB entries by DomainID)", d.iotlb));
    const struct {
        const char* prefix;
        const char* what;
        const iommu::cache_params& c;
    } pde[] = {{"pde_l2", "PDE cache of entries pointing at leaf tables (0 ways: not cached)", d.pde_l2},
               {"pde_l3", "PDE cache, level 3 (0 ways: not cached)", d.pde_l3},
               {"pde_l4", "PDE cache, level 4 (0 ways: not cached)", d.pde_l4},
               {"pde_l5", "PDE cache, level 5 (0 ways: not cached)", d.pde_l5},
               {"pde_l6", "PDE cache, level 6 (0 ways: not cached)", d.pde_l6}};
    for (const auto& l : pde) {
        auto rows = iommu::cache_param_infos(l.prefix, l.what, l.c);
        rows.pop_back();  // lookup_cycles: every level is probed at once in psc_lookup_cycles
        add(rows);
    }
    add(iommu::cache_param_infos("irt_cache", "interrupt table cache (IRTEs by DeviceID and index)", d.irt_cache));
    add({{"reg_access_cycles", "cycles", std::to_string(d.reg_access_cycles), "one MMIO access to the register window"},
         {"inval_cycles", "cycles", std::to_string(d.inval_cycles), "invalidation-engine work of one invalidation command"},
         {"cmd_cycles", "cycles", std::to_string(d.cmd_cycles), "decode of one command (its fetch is a memory read)"},
         {"ir_cycles", "cycles", std::to_string(d.ir_cycles), "interrupt-remapping decision once the IRTE is known"}});
    return m;
}

void set_amdvi_unit_param(amdvi_unit_params& p, const std::string& name, const nlohmann::json& value,
                          const std::string& source, const std::string& where) {
    const where_ctx c{name, source, where};
    for (const auto& s : slots())
        if (s.name == name) {
            s.set(p, value, c);
            return;
        }
    std::string msg = "unknown AMD IOMMU parameter \"" + name.substr(0, 60) + "\"";
    std::vector<std::string> names;
    for (const auto& s : slots()) names.push_back(s.name);
    if (const auto best = closest_name(name, names)) msg += "; did you mean \"" + *best + "\"?";
    else msg += "; `iommusim describe amdvi` lists them";
    throw input_error(source, where, msg);
}

} // namespace iommusim::amdvi

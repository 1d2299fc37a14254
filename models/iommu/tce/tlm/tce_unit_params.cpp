#include "models/iommu/tce/tlm/tce_unit_params.h"

#include "sim/core/closest_name.h"
#include "sim/core/input_error.h"

#include <vector>

namespace iommusim::tce {

namespace {

struct unit_slot {
    const char* name;
    unsigned tce_unit_params::*field;
    const char* description;
};

const unit_slot k_unit_slots[] = {
    {"reg_access_cycles", &tce_unit_params::reg_access_cycles, "one MMIO access to the PHB register window"},
    {"tce_kill_cycles", &tce_unit_params::tce_kill_cycles,
     "TCE kill queue work per kill (one page, one PE or everything), register or opal_pci_tce_kill"},
    {"rtt_fetch_cycles", &tce_unit_params::rtt_fetch_cycles,
     "RTT entry fetch after a RID translation cache miss (0 rtc ways: on every request)"},
};

} // namespace

void tce_unit_params::validate() const { phb.validate(); }

model_info tce_unit_params_info() {
    const tce_unit_params d;
    model_info m = tce_params_info();
    m.summary = "POWER PCI host bridge IOMMU (IODA2 PHB3 / IODA3 PHB4) as a SystemC/TLM unit: RID-to-PE table with "
                "its cache, per-PE 32-bit and 64-bit DMA windows translated through multi-level TCE tables with a "
                "TCE cache and TCE kill, bypass windows, EEH freeze of PEs on DMA errors, frozen-PE MMIO gating, "
                "M32/M64 segments, MSI validation per PE; cycle-approximate";
    for (const auto& s : k_unit_slots) m.params.push_back({s.name, "cycles", std::to_string(d.*s.field), s.description});
    return m;
}

void set_tce_unit_param(tce_unit_params& p, const std::string& name, const nlohmann::json& value,
                        const std::string& source, const std::string& where) {
    for (const auto& s : k_unit_slots) {
        if (name != s.name) continue;
        // Through set_tce_param's integer rules on a scratch field: same messages, same forms accepted.
        tce_params scratch;
        try {
            set_tce_param(scratch, "tve_cycles", value, source, where);
        } catch (const input_error& e) {
            std::string msg = e.message();
            const std::string from = "\"tve_cycles\"";
            if (const auto at = msg.find(from); at != std::string::npos) msg.replace(at, from.size(), "\"" + name + "\"");
            throw input_error(source, where, msg);
        }
        p.*s.field = scratch.tve_cycles;
        return;
    }
    std::vector<std::string> names;
    for (const auto& row : tce_params_info().params) names.push_back(row.name);
    bool known = false;
    for (const auto& n : names) known = known || n == name;
    if (known) {
        set_tce_param(p.phb, name, value, source, where);
        return;
    }
    for (const auto& s : k_unit_slots) names.push_back(s.name);
    std::string msg = "unknown TCE parameter \"" + name.substr(0, 60) + "\"";
    if (const auto best = closest_name(name, names)) msg += "; did you mean \"" + *best + "\"?";
    else msg += "; `iommusim describe tce` lists them";
    throw input_error(source, where, msg);
}

} // namespace iommusim::tce

#include "sim/scenario/scenario.h"

#include "sim/core/input_error.h"
#include "platforms/desc/json_fields.h"
#include "sim/core/json_file.h"
#include "sim/host/kernel_options.h"
#include "platforms/desc/platform_loader.h"
#include "sim/scenario/platform_source.h"

#include <fmt/format.h>

#include <array>
#include <filesystem>
#include <set>
#include <utility>

namespace iommusim::scenario {

namespace {

constexpr std::array<std::pair<step_op, const char*>, 8> op_names{{
    {step_op::print_groups, "print_groups"},
    {step_op::expect_groups, "expect_groups"},
    {step_op::expect_group_count, "expect_group_count"},
    {step_op::expect_same_group, "expect_same_group"},
    {step_op::expect_isolated, "expect_isolated"},
    {step_op::expect_different_groups, "expect_different_groups"},
    {step_op::expect_no_group, "expect_no_group"},
    {step_op::expect_reason, "expect_reason"},
}};

using platforms::json_fields;
using platforms::json_ptr;

std::string optional_string(const json_fields& in, const nlohmann::json& j, const char* key, const std::string& ptr) {
    return j.contains(key) ? in.get_string(j.at(key), json_ptr(ptr, key)) : std::string();
}

bdf get_bdf(const json_fields& in, const nlohmann::json& v, const std::string& ptr) {
    const std::string s = in.get_string(v, ptr);
    auto b = bdf::parse(s);
    if (!b) in.fail(ptr, fmt::format("\"{}\" is not a BDF (dddd:bb:dd.f)", s));
    return *b;
}

std::vector<bdf> get_bdf_list(const json_fields& in, const nlohmann::json& j, const char* key, const std::string& ptr,
                              size_t min_count) {
    if (!j.contains(key)) in.fail(ptr, fmt::format("missing field \"{}\"", key));
    const auto& a = j.at(key);
    const std::string p = json_ptr(ptr, key);
    if (!a.is_array()) in.fail(p, "expected an array of BDF strings");
    if (a.size() < min_count) in.fail(p, fmt::format("needs at least {} devices", min_count));
    std::vector<bdf> out;
    for (size_t i = 0; i < a.size(); ++i) out.push_back(get_bdf(in, a[i], json_ptr(p, i)));
    return out;
}

step parse_step(const json_fields& in, const nlohmann::json& j, const std::string& ptr, const std::string& dir) {
    const std::string& file = in.file();
    if (!j.is_object()) in.fail(ptr, "a step must be a JSON object with an \"op\"");
    if (!j.contains("op")) in.fail(ptr, "missing field \"op\"");
    const std::string op = in.get_string(j.at("op"), json_ptr(ptr, "op"));
    step s;
    s.where = ptr;
    bool known = false;
    for (const auto& [o, n] : op_names)
        if (op == n) {
            s.op = o;
            known = true;
        }
    if (op == "iotlb_window") {
        s.op = step_op::iotlb_window;
        s.name = optional_string(in, j, "name", ptr);
        s.calibration = parse_calibration_step(in, j, ptr, dir);
        return s;
    }
    for (const std::string& n : vfio_op_names())
        if (op == n) {
            s.op = step_op::machine;
            s.name = optional_string(in, j, "name", ptr);
            s.vfio = parse_vfio_step(in, j, ptr, op);
            return s;
        }
    for (const std::string& n : machine_op_names())
        if (op == n) {
            s.op = step_op::machine;
            s.name = optional_string(in, j, "name", ptr);
            s.machine = parse_machine_step(in, j, ptr, op);
            return s;
        }
    if (!known) {
        std::string list;
        for (const auto& [o, n] : op_names) list += (list.empty() ? "" : ", ") + std::string(n);
        for (const std::string& n : machine_op_names()) list += ", " + n;
        for (const std::string& n : vfio_op_names()) list += ", " + n;
        list += ", iotlb_window";
        throw input_error(file, ptr + "/op", fmt::format("unknown op \"{}\" (known: {})", op, list));
    }
    s.name = optional_string(in, j, "name", ptr);
    switch (s.op) {
    case step_op::print_groups: in.check_members(j, ptr, {"op", "name"}); break;
    case step_op::expect_groups:
        in.check_members(j, ptr, {"op", "name", "groups", "file"});
        if (j.contains("groups") == j.contains("file"))
            throw input_error(file, ptr, "expect_groups needs exactly one of \"groups\" or \"file\"");
        if (j.contains("groups")) {
            s.groups = parse_expected_groups(nlohmann::json{{"groups", j.at("groups")}}, file, ptr);
        } else {
            std::filesystem::path p = in.get_string(j.at("file"), json_ptr(ptr, "file"));
            if (p.is_relative()) p = std::filesystem::path(dir) / p;
            s.groups = load_expected_groups(p.string());
        }
        break;
    case step_op::expect_group_count:
        in.check_members(j, ptr, {"op", "name", "count"});
        if (!j.contains("count") || !j.at("count").is_number_integer() || j.at("count").get<long long>() < 0 ||
            j.at("count").get<long long>() > 1000000)
            throw input_error(file, ptr + "/count", "expected a non-negative integer \"count\"");
        s.count = int(j.at("count").get<long long>());
        break;
    case step_op::expect_same_group:
    case step_op::expect_different_groups:
        in.check_members(j, ptr, {"op", "name", "devices"});
        s.devices = get_bdf_list(in, j, "devices", ptr, 2);
        break;
    case step_op::expect_isolated:
    case step_op::expect_no_group:
        in.check_members(j, ptr, {"op", "name", "device"});
        if (!j.contains("device")) in.fail(ptr, "missing field \"device\"");
        s.devices = {get_bdf(in, j.at("device"), json_ptr(ptr, "device"))};
        break;
    case step_op::machine:
    case step_op::iotlb_window: break; // handled above
    case step_op::expect_reason:
        in.check_members(j, ptr, {"op", "name", "device", "contains"});
        if (!j.contains("device")) in.fail(ptr, "missing field \"device\"");
        s.devices = {get_bdf(in, j.at("device"), json_ptr(ptr, "device"))};
        if (!j.contains("contains")) in.fail(ptr, "missing field \"contains\"");
        s.text = in.get_string(j.at("contains"), json_ptr(ptr, "contains"));
        break;
    }
    return s;
}

} // namespace

const char* to_string(step_op op) {
    for (const auto& [o, n] : op_names)
        if (o == op) return n;
    if (op == step_op::machine) return "machine";
    return op == step_op::iotlb_window ? "iotlb_window" : "?";
}

std::string step_label(const step& s) {
    if (s.op == step_op::machine && s.vfio) return to_string(s.vfio->op);
    return s.op == step_op::machine && s.machine ? std::string(to_string(s.machine->op)) : std::string(to_string(s.op));
}

bool needs_machine(const scenario_desc& s) {
    for (const step& st : s.steps)
        if (st.op == step_op::machine) return true;
    return false;
}

host::kernel_options parse_host_options(const nlohmann::json& j, const std::string& file, const std::string& ptr) {
    const json_fields in(file);
    in.check_members(j, ptr,
               {"kernel", "acs_override", "disable_acs_redir", "iommu", "assign_busses", "pcie_scan_all", "external_facing",
                "iommu_passthrough", "intremap", "iommu_superpage", "kernel_memory_base", "kernel_memory_size"});
    host::kernel_options h;
    if (j.contains("kernel")) {
        h.kernel_version = in.get_string(j.at("kernel"), json_ptr(ptr, "kernel"));
        if (const auto checked = host::check_kernel_version(h.kernel_version); !checked.version)
            throw input_error(file, ptr + "/kernel", checked.problem);
    }
    h.acs_override = optional_string(in, j, "acs_override", ptr);
    if (j.contains("disable_acs_redir")) {
        const auto& a = j.at("disable_acs_redir");
        if (!a.is_array()) throw input_error(file, ptr + "/disable_acs_redir", "expected an array of device specs");
        for (size_t i = 0; i < a.size(); ++i) {
            const std::string p = fmt::format("{}/disable_acs_redir/{}", ptr, i);
            if (!a[i].is_string()) throw input_error(file, p, "expected \"[dddd:]bb:dd.f\" or \"pci:vvvv:dddd\"");
            const std::string v = a[i].get<std::string>();
            if (!bdf::parse(v) && !host::is_pci_id_spec(v))
                throw input_error(file, p, fmt::format("\"{}\" is neither a BDF nor pci:vvvv:dddd", v));
            h.disable_acs_redir.push_back(v);
        }
    }
    if (j.contains("iommu")) {
        const std::string v = in.get_string(j.at("iommu"), json_ptr(ptr, "iommu"));
        if (v == "intel") h.iommu = host::firmware_iommu::dmar;
        else if (v == "amd") h.iommu = host::firmware_iommu::ivrs;
        else if (v == "spapr") h.iommu = host::firmware_iommu::spapr;
        else if (v == "none") h.iommu = host::firmware_iommu::none;
        else throw input_error(file, ptr + "/iommu", fmt::format("\"{}\" is not one of intel, amd, spapr, none", v));
    }
    for (const char* flag : {"assign_busses", "pcie_scan_all"}) {
        if (!j.contains(flag)) continue;
        (std::string(flag) == "assign_busses" ? h.assign_busses : h.pcie_scan_all) =
            in.get_bool(j.at(flag), json_ptr(ptr, flag));
    }
    // iommu.passthrough=1, intremap=off, intel_iommu=sp_off
    if (j.contains("iommu_passthrough")) h.iommu_passthrough = in.get_bool(j.at("iommu_passthrough"), json_ptr(ptr, "iommu_passthrough"));
    if (j.contains("intremap")) h.intremap = in.get_bool(j.at("intremap"), json_ptr(ptr, "intremap"));
    if (j.contains("iommu_superpage")) h.iommu_superpage = in.get_bool(j.at("iommu_superpage"), json_ptr(ptr, "iommu_superpage"));
    if (j.contains("kernel_memory_base"))
        h.kernel_memory_base = in.get_uint(j.at("kernel_memory_base"), json_ptr(ptr, "kernel_memory_base"), (u64(1) << 52) - 1) & ~u64(0xfff);
    if (j.contains("kernel_memory_size"))
        h.kernel_memory_size = in.get_size(j.at("kernel_memory_size"), json_ptr(ptr, "kernel_memory_size"));
    if (j.contains("external_facing")) h.external_facing = get_bdf_list(in, j, "external_facing", ptr, 0);
    return h;
}

scenario_desc load_scenario_json(const nlohmann::json& j, const std::string& file) {
    const json_fields in(file);
    in.check_members(j, "", {"name", "description", "platform", "lspci", "host", "process", "steps", "$schema", "comment"});
    const std::string dir = std::filesystem::path(file).parent_path().string();
    scenario_desc s;
    s.file = file;
    s.name = optional_string(in, j, "name", "");
    if (s.name.empty()) s.name = std::filesystem::path(file).stem().string();
    s.description = optional_string(in, j, "description", "");
    optional_string(in, j, "comment", "");

    // A calibration scenario builds its machines in its steps and needs no platform of its own.
    bool calibration_only = j.contains("steps") && j.at("steps").is_array() && !j.at("steps").empty();
    if (calibration_only)
        for (const auto& st : j.at("steps"))
            calibration_only = calibration_only && st.is_object() && st.contains("op") && st.at("op") == "iotlb_window";
    if (j.contains("platform") && j.contains("lspci"))
        throw input_error(file, "/", "a scenario needs exactly one of \"platform\" or \"lspci\"");
    if (!j.contains("platform") && !j.contains("lspci") && !calibration_only)
        throw input_error(file, "/", "a scenario needs exactly one of \"platform\" or \"lspci\"");
    // Problems with a referenced platform or dump are reported at the field that names it, with the
    // referenced file's own location inside the message.
    auto at_field = [&](const char* field, auto&& load) {
        try {
            return load();
        } catch (const input_error& e) {
            throw input_error(file, std::string("/") + field, e.file().empty() ? e.message() : e.what());
        }
    };
    if (j.contains("lspci")) {
        const std::string ref = in.get_string(j.at("lspci"), "/lspci");
        s.platform = at_field("lspci", [&] { return load_lspci_ref(ref, dir); });
    } else if (!j.contains("platform")) {
        // calibration only: each step names its own platform
    } else if (j.at("platform").is_string()) {
        const std::string ref = j.at("platform").get<std::string>();
        s.platform = at_field("platform", [&] { return load_platform_ref(ref, dir); });
    } else if (j.at("platform").is_object()) {
        s.platform = platforms::load_platform_json(j.at("platform"), file, "/platform");
    } else {
        throw input_error(file, "/platform", "expected a preset name, a file path or an inline platform object");
    }

    if (j.contains("host")) {
        // vfio_iommu_type1.allow_unsafe_interrupts is a module option of the VFIO layer, not of the
        // kernel core the host options configure: taken out here for the VFIO steps.
        nlohmann::json h = j.at("host");
        if (h.is_object() && h.contains("allow_unsafe_interrupts")) {
            s.process.allow_unsafe_interrupts = in.get_bool(h.at("allow_unsafe_interrupts"), "/host/allow_unsafe_interrupts");
            h.erase("allow_unsafe_interrupts");
        }
        s.host = parse_host_options(h, file, "/host");
    }
    if (j.contains("process")) parse_process_options(in, j.at("process"), "/process", s.process);
    if (j.contains("steps")) {
        const auto& st = j.at("steps");
        if (!st.is_array()) throw input_error(file, "/steps", "expected an array of steps");
        for (size_t i = 0; i < st.size(); ++i) s.steps.push_back(parse_step(in, st[i], json_ptr("/steps", i), dir));
        // A calibration step elaborates its own machine, and SystemC elaborates once per process.
        size_t calibrations = 0;
        for (size_t i = 0; i < s.steps.size(); ++i) {
            if (s.steps[i].op != step_op::iotlb_window) continue;
            if (++calibrations > 1)
                throw input_error(file, json_ptr("/steps", i), "a scenario holds one iotlb_window step (it builds its own machine); "
                                                                 "put each sweep in its own scenario");
        }
        if (calibrations && calibrations != s.steps.size())
            throw input_error(file, "/steps", "an iotlb_window step builds its own machine: it cannot share a scenario "
                                              "with group or machine steps");
    }
    return s;
}

scenario_desc load_scenario_file(const std::string& path) { return load_scenario_json(read_json_file(path), path); }

} // namespace iommusim::scenario

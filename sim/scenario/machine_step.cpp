#include "sim/scenario/machine_step.h"

#include "models/iommu/amdvi/amdvi_defs.h"
#include "models/iommu/tce/eeh_pe_state.h"
#include "models/iommu/vtd/vtd_fault.h"
#include "platforms/desc/json_fields.h"

#include <fmt/format.h>

#include <array>
#include <utility>

namespace iommusim::scenario {

namespace {

constexpr std::array<std::pair<machine_op, const char*>, 15> k_ops{{
    {machine_op::attach, "attach"},
    {machine_op::detach, "detach"},
    {machine_op::map, "map"},
    {machine_op::unmap, "unmap"},
    {machine_op::write_memory, "write_memory"},
    {machine_op::expect_memory, "expect_memory"},
    {machine_op::dma, "dma"},
    {machine_op::msi, "msi"},
    {machine_op::inject, "inject"},
    {machine_op::expect_fault, "expect_fault"},
    {machine_op::expect_no_fault, "expect_no_fault"},
    {machine_op::expect_route, "expect_route"},
    {machine_op::expect_stat, "expect_stat"},
    {machine_op::print_faults, "print_faults"},
    {machine_op::print_stats, "print_stats"},
}};

using platforms::json_fields;
using platforms::json_ptr;

// The largest DMA a step may ask for: the engine's fill limit (dma_engine::MAX_FILL) and buffer size are
// checked by the device itself; this only keeps memory-touching steps bounded.
constexpr u64 k_max_memory_step = u64(1) << 30;

bdf required_bdf(const json_fields& in, const nlohmann::json& j, const std::string& ptr) {
    if (!j.contains("device")) in.fail(ptr, "missing field \"device\"");
    const std::string p = json_ptr(ptr, "device");
    const std::string s = in.get_string(j.at("device"), p);
    auto b = bdf::parse(s);
    if (!b) in.fail(p, fmt::format("\"{}\" is not a BDF (dddd:bb:dd.f)", s));
    return *b;
}

const nlohmann::json& required(const json_fields& in, const nlohmann::json& j, const char* key, const std::string& ptr) {
    if (!j.contains(key)) in.fail(ptr, fmt::format("missing field \"{}\"", key));
    return j.at(key);
}

u64 address_field(const json_fields& in, const nlohmann::json& j, const char* key, const std::string& ptr) {
    return in.get_uint(required(in, j, key, ptr), json_ptr(ptr, key), ~u64(0));
}

u64 size_field(const json_fields& in, const nlohmann::json& j, const std::string& ptr, u64 max) {
    const std::string p = json_ptr(ptr, "size");
    const u64 v = in.get_size(required(in, j, "size", ptr), p);
    if (v == 0) in.fail(p, "size must not be zero");
    if (v > max) in.fail(p, fmt::format("{:#x} bytes is more than this step allows ({:#x})", v, max));
    return v;
}

// An address range may not wrap the 64-bit space.
void check_range(const json_fields& in, const std::string& ptr, const char* key, u64 base, u64 size) {
    if (base + size < base) in.fail(json_ptr(ptr, key), "the range wraps past the end of the 64-bit address space");
}

std::string one_of(const json_fields& in, const nlohmann::json& v, const std::string& ptr,
                   std::initializer_list<const char*> allowed) {
    const std::string s = in.get_string(v, ptr);
    std::string list;
    for (const char* a : allowed) {
        if (s == a) return s;
        list += (list.empty() ? "" : ", ") + std::string(a);
    }
    auto near = platforms::closest_name(s, allowed);
    in.fail(ptr, fmt::format("\"{}\" is not one of {}{}", s, list, near ? fmt::format(" (did you mean \"{}\"?)", *near) : ""));
}

unsigned parse_prot(const json_fields& in, const nlohmann::json& v, const std::string& ptr) {
    const std::string s = one_of(in, v, ptr, {"r", "w", "rw", "none"});
    return (s.find('r') != std::string::npos ? prot_read : 0) | (s.find('w') != std::string::npos ? prot_write : 0);
}

// A fault reason as the IOMMU's spec numbers it ("0x6", 6: VT-d fault reasons, AMD-Vi event codes) or by
// its name (VT-d "read_not_allowed", AMD-Vi "IO_PAGE_FAULT"); a name is kept as written and matched by name.
void parse_reason(const json_fields& in, const nlohmann::json& v, const std::string& ptr, machine_step& s) {
    if (v.is_string()) {
        const std::string name = v.get<std::string>();
        for (unsigned r = 1; r < 0x100; ++r) {
            const bool vtd_name = name == vtd::fault_reason_name(vtd::fault_reason(r));
            if (vtd_name || name == amdvi::event_name(u8(r))) {
                s.reason_name = name;
                if (vtd_name) s.reason = r;
                return;
            }
        }
        // POWER: the reason an error froze the PE (tce::freeze_reason).
        for (unsigned r = 1; r <= unsigned(tce::freeze_reason::domain); ++r)
            if (name == tce::to_string(tce::freeze_reason(r))) {
                s.reason_name = name;
                return;
            }
        if (name.rfind("0x", 0) != 0 && (name.empty() || name[0] < '0' || name[0] > '9'))
            in.fail(ptr, fmt::format("\"{}\" is neither a fault reason number nor a VT-d fault reason, AMD-Vi "
                                     "event or EEH freeze reason name (e.g. \"read_not_allowed\", \"IO_PAGE_FAULT\", "
                                     "\"dma_tce_invalid\")",
                                     name));
    }
    const u64 r = in.get_uint(v, ptr, 0xff);
    if (std::string(vtd::fault_reason_name(vtd::fault_reason(r))) == "unknown" &&
        std::string(amdvi::event_name(u8(r))) == "reserved")
        in.fail(ptr, fmt::format("{:#x} is neither a VT-d fault reason nor an AMD-Vi event code", r));
    s.reason = u32(r);
}

// "address", or "target": {"device", "bar", "offset"} (an address inside a function's BAR).
void address_or_target(const json_fields& in, const nlohmann::json& j, const std::string& ptr, machine_step& s) {
    if (j.contains("address") == j.contains("target"))
        in.fail(ptr, "needs exactly one of \"address\" or \"target\" (a function's BAR)");
    if (!j.contains("target")) {
        s.address = address_field(in, j, "address", ptr);
        return;
    }
    const auto& t = j.at("target");
    const std::string tp = json_ptr(ptr, "target");
    in.require_object(t, tp);
    in.check_members(t, tp, {"device", "bar", "offset"});
    s.target_device = required_bdf(in, t, tp);
    if (t.contains("bar")) s.target_bar = unsigned(in.get_uint(t.at("bar"), json_ptr(tp, "bar"), 5));
    if (t.contains("offset")) s.target_offset = in.get_uint(t.at("offset"), json_ptr(tp, "offset"), u64(1) << 40);
}

} // namespace

const char* to_string(machine_op op) {
    for (const auto& [o, n] : k_ops)
        if (o == op) return n;
    return "?";
}

const std::vector<std::string>& machine_op_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> v;
        for (const auto& kv : k_ops) v.push_back(kv.second);
        return v;
    }();
    return names;
}

machine_step parse_machine_step(const json_fields& in, const nlohmann::json& j, const std::string& ptr,
                                const std::string& op) {
    machine_step s;
    for (const auto& [o, n] : k_ops)
        if (op == n) s.op = o;
    auto optional_iommu = [&] {
        if (j.contains("iommu")) s.iommu = unsigned(in.get_uint(j.at("iommu"), json_ptr(ptr, "iommu"), 255));
    };
    switch (s.op) {
    case machine_op::attach:
        in.check_members(j, ptr, {"op", "name", "device", "domain"});
        s.device = required_bdf(in, j, ptr);
        s.domain = in.get_string(required(in, j, "domain", ptr), json_ptr(ptr, "domain"));
        if (s.domain.empty()) in.fail(json_ptr(ptr, "domain"), "a domain needs a name");
        break;
    case machine_op::detach:
        in.check_members(j, ptr, {"op", "name", "device"});
        s.device = required_bdf(in, j, ptr);
        break;
    case machine_op::map:
        in.check_members(j, ptr, {"op", "name", "domain", "iova", "phys", "size", "prot", "expect_errno"});
        s.domain = in.get_string(required(in, j, "domain", ptr), json_ptr(ptr, "domain"));
        s.iova = address_field(in, j, "iova", ptr);
        s.phys = address_field(in, j, "phys", ptr);
        s.size = size_field(in, j, ptr, ~u64(0));
        check_range(in, ptr, "iova", s.iova, s.size);
        check_range(in, ptr, "phys", s.phys, s.size);
        if (j.contains("prot")) s.prot = parse_prot(in, j.at("prot"), json_ptr(ptr, "prot"));
        if (j.contains("expect_errno"))
            s.expect_errno = int(in.get_uint(j.at("expect_errno"), json_ptr(ptr, "expect_errno"), 4095));
        break;
    case machine_op::unmap:
        in.check_members(j, ptr, {"op", "name", "domain", "iova", "size", "expect_unmapped"});
        s.domain = in.get_string(required(in, j, "domain", ptr), json_ptr(ptr, "domain"));
        s.iova = address_field(in, j, "iova", ptr);
        s.size = size_field(in, j, ptr, ~u64(0));
        check_range(in, ptr, "iova", s.iova, s.size);
        if (j.contains("expect_unmapped"))
            s.expect_unmapped = in.get_size(j.at("expect_unmapped"), json_ptr(ptr, "expect_unmapped"));
        break;
    case machine_op::write_memory:
        in.check_members(j, ptr, {"op", "name", "address", "size", "pattern"});
        s.address = address_field(in, j, "address", ptr);
        s.size = size_field(in, j, ptr, k_max_memory_step);
        check_range(in, ptr, "address", s.address, s.size);
        s.pattern = u32(in.get_uint(required(in, j, "pattern", ptr), json_ptr(ptr, "pattern"), 0xffffffffu));
        break;
    case machine_op::expect_memory:
        in.check_members(j, ptr, {"op", "name", "address", "target", "size", "pattern"});
        address_or_target(in, j, ptr, s);
        s.size = size_field(in, j, ptr, k_max_memory_step);
        check_range(in, ptr, "address", s.address, s.size);
        s.pattern = u32(in.get_uint(required(in, j, "pattern", ptr), json_ptr(ptr, "pattern"), 0xffffffffu));
        break;
    case machine_op::dma:
        in.check_members(j, ptr, {"op", "name", "device", "direction", "address", "target", "size", "pattern", "expect"});
        s.device = required_bdf(in, j, ptr);
        s.write = one_of(in, required(in, j, "direction", ptr), json_ptr(ptr, "direction"), {"read", "write"}) == "write";
        address_or_target(in, j, ptr, s);
        s.size = size_field(in, j, ptr, k_max_memory_step);
        check_range(in, ptr, "address", s.address, s.size);
        if (j.contains("pattern")) {
            if (!s.write) in.fail(json_ptr(ptr, "pattern"), "a pattern is what a \"write\" DMA stores; a read has none");
            s.pattern = u32(in.get_uint(j.at("pattern"), json_ptr(ptr, "pattern"), 0xffffffffu));
        }
        s.expect = j.contains("expect") ? one_of(in, j.at("expect"), json_ptr(ptr, "expect"), {"ok", "error"}) : "ok";
        break;
    case machine_op::msi:
        in.check_members(j, ptr, {"op", "name", "device", "vector", "msi_address", "msi_data", "expect"});
        s.device = required_bdf(in, j, ptr);
        if (j.contains("vector") == j.contains("msi_address"))
            in.fail(ptr, "an msi step needs exactly one of \"vector\" (the kernel's MSI set-up) or \"msi_address\" "
                         "with \"msi_data\" (a forged message)");
        if (j.contains("vector")) s.vector = unsigned(in.get_uint(j.at("vector"), json_ptr(ptr, "vector"), 2047));
        if (j.contains("msi_address")) {
            s.msi_address = in.get_uint(j.at("msi_address"), json_ptr(ptr, "msi_address"), ~u64(0));
            s.msi_data = u32(in.get_uint(required(in, j, "msi_data", ptr), json_ptr(ptr, "msi_data"), 0xffffffffu));
        } else if (j.contains("msi_data")) {
            in.fail(json_ptr(ptr, "msi_data"), "\"msi_data\" belongs with \"msi_address\"");
        }
        s.expect = one_of(in, required(in, j, "expect", ptr), json_ptr(ptr, "expect"), {"delivered", "blocked"});
        break;
    case machine_op::inject:
        in.check_members(j, ptr, {"op", "name", "fault", "count"});
        s.fault = one_of(in, required(in, j, "fault", ptr), json_ptr(ptr, "fault"), {"skip_iotlb_invalidation"});
        if (j.contains("count")) s.count = unsigned(in.get_uint(j.at("count"), json_ptr(ptr, "count"), 1000000));
        break;
    case machine_op::expect_fault:
        in.check_members(j, ptr, {"op", "name", "device", "reason", "address", "write", "iommu"});
        s.device = required_bdf(in, j, ptr);
        if (j.contains("reason")) parse_reason(in, j.at("reason"), json_ptr(ptr, "reason"), s);
        if (j.contains("address")) s.fault_address = in.get_uint(j.at("address"), json_ptr(ptr, "address"), ~u64(0));
        if (j.contains("write")) s.fault_write = in.get_bool(j.at("write"), json_ptr(ptr, "write"));
        optional_iommu();
        break;
    case machine_op::expect_no_fault:
        in.check_members(j, ptr, {"op", "name", "iommu"});
        optional_iommu();
        break;
    case machine_op::expect_route:
        in.check_members(j, ptr, {"op", "name", "device", "route"});
        s.device = required_bdf(in, j, ptr);
        s.route = one_of(in, required(in, j, "route", ptr), json_ptr(ptr, "route"), {"root_complex", "peer", "blocked"});
        break;
    case machine_op::expect_stat:
        in.check_members(j, ptr, {"op", "name", "stat", "min", "max", "iommu"});
        s.stat = in.get_string(required(in, j, "stat", ptr), json_ptr(ptr, "stat"));
        if (j.contains("min")) s.min = in.get_uint(j.at("min"), json_ptr(ptr, "min"), ~u64(0));
        if (j.contains("max")) s.max = in.get_uint(j.at("max"), json_ptr(ptr, "max"), ~u64(0));
        if (!s.min && !s.max) in.fail(ptr, "expect_stat needs \"min\", \"max\" or both");
        if (s.min && s.max && *s.min > *s.max) in.fail(json_ptr(ptr, "max"), "\"max\" is below \"min\"");
        optional_iommu();
        break;
    case machine_op::print_faults:
    case machine_op::print_stats:
        in.check_members(j, ptr, {"op", "name", "iommu"});
        optional_iommu();
        break;
    }
    return s;
}

} // namespace iommusim::scenario

#include "sim/scenario/vfio_step.h"

#include "platforms/desc/json_fields.h"

#include <fmt/format.h>

#include <array>
#include <utility>

namespace iommusim::scenario {

namespace {

constexpr std::array<std::pair<vfio_op, const char*>, 36> k_ops{{
    {vfio_op::bind, "bind"},
    {vfio_op::process_alloc, "process_alloc"},
    {vfio_op::write_process_memory, "write_process_memory"},
    {vfio_op::expect_process_memory, "expect_process_memory"},
    {vfio_op::open_container, "vfio_open_container"},
    {vfio_op::open_group, "vfio_open_group"},
    {vfio_op::close, "vfio_close"},
    {vfio_op::group_status, "vfio_group_status"},
    {vfio_op::set_container, "vfio_set_container"},
    {vfio_op::unset_container, "vfio_unset_container"},
    {vfio_op::set_iommu, "vfio_set_iommu"},
    {vfio_op::map_dma, "vfio_map_dma"},
    {vfio_op::unmap_dma, "vfio_unmap_dma"},
    {vfio_op::get_device_fd, "vfio_get_device_fd"},
    {vfio_op::dirty_pages, "vfio_dirty_pages"},
    {vfio_op::dirty_bitmap, "vfio_dirty_bitmap"},
    {vfio_op::pin_pages, "vfio_pin_pages"},
    {vfio_op::unpin_pages, "vfio_unpin_pages"},
    {vfio_op::eventfd, "eventfd"},
    {vfio_op::expect_eventfd, "expect_eventfd"},
    {vfio_op::set_irqs, "vfio_set_irqs"},
    {vfio_op::irq_info, "vfio_irq_info"},
    {vfio_op::region_read, "vfio_region_read"},
    {vfio_op::region_write, "vfio_region_write"},
    {vfio_op::device_interrupt, "device_interrupt"},
    {vfio_op::spapr_get_info, "vfio_spapr_get_info"},
    {vfio_op::spapr_enable, "vfio_spapr_enable"},
    {vfio_op::spapr_disable, "vfio_spapr_disable"},
    {vfio_op::spapr_register, "vfio_spapr_register_memory"},
    {vfio_op::spapr_unregister, "vfio_spapr_unregister_memory"},
    {vfio_op::spapr_create, "vfio_spapr_tce_create"},
    {vfio_op::spapr_remove, "vfio_spapr_tce_remove"},
    {vfio_op::eeh_pe_op, "vfio_eeh_pe_op"},
    {vfio_op::guest_create, "guest_create"},
    {vfio_op::guest_hcall, "guest_hcall"},
    {vfio_op::guest_rtas, "guest_rtas"},
}};

using platforms::json_fields;
using platforms::json_ptr;

const nlohmann::json& required(const json_fields& in, const nlohmann::json& j, const char* key, const std::string& ptr) {
    if (!j.contains(key)) in.fail(ptr, fmt::format("missing field \"{}\"", key));
    return j.at(key);
}

std::string name_field(const json_fields& in, const nlohmann::json& j, const char* key, const std::string& ptr) {
    const std::string s = in.get_string(required(in, j, key, ptr), json_ptr(ptr, key));
    if (s.empty()) in.fail(json_ptr(ptr, key), fmt::format("a {} needs a name", key));
    return s;
}

bdf bdf_field(const json_fields& in, const nlohmann::json& j, const std::string& ptr) {
    const std::string p = json_ptr(ptr, "device");
    const std::string s = in.get_string(required(in, j, "device", ptr), p);
    auto b = bdf::parse(s);
    if (!b) in.fail(p, fmt::format("\"{}\" is not a BDF (dddd:bb:dd.f)", s));
    return *b;
}

std::string one_of(const json_fields& in, const nlohmann::json& j, const char* key, const std::string& ptr,
                    std::initializer_list<const char*> allowed) {
    const std::string p = json_ptr(ptr, key);
    const std::string s = in.get_string(required(in, j, key, ptr), p);
    std::string list;
    for (const char* a : allowed) {
        if (s == a) return s;
        list += (list.empty() ? "" : ", ") + std::string(a);
    }
    in.fail(p, fmt::format("\"{}\" is not one of {}", s, list));
}

// A page-aligned, non-zero, non-wrapping IOVA range.
void iova_range(const json_fields& in, const nlohmann::json& j, const std::string& ptr, vfio_step& s) {
    s.iova = in.get_uint(required(in, j, "iova", ptr), json_ptr(ptr, "iova"), ~u64(0));
    s.size = in.get_size(required(in, j, "size", ptr), json_ptr(ptr, "size"));
    if (s.iova + s.size < s.iova) in.fail(json_ptr(ptr, "size"), "the range wraps past the end of the 64-bit space");
}

std::vector<std::pair<u64, u64>> dirty_ranges(const json_fields& in, const nlohmann::json& v, const std::string& ptr) {
    if (!v.is_array()) in.fail(ptr, "expected an array of [iova, size] pairs");
    std::vector<std::pair<u64, u64>> out;
    for (size_t i = 0; i < v.size(); ++i) {
        const std::string p = json_ptr(ptr, i);
        if (!v[i].is_array() || v[i].size() != 2) in.fail(p, "expected [iova, size]");
        const u64 a = in.get_uint(v[i][0], json_ptr(p, 0), ~u64(0));
        const u64 n = in.get_size(v[i][1], json_ptr(p, 1));
        if ((a | n) & 0xfff || !n || a + n < a) in.fail(p, "a dirty range is whole 4 KiB pages, non-empty and not wrapping");
        out.emplace_back(a, n);
    }
    return out;
}

u64 offset_field(const json_fields& in, const nlohmann::json& j, const std::string& ptr) {
    const auto& o = j.at("offset");
    // A number, "0x1000", or a size such as "512K" (which may not be zero).
    const bool plain = o.is_number() || (o.is_string() && o.get<std::string>().rfind("0x", 0) == 0);
    const u64 v = plain ? in.get_uint(o, json_ptr(ptr, "offset"), ~u64(0)) : in.get_size(o, json_ptr(ptr, "offset"));
    if (v > (u64(1) << 46)) in.fail(json_ptr(ptr, "offset"), "the offset lies beyond any process mapping");
    return v;
}

u32 pattern_field(const json_fields& in, const nlohmann::json& j, const std::string& ptr) {
    return u32(in.get_uint(required(in, j, "pattern", ptr), json_ptr(ptr, "pattern"), 0xffffffff));
}

unsigned irq_index_field(const json_fields& in, const nlohmann::json& j, const std::string& ptr) {
    const std::string s = one_of(in, j, "index", ptr, {"intx", "msi", "msix", "err", "req"});
    static const char* names[] = {"intx", "msi", "msix", "err", "req"};
    for (unsigned i = 0; i < 5; ++i)
        if (s == names[i]) return i;  // VFIO_PCI_INTX_IRQ_INDEX .. VFIO_PCI_REQ_IRQ_INDEX
    return 0;
}

unsigned region_field(const json_fields& in, const nlohmann::json& j, const std::string& ptr) {
    const std::string s = one_of(in, j, "region", ptr, {"bar0", "bar1", "bar2", "bar3", "bar4", "bar5", "rom", "config", "vga"});
    static const char* names[] = {"bar0", "bar1", "bar2", "bar3", "bar4", "bar5", "rom", "config", "vga"};
    for (unsigned i = 0; i < 9; ++i)
        if (s == names[i]) return i;  // VFIO_PCI_BAR0_REGION_INDEX .. VFIO_PCI_VGA_REGION_INDEX
    return 0;
}

} // namespace

const char* to_string(vfio_op op) {
    for (const auto& [o, n] : k_ops)
        if (o == op) return n;
    return "?";
}

const std::vector<std::string>& vfio_op_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> v;
        for (const auto& kv : k_ops) v.push_back(kv.second);
        return v;
    }();
    return names;
}

vfio_step parse_vfio_step(const json_fields& in, const nlohmann::json& j, const std::string& ptr, const std::string& op) {
    vfio_step s;
    for (const auto& [o, n] : k_ops)
        if (op == n) s.op = o;
    auto errno_field = [&] {
        if (j.contains("expect_errno"))
            s.expect_errno = int(in.get_uint(j.at("expect_errno"), json_ptr(ptr, "expect_errno"), 4095));
    };
    auto prot_field = [&] {
        if (!j.contains("prot")) return;
        const std::string p = one_of(in, j, "prot", ptr, {"r", "w", "rw"});
        s.prot = (p.find('r') != std::string::npos ? 1u : 0u) | (p.find('w') != std::string::npos ? 2u : 0u);
    };
    auto buffer_range = [&](bool size_required) {
        s.buffer = name_field(in, j, "buffer", ptr);
        if (j.contains("offset")) s.offset = offset_field(in, j, ptr);
        if (size_required || j.contains("size")) {
            s.size = in.get_size(required(in, j, "size", ptr), json_ptr(ptr, "size"));
            if (!s.size) in.fail(json_ptr(ptr, "size"), "size must not be zero");
            if (s.size > (u64(1) << 30)) in.fail(json_ptr(ptr, "size"), "at most 1 GiB per step");
        }
    };
    switch (s.op) {
    case vfio_op::bind:
        in.check_members(j, ptr, {"op", "name", "device", "driver", "expect_errno"});
        s.device = bdf_field(in, j, ptr);
        s.driver = name_field(in, j, "driver", ptr);
        errno_field();
        break;
    case vfio_op::process_alloc:
        in.check_members(j, ptr, {"op", "name", "buffer", "size", "huge", "writable"});
        buffer_range(true);
        if (s.size & 0xfff) in.fail(json_ptr(ptr, "size"), "a mapping is whole 4 KiB pages");
        if (j.contains("huge")) s.huge = in.get_bool(j.at("huge"), json_ptr(ptr, "huge"));
        if (j.contains("writable") && !in.get_bool(j.at("writable"), json_ptr(ptr, "writable"))) s.prot = 1;
        break;
    case vfio_op::write_process_memory:
    case vfio_op::expect_process_memory:
        in.check_members(j, ptr, {"op", "name", "buffer", "offset", "size", "pattern"});
        buffer_range(true);
        s.pattern = pattern_field(in, j, ptr);
        break;
    case vfio_op::open_container:
        in.check_members(j, ptr, {"op", "name", "container", "expect_errno"});
        s.container = name_field(in, j, "container", ptr);
        errno_field();
        break;
    case vfio_op::open_group:
        in.check_members(j, ptr, {"op", "name", "group", "device", "expect_errno"});
        s.group = name_field(in, j, "group", ptr);
        s.device = bdf_field(in, j, ptr);
        errno_field();
        break;
    case vfio_op::close:
        in.check_members(j, ptr, {"op", "name", "container", "group", "device"});
        if (int(j.contains("container")) + int(j.contains("group")) + int(j.contains("device")) != 1)
            in.fail(ptr, "needs exactly one of \"container\", \"group\" or \"device\" (its device fd)");
        if (j.contains("container")) s.container = name_field(in, j, "container", ptr);
        else if (j.contains("group")) s.group = name_field(in, j, "group", ptr);
        else s.device = bdf_field(in, j, ptr);
        break;
    case vfio_op::group_status:
        in.check_members(j, ptr, {"op", "name", "group", "viable", "container_set", "expect_errno"});
        s.group = name_field(in, j, "group", ptr);
        if (j.contains("viable")) s.viable = in.get_bool(j.at("viable"), json_ptr(ptr, "viable"));
        if (j.contains("container_set")) s.container_set = in.get_bool(j.at("container_set"), json_ptr(ptr, "container_set"));
        errno_field();
        break;
    case vfio_op::set_container:
        in.check_members(j, ptr, {"op", "name", "group", "container", "expect_errno"});
        s.group = name_field(in, j, "group", ptr);
        s.container = name_field(in, j, "container", ptr);
        errno_field();
        break;
    case vfio_op::unset_container:
        in.check_members(j, ptr, {"op", "name", "group", "expect_errno"});
        s.group = name_field(in, j, "group", ptr);
        errno_field();
        break;
    case vfio_op::set_iommu:
        in.check_members(j, ptr, {"op", "name", "container", "type", "expect_errno"});
        s.container = name_field(in, j, "container", ptr);
        s.type = one_of(in, j, "type", ptr, {"type1", "type1v2", "spapr", "spapr_v2"});
        errno_field();
        break;
    case vfio_op::map_dma:
        in.check_members(j, ptr, {"op", "name", "container", "buffer", "offset", "iova", "size", "prot", "expect_errno"});
        s.container = name_field(in, j, "container", ptr);
        s.buffer = name_field(in, j, "buffer", ptr);
        if (j.contains("offset")) s.offset = offset_field(in, j, ptr);
        iova_range(in, j, ptr, s);
        prot_field();
        errno_field();
        break;
    case vfio_op::unmap_dma:
        in.check_members(j, ptr, {"op", "name", "container", "iova", "size", "expect_unmapped", "dirty_bitmap",
                                  "expect_dirty", "expect_errno"});
        s.container = name_field(in, j, "container", ptr);
        iova_range(in, j, ptr, s);
        if (j.contains("expect_unmapped")) s.expect_unmapped = in.get_size(j.at("expect_unmapped"), json_ptr(ptr, "expect_unmapped"));
        if (j.contains("dirty_bitmap")) s.get_dirty_bitmap = in.get_bool(j.at("dirty_bitmap"), json_ptr(ptr, "dirty_bitmap"));
        if (j.contains("expect_dirty")) {
            if (!s.get_dirty_bitmap) in.fail(json_ptr(ptr, "expect_dirty"), "needs \"dirty_bitmap\": true");
            s.expect_dirty = dirty_ranges(in, j.at("expect_dirty"), json_ptr(ptr, "expect_dirty"));
        }
        errno_field();
        break;
    case vfio_op::eventfd:
        in.check_members(j, ptr, {"op", "name", "eventfd"});
        s.eventfd = name_field(in, j, "eventfd", ptr);
        break;
    case vfio_op::expect_eventfd:
        in.check_members(j, ptr, {"op", "name", "eventfd", "count"});
        s.eventfd = name_field(in, j, "eventfd", ptr);
        s.expect_count = in.get_uint(required(in, j, "count", ptr), json_ptr(ptr, "count"), ~u64(0) - 1);
        break;
    case vfio_op::set_irqs: {
        in.check_members(j, ptr, {"op", "name", "device", "index", "action", "data", "start", "count", "eventfds",
                                  "bools", "argsz", "expect_errno"});
        s.device = bdf_field(in, j, ptr);
        s.irq_index = irq_index_field(in, j, ptr);
        const std::string action = one_of(in, j, "action", ptr, {"trigger", "mask", "unmask"});
        const std::string data = j.contains("data") ? one_of(in, j, "data", ptr, {"none", "bool", "eventfd"}) : "none";
        // <linux/vfio.h>: DATA_NONE 1, DATA_BOOL 2, DATA_EVENTFD 4; ACTION_MASK 8, UNMASK 16, TRIGGER 32.
        s.irq_flags = (data == "none" ? 1u : data == "bool" ? 2u : 4u) |
                      (action == "mask" ? 8u : action == "unmask" ? 16u : 32u);
        if (j.contains("start")) s.start = u32(in.get_uint(j.at("start"), json_ptr(ptr, "start"), 0xffffffff));
        if (data == "eventfd") {
            const std::string p = json_ptr(ptr, "eventfds");
            const auto& v = required(in, j, "eventfds", ptr);
            if (!v.is_array()) in.fail(p, "expected an array of eventfd names or fd numbers (-1: none)");
            for (size_t i = 0; i < v.size(); ++i) {
                vfio_step::fd_ref r;
                if (v[i].is_string()) r.name = in.get_string(v[i], json_ptr(p, i));
                else if (v[i].is_number_integer()) r.raw = v[i].get<int>();
                else in.fail(json_ptr(p, i), "an eventfd name or an fd number");
                s.eventfds.push_back(r);
            }
            s.count = u32(s.eventfds.size());
        } else if (data == "bool") {
            const std::string p = json_ptr(ptr, "bools");
            const auto& v = required(in, j, "bools", ptr);
            if (!v.is_array()) in.fail(p, "expected an array of booleans");
            for (size_t i = 0; i < v.size(); ++i) s.bools.push_back(in.get_bool(v[i], json_ptr(p, i)) ? 1 : 0);
            s.count = u32(s.bools.size());
        } else if (j.contains("eventfds") || j.contains("bools")) {
            in.fail(ptr, "\"eventfds\" goes with \"data\": \"eventfd\", \"bools\" with \"data\": \"bool\"");
        }
        if (j.contains("count")) s.count = u32(in.get_uint(j.at("count"), json_ptr(ptr, "count"), 0xffffffff));
        else if (data == "none") s.count = 1;
        if (j.contains("argsz")) s.argsz = u32(in.get_uint(j.at("argsz"), json_ptr(ptr, "argsz"), 0xffffffff));
        errno_field();
        break;
    }
    case vfio_op::irq_info:
        in.check_members(j, ptr, {"op", "name", "device", "index", "expect_count", "expect_flags", "expect_errno"});
        s.device = bdf_field(in, j, ptr);
        s.irq_index = irq_index_field(in, j, ptr);
        if (j.contains("expect_count")) s.expect_count = in.get_uint(j.at("expect_count"), json_ptr(ptr, "expect_count"), 2048);
        else s.expect_count = ~u64(0);  // not checked
        if (j.contains("expect_flags"))
            s.expect_flags = u32(in.get_uint(j.at("expect_flags"), json_ptr(ptr, "expect_flags"), 0xffffffff));
        errno_field();
        break;
    case vfio_op::region_read:
    case vfio_op::region_write: {
        in.check_members(j, ptr, {"op", "name", "device", "region", "offset", "width", "value", "expect_value", "mask",
                                  "expect_errno"});
        s.device = bdf_field(in, j, ptr);
        s.region = region_field(in, j, ptr);
        s.offset = in.get_uint(required(in, j, "offset", ptr), json_ptr(ptr, "offset"), u64(1) << 40);
        if (j.contains("width")) {
            s.width = unsigned(in.get_uint(j.at("width"), json_ptr(ptr, "width"), 8));
            if (s.width != 1 && s.width != 2 && s.width != 4 && s.width != 8)
                in.fail(json_ptr(ptr, "width"), "a width is 1, 2, 4 or 8 bytes");
        }
        if (s.op == vfio_op::region_write) {
            s.value = in.get_uint(required(in, j, "value", ptr), json_ptr(ptr, "value"), ~u64(0));
            if (j.contains("expect_value") || j.contains("mask")) in.fail(ptr, "a write has no \"expect_value\"");
        } else {
            if (j.contains("value")) in.fail(json_ptr(ptr, "value"), "a read has \"expect_value\", not \"value\"");
            if (j.contains("expect_value")) s.expect_value = in.get_uint(j.at("expect_value"), json_ptr(ptr, "expect_value"), ~u64(0));
            if (j.contains("mask")) s.mask = in.get_uint(j.at("mask"), json_ptr(ptr, "mask"), ~u64(0));
        }
        errno_field();
        break;
    }
    case vfio_op::device_interrupt:
        in.check_members(j, ptr, {"op", "name", "device", "irq", "vector", "expect"});
        s.device = bdf_field(in, j, ptr);
        s.irq = one_of(in, j, "irq", ptr, {"msi", "msix", "intx_assert", "intx_deassert"});
        if (j.contains("vector")) {
            if (s.irq != "msi" && s.irq != "msix") in.fail(json_ptr(ptr, "vector"), "only MSI and MSI-X have vectors");
            s.vector = unsigned(in.get_uint(j.at("vector"), json_ptr(ptr, "vector"), 2047));
        }
        if (j.contains("expect")) s.expect_sent = one_of(in, j, "expect", ptr, {"sent", "failed"}) == "sent";
        break;
    case vfio_op::get_device_fd:
        in.check_members(j, ptr, {"op", "name", "group", "device", "expect_errno"});
        s.group = name_field(in, j, "group", ptr);
        s.device = bdf_field(in, j, ptr);
        errno_field();
        break;
    case vfio_op::dirty_pages:
        in.check_members(j, ptr, {"op", "name", "container", "action", "expect_errno"});
        s.container = name_field(in, j, "container", ptr);
        s.action = one_of(in, j, "action", ptr, {"start", "stop"});
        errno_field();
        break;
    case vfio_op::dirty_bitmap:
        in.check_members(j, ptr, {"op", "name", "container", "iova", "size", "expect_dirty", "expect_errno"});
        s.container = name_field(in, j, "container", ptr);
        iova_range(in, j, ptr, s);
        if (s.size > (u64(1) << 40)) in.fail(json_ptr(ptr, "size"), "at most 1 TiB per bitmap step");
        if (j.contains("expect_dirty")) s.expect_dirty = dirty_ranges(in, j.at("expect_dirty"), json_ptr(ptr, "expect_dirty"));
        errno_field();
        break;
    case vfio_op::pin_pages:
    case vfio_op::unpin_pages:
        in.check_members(j, ptr, {"op", "name", "device", "iova", "npage", "prot", "expect_errno"});
        s.device = bdf_field(in, j, ptr);
        s.iova = in.get_uint(required(in, j, "iova", ptr), json_ptr(ptr, "iova"), ~u64(0));
        if (j.contains("npage")) s.npage = int(in.get_uint(j.at("npage"), json_ptr(ptr, "npage"), 1 << 20));
        prot_field();
        if (s.op == vfio_op::pin_pages) errno_field();
        else if (j.contains("expect_errno") || j.contains("prot"))
            in.fail(ptr, "vfio_unpin_pages returns nothing: no \"expect_errno\" or \"prot\"");
        break;
    case vfio_op::guest_create:
    case vfio_op::guest_hcall:
    case vfio_op::guest_rtas: parse_guest_step(in, j, ptr, s); break;
    default:
        parse_spapr_step(in, j, ptr, s);
        errno_field();
        break;
    }
    return s;
}

// A pseries guest's steps: creation with its PHBs, TCE hypercalls, DDW RTAS calls.
void parse_guest_step(const json_fields& in, const nlohmann::json& j, const std::string& ptr, vfio_step& s) {
    auto& g = s.guest;
    auto u = [&](const char* key, u64& field, bool req) {
        if (req || j.contains(key))
            field = in.get_uint(req ? required(in, j, key, ptr) : j.at(key), json_ptr(ptr, key), ~u64(0));
    };
    auto opt = [&](const char* key, std::optional<u64>& field) {
        if (j.contains(key)) field = in.get_uint(j.at(key), json_ptr(ptr, key), ~u64(0));
    };
    switch (s.op) {
    case vfio_op::guest_create: {
        in.check_members(j, ptr, {"op", "name", "buffer", "phbs", "expect_errno"});
        s.buffer = name_field(in, j, "buffer", ptr);
        const auto& phbs = required(in, j, "phbs", ptr);
        const std::string pp = json_ptr(ptr, "phbs");
        if (!phbs.is_array() || phbs.empty()) in.fail(pp, "expected a non-empty array of guest PHBs");
        for (size_t i = 0; i < phbs.size(); ++i) {
            const std::string p = json_ptr(pp, i);
            in.require_object(phbs[i], p);
            in.check_members(phbs[i], p, {"index", "devices"});
            const unsigned index = unsigned(in.get_uint(required(in, phbs[i], "index", p), json_ptr(p, "index"), 255));
            const auto& devs = required(in, phbs[i], "devices", p);
            if (!devs.is_array() || devs.empty()) in.fail(json_ptr(p, "devices"), "expected a non-empty array of BDFs");
            std::vector<bdf> list;
            for (size_t d = 0; d < devs.size(); ++d) {
                const std::string dp = json_ptr(json_ptr(p, "devices"), d);
                const std::string str = in.get_string(devs[d], dp);
                auto b = bdf::parse(str);
                if (!b) in.fail(dp, fmt::format("\"{}\" is not a BDF (dddd:bb:dd.f)", str));
                list.push_back(*b);
            }
            g.phbs.emplace_back(index, std::move(list));
        }
        if (j.contains("expect_errno"))
            s.expect_errno = int(in.get_uint(j.at("expect_errno"), json_ptr(ptr, "expect_errno"), 4095));
        break;
    }
    case vfio_op::guest_hcall: {
        in.check_members(j, ptr, {"op", "name", "hcall", "liobn", "ioba", "tce", "npages", "tce_list", "tces", "expect",
                                  "expect_tce"});
        g.call = one_of(in, j, "hcall", ptr, {"H_PUT_TCE", "H_PUT_TCE_INDIRECT", "H_STUFF_TCE", "H_GET_TCE"});
        u("liobn", g.liobn, true);
        u("ioba", g.ioba, true);
        u("tce", g.tce, g.call == "H_PUT_TCE" || g.call == "H_STUFF_TCE");
        u("npages", g.npages, g.call == "H_STUFF_TCE");
        u("tce_list", g.tce_list, g.call == "H_PUT_TCE_INDIRECT");
        if (j.contains("tces")) {
            if (g.call != "H_PUT_TCE_INDIRECT") in.fail(json_ptr(ptr, "tces"), "only H_PUT_TCE_INDIRECT takes a list");
            const auto& t = j.at("tces");
            if (!t.is_array() || t.empty() || t.size() > 512)
                in.fail(json_ptr(ptr, "tces"), "expected 1..512 TCEs (one 4 KiB page of them)");
            for (size_t i = 0; i < t.size(); ++i) g.tces.push_back(in.get_uint(t[i], json_ptr(json_ptr(ptr, "tces"), i), ~u64(0)));
            if (!j.contains("npages")) g.npages = g.tces.size();
        }
        opt("expect_tce", g.expect_tce);
        if (g.expect_tce && g.call != "H_GET_TCE") in.fail(json_ptr(ptr, "expect_tce"), "only H_GET_TCE returns a TCE");
        if (j.contains("expect")) {
            const std::string e = one_of(in, j, "expect", ptr,
                                         {"H_SUCCESS", "H_PARAMETER", "H_HARDWARE", "H_PERMISSION", "H_TOO_HARD",
                                          "H_NOT_FOUND", "H_FUNCTION"});
            g.expect_ret = e == "H_SUCCESS" ? 0 : e == "H_HARDWARE" ? -1 : e == "H_FUNCTION" ? -2 : e == "H_PARAMETER" ? -4
                           : e == "H_NOT_FOUND" ? -7 : e == "H_PERMISSION" ? -11 : 9999;
        }
        break;
    }
    case vfio_op::guest_rtas: {
        in.check_members(j, ptr, {"op", "name", "call", "phb", "device", "liobn", "page_shift", "window_shift",
                                  "expect_status", "expect_windows_available", "expect_liobn", "expect_bus_offset"});
        g.call = one_of(in, j, "call", ptr,
                        {"ibm,query-pe-dma-window", "ibm,create-pe-dma-window", "ibm,remove-pe-dma-window",
                         "ibm,reset-pe-dma-window"});
        if (j.contains("phb")) g.phb = unsigned(in.get_uint(j.at("phb"), json_ptr(ptr, "phb"), 255));
        if (j.contains("device")) s.device = bdf_field(in, j, ptr);
        u("liobn", g.liobn, g.call == "ibm,remove-pe-dma-window");
        if (g.call == "ibm,create-pe-dma-window") {
            s.page_shift = unsigned(in.get_uint(required(in, j, "page_shift", ptr), json_ptr(ptr, "page_shift"), 63));
            g.window_shift = unsigned(in.get_uint(required(in, j, "window_shift", ptr), json_ptr(ptr, "window_shift"), 63));
        }
        if (j.contains("expect_status")) {
            // RTAS_OUT_SUCCESS 0, _HW_ERROR -1, _BUSY -2, _PARAM_ERROR -3
            const std::string e = one_of(in, j, "expect_status", ptr, {"success", "hw_error", "busy", "param_error"});
            g.expect_ret = e == "success" ? 0 : e == "hw_error" ? -1 : e == "busy" ? -2 : -3;
        }
        if (j.contains("expect_windows_available"))
            g.expect_windows_available =
                u32(in.get_uint(j.at("expect_windows_available"), json_ptr(ptr, "expect_windows_available"), 64));
        opt("expect_liobn", g.expect_liobn);
        opt("expect_bus_offset", g.expect_bus_offset);
        break;
    }
    default: break;
    }
}

// The sPAPR TCE backend's ioctls and VFIO_EEH_PE_OP.
void parse_spapr_step(const json_fields& in, const nlohmann::json& j, const std::string& ptr, vfio_step& s) {
    auto opt_u64 = [&](const char* key, std::optional<u64>& field, bool size) {
        if (!j.contains(key)) return;
        field = size ? in.get_size(j.at(key), json_ptr(ptr, key)) : in.get_uint(j.at(key), json_ptr(ptr, key), ~u64(0));
    };
    s.container = name_field(in, j, "container", ptr);
    switch (s.op) {
    case vfio_op::spapr_get_info:
        in.check_members(j, ptr, {"op", "name", "container", "dma32_window_start", "dma32_window_size", "pgsizes",
                                  "max_dynamic_windows", "levels", "expect_errno"});
        opt_u64("dma32_window_start", s.expect_window_start, false);
        opt_u64("dma32_window_size", s.expect_window_size, true);
        opt_u64("pgsizes", s.expect_pgsizes, false);
        if (j.contains("max_dynamic_windows"))
            s.expect_max_windows = u32(in.get_uint(j.at("max_dynamic_windows"), json_ptr(ptr, "max_dynamic_windows"), 64));
        if (j.contains("levels")) s.expect_levels = u32(in.get_uint(j.at("levels"), json_ptr(ptr, "levels"), 64));
        break;
    case vfio_op::spapr_enable:
    case vfio_op::spapr_disable: in.check_members(j, ptr, {"op", "name", "container", "expect_errno"}); break;
    case vfio_op::spapr_register:
    case vfio_op::spapr_unregister:
        in.check_members(j, ptr, {"op", "name", "container", "buffer", "offset", "size", "expect_errno"});
        s.buffer = name_field(in, j, "buffer", ptr);
        if (j.contains("offset")) s.offset = offset_field(in, j, ptr);
        if (j.contains("size")) s.size = in.get_size(j.at("size"), json_ptr(ptr, "size"));
        break;
    case vfio_op::spapr_create:
        in.check_members(j, ptr, {"op", "name", "container", "page_shift", "window_size", "levels", "expect_start",
                                  "expect_errno"});
        s.page_shift = unsigned(in.get_uint(required(in, j, "page_shift", ptr), json_ptr(ptr, "page_shift"), 63));
        s.size = in.get_size(required(in, j, "window_size", ptr), json_ptr(ptr, "window_size"));
        if (j.contains("levels")) s.levels = unsigned(in.get_uint(j.at("levels"), json_ptr(ptr, "levels"), 64));
        if (j.contains("expect_start")) s.expect_value = in.get_uint(j.at("expect_start"), json_ptr(ptr, "expect_start"), ~u64(0));
        break;
    case vfio_op::spapr_remove:
        in.check_members(j, ptr, {"op", "name", "container", "start", "expect_errno"});
        s.iova = in.get_uint(required(in, j, "start", ptr), json_ptr(ptr, "start"), ~u64(0));
        break;
    case vfio_op::eeh_pe_op: {
        in.check_members(j, ptr, {"op", "name", "container", "eeh_op", "expect_state", "err_type", "err_func", "addr",
                                  "mask", "expect_errno"});
        s.action = one_of(in, j, "eeh_op", ptr,
                          {"disable", "enable", "unfreeze_io", "unfreeze_dma", "get_state", "reset_deactivate",
                           "reset_hot", "reset_fundamental", "configure", "inject_err"});
        if (j.contains("expect_state")) {
            if (s.action != "get_state") in.fail(json_ptr(ptr, "expect_state"), "only \"get_state\" returns a state");
            const std::string st = one_of(in, j, "expect_state", ptr, {"normal", "reset", "stopped", "stopped_dma", "unavail"});
            // VFIO_EEH_PE_STATE_NORMAL 0, _RESET 1, _STOPPED 2, _STOPPED_DMA 4, _UNAVAIL 5
            s.expect_value = st == "normal" ? 0 : st == "reset" ? 1 : st == "stopped" ? 2 : st == "stopped_dma" ? 4 : 5;
        }
        if (s.action == "inject_err") {
            s.mask = 0;
            s.err_type = int(in.get_uint(required(in, j, "err_type", ptr), json_ptr(ptr, "err_type"), 0xffffffff));
            s.err_func = int(in.get_uint(required(in, j, "err_func", ptr), json_ptr(ptr, "err_func"), 0xffffffff));
            if (j.contains("addr")) s.value = in.get_uint(j.at("addr"), json_ptr(ptr, "addr"), ~u64(0));
            if (j.contains("mask")) s.mask = in.get_uint(j.at("mask"), json_ptr(ptr, "mask"), ~u64(0));
        } else if (j.contains("err_type") || j.contains("err_func") || j.contains("addr") || j.contains("mask")) {
            in.fail(ptr, "err_type, err_func, addr and mask belong to \"inject_err\"");
        }
        break;
    }
    default: break;
    }
}

void parse_process_options(const json_fields& in, const nlohmann::json& j, const std::string& ptr,
                           vfio_process_options& out) {
    in.require_object(j, ptr);
    in.check_members(j, ptr, {"memlock", "cap_ipc_lock", "nointxmask"});
    if (j.contains("memlock")) {
        const auto& m = j.at("memlock");
        out.memlock = m.is_string() && m.get<std::string>() == "unlimited" ? ~u64(0) : in.get_size(m, json_ptr(ptr, "memlock"));
    }
    if (j.contains("cap_ipc_lock")) out.cap_ipc_lock = in.get_bool(j.at("cap_ipc_lock"), json_ptr(ptr, "cap_ipc_lock"));
    if (j.contains("nointxmask")) out.nointxmask = in.get_bool(j.at("nointxmask"), json_ptr(ptr, "nointxmask"));
}

} // namespace iommusim::scenario

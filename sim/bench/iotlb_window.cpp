#include "sim/bench/iotlb_window.h"

#include "models/iommu/amdvi/tlm/amdvi_unit_params.h"
#include "models/iommu/vtd/tlm/vtd_unit_params.h"
#include "models/iommu/vtd/vtd_defs.h"
#include "sim/bench/bench_iommu.h"
#include "models/pci/cfg/pci_regs.h"
#include "platforms/desc/platform_loader.h"
#include "platforms/platform.h"
#include "sim/core/input_error.h"
#include "sim/host/tlm/tlm_host_ops.h"
#include "sim/tlm/payload_data.h"

#include <algorithm>
#include <fmt/format.h>
#include <cmath>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <queue>
#include <random>
#include <sstream>
#include <stdexcept>

namespace iommusim::bench {

using nlohmann::json;

namespace {

constexpr const char* k_source = "--set";
constexpr u64 k_iova_base = u64(1) << 30;    // 1 GiB: every page size's alignment
constexpr u64 k_phys_base = u64(4) << 30;    // the buffer's host-physical base (4 GiB)
constexpr u64 k_table_base = u64(8) << 30;   // page tables are allocated from here
constexpr u64 k_large_offset = u64(3) << 30; // large pages at IOVA 4 GiB: 2 GiB..4 GiB holds the MMIO windows

// The inline platform: a host bridge and one root port with the requester below it (PCIe Endpoint).
const char* k_inline_platform = R"({
  "name": "bench-iotlb-window",
  "description": "one root port with a dma_engine endpoint: the requester of the IOTLB window bench",
  "iommu": "intel",
  "root_buses": [{"segment": 0, "bus": 0, "devices": [
    {"addr": "00.0", "kind": "host_bridge", "name": "host"},
    {"addr": "01.0", "kind": "root_port", "name": "rp",
     "children": [{"addr": "00.0", "kind": "dma_engine", "name": "dev"}]}
  ]}]
})";

json value_json(const std::string& v) {
    // Numbers and booleans as JSON; anything else ("lru", "0x40") as a string the setters parse.
    try {
        json j = json::parse(v);
        if (j.is_number() || j.is_boolean()) return j;
    } catch (const json::exception&) {
    }
    return json(v);
}

double number_of(const std::string& name, const std::string& v, double lo, double hi) {
    try {
        size_t used = 0;
        const double d = std::stod(v, &used);
        if (used == v.size() && d >= lo && d <= hi) return d;
    } catch (const std::exception&) {
    }
    throw input_error(k_source, "/" + name,
                      fmt::format("expected a number in [{}, {}], not \"{}\"", lo, hi, v));
}

bool is_platform_param(const std::string& name) {
    return name.rfind("timing.", 0) == 0 || name.rfind("memory.", 0) == 0 || name == "system_bus_ns";
}

// The bench's own parameters: device.* and link.*.
bool set_bench_param(device_params& d, pcie_link_params& l, const std::string& name, const std::string& v) {
    if (name == "device.ns") d.ns = number_of(name, v, 0, 1e6);
    else if (name == "device.issue_ns") d.issue_ns = number_of(name, v, 0, 1e6);
    else if (name == "device.tags") d.tags = unsigned(number_of(name, v, 1, 4096));
    else if (name == "device.read_bytes") d.read_bytes = unsigned(number_of(name, v, 4, 4096));
    else if (name == "link.gen") l.generation = unsigned(number_of(name, v, 1, 5));
    else if (name == "link.lanes") l.lanes = unsigned(number_of(name, v, 1, 32));
    else if (name == "link.latency_ns") l.latency_ns = number_of(name, v, 0, 1e6);
    else if (name.rfind("device.", 0) == 0 || name.rfind("link.", 0) == 0)
        throw input_error(k_source, "/" + name,
                          "unknown bench parameter; device.{ns,issue_ns,tags,read_bytes}, link.{gen,lanes,latency_ns}");
    else return false;
    return true;
}

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    if (!f) throw input_error(path, "", "cannot open the platform file");
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

json platform_json(const std::string& platform) {
    if (platform.empty()) return json::parse(k_inline_platform);
    const bool file = platform.find('/') != std::string::npos || platform.find(".json") != std::string::npos;
    const std::string path = file ? platform : platforms::preset_path(platform);
    try {
        return json::parse(read_text(path));
    } catch (const json::parse_error& e) {
        throw input_error(path, "", e.what());
    }
}

// Sets a dotted name ("timing.hop_ns") inside the platform's "params" object.
void put_param(json& params, const std::string& name, const json& v) {
    json* at = &params;
    size_t pos = 0;
    for (size_t dot; (dot = name.find('.', pos)) != std::string::npos; pos = dot + 1) {
        json& next = (*at)[name.substr(pos, dot - pos)];
        if (!next.is_object()) next = json::object();
        at = &next;
    }
    (*at)[name.substr(pos)] = v;
}

double median_of(std::vector<double> v, double q = 0.5) {
    if (v.empty()) return 0;
    const size_t k = std::min(v.size() - 1, size_t(q * double(v.size() - 1) + 0.5));
    std::nth_element(v.begin(), v.begin() + k, v.end());
    return v[k];
}

sc_core::sc_time ps(u64 v) { return sc_core::sc_time(double(v), sc_core::SC_PS); }
u64 to_ps(const sc_core::sc_time& t) { return u64(t / sc_core::sc_time(1, sc_core::SC_PS) + 0.5); }

// The machine under test and the requester's view of it.
class window_bench {
public:
    window_bench(const iotlb_window_config& cfg) : m_cfg(cfg) {
        json pj = platform_json(cfg.platform);
        json& params = pj["params"];
        if (!params.is_object()) params = json::object();
        // Unit parameters go to the platform's IOMMU kind; --set names are checked here, so messages name
        // --set, not the platform.
        const bool amd = pj.value("iommu", "") == "amd";
        vtd::vtd_unit_params vtd_scratch;
        amdvi::amdvi_unit_params amd_scratch;
        for (const auto& [name, value] : cfg.sets) {
            if (set_bench_param(m_device, m_link_params, name, value)) continue;
            if (is_platform_param(name)) {
                put_param(params, name, value_json(value));
            } else if (amd) {
                amdvi::set_amdvi_unit_param(amd_scratch, name, value_json(value), k_source, "/" + name);
                params["amdvi"][name] = value_json(value);
            } else {
                vtd::set_vtd_unit_param(vtd_scratch, name, value_json(value), k_source, "/" + name);
                params["vtd"][name] = value_json(value);
            }
        }
        if (amd) amd_scratch.validate();
        else vtd_scratch.validate();
        m_device.validate();
        if (!cfg.iommu) params[amd ? "amdvi_units" : "vtd_units"] = false;
        m_link = std::make_unique<pcie_link>(m_link_params);
        const std::string source = cfg.platform.empty() ? "inline platform" : cfg.platform;
        m_desc = platforms::load_platform_json(pj, source);
        m_machine = std::make_unique<host::tlm_machine>(m_desc);
        find_requester();
        if (cfg.iommu) {
            find_unit();
            m_iommu->program(m_requester->requester_id());
        }
    }

    const bench_iommu* iommu() const { return m_iommu.get(); }
    const device_params& device() const { return m_device; }

    // Maps [k_iova_base, +span) (4 KiB pages) and [k_iova_base + k_large_offset, +span) (large pages),
    // both onto [k_phys_base, +span), so every window of either kind is a prefix of one of them.
    void map_buffers(u64 span) {
        if (!m_iommu) return;
        for (u64 off = 0; off < span; off += vtd::PAGE_SIZE) m_iommu->map(k_iova_base + off, k_phys_base + off, 1);
        const u64 large = span >= (u64(1) << 30) ? 3 : 2;
        const u64 step = vtd::level_page_size(unsigned(large));
        for (u64 off = 0; off < span; off += step)
            m_iommu->map(k_iova_base + k_large_offset + off, k_phys_base + off, unsigned(large));
    }
    u64 buffer_base(bool large) const {
        if (!m_iommu) return k_phys_base;
        return k_iova_base + (large ? k_large_offset : 0);
    }
    static u64 page_size_of(bool large, u64 span) {
        return large ? vtd::level_page_size(span >= (u64(1) << 30) ? 3 : 2) : vtd::PAGE_SIZE;
    }

    void invalidate_all() {
        if (m_iommu) m_iommu->invalidate_all();
    }

    // One read of the device at `issue_ps` (absolute); returns when its completion has been delivered.
    u64 read(u64 addr, u64 issue_ps) {
        const u64 at_rc = m_link->send_upstream(issue_ps, m_link->request_ps());
        tlm::tlm_generic_payload gp;
        tlmx::init_payload(gp, tlm::TLM_READ_COMMAND, addr, m_data, m_device.read_bytes);
        sc_core::sc_time delay = ps(at_rc) - sc_core::sc_time_stamp();
        m_requester->issue_dma(gp, delay);
        if (!gp.is_response_ok())
            throw std::runtime_error("bench read of 0x" + hex(addr) + " failed: " + gp.get_response_string());
        const u64 data_ready = to_ps(delay + sc_core::sc_time_stamp());
        const u64 delivered = m_link->send_downstream(data_ready, m_link->completion_ps(m_device.read_bytes));
        ++m_reads;
        return delivered + u64(std::llround(m_device.ns * 1000));
    }

    u64 reads() const { return m_reads; }

private:
    static std::string hex(u64 v) {
        std::ostringstream s;
        s << std::hex << v;
        return s.str();
    }

    // The platform's IOMMU for the requester: the VT-d unit of its segment, or the AMD IOMMU serving its
    // root bus.
    void find_unit() {
        auto& p = m_machine->platform();
        if (!p.memory()) throw input_error(m_desc.source, "/params/memory/size", "the bench needs system memory");
        bench_iommu::access a;
        a.mem = p.memory();
        a.ops = &m_machine->ops();
        a.alloc_page = [this] {
            const u64 page = m_next_table;
            m_next_table += vtd::PAGE_SIZE;
            return page;
        };
        m_iommu = bench_iommu::for_platform(p, m_requester_fn->root, std::move(a));
        if (!m_iommu)
            throw input_error(m_desc.source.empty() ? "platform" : m_desc.source, "/iommu",
                              "the platform has no IOMMU unit for the bench's device (an \"intel\" or \"amd\" "
                              "platform with memory is needed; or use --no-iommu)");
    }

    const platforms::built_function* built(const pci::pci_function* model) {
        for (const auto& f : m_machine->platform().functions())
            if (f.model == model) return &f;
        return nullptr;
    }

    // The first dma_engine, else the first endpoint that is not an IOMMU; Bus Master Enable on it and every bridge above
    // (as pci_set_master() and pci_enable_bridge() leave them).
    void find_requester() {
        using pci::function_kind;
        const platforms::built_function* pick = nullptr;
        for (const auto& f : m_machine->platform().functions()) {
            const function_kind k = f.desc->params.kind;
            if (k == function_kind::dma_engine) {
                pick = &f;
                break;
            }
            // An IOMMU's own PCI function (class 0x0806, AMD-Vi) is not a DMA requester.
            const bool iommu_fn = f.model->config().get16(pci::PCI_CLASS_DEVICE) == 0x0806;
            if (!pick && !iommu_fn && (k == function_kind::endpoint || k == function_kind::legacy_endpoint ||
                                       k == function_kind::pci_endpoint || k == function_kind::rc_endpoint))
                pick = &f;
        }
        if (!pick) throw input_error(m_desc.name, "/root_buses", "no endpoint to master the bench's reads");
        // Bus numbers and Bus Master Enable on the path from the root bus down, as enumeration
        // (pci_scan_bridge: primary, secondary, subordinate) and pci_set_master() would leave them.
        std::vector<const platforms::built_function*> chain;
        for (const platforms::built_function* f = pick; f; f = f->parent ? built(f->parent) : nullptr)
            chain.insert(chain.begin(), f);
        const auto& rc = m_machine->platform().root_complexes().at(pick->root);
        host::pci_host_ops& ops = m_machine->ops();
        u8 bus = rc.bus_start;
        for (const auto* f : chain) {
            const u8 devfn = f->model->devfn();
            if (f->model->is_type1()) {
                const u8 secondary = u8(bus + 1);
                if (secondary > rc.bus_end || secondary <= bus)
                    throw input_error(m_desc.source, f->desc->where, "no bus number left below this bridge");
                ops.config_write(rc.segment, bus, devfn, pci::PCI_PRIMARY_BUS, 4,
                                 u32(bus) | u32(secondary) << 8 | u32(rc.bus_end) << 16);
            }
            const u32 cmd = ops.config_read(rc.segment, bus, devfn, pci::PCI_COMMAND, 2);
            ops.config_write(rc.segment, bus, devfn, pci::PCI_COMMAND, 2,
                             cmd | pci::PCI_COMMAND_MASTER | pci::PCI_COMMAND_MEMORY);
            if (f->model->is_type1()) bus = u8(bus + 1);
        }
        m_requester = pick->model;
        m_requester_fn = pick;
    }

    const iotlb_window_config& m_cfg;
    device_params m_device;
    pcie_link_params m_link_params;
    std::unique_ptr<pcie_link> m_link;
    platforms::platform_desc m_desc;
    std::unique_ptr<host::tlm_machine> m_machine;
    std::unique_ptr<bench_iommu> m_iommu;            // the platform's unit, as the bench programs it
    pci::pci_function* m_requester = nullptr;
    const platforms::built_function* m_requester_fn = nullptr;
    u64 m_next_table = k_table_base;
    u64 m_reads = 0;
    unsigned char m_data[4096] = {};
};

u64 translated_lookups(const bench_iommu* u) { return u ? u->iotlb_hits() + u->page_walks() : 0; }

} // namespace

void device_params::validate() const {
    if (tags == 0) throw input_error(k_source, "/device.tags", "at least one read must be allowed in flight");
    if (read_bytes < 4 || read_bytes > 4096 || read_bytes % 4)
        throw input_error(k_source, "/device.read_bytes", "reads are 4..4096 bytes, a multiple of 4");
}

std::vector<u64> default_windows() {
    std::vector<u64> w;
    for (u64 s = 4096; s <= (u64(64) << 20); s *= 2) w.push_back(s);
    return w;
}

std::pair<std::string, std::string> parse_set(const std::string& text) {
    const size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0)
        throw input_error(k_source, "", "expected name=value, not \"" + text + "\"");
    return {text.substr(0, eq), text.substr(eq + 1)};
}

iotlb_window_result run_iotlb_window(const iotlb_window_config& cfg) {
    if (cfg.samples == 0 || cfg.bw_requests == 0)
        throw input_error("--samples", "", "at least one sample and one bandwidth read per window");
    std::vector<u64> windows = cfg.windows.empty() ? default_windows() : cfg.windows;
    for (u64 w : windows)
        if (w < 4096 || (w & (w - 1)) || w > (u64(4) << 30))
            throw input_error("--windows", "", "windows are powers of two from 4 KiB to 4 GiB");
    window_bench b(cfg);
    const u64 span = *std::max_element(windows.begin(), windows.end());
    b.map_buffers(span);

    iotlb_window_result r;
    r.platform = cfg.platform.empty() ? "inline" : cfg.platform;
    r.iommu = cfg.iommu;
    if (const auto* u = b.iommu()) {
        const bench_iommu_info i = u->info();
        r.iommu_name = u->name();
        r.iotlb_entries = i.iotlb_entries;
        r.iotlb_large_entries = i.iotlb_large_entries;
        r.walk_slots = i.walk_slots;
    }
    const device_params& dev = b.device();
    const u64 issue_ps = u64(std::llround(dev.issue_ns * 1000));
    const u64 gap_ps = 100'000; // idle time between latency samples: every resource is free again
    u64 now = 1'000'000;        // 1 us after elaboration (register programming happened before)

    const size_t total = windows.size() * (cfg.iommu ? cfg.large_pages.size() : 1);
    size_t done = 0;
    for (bool large : cfg.iommu ? cfg.large_pages : std::vector<bool>{false}) {
        for (u64 w : windows) {
            b.invalidate_all();
            const u64 base = b.buffer_base(large);
            std::mt19937_64 rng(cfg.seed ^ (w * 0x9e3779b97f4a7c15ull) ^ (large ? 0x5555 : 0));
            std::uniform_int_distribution<u64> offset(0, w / dev.read_bytes - 1);
            auto random_addr = [&] { return base + offset(rng) * dev.read_bytes; };

            // Warm-up (pcie-bench's warm cache): every 4 KiB page once, one read at a time.
            for (u64 off = 0; off < w; off += 4096) now = b.read(base + off, now) + gap_ps;
            const u64 lookups0 = translated_lookups(b.iommu());
            const u64 hits0 = b.iommu() ? b.iommu()->iotlb_hits() : 0;
            const u64 walks0 = b.iommu() ? b.iommu()->page_walks() : 0;

            // Latency: one read in flight.
            std::vector<double> lat;
            lat.reserve(cfg.samples);
            double sum = 0;
            for (unsigned i = 0; i < cfg.samples; ++i) {
                const u64 done_ps = b.read(random_addr(), now);
                lat.push_back(double(done_ps - now) / 1000.0);
                sum += lat.back();
                now = done_ps + gap_ps;
            }

            // Bandwidth: a closed loop; a read issues when the issue rate and a free tag allow.
            std::priority_queue<u64, std::vector<u64>, std::greater<u64>> in_flight;
            const u64 start = now;
            u64 next_issue = start, end = start;
            for (unsigned i = 0; i < cfg.bw_requests; ++i) {
                u64 t = next_issue;
                if (in_flight.size() == dev.tags) {
                    t = std::max(t, in_flight.top());
                    in_flight.pop();
                }
                const u64 c = b.read(random_addr(), t);
                in_flight.push(c);
                end = std::max(end, c);
                next_issue = t + issue_ps;
            }
            now = end + gap_ps;

            window_point pt;
            pt.window_bytes = w;
            pt.page_size = cfg.iommu ? window_bench::page_size_of(large, span) : 0;
            pt.median_latency_ns = median_of(lat);
            pt.p10_latency_ns = median_of(lat, 0.1);
            pt.p90_latency_ns = median_of(lat, 0.9);
            pt.mean_latency_ns = sum / double(lat.size());
            pt.bandwidth_gbps = double(cfg.bw_requests) * dev.read_bytes * 8 / (double(end - start) / 1000.0);
            if (b.iommu()) {
                const u64 lookups = translated_lookups(b.iommu()) - lookups0;
                pt.iotlb_hit_rate = lookups ? double(b.iommu()->iotlb_hits() - hits0) / double(lookups) : 0;
                pt.page_walks = b.iommu()->page_walks() - walks0;
            } else {
                pt.iotlb_hit_rate = 1;
            }
            r.points.push_back(pt);
            if (cfg.progress) cfg.progress(++done, total);
        }
    }
    return r;
}

} // namespace iommusim::bench

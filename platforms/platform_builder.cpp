#include "platforms/platform_builder.h"

#include "models/pci/cfg/config_builder.h"
#include "models/pci/cfg/pci_regs.h"
#include "models/pci/dma_engine.h"
#include "models/pci/intel_pch_lpc.h"
#include "models/pci/pci_bridge.h"
#include "models/pci/pci_endpoint.h"
#include "sim/core/bdf.h"
#include "sim/core/input_error.h"

#include <algorithm>
#include <array>
#include <map>
#include <stdexcept>

namespace iommusim::platforms {

namespace {
constexpr u64 mib = u64(1) << 20;
constexpr u64 ecam_segment_size = 256 * mib; // 256 buses x 32 devices x 8 functions x 4 KiB

bool type1_header(const pci::function_params& p) {
    if (p.kind == pci::function_kind::captured)
        return p.config.size() > pci::PCI_HEADER_TYPE &&
               (p.config[pci::PCI_HEADER_TYPE] & pci::PCI_HEADER_TYPE_MASK) == pci::PCI_HEADER_TYPE_BRIDGE;
    return pci::is_bridge(p.kind);
}
} // namespace

platform_builder::platform_builder(platform& target, const platform_params& params)
    : m_platform(target), m_params(params) {}

const char* platform_builder::model_kind(const pci::function_params& p) {
    if (type1_header(p)) return "pci_bridge";
    if (p.kind == pci::function_kind::dma_engine) return "dma_engine";
    if (p.rcba) return "intel_pch_lpc";
    return "pci_endpoint";
}

void platform_builder::build(const platform_desc& desc) {
    m_source = desc.source;
    m_platform.m_router = std::make_unique<tlmx::address_router>("system_bus", sc_core::sc_time(m_params.system_bus_ns, sc_core::SC_NS));
    plan_root_complexes(desc);
    // Firmware's resource assignment, before any function is built: each make_model programs its share.
    std::vector<root_apertures> apertures(m_platform.m_roots.size());
    const auto io = split_io_space(apertures.size());
    for (size_t i = 0; i < apertures.size(); ++i) {
        const root_complex& r = m_platform.m_roots[i];
        apertures[i] = {io[i], {r.mmio32_base, r.mmio32_size}, {r.mmio64_base, r.mmio64_size}};
    }
    m_platform.m_resources = std::make_unique<firmware_resources>(desc, apertures);
    for (size_t i = 0; i < desc.root_buses.size(); ++i)
        build_bus(desc.root_buses[i].functions, m_platform.m_roots[i].host_bridge->root_bus(), i, nullptr);
}

void platform_builder::plan_root_complexes(const platform_desc& desc) {
    const size_t n = desc.root_buses.size();
    auto& roots = m_platform.m_roots;
    roots.resize(n);

    // Host bridges of one segment decode disjoint bus ranges (ACPI _CRS): each ends where the next
    // one of its segment starts. Sorting only the root buses keeps this O(r log r).
    std::map<std::pair<u16, u8>, size_t> by_start;
    for (size_t i = 0; i < n; ++i) {
        const root_bus_desc& rb = desc.root_buses[i];
        if (rb.bus_end < rb.bus)
            throw input_error(m_source, rb.where, "bus_end is below the root bus number");
        if (!by_start.emplace(std::make_pair(rb.segment, rb.bus), i).second)
            throw input_error(m_source, rb.where, "another host bridge already starts at this segment and bus");
        roots[i].segment = rb.segment;
        roots[i].bus_start = rb.bus;
        roots[i].bus_end = rb.bus_end;
    }
    for (auto it = by_start.begin(); it != by_start.end(); ++it) {
        auto next = std::next(it);
        if (next != by_start.end() && next->first.first == it->first.first) {
            root_complex& r = roots[it->second];
            r.bus_end = std::min<u8>(r.bus_end, u8(next->first.second - 1));
        }
    }

    const u64 share = n ? ((m_params.mmio32_limit - m_params.mmio32_base) / n) & ~(mib - 1) : 0;
    auto& router = *m_platform.m_router;
    for (size_t i = 0; i < n; ++i) {
        root_complex& r = roots[i];
        r.ecam_base = r.segment == 0 ? m_params.ecam_base_segment0
                                     : m_params.ecam_base_high + u64(r.segment - 1) * ecam_segment_size;
        r.mmio32_base = share ? m_params.mmio32_base + i * share : 0;
        r.mmio32_size = share;
        r.mmio64_base = m_params.mmio64_base + i * m_params.mmio64_size_per_root_bus;
        r.mmio64_size = m_params.mmio64_size_per_root_bus;

        pci::host_bridge_config cfg;
        cfg.segment = r.segment;
        cfg.bus_start = r.bus_start;
        cfg.bus_end = r.bus_end;
        cfg.ecam_base = r.ecam_base;
        cfg.p2p_between_root_ports = m_params.p2p_between_root_ports;
        if (r.mmio32_size) cfg.mmio.push_back({r.mmio32_base, r.mmio32_size});
        if (r.mmio64_size) cfg.mmio.push_back({r.mmio64_base, r.mmio64_size});
        // A chipset's RCBA window (Intel PCH LPC on the root bus) sits outside the PCI apertures, in the
        // chipset range below 4 GiB; the root complex forwards it as firmware programmed it.
        for (const function_desc& f : desc.root_buses[i].functions)
            if (f.params.rcba && (*f.params.rcba & pci::INTEL_LPC_RCBA_ENABLE))
                cfg.mmio.push_back({*f.params.rcba & pci::INTEL_LPC_RCBA_MASK, pci::INTEL_RCBA_SIZE});
        auto hb = std::make_unique<pci::pci_host_bridge>(("host_bridge" + std::to_string(i)).c_str(), cfg, m_params.timing);
        r.host_bridge = hb.get();
        const unsigned port = router.connect(hb->cpu_in);
        const std::string label = "host_bridge" + std::to_string(i);
        try {
            router.map(hb->ecam_window_base(), hb->ecam_window_size(), port, label + ".ecam");
            for (size_t a = 0; a < cfg.mmio.size(); ++a)
                router.map(cfg.mmio[a].base, cfg.mmio[a].size, port, label + ".mmio" + std::to_string(a));
        } catch (const std::invalid_argument& e) {
            throw input_error(m_source, desc.root_buses[i].where, e.what());
        }
        m_platform.m_host_bridges.push_back(std::move(hb));
    }
}

std::string platform_builder::module_name(const function_desc& f) const {
    std::string label = f.name.empty() ? std::string(pci::to_string(f.params.kind)) : f.name;
    for (char& c : label)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) c = '_';
    // The running index keeps names unique without any lookup, however many functions share a label.
    return "f" + std::to_string(m_count) + "_" + label;
}

std::unique_ptr<pci::pci_function> platform_builder::make_model(const function_desc& f, bool multifunction) {
    pci::function_params p = f.params;
    if (multifunction) p.multifunction = true;
    pci::config_space cfg;
    try {
        cfg = pci::build_config_space(p);
    } catch (const std::exception& e) {
        throw input_error(m_source, f.where, e.what());
    }
    if (const function_resources* r = m_platform.m_resources->find(f)) firmware_resources::program(cfg, *r);
    const std::string name = module_name(f);
    const std::string kind = model_kind(p);
    if (kind == "dma_engine") {
        // The model decodes its registers, buffer and MSI-X table in a 64 KiB BAR0.
        const bool bar0_ok = std::any_of(p.bars.begin(), p.bars.end(), [](const pci::bar_params& b) {
            return b.index == 0 && !b.io && b.size >= pci::dma_engine::BAR0_SIZE;
        });
        if (!bar0_ok) throw input_error(m_source, f.where, "a dma_engine needs BAR0 as a memory BAR of at least 64K");
        pci::dma_engine_limits lim;
        lim.max_payload = p.engine.max_payload;
        lim.max_read_request = p.engine.max_read_request;
        lim.per_byte_ns = p.engine.per_byte_ns;
        return std::make_unique<pci::dma_engine>(name.c_str(), f.devfn, std::move(cfg), m_params.timing, lim);
    }
    if (kind == "pci_bridge") return std::make_unique<pci::pci_bridge>(name.c_str(), f.devfn, std::move(cfg), m_params.timing);
    if (kind == "intel_pch_lpc")
        return std::make_unique<pci::intel_pch_lpc>(name.c_str(), f.devfn, std::move(cfg), p.rcba_bspr, p.rcba_updcr,
                                                    m_params.timing);
    return std::make_unique<pci::pci_endpoint>(name.c_str(), f.devfn, std::move(cfg), m_params.timing);
}

void platform_builder::build_bus(const std::vector<function_desc>& funcs, pci::pci_bus& bus, size_t root,
                                 pci::pci_function* parent) {
    // Function 0 of a slot with other functions carries the multifunction bit (PCI 3.0 §6.2.1), else the
    // kernel would not look at functions 1..7.
    std::array<u8, 32> per_slot{};
    std::array<bool, 256> taken{};
    for (const function_desc& f : funcs) {
        if (taken[f.devfn])
            throw input_error(m_source, f.where, "devfn " + std::to_string(f.devfn) + " is used twice on this bus");
        taken[f.devfn] = true;
        ++per_slot[pci_slot(f.devfn)];
    }
    for (const function_desc& f : funcs) {
        const bool mf = pci_func(f.devfn) == 0 && per_slot[pci_slot(f.devfn)] > 1;
        auto model = make_model(f, mf);
        ++m_count;
        bus.attach(*model);
        pci::pci_function* raw = model.get();
        m_platform.m_models.push_back(std::move(model));
        m_platform.m_functions.push_back({raw, &f, root, parent});
        if (!f.name.empty()) m_platform.m_by_name.emplace(f.name, m_platform.m_functions.size() - 1);
        if (f.children.empty()) continue;
        auto* bridge = dynamic_cast<pci::pci_bridge*>(raw);
        if (!bridge) throw input_error(m_source, f.where, "only a bridge (type 1 header) can have functions below it");
        build_bus(f.children, bridge->secondary(), root, raw);
    }
}

} // namespace iommusim::platforms

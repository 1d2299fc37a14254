#include "sim/host/iommu_groups.h"

#include "sim/host/dma_alias.h"

#include <fmt/format.h>

#include <algorithm>

namespace iommusim::host {

using namespace pci;

namespace {

std::string slot_name(const pci_dev& d) {
    return fmt::format("{:04x}:{:02x}:{:02x}", d.bus->segment, d.bus->number, pci_slot(d.devfn));
}

std::string rid_name(u16 rid) { return fmt::format("{:02x}:{:02x}.{}", rid >> 8, pci_slot(u8(rid)), pci_func(u8(rid))); }

} // namespace

std::string iommu_group::explanation() const {
    // A lone device: why it got a group of its own. Several: why the others joined; the first member's
    // "new group" reason only says it came first, so it is left out.
    std::vector<std::string> seen;
    for (size_t i = reasons.size() > 1 ? 1 : 0; i < reasons.size(); ++i)
        if (std::find(seen.begin(), seen.end(), reasons[i]) == seen.end()) seen.push_back(reasons[i]);
    std::string s;
    for (const auto& r : seen) s += (s.empty() ? "" : "; ") + r;
    return s;
}

const iommu_group* iommu_groups::find(int id) const {
    return id >= 0 && unsigned(id) < m_by_id.size() ? m_by_id[unsigned(id)] : nullptr;
}

iommu_group* iommu_groups::alloc() {
    const int id = m_ida.alloc();
    iommu_group& g = m_groups.emplace_back();
    g.id = id;
    if (m_by_id.size() <= unsigned(id)) m_by_id.resize(unsigned(id) + 1, nullptr);
    m_by_id[unsigned(id)] = &g;
    return &g;
}

iommu_group& iommu_groups::probe_device(pci_dev& dev) {
    if (iommu_group* g = group_of(dev)) return *g;  // iommu_group_get_for_dev: already grouped
    std::string why;
    iommu_group* g = device_group(dev, why);
    add_device(*g, dev, std::move(why));
    return *g;
}

void iommu_groups::add_device(iommu_group& g, pci_dev& dev, std::string why) {
    dev.group = g.id;
    g.devices.push_back(&dev);
    g.reasons.push_back(std::move(why));
    m_log.pci_info(dev, fmt::format("Adding to iommu group {}", g.id));
}

// Why the path from bridge up to the root is not isolating, naming the first device that fails.
std::string iommu_groups::path_failure(pci_dev& bridge) {
    for (pci_dev* p = &bridge; p; p = pci_upstream_bridge(*p)) {
        if (m_acs.enabled(*p, REQ_ACS_FLAGS)) continue;
        const std::string what = fmt::format("{} {} does not isolate ({})", pcie_type_name(*p), p->name(),
                                             m_acs.explain(*p, REQ_ACS_FLAGS));
        if (p == &bridge) return what + ": everything below it shares its group";
        return fmt::format("the path above {} is not isolated ({}): everything below {} shares its group",
                           bridge.name(), what, bridge.name());
    }
    return "path not isolated";
}

std::string iommu_groups::new_group_reason(pci_dev& dev, pci_dev& top) {
    if (&top != &dev)
        return fmt::format("{} takes over the requests of {}: new group", top.name(), dev.name());
    if (dev.multifunction) {
        if (m_acs.enabled(dev, REQ_ACS_FLAGS))
            return fmt::format("function of multifunction device {} isolated from its siblings ({}): its own group",
                               slot_name(dev), m_acs.explain(dev, REQ_ACS_FLAGS));
        return fmt::format("multifunction device {}: first probed function without ACS, new group its "
                           "non-ACS siblings join", slot_name(dev));
    }
    if (pci_is_root_bus_dev(dev)) return "single-function device on the root bus without DMA aliases: its own group";
    return "single-function device with an ACS-isolated path to the root: its own group";
}

// pci_device_group(): steps A-E of linux-semantics §1.4.
iommu_group* iommu_groups::device_group(pci_dev& dev, std::string& why) {
    // A: the upstream DMA alias; a device aliased by a bridge that already has a group joins it.
    pci_dev* top = &dev;
    iommu_group* found = nullptr;
    alias_kind kind = alias_kind::self;
    u16 alias_rid = 0;
    pci_for_each_dma_alias(dev, [&](pci_dev& d, u16 alias, alias_kind k) {
        top = &d;
        kind = k;
        alias_rid = alias;
        found = group_of(d);
        return found != nullptr ? 1 : 0;
    });
    if (found) {
        switch (kind) {
        case alias_kind::pcie_to_pci_bridge:
            why = fmt::format("{} is behind PCIe-to-PCI bridge {}, which takes ownership of its requests "
                              "(requester ID {})", dev.name(), top->name(), rid_name(alias_rid));
            break;
        case alias_kind::pcie_bridge_quirk:
            why = fmt::format("{} is behind PCI bridge {} (a PCIe-to-PCI bridge without a PCIe capability, "
                              "quirk_use_pcie_bridge_dma_alias), which takes ownership of its requests "
                              "(requester ID {})", dev.name(), top->name(), rid_name(alias_rid));
            break;
        case alias_kind::reverse_bridge:
            why = fmt::format("{} is behind PCI-to-PCIe bridge {}, whose requester ID ({}) its requests carry",
                              dev.name(), top->name(), rid_name(alias_rid));
            break;
        case alias_kind::conventional_bridge:
            why = fmt::format("{} is behind conventional PCI bridge {}, which masters its requests with its "
                              "own requester ID ({})", dev.name(), top->name(), rid_name(alias_rid));
            break;
        default:
            why = fmt::format("{} shares requester ID {} with an already grouped device", dev.name(), rid_name(alias_rid));
        }
        return found;
    }
    pci_dev* pdev = top;

    // B: climb from the alias point while the path to the root is not ACS-isolated.
    for (pci_bus* bus = pdev->bus; !bus->is_root(); bus = bus->parent) {
        if (!bus->self) continue;
        if (m_acs.path_enabled(*bus->self, nullptr, REQ_ACS_FLAGS)) break;
        pdev = bus->self;
        if (iommu_group* g = group_of(*pdev)) {
            why = path_failure(*pdev);
            return g;
        }
    }

    // C: same-bus DMA aliases in either direction; D: non-ACS functions of the same slot.
    devfn_set devfns;
    std::string hop;
    if (iommu_group* g = get_pci_alias_group(*pdev, devfns, hop)) {
        why = fmt::format("{}: {}", dev.name(), hop);
        return g;
    }
    if (iommu_group* g = get_pci_function_alias_group(*pdev, devfns, hop)) {
        why = hop;
        return g;
    }

    // E: nothing to share with.
    why = new_group_reason(dev, *pdev);
    return alloc();
}

iommu_group* iommu_groups::get_pci_alias_group(pci_dev& pdev, devfn_set& devfns, std::string& why) {
    if (devfns.test(pdev.devfn)) return nullptr;
    devfns.set(pdev.devfn);
    if (iommu_group* g = group_of(pdev)) return g;
    for (pci_dev* tmp : pdev.bus->devices) {  // for_each_pci_dev restricted to the same bus
        if (tmp == &pdev || !pci_devs_are_dma_aliases(pdev, *tmp)) continue;
        if (iommu_group* g = get_pci_alias_group(*tmp, devfns, why)) {
            why = fmt::format("DMA alias (quirk) relation between {} and {}", pdev.name(), tmp->name());
            return g;
        }
        if (iommu_group* g = get_pci_function_alias_group(*tmp, devfns, why)) {
            why = fmt::format("DMA alias (quirk) of {}, a non-isolated function of multifunction device {}",
                              tmp->name(), slot_name(*tmp));
            return g;
        }
    }
    return nullptr;
}

iommu_group* iommu_groups::get_pci_function_alias_group(pci_dev& pdev, devfn_set& devfns, std::string& why) {
    if (!pdev.multifunction || m_acs.enabled(pdev, REQ_ACS_FLAGS)) return nullptr;
    for (pci_dev* tmp : pdev.bus->devices) {
        if (tmp == &pdev || pci_slot(tmp->devfn) != pci_slot(pdev.devfn) || m_acs.enabled(*tmp, REQ_ACS_FLAGS))
            continue;
        if (iommu_group* g = get_pci_alias_group(*tmp, devfns, why)) {
            why = fmt::format("multifunction device {}: functions without ACS share a group ({} joins {})",
                              slot_name(pdev), pdev.name(), tmp->name());
            return g;
        }
    }
    return nullptr;
}

} // namespace iommusim::host

#include "sim/host/iommu/iommu_core.h"

#include "sim/host/kernel.h"
#include "sim/host/kernel_log.h"

#include <algorithm>
#include <cerrno>
#include <fmt/format.h>

namespace iommusim::host {

iommu_core::iommu_core(kernel& k, kernel_log& log, iommu_core_options options)
    : m_kernel(k), m_log(log), m_options(options) {}

void iommu_core::add_driver(iommu_driver& driver) { m_drivers.push_back(&driver); }

iommu_driver* iommu_core::driver_of(const pci_dev& dev) const {
    auto it = m_dev_driver.find(&dev);
    return it == m_dev_driver.end() ? nullptr : it->second;
}

// iommu_get_def_domain_type + probe_get_default_domain_type: the command-line default, unless a
// device is untrusted (always DMA) or its driver insists; members that disagree fall back to default.
iommu_domain_type iommu_core::default_type_for(int group) const {
    const iommu_domain_type def = m_options.passthrough ? iommu_domain_type::identity : iommu_domain_type::dma;
    const iommu_group* g = m_kernel.group(group);
    std::optional<iommu_domain_type> chosen;
    const pci_dev* chooser = nullptr;
    for (pci_dev* dev : g->devices) {
        std::optional<iommu_domain_type> t;
        if (dev->untrusted) t = iommu_domain_type::dma;
        else if (iommu_driver* d = driver_of(*dev)) t = d->def_domain_type(*dev);
        if (!t) continue;
        if (chosen && *chosen != *t) {
            m_log.warn(fmt::format("iommu: Device needs domain type {}, but device {} in the same iommu group "
                                   "requires type {} - using default",
                                   domain_type_name(*t), chooser->name(), domain_type_name(*chosen)));
            return def;
        }
        chosen = t;
        chooser = dev;
    }
    return chosen ? *chosen : def;
}

int iommu_core::probe() {
    m_log.info(fmt::format("iommu: Default domain type: {} {}",
                           m_options.passthrough ? "Passthrough" : "Translated",
                           m_options.passthrough ? "(set via kernel command line)" : ""));
    int first_error = 0;
    for (const iommu_group& g : m_kernel.groups()) {
        // __iommu_probe_device: the first driver whose probe_device accepts the device serves it.
        for (pci_dev* dev : g.devices) {
            if (m_dev_driver.count(dev)) continue;
            for (iommu_driver* d : m_drivers) {
                if (d->probe_device(*dev) == 0) {
                    m_dev_driver[dev] = d;
                    break;
                }
            }
        }
        if (g.devices.empty()) continue;
        iommu_driver* drv = driver_of(*g.devices.front());
        if (!drv) continue;  // no IOMMU translates for this group

        // iommu_group_alloc_default_domain
        const iommu_domain_type type = default_type_for(g.id);
        std::shared_ptr<iommu_domain> dom = drv->domain_alloc(type);
        if (!dom && type != iommu_domain_type::dma) {
            dom = drv->domain_alloc(iommu_domain_type::dma);
            if (dom)
                m_log.warn(fmt::format("iommu: Failed to allocate default IOMMU domain of type {} for group {} - "
                                       "Falling back to IOMMU_DOMAIN_DMA",
                                       int(type), g.id));
        }
        group_state& gs = m_groups[g.id];
        if (!dom) {
            if (!first_error) first_error = -ENOMEM;
            continue;
        }
        gs.default_domain = dom;
        // __iommu_group_dma_attach: every device onto the default domain.
        int ret = 0;
        for (pci_dev* dev : g.devices) {
            ret = dom->attach_dev(*dev);
            if (ret) break;
        }
        if (ret) {
            if (!first_error) first_error = ret;
            continue;
        }
        gs.domain = dom;
    }
    return first_error;
}

std::shared_ptr<iommu_domain> iommu_core::domain_alloc(iommu_domain_type type, const pci_dev& dev) {
    iommu_driver* d = driver_of(dev);
    return d ? d->domain_alloc(type) : nullptr;
}

// __iommu_group_set_domain: switching is attach_dev of the new domain on every member (the driver
// tears the old context down itself).
int iommu_core::set_group_domain(group_state& gs, int group, const std::shared_ptr<iommu_domain>& domain) {
    if (gs.domain == domain) return 0;
    const iommu_group* g = m_kernel.group(group);
    if (!domain) {
        if (gs.domain)
            for (pci_dev* dev : g->devices) gs.domain->detach_dev(*dev);
        gs.domain = nullptr;
        return 0;
    }
    for (pci_dev* dev : g->devices) {
        const int ret = domain->attach_dev(*dev);
        if (ret) return ret;
    }
    gs.domain = domain;
    return 0;
}

int iommu_core::attach_group(const std::shared_ptr<iommu_domain>& domain, int group) {
    if (!domain || !m_kernel.group(group)) return -EINVAL;
    group_state& gs = m_groups[group];
    // __iommu_attach_group: only a group sitting on its default domain may move.
    if (gs.domain && gs.domain != gs.default_domain) return -EBUSY;
    return set_group_domain(gs, group, domain);
}

void iommu_core::detach_group(const std::shared_ptr<iommu_domain>& domain, int group) {
    auto it = m_groups.find(group);
    if (it == m_groups.end() || it->second.domain != domain) return;  // Linux WARNs here
    set_group_domain(it->second, group, it->second.default_domain);
}

iommu_domain* iommu_core::group_domain(int group) const {
    auto it = m_groups.find(group);
    return it == m_groups.end() ? nullptr : it->second.domain.get();
}

iommu_domain* iommu_core::default_domain(int group) const {
    auto it = m_groups.find(group);
    return it == m_groups.end() ? nullptr : it->second.default_domain.get();
}

bool iommu_core::capable(const pci_dev& dev, iommu_cap cap) const {
    iommu_driver* d = driver_of(dev);
    return d && d->capable(dev, cap);
}

std::vector<iommu_resv_region> iommu_core::resv_regions(const pci_dev& dev) const {
    iommu_driver* d = driver_of(dev);
    return d ? d->get_resv_regions(dev) : std::vector<iommu_resv_region>{};
}

// iommu_insert_resv_region: sorted by start; a region of the same type that overlaps or abuts the
// previous one extends it.
std::vector<iommu_resv_region> iommu_core::group_resv_regions(int group) const {
    std::vector<iommu_resv_region> all;
    if (const iommu_group* g = m_kernel.group(group))
        for (pci_dev* dev : g->devices)
            for (auto& r : resv_regions(*dev)) all.push_back(r);
    std::stable_sort(all.begin(), all.end(),
                     [](const iommu_resv_region& a, const iommu_resv_region& b) { return a.start < b.start; });
    std::vector<iommu_resv_region> out;
    for (const auto& r : all) {
        if (!out.empty()) {
            iommu_resv_region& top = out.back();
            if (top.type == r.type && r.start <= top.last() + 1) {
                top.length = std::max(top.last(), r.last()) - top.start + 1;
                continue;
            }
        }
        out.push_back(r);
    }
    return out;
}

int iommu_core::msi_compose(pci_dev& dev, unsigned count, u8 vector, u32 dest, remapped_msi& out) {
    iommu_driver* d = driver_of(dev);
    if (d && d->irq_remapping_enabled()) return d->msi_alloc(dev, count, vector, dest, out);
    // __irq_msi_compose_msg, physical destination mode, fixed delivery, edge.
    out = remapped_msi{};
    out.count = count;
    for (unsigned i = 0; i < count; ++i) {
        msi_msg m;
        m.address_lo = 0xfee00000u | ((dest & 0xff) << 12);
        m.data = u32(vector) + i;
        out.msgs.push_back(m);
    }
    return 0;
}

} // namespace iommusim::host

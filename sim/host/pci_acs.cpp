#include "sim/host/pci_acs.h"

#include "sim/host/pci_bus.h"

#include <fmt/format.h>

#include <cstdio>

namespace iommusim::host {

using namespace pci;

pci_acs::pci_acs(pci_access& access, pci_quirks& quirks, kernel_log& log, std::vector<std::string> disable_acs_redir)
    : m_access(access), m_quirks(quirks), m_log(log), m_disable_acs_redir(std::move(disable_acs_redir)) {}

std::string pci_acs::flag_names(u16 flags) {
    static const char* names[] = {"SV", "TB", "RR", "CR", "UF", "EC", "DT"};
    std::string s;
    for (unsigned i = 0; i < 7; ++i)
        if (flags & (1u << i)) s += (s.empty() ? "" : " ") + std::string(names[i]);
    return s.empty() ? "none" : s;
}

void pci_acs::init(pci_dev& dev) {
    dev.acs_cap = m_access.find_ext_capability(dev, PCI_EXT_CAP_ID_ACS);
    enable(dev);
}

void pci_acs::enable(pci_dev& dev) {
    if (m_acs_enable) {
        // A device-specific enable quirk that returns 0 replaces the standard enabling.
        if (m_quirks.dev_specific_enable_acs(dev) != 0) std_enable(dev);
    }
    // Applied even when the kernel enabled nothing: firmware may have turned redirection on.
    disable_acs_redir(dev);
}

void pci_acs::std_enable(pci_dev& dev) {
    if (!dev.acs_cap) return;
    const u16 cap = m_access.read16(dev, u16(dev.acs_cap + PCI_ACS_CAP));
    u16 ctrl = m_access.read16(dev, u16(dev.acs_cap + PCI_ACS_CTRL));
    ctrl |= cap & (PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF);
    // Translation Blocking only for external-facing ports and untrusted devices (no pci=noats here).
    if (dev.external_facing || dev.untrusted) ctrl |= cap & PCI_ACS_TB;
    m_access.write16(dev, u16(dev.acs_cap + PCI_ACS_CTRL), ctrl);
}

// pci_dev_str_match forms supported: "[dddd:]bb:dd.f" and "pci:vvvv:dddd[:ssss:ssss]".
bool pci_acs::str_match(const pci_dev& dev, const std::string& spec) const {
    if (spec.rfind("pci:", 0) == 0) {
        unsigned v = 0, d = 0, sv = 0, sd = 0;
        const int n = std::sscanf(spec.c_str() + 4, "%x:%x:%x:%x", &v, &d, &sv, &sd);
        if (n < 2) return false;
        if ((v && v != dev.vendor) || (d && d != dev.device)) return false;
        if (n == 4 && ((sv && sv != dev.subsystem_vendor) || (sd && sd != dev.subsystem_device))) return false;
        return true;
    }
    const auto b = bdf::parse(spec);
    return b && *b == dev.address();
}

void pci_acs::disable_acs_redir(pci_dev& dev) {
    bool match = false;
    for (const auto& spec : m_disable_acs_redir)
        if (str_match(dev, spec)) match = true;
    if (!match) return;
    if (m_quirks.dev_specific_disable_acs_redir(dev) == 0) return;
    if (!dev.acs_cap) {
        m_log.pci_warn(dev, "cannot disable ACS redirect for this hardware as it does not have ACS capabilities");
        return;
    }
    u16 ctrl = m_access.read16(dev, u16(dev.acs_cap + PCI_ACS_CTRL));
    ctrl &= u16(~(PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_EC));
    m_access.write16(dev, u16(dev.acs_cap + PCI_ACS_CTRL), ctrl);
    m_log.pci_info(dev, "disabled ACS redirect");
}

bool pci_acs::flags_enabled(pci_dev& dev, u16 acs_flags) {
    if (!dev.acs_cap) return false;
    // Controls not in the Capability register are hard-wired on (or not applicable); EC is never waived.
    const u16 cap = m_access.read16(dev, u16(dev.acs_cap + PCI_ACS_CAP));
    acs_flags &= cap | PCI_ACS_EC;
    const u16 ctrl = m_access.read16(dev, u16(dev.acs_cap + PCI_ACS_CTRL));
    return (ctrl & acs_flags) == acs_flags;
}

bool pci_acs::enabled(pci_dev& dev, u16 acs_flags) {
    const int ret = m_quirks.dev_specific_acs_enabled(dev, acs_flags);
    if (ret >= 0) return ret > 0;
    // Conventional PCI / PCI-X: a shared bus, anyone can snoop.
    if (!pci_is_pcie(dev)) return false;
    switch (pci_pcie_type(dev)) {
    case PCI_EXP_TYPE_PCIE_BRIDGE:
    case PCI_EXP_TYPE_PCI_BRIDGE:
    case PCI_EXP_TYPE_RC_EC:
        return false;
    case PCI_EXP_TYPE_DOWNSTREAM:
    case PCI_EXP_TYPE_ROOT_PORT:
        return flags_enabled(dev, acs_flags);
    case PCI_EXP_TYPE_ENDPOINT:
    case PCI_EXP_TYPE_UPSTREAM:
    case PCI_EXP_TYPE_LEG_END:
    case PCI_EXP_TYPE_RC_END:
        if (dev.multifunction) return flags_enabled(dev, acs_flags);
        return true;
    default:
        return true;
    }
}

bool pci_acs::path_enabled(pci_dev& start, const pci_dev* end, u16 acs_flags) {
    pci_dev* parent = &start;
    pci_dev* pdev = nullptr;
    do {
        pdev = parent;
        if (!enabled(*pdev, acs_flags)) return false;
        if (pci_is_root_bus_dev(*pdev)) return end == nullptr;
        parent = pdev->bus->self;
        if (!parent) return end == nullptr;  // virtual bus (Linux would dereference NULL here)
    } while (pdev != end);
    return true;
}

std::string pci_acs::explain(pci_dev& dev, u16 acs_flags) {
    const char* which = nullptr;
    const int ret = m_quirks.dev_specific_acs_enabled(dev, acs_flags, &which);
    if (ret >= 0)
        return fmt::format("ACS quirk {} reports it {}", which, ret > 0 ? "isolated" : "not isolated");
    if (!pci_is_pcie(dev)) return "conventional PCI: never isolating";
    switch (pci_pcie_type(dev)) {
    case PCI_EXP_TYPE_PCIE_BRIDGE:
    case PCI_EXP_TYPE_PCI_BRIDGE:
    case PCI_EXP_TYPE_RC_EC:
        return fmt::format("{}: never isolating", pcie_type_name(dev));
    default: break;
    }
    if (!dev.acs_cap) return "no ACS capability and no quirk";
    const u16 cap = m_access.read16(dev, u16(dev.acs_cap + PCI_ACS_CAP));
    const u16 ctrl = m_access.read16(dev, u16(dev.acs_cap + PCI_ACS_CTRL));
    const u16 req = acs_flags & (cap | PCI_ACS_EC);
    const u16 missing = req & ~ctrl;
    if (missing) return fmt::format("ACS capability present but {} not enabled", flag_names(missing));
    return fmt::format("ACS enabled ({})", flag_names(ctrl));
}

} // namespace iommusim::host

// Access Control Services as the kernel sees and programs them (drivers/pci/pci.c): whether a device
// isolates (pci_acs_enabled), whether a whole path to the root does (pci_acs_path_enabled), and the
// enabling done at enumeration (pci_acs_init -> pci_enable_acs -> quirk or pci_std_enable_acs, then
// pci_disable_acs_redir), all as config reads and writes through pci_access.
#pragma once
#include "sim/host/pci_quirks.h"

#include <string>
#include <vector>

namespace iommusim::host {

class pci_acs {
public:
    pci_acs(pci_access& access, pci_quirks& quirks, kernel_log& log, std::vector<std::string> disable_acs_redir);

    // pci_request_acs(): called by an IOMMU driver before enumeration; without it nothing is enabled.
    void request_acs() { m_acs_enable = true; }
    bool acs_requested() const { return m_acs_enable; }

    // pci_acs_init(): cache the capability offset, then pci_enable_acs().
    void init(pci_dev& dev);

    bool flags_enabled(pci_dev& dev, u16 acs_flags);                  // pci_acs_flags_enabled
    bool enabled(pci_dev& dev, u16 acs_flags);                        // pci_acs_enabled
    bool path_enabled(pci_dev& start, const pci_dev* end, u16 acs_flags);  // pci_acs_path_enabled

    // Why pci_acs_enabled(dev, REQ_ACS_FLAGS) says what it says, for group explanations:
    // "no ACS capability and no quirk", "ACS missing RR CR", "Intel PCH quirk (pci_quirk_intel_pch_acs)".
    std::string explain(pci_dev& dev, u16 acs_flags);

    static std::string flag_names(u16 flags);  // "SV RR CR UF"

private:
    void enable(pci_dev& dev);             // pci_enable_acs
    void std_enable(pci_dev& dev);         // pci_std_enable_acs
    void disable_acs_redir(pci_dev& dev);  // pci_disable_acs_redir
    bool str_match(const pci_dev& dev, const std::string& spec) const;  // pci_dev_str_match subset

    pci_access& m_access;
    pci_quirks& m_quirks;
    kernel_log& m_log;
    std::vector<std::string> m_disable_acs_redir;
    bool m_acs_enable = false;
};

} // namespace iommusim::host

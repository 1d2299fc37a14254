// The simulated kernel's dmesg: one line per message, worded as Linux words it ("pci 0000:00:1c.0:
// Adding to iommu group 3"), so a report reads like a real boot log. Lines also go to spdlog at debug level.
#pragma once
#include "sim/host/pci_dev.h"

#include <string>
#include <vector>

namespace iommusim::host {

enum class log_level { debug, info, warn, err };

struct log_line {
    log_level level;
    std::string text;  // without trailing newline
};

class kernel_log {
public:
    void info(const std::string& text) { add(log_level::info, text); }
    void warn(const std::string& text) { add(log_level::warn, text); }
    void err(const std::string& text) { add(log_level::err, text); }
    // pci_info()/pci_warn(): prefixed with "pci <name>: ".
    void pci_info(const pci_dev& dev, const std::string& text) { add(log_level::info, prefix(dev) + text); }
    void pci_warn(const pci_dev& dev, const std::string& text) { add(log_level::warn, prefix(dev) + text); }
    void pci_err(const pci_dev& dev, const std::string& text) { add(log_level::err, prefix(dev) + text); }
    void pci_dbg(const pci_dev& dev, const std::string& text) { add(log_level::debug, prefix(dev) + text); }

    const std::vector<log_line>& lines() const { return m_lines; }
    // All lines at or above min, joined with newlines (dmesg).
    std::string text(log_level min = log_level::info) const;
    bool contains(const std::string& needle) const;  // any line containing needle (tests, reports)
    void clear() { m_lines.clear(); }

private:
    static std::string prefix(const pci_dev& dev) { return "pci " + dev.name() + ": "; }
    void add(log_level level, std::string text);

    std::vector<log_line> m_lines;
};

} // namespace iommusim::host

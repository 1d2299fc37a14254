#include "sim/host/kernel_log.h"

#include "sim/core/log.h"

namespace iommusim::host {

void kernel_log::add(log_level level, std::string text) {
    iommusim::log().debug("[kernel] {}", text);
    m_lines.push_back({level, std::move(text)});
}

std::string kernel_log::text(log_level min) const {
    std::string out;
    for (const auto& l : m_lines) {
        if (l.level < min) continue;
        out += l.text;
        out += '\n';
    }
    return out;
}

bool kernel_log::contains(const std::string& needle) const {
    for (const auto& l : m_lines)
        if (l.text.find(needle) != std::string::npos) return true;
    return false;
}

} // namespace iommusim::host

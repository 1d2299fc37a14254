#include "models/iommu/common/pure/xlate.h"

#include <cstdio>

namespace iommusim::iommu {

const char* to_string(fault_kind k) {
    switch (k) {
    case fault_kind::none: return "none";
    case fault_kind::not_present: return "not_present";
    case fault_kind::permission: return "permission";
    case fault_kind::invalid_entry: return "invalid_entry";
    case fault_kind::reserved_bit: return "reserved_bit";
    case fault_kind::out_of_window: return "out_of_window";
    case fault_kind::address_size: return "address_size";
    case fault_kind::walk_memory_error: return "walk_memory_error";
    case fault_kind::config_error: return "config_error";
    case fault_kind::blocked: return "blocked";
    }
    return "?";
}

std::string xlate_result::describe() const {
    char buf[160];
    if (m_ok)
        std::snprintf(buf, sizeof buf, "ok 0x%llx page_shift %u perms 0x%x", (unsigned long long)m_translation.address,
                      m_translation.page_shift, unsigned(m_translation.perms));
    else
        std::snprintf(buf, sizeof buf, "fault %s reason 0x%x level %u addr 0x%llx entry 0x%llx",
                      to_string(m_fault.kind), unsigned(m_fault.reason), m_fault.level,
                      (unsigned long long)m_fault.address, (unsigned long long)m_fault.entry_address);
    return buf;
}

} // namespace iommusim::iommu

// What a scenario sees of the machine's IOMMU, whichever it is: the kernel's fault handling when a unit's
// own interrupt arrives (VT-d: dmar_fault reading the fault recording registers; AMD-Vi: the event log
// thread, amd_iommu_int_thread), the records the driver read, the units' statistics (what performance
// counters or a debugger would show), and the driver's skip-an-invalidation fault injection.
#pragma once
#include "models/intc/msi_controller.h"
#include "sim/core/types.h"

#include <map>
#include <string>
#include <vector>

namespace iommusim::host {
class kernel;
}
namespace iommusim::platforms {
class platform;
}

namespace iommusim::scenario {

// One fault record as the kernel read it.
struct fault_seen {
    unsigned iommu = 0;    // the unit, in firmware (DMAR / IVRS) order
    u16 sid = 0;           // requester (source / device) ID
    u32 code = 0;          // VT-d fault reason, AMD-Vi event code
    std::string name;      // its name: "read_not_allowed", "IO_PAGE_FAULT"
    u64 address = 0;       // page of the faulting address
    bool write = false;
    std::string detail;    // what else the record says (AMD-Vi: domain, flags)
};

class iommu_monitor {
public:
    iommu_monitor(host::kernel& k, platforms::platform& p) : m_kernel(k), m_platform(p) {}

    // A unit's own interrupt (VT-d fault event, AMD-Vi event log interrupt), not a device's.
    bool is_unit_interrupt(const intc::msi_record& r) const;
    // The driver's handler runs if a unit interrupted; every record the driver has read since the last
    // call is appended to out.
    void collect(bool unit_interrupt, std::vector<fault_seen>& out);
    // Unit statistics by name ("iotlb.hits", "translated", ...); empty when there is no such unit.
    std::map<std::string, u64> stats(unsigned iommu) const;
    // The driver skips its next n IOTLB invalidations; false when the machine's driver cannot.
    bool inject_skip_invalidations(unsigned n);
    static std::string describe(const fault_seen& f);

private:
    host::kernel& m_kernel;
    platforms::platform& m_platform;
    std::vector<size_t> m_seen; // per unit: records already collected
};

} // namespace iommusim::scenario

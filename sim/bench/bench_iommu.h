// The IOMMU under the IOTLB window bench, programmed the way a driver would through its registers and
// in-memory tables, whichever IOMMU the platform has: one translation context for the requester, 4 KiB,
// 2 MiB and 1 GiB leaves, a global invalidation, and the counters the bench reports.
//   * VT-d: root and context tables, 4-level second-level tables, RTADDR + GCMD.SRTP + GCMD.TE, global
//     context-cache and IOTLB invalidation by register (as Linux's __iommu_flush_context / _iotlb).
//   * AMD-Vi: a device table with the requester's DTE (V, TV, Mode 4, IR/IW), 4-level v1 tables with
//     NextLevel-0 large leaves, a command buffer, IommuEn, and INVALIDATE_IOMMU_ALL + COMPLETION_WAIT.
#pragma once
#include "sim/core/types.h"

#include <functional>
#include <memory>

namespace iommusim::memory {
class system_memory;
}
namespace iommusim::host {
class pci_host_ops;
}
namespace iommusim::platforms {
class platform;
}

namespace iommusim::bench {

struct bench_iommu_info {
    unsigned iotlb_entries = 0, iotlb_large_entries = 0, walk_slots = 0;
};

class bench_iommu {
public:
    // What the programming needs: memory for tables (a page each), the register path.
    struct access {
        memory::system_memory* mem = nullptr;
        host::pci_host_ops* ops = nullptr;
        std::function<u64()> alloc_page;  // a zeroed 4 KiB page of table memory
    };

    virtual ~bench_iommu() = default;
    // Set up translation for requester `rid` (throws std::runtime_error if the unit does not enable).
    virtual void program(u16 rid) = 0;
    // iova -> pa as a read/write leaf at `leaf` (1: 4 KiB, 2: 2 MiB, 3: 1 GiB).
    virtual void map(u64 iova, u64 pa, unsigned leaf) = 0;
    virtual void invalidate_all() = 0;
    virtual u64 iotlb_hits() const = 0;
    virtual u64 page_walks() const = 0;
    virtual bench_iommu_info info() const = 0;
    virtual const char* name() const = 0; // "VT-d", "AMD-Vi"

    // The platform's unit for the requester on root complex `root`: VT-d (per segment) or AMD-Vi (the
    // unit that serves that root bus); nullptr when the platform has none.
    static std::unique_ptr<bench_iommu> for_platform(platforms::platform& p, size_t root, access a);
};

} // namespace iommusim::bench

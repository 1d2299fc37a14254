// Scenario steps that act on the running machine rather than on the group partition: IOMMU domains
// (attach, map, unmap through the simulated kernel's host IOMMU API), memory, a DMA engine's transfers
// and interrupts, fault injection into the IOMMU driver, and expectations on what the hardware recorded
// (fault records, statistics, where a request went in the fabric). Parsed and validated here (pure); the
// runner's machine session executes them.
//
//   { "op": "attach", "device": "0000:01:00.0", "domain": "d1" }        the device's whole group
//   { "op": "map", "domain": "d1", "iova": "0x100000", "phys": "0x40000000", "size": "2M", "prot": "rw" }
//   { "op": "dma", "device": "0000:01:00.0", "direction": "read", "address": "0x100000", "size": 64,
//     "expect": "ok" }
//   { "op": "expect_fault", "device": "0000:01:00.0", "reason": "0x6", "address": "0x100000", "write": false }
#pragma once
#include "sim/core/bdf.h"
#include "sim/core/types.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace iommusim::platforms {
class json_fields;
}

namespace iommusim::scenario {

enum class machine_op {
    attach,          // allocate `domain` (unmanaged) if new, attach `device`'s group to it
    detach,          // detach `device`'s group from its domain (back to the default domain)
    map,             // map [iova, iova + size) to phys with `prot` in `domain`; expect_errno
    unmap,           // unmap [iova, iova + size) in `domain`; expect_unmapped
    write_memory,    // the CPU fills [address, address + size) of system memory with `pattern`
    expect_memory,   // system memory at [address, address + size) holds `pattern`; with "target", a
                     // function's BAR as the CPU reads it (MMIO)
    dma,             // the DMA engine `device` reads ("read": memory -> device) or writes ("write":
                     // device -> memory, `pattern`) [address, address + size); `expect` ok | error
    msi,             // the DMA engine `device` raises MSI `vector` (as set up by the kernel), or writes
                     // a forged message (`msi_address`, `msi_data`); `expect` delivered | blocked
    inject,          // fault injection into the IOMMU driver: `fault` skip_iotlb_invalidation, `count`
    expect_fault,    // the IOMMU driver's fault handler read a record matching the given fields
    expect_no_fault, // no fault records since the last fault expectation
    expect_route,    // the last DMA of `device` went to `route`: root_complex | peer | blocked
    expect_stat,     // the IOMMU statistic `stat` lies in [min, max]
    print_faults,    // log the fault records and the kernel's DMAR messages
    print_stats,     // log the IOMMU's statistics
};
const char* to_string(machine_op op);
// The op names this module parses ("attach", "map", ...), for the loader's list of known ops.
const std::vector<std::string>& machine_op_names();

// IOMMU_READ / IOMMU_WRITE (include/linux/iommu.h), as "r", "w" or "rw" in a scenario.
constexpr unsigned prot_read = 1u << 0, prot_write = 1u << 1;

struct machine_step {
    machine_op op = machine_op::print_stats;
    std::optional<bdf> device;
    std::string domain;
    u64 iova = 0, phys = 0, size = 0, address = 0;
    unsigned prot = prot_read | prot_write;
    bool write = false;                  // dma direction (device -> memory) / fault record's access
    std::optional<bool> fault_write;     // expect_fault: the record's access type
    u32 pattern = 0;                     // 32-bit repeated little-endian pattern
    std::string expect;                  // dma: ok | error; msi: delivered | blocked
    std::optional<int> expect_errno;     // map: 0 or a positive errno (e.g. 17 EEXIST, 22 EINVAL)
    std::optional<u64> expect_unmapped;  // unmap: bytes the kernel reports unmapped
    std::optional<unsigned> vector;      // msi: the device's vector
    std::optional<u64> msi_address;      // msi: forged message address
    std::optional<u32> msi_data;         // msi: forged message data
    std::string fault;                   // inject: what to inject
    unsigned count = 1;                  // inject: how many times
    std::optional<u32> reason;           // expect_fault: VT-d fault reason / AMD-Vi event code, by number
    std::string reason_name;             // expect_fault: by name ("read_not_allowed", "IO_PAGE_FAULT")
    std::optional<u64> fault_address;    // expect_fault: page address (FI)
    std::string route;                   // expect_route
    std::string stat;                    // expect_stat: "iotlb.hits", "context_cache.misses", ...
    std::optional<u64> min, max;         // expect_stat bounds
    unsigned iommu = 0;                  // which IOMMU unit (DRHD index) a fault/stat step looks at
    // dma, expect_memory: "target" {"device", "bar", "offset"} instead of "address": an address inside
    // a function's BAR as firmware assigned it (peer-to-peer).
    std::optional<bdf> target_device;
    unsigned target_bar = 0;
    u64 target_offset = 0;
};

// Parses a step whose "op" is one of machine_op_names(); throws input_error with the JSON pointer.
machine_step parse_machine_step(const platforms::json_fields& in, const nlohmann::json& j, const std::string& ptr,
                                const std::string& op);

} // namespace iommusim::scenario

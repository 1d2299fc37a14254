// Scenario steps that drive the VFIO core (sim/vfio) on the booted machine as a user process would:
// driver binding through sysfs, /dev/vfio containers and groups under names the scenario chooses, the
// type1 ioctls with the errno each is expected to return (default: success), the process's memory that
// MAP_DMA pins, dirty tracking, and a vendor driver pinning through vfio_pin_pages. Parsed and validated
// here (pure); the machine session executes them (vfio_session).
//
//   { "op": "bind", "device": "0000:01:00.0", "driver": "vfio-pci" }
//   { "op": "vfio_open_container", "container": "c" }
//   { "op": "vfio_open_group", "group": "g", "device": "0000:01:00.0" }      the device's IOMMU group
//   { "op": "vfio_group_status", "group": "g", "viable": true, "container_set": false }
//   { "op": "vfio_set_container", "group": "g", "container": "c" }
//   { "op": "vfio_set_iommu", "container": "c", "type": "type1v2" }
//   { "op": "process_alloc", "buffer": "buf", "size": "2M" }
//   { "op": "vfio_map_dma", "container": "c", "buffer": "buf", "iova": "0x100000", "size": "2M", "prot": "rw" }
//   { "op": "vfio_get_device_fd", "group": "g", "device": "0000:01:00.0" }
//   { "op": "expect_process_memory", "buffer": "buf", "offset": 0, "size": 64, "pattern": "0xa5a5a5a5" }
//   { "op": "eventfd", "eventfd": "e0" }                                        eventfd(2) of the process
//   { "op": "vfio_set_irqs", "device": "0000:01:00.0", "index": "msix", "action": "trigger",
//     "data": "eventfd", "start": 0, "eventfds": ["e0", -1] }                   count = number of entries
//   { "op": "vfio_region_write", "device": "0000:01:00.0", "region": "config", "offset": 4, "width": 2,
//     "value": "0x0406" }                                                      pwrite on the device fd
//   { "op": "device_interrupt", "device": "0000:01:00.0", "irq": "msix", "vector": 0 }  the device signals
//   { "op": "expect_eventfd", "eventfd": "e0", "count": 1 }                     read(2): count since last read
// POWER (sPAPR TCE backend; spapr_step.cpp parses these):
//   { "op": "vfio_set_iommu", "container": "c", "type": "spapr_v2" }          spapr (v1) | spapr_v2
//   { "op": "vfio_spapr_get_info", "container": "c", "dma32_window_size": "2G", "max_dynamic_windows": 2 }
//   { "op": "vfio_spapr_enable", "container": "c" }                             and vfio_spapr_disable
//   { "op": "vfio_spapr_register_memory", "container": "c", "buffer": "buf" }   and _unregister_memory
//   { "op": "vfio_spapr_tce_create", "container": "c", "page_shift": 16, "window_size": "1G", "levels": 2,
//     "expect_start": "0x800000000000000" }
//   { "op": "vfio_spapr_tce_remove", "container": "c", "start": "0x800000000000000" }
//   { "op": "vfio_eeh_pe_op", "container": "c", "eeh_op": "get_state", "expect_state": "normal" }
// A pseries guest on this host (QEMU's sPAPR machine over VFIO and KVM, sim/vmm), whose RAM is a process
// buffer at guest physical 0:
//   { "op": "guest_create", "buffer": "ram", "phbs": [{"index": 0, "devices": ["0000:01:00.0"]}] }
//   { "op": "guest_hcall", "hcall": "H_PUT_TCE", "liobn": "0x80000000", "ioba": "0x1000", "tce": "0x20003" }
//   { "op": "guest_rtas", "call": "ibm,create-pe-dma-window", "phb": 0, "page_shift": 16, "window_shift": 30,
//     "expect_bus_offset": "0x800000000000000" }                               expect_status: success | ...
#pragma once
#include "sim/core/bdf.h"
#include "sim/core/types.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace iommusim::platforms {
class json_fields;
}

namespace iommusim::scenario {

enum class vfio_op {
    bind,                  // sysfs driver_override + bind of `device` to `driver` ("vfio-pci", "none", a host driver)
    process_alloc,         // an anonymous mapping of `size` bytes in the process, named `buffer`
    write_process_memory,  // the process writes `pattern` to [offset, offset + size) of `buffer`
    expect_process_memory, // the process reads `pattern` there
    open_container,        // open("/dev/vfio/vfio") as `container`
    open_group,            // open("/dev/vfio/<group of device>") as `group`
    close,                 // close(2) of the fd named `container` or `group`, or of `device`'s device fd
    group_status,          // GROUP_GET_STATUS: `viable`, `container_set`
    set_container,         // GROUP_SET_CONTAINER
    unset_container,       // GROUP_UNSET_CONTAINER
    set_iommu,             // SET_IOMMU `type` type1 | type1v2
    map_dma,               // MAP_DMA of `buffer` + `offset` at `iova`, `size`, `prot`
    unmap_dma,             // UNMAP_DMA [iova, iova + size); `expect_unmapped`; `dirty_bitmap`: with GET_DIRTY_BITMAP
    get_device_fd,         // GROUP_GET_DEVICE_FD of `device`
    dirty_pages,           // DIRTY_PAGES `action` start | stop
    dirty_bitmap,          // DIRTY_PAGES GET_BITMAP of [iova, iova + size): `expect_dirty`
    pin_pages,             // the device's vendor driver: vfio_pin_pages(iova, npage, prot)
    unpin_pages,           // vfio_unpin_pages(iova, npage)
    eventfd,               // eventfd(2) named `eventfd`, non-blocking, counter 0
    expect_eventfd,        // read(2) of `eventfd`: the counter must be `count` (0: nothing signalled)
    set_irqs,              // VFIO_DEVICE_SET_IRQS on `device`'s fd: index, action, data, start, count, payload
    irq_info,              // VFIO_DEVICE_GET_IRQ_INFO of `index`: `expect_count`, `expect_flags`
    region_read,           // pread of `width` bytes at `offset` of `region`: `expect_value` (under `mask`)
    region_write,          // pwrite of `value` (`width` bytes) at `offset` of `region`
    device_interrupt,      // the device's hardware raises `irq` (msi / msix `vector`, intx_assert, intx_deassert)
    spapr_get_info,        // VFIO_IOMMU_SPAPR_TCE_GET_INFO: the 32-bit window, DDW facts (each checked if given)
    spapr_enable,          // VFIO_IOMMU_ENABLE (v1 charges the 32-bit window to locked_vm)
    spapr_disable,         // VFIO_IOMMU_DISABLE
    spapr_register,        // VFIO_IOMMU_SPAPR_REGISTER_MEMORY of `buffer` [offset, offset + size)
    spapr_unregister,      // VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY of the same
    spapr_create,          // VFIO_IOMMU_SPAPR_TCE_CREATE: `page_shift`, `size` (window), `levels`; expect_value = start
    spapr_remove,          // VFIO_IOMMU_SPAPR_TCE_REMOVE of the window at `iova`
    eeh_pe_op,             // VFIO_EEH_PE_OP `action`; get_state compares expect_value (EEH_PE_STATE_*)
    guest_create,          // a pseries guest with RAM `buffer` and guest PHBs passing devices' groups through
    guest_hcall,           // the guest's TCE hypercall (guest.call), its return compared with guest.expect_ret
    guest_rtas,            // the guest's DDW RTAS call, its status and outputs compared
};
const char* to_string(vfio_op op);
const std::vector<std::string>& vfio_op_names();

struct vfio_step {
    vfio_op op = vfio_op::open_container;
    std::optional<bdf> device;
    std::string driver, container, group, buffer;
    std::string type;                     // set_iommu: type1 | type1v2
    std::string action;                   // dirty_pages: start | stop
    u64 iova = 0, size = 0, offset = 0;
    unsigned prot = 3;                    // bit 0 read, bit 1 write
    bool huge = false;                    // process_alloc: a THP-like mapping
    u32 pattern = 0;
    int npage = 1;
    int expect_errno = 0;                 // 0: success; else the positive errno the call must fail with
    std::optional<bool> viable, container_set;
    std::optional<u64> expect_unmapped;
    bool get_dirty_bitmap = false;        // unmap_dma: VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP
    // dirty_bitmap / unmap_dma with a bitmap: the dirty pages must be exactly these [iova, iova + size)
    // ranges (page granular); empty: none dirty.
    std::optional<std::vector<std::pair<u64, u64>>> expect_dirty;

    // Interrupts and regions of a device fd (the fd GROUP_GET_DEVICE_FD returned for `device`).
    std::string eventfd;                  // eventfd / expect_eventfd
    u64 expect_count = 0;                 // expect_eventfd
    unsigned irq_index = 0;               // VFIO_PCI_*_IRQ_INDEX
    u32 irq_flags = 0;                    // set_irqs: VFIO_IRQ_SET_DATA_* | VFIO_IRQ_SET_ACTION_*
    u32 start = 0, count = 0;
    struct fd_ref {
        std::string name;                 // an eventfd step's name, or empty: `raw` is the number passed
        int raw = -1;
    };
    std::vector<fd_ref> eventfds;         // set_irqs DATA_EVENTFD payload
    std::vector<u8> bools;                // set_irqs DATA_BOOL payload
    std::optional<u32> argsz;             // set_irqs: argsz other than the payload's size
    std::optional<u32> expect_flags;      // irq_info
    unsigned region = 0;                  // VFIO_PCI_*_REGION_INDEX
    unsigned width = 4;                   // region_read / region_write: 1, 2, 4 or 8 bytes
    u64 value = 0, mask = ~u64(0);
    std::optional<u64> expect_value;
    std::string irq;                      // device_interrupt: msi | msix | intx_assert | intx_deassert
    unsigned vector = 0;
    bool expect_sent = true;              // device_interrupt "expect": "sent" | "failed"

    // sPAPR: TCE_CREATE's geometry, GET_INFO's expectations, EEH error injection.
    unsigned page_shift = 12, levels = 1;
    std::optional<u64> expect_window_start, expect_window_size, expect_pgsizes;
    std::optional<u32> expect_max_windows, expect_levels;
    int err_type = 0, err_func = 0;       // eeh_pe_op inject_err: EEH_ERR_TYPE_*, EEH_ERR_FUNC_*; addr value, mask

    // The guest's calls.
    struct guest_args {
        std::string call;                 // H_PUT_TCE | H_PUT_TCE_INDIRECT | H_STUFF_TCE | H_GET_TCE |
                                          // ibm,query-pe-dma-window | ibm,create-pe-dma-window |
                                          // ibm,remove-pe-dma-window | ibm,reset-pe-dma-window
        u64 liobn = 0, ioba = 0, tce = 0, npages = 1, tce_list = 0;
        std::vector<u64> tces;            // H_PUT_TCE_INDIRECT: written to guest RAM at tce_list first
        unsigned phb = 0, window_shift = 0;
        long expect_ret = 0;              // H_SUCCESS / RTAS_OUT_SUCCESS unless said
        std::optional<u64> expect_tce, expect_liobn, expect_bus_offset;
        std::optional<u32> expect_windows_available;
        std::vector<std::pair<unsigned, std::vector<bdf>>> phbs; // guest_create: guest PHB index, devices
    } guest;
};

// The sPAPR and guest steps' fields, called by parse_vfio_step.
void parse_spapr_step(const platforms::json_fields& in, const nlohmann::json& j, const std::string& ptr, vfio_step& s);
void parse_guest_step(const platforms::json_fields& in, const nlohmann::json& j, const std::string& ptr, vfio_step& s);

// Parses a step whose "op" is one of vfio_op_names(); throws input_error with the JSON pointer.
vfio_step parse_vfio_step(const platforms::json_fields& in, const nlohmann::json& j, const std::string& ptr,
                          const std::string& op);

// Options of the process and of the vfio modules a scenario runs VFIO steps with: the scenario's
// "process" object (memlock, cap_ipc_lock) and the host option allow_unsafe_interrupts.
struct vfio_process_options {
    u64 memlock = 8 << 20;                // RLIMIT_MEMLOCK in bytes (~0: unlimited)
    bool cap_ipc_lock = false;
    bool allow_unsafe_interrupts = false; // vfio_iommu_type1.allow_unsafe_interrupts
    bool nointxmask = false;              // vfio_pci.nointxmask (the process object's "nointxmask")
};
void parse_process_options(const platforms::json_fields& in, const nlohmann::json& j, const std::string& ptr,
                           vfio_process_options& out);

} // namespace iommusim::scenario

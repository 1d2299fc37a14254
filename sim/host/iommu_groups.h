// IOMMU groups for PCI devices as Linux forms them: __iommu_probe_device -> pci_device_group()
// (drivers/iommu/iommu.c) -> iommu_group_add_device, ids from an IDA (lowest free). Each group keeps
// a human explanation of why its members are together.
#pragma once
#include "sim/host/ida.h"
#include "sim/host/pci_acs.h"

#include <bitset>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace iommusim::host {

// POWER: the Partitionable Endpoint behind a group as its iommu_table_group describes it (tce32_start,
// tce32_size, pgsizes, max_dynamic_windows_supported): what a management tool must know before it lets a
// process use the group (sPAPR v1 charges the whole 32-bit window to locked_vm at ENABLE).
struct pe_dma_info {
    u64 tce32_start = 0, tce32_size = 0;
    unsigned page_shift = 12;
    u64 pgsizes = 0;
    u32 max_dynamic_windows = 0;
    // powernv (IODA2 PEs with ownership ops): Linux 6.1 refuses sPAPR v1 for the PE, and v2 charges instead
    // the TCE table of each window it creates, first the default one (tce_iommu_create_default_window:
    // 4 KiB TCEs over tce32_size, one level; pnv_pci_ioda2_get_table_size, with the userspace copy).
    bool v2_only = false;
    u64 v2_default_window_locked_bytes = 0;
};

struct iommu_group {
    int id = no_group;
    std::optional<pe_dma_info> pe;   // POWER only
    std::vector<pci_dev*> devices;   // in the order they were added
    std::vector<std::string> reasons;  // one line per member: why it is here

    std::string explanation() const;  // the reasons joined with "; "
};

class iommu_groups {
public:
    iommu_groups(pci_acs& acs, kernel_log& log) : m_acs(acs), m_log(log) {}

    // __iommu_probe_device for a PCI device: find or allocate its group and add it.
    iommu_group& probe_device(pci_dev& dev);
    // For platforms whose groups come from firmware's partitioning (sPAPR: iommu_register_group per PE,
    // iommu_add_device for its devices): a new group, and a device added to a given group.
    iommu_group& alloc_group() { return *alloc(); }
    void add_device(iommu_group& g, pci_dev& dev, std::string why);

    // Groups in allocation order (at boot that is id order).
    const std::deque<iommu_group>& groups() const { return m_groups; }
    const iommu_group* find(int id) const;

private:
    using devfn_set = std::bitset<MAX_NR_DEVFNS>;

    iommu_group* group_of(const pci_dev& dev) const { return dev.group == no_group ? nullptr : m_by_id[unsigned(dev.group)]; }
    iommu_group* device_group(pci_dev& dev, std::string& why);  // pci_device_group
    iommu_group* get_pci_alias_group(pci_dev& pdev, devfn_set& devfns, std::string& why);
    iommu_group* get_pci_function_alias_group(pci_dev& pdev, devfn_set& devfns, std::string& why);
    iommu_group* alloc();  // iommu_group_alloc
    std::string new_group_reason(pci_dev& dev, pci_dev& top);
    std::string path_failure(pci_dev& bridge);

    pci_acs& m_acs;
    kernel_log& m_log;
    ida m_ida;
    std::deque<iommu_group> m_groups;
    std::vector<iommu_group*> m_by_id;
};

} // namespace iommusim::host

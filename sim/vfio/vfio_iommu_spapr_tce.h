// The sPAPR TCE IOMMU backend of a container (drivers/vfio/vfio_iommu_spapr_tce.c and vfio_spapr_eeh.c,
// Linux 6.1): POWER's Partitionable Endpoints with DMA windows backed by TCE tables, as the host IOMMU API
// offers them (host::iommu_table_group). v1 adopts the platform's tables and charges the whole 32-bit
// window to locked_vm at ENABLE; v2 creates and removes windows (TCE_CREATE / TCE_REMOVE, the default one
// deferred until first needed) and maps only memory the process preregistered (REGISTER_MEMORY).
// MAP_DMA / UNMAP_DMA are TCE exchanges with the kernel's checks; VFIO_EEH_PE_OP reaches each group's PE.
//
//   vfio_iommu_spapr_tce b(host, mm, prereg, /*v2=*/true);
//   b.attach_group(7);
//   b.ioctl(VFIO_IOMMU_SPAPR_REGISTER_MEMORY, (unsigned long)&reg);   // 0 or -errno
#pragma once
#include "sim/host/iommu/iommu_table_group.h"
#include "sim/vfio/mm_iommu_regions.h"
#include "sim/vfio/vfio_host.h"
#include "sim/vfio/vfio_iommu_driver.h"

#include <array>
#include <map>
#include <memory>
#include <vector>

namespace iommusim::vfio {

class vfio_iommu_spapr_tce : public vfio_iommu_driver {
public:
    vfio_iommu_spapr_tce(vfio_host& host, vfio_mm& mm, mm_iommu_regions& prereg, bool v2);
    // tce_iommu_release: groups detached, windows cleared and freed, registrations dropped, disabled.
    ~vfio_iommu_spapr_tce() override;
    vfio_iommu_spapr_tce(const vfio_iommu_spapr_tce&) = delete;
    vfio_iommu_spapr_tce& operator=(const vfio_iommu_spapr_tce&) = delete;

    // tce_iommu_ioctl(NULL, VFIO_CHECK_EXTENSION): SPAPR_TCE and SPAPR_TCE_v2 1, EEH as eeh_enabled().
    static int static_check_extension(const vfio_host& host, unsigned long ext);
    int check_extension(unsigned long ext) const override { return static_check_extension(m_host, ext); }
    // tce_iommu_attach_group / tce_iommu_detach_group (emulated groups do not exist on this backend).
    int attach_group(int group, bool emulated = false) override;
    void detach_group(int group) override;
    // GET_INFO, MAP_DMA, UNMAP_DMA, ENABLE, DISABLE (v1), REGISTER/UNREGISTER_MEMORY, TCE_CREATE,
    // TCE_REMOVE (v2), EEH_PE_OP; -ENOTTY otherwise (the v1-only and v2-only ones included).
    long ioctl(unsigned long request, unsigned long arg) override;

    // Observation for tests, scenario steps and reports.
    bool v2() const { return m_v2; }
    bool enabled() const { return m_enabled; }
    bool default_window_pending() const { return m_def_window_pending; }
    u64 locked_pages() const { return m_locked_pages; }
    const std::array<std::shared_ptr<host::iommu_table>, host::IOMMU_TABLE_GROUP_MAX_TABLES>& tables() const {
        return m_tables;
    }
    const std::vector<int>& groups() const { return m_groups; }

private:
    host::iommu_table_group* first_group() const;
    long get_info(unsigned long arg);
    long map_dma(unsigned long arg);
    long unmap_dma(unsigned long arg);
    long enable();
    void disable();
    long register_memory(unsigned long arg);
    long unregister_memory(unsigned long arg);
    long tce_create(unsigned long arg);
    long tce_remove(unsigned long arg);
    long eeh_pe_op(unsigned long arg);

    int find_table(u64 ioba) const;
    long create_default_window();
    long create_window(unsigned page_shift, u64 window_size, unsigned levels, u64& start_addr);
    long remove_window(u64 start_addr);
    void free_table(const std::shared_ptr<host::iommu_table>& tbl);
    long build(host::iommu_table& tbl, u64 entry, u64 ua, u64 pages, host::dma_direction dir);
    long build_v2(host::iommu_table& tbl, u64 entry, u64 ua, u64 pages, host::dma_direction dir);
    void clear(host::iommu_table& tbl, u64 entry, u64 pages);
    void unuse_page(host::iommu_table& tbl, u64 entry);     // v1: the pin taken for an entry
    void unuse_page_v2(host::iommu_table& tbl, u64 entry);  // v2: the region's mapping count

    vfio_host& m_host;
    vfio_mm& m_mm;
    mm_iommu_regions& m_prereg;
    bool m_v2;
    bool m_enabled = false;
    bool m_def_window_pending = false;
    u64 m_locked_pages = 0;                   // v1: the window charged at ENABLE
    std::vector<int> m_groups;                // group_list, attach order
    std::array<std::shared_ptr<host::iommu_table>, host::IOMMU_TABLE_GROUP_MAX_TABLES> m_tables;
    std::vector<host::mm_iommu::region*> m_prereg_list; // regions this container registered
    // v1: the pages pinned for each entry (tce_iommu_use_page), by table and index, to unpin on clear.
    std::map<std::pair<const host::iommu_table*, u64>, pin_run> m_v1_pins;
};

} // namespace iommusim::vfio

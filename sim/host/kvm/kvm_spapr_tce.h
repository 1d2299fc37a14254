// KVM's in-kernel sPAPR TCE tables and the TCE hypercalls of a pseries guest (arch/powerpc/kvm/
// book3s_64_vio.c, v6.1), on a POWER host whose PHB a VFIO group was handed to.
//
// The guest's view: a TCE table per LIOBN (Logical I/O Bus Number) covering one DMA window, which it
// fills with H_PUT_TCE / H_PUT_TCE_INDIRECT / H_STUFF_TCE and reads with H_GET_TCE; TCE addresses are
// guest physical. The host's view: each guest table may be linked to hardware tables of VFIO groups
// (KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE); every guest entry is then mirrored into them, the guest page's
// userspace address translated to a host physical one through the memory the VMM preregistered
// (VFIO_IOMMU_SPAPR_REGISTER_MEMORY, mm_iommu). What KVM cannot complete in the kernel returns H_TOO_HARD:
// the VMM's user space (QEMU) then handles the call; scenarios see that code, as the VMM would.
//
//   kvm_spapr_tce kvm(mm, &prereg);
//   kvm.set_user_memory_region(0, 0, 1 << 30, guest_ram_ua);   // gpa 0 -> ua
//   int t = kvm.create_spapr_tce({.liobn = 0x80000000, .page_shift = 16, .offset = 0, .size = 16384});
//   kvm.attach_iommu_group(t, table_group);
//   long rc = kvm.h_put_tce(0x80000000, 0x10000, gpa | tce::TCE_PCI_READ | tce::TCE_PCI_WRITE);
#pragma once
#include "sim/host/iommu/iommu_table_group.h"
#include "models/iommu/tce/tce_defs.h"
#include "sim/host/process/mm_iommu.h"

#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

namespace iommusim::host {

class process_mm;

// struct kvm_create_spapr_tce_64 (uapi/linux/kvm.h): offset and size in IOMMU pages.
struct kvm_create_spapr_tce_64 {
    u64 liobn = 0;
    u32 page_shift = 12;
    u32 flags = 0;
    u64 offset = 0;
    u64 size = 0;
};

class kvm_spapr_tce {
public:
    // mm: the VMM process (locked_vm for the guest-visible tables, guest RAM reads for the indirect list);
    // prereg: its preregistered memory (nullptr: none, every mirrored mapping is H_TOO_HARD).
    kvm_spapr_tce(process_mm& mm, mm_iommu* prereg);
    ~kvm_spapr_tce();
    kvm_spapr_tce(const kvm_spapr_tce&) = delete;
    kvm_spapr_tce& operator=(const kvm_spapr_tce&) = delete;

    void set_mm_iommu(mm_iommu* prereg) { m_prereg = prereg; }

    // KVM_SET_USER_MEMORY_REGION (a memslot): guest physical [gpa, gpa + size) is the VMM's [ua, ua + size).
    // size 0 deletes the slot. 0, -EINVAL (unaligned, wrapping), -EEXIST (overlapping another slot).
    int set_user_memory_region(unsigned slot, u64 gpa, u64 size, u64 ua);

    // KVM_CREATE_SPAPR_TCE_64 (kvm_vm_ioctl_create_spapr_tce): a table id (the fd) or -EINVAL (size 0, page
    // shift outside 12..34, offset + size overflowing), -ENOMEM (the guest-visible table's pages charged to
    // locked_vm over RLIMIT_MEMLOCK), -EBUSY (LIOBN in use).
    int create_spapr_tce(const kvm_create_spapr_tce_64& args);
    // Closing the table fd (kvm_spapr_tce_release): links dropped, locked_vm uncharged. -EBADF if unknown.
    int release_spapr_tce(int table);

    // KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE (kvm_spapr_tce_attach_iommu_group): link the group's hardware table
    // whose page size is at most the guest table's, at the same bus offset, at least as large. 0, -EBADF
    // (no such table), -EINVAL (no compatible hardware table). Linking the same table again takes a
    // reference.
    int attach_iommu_group(int table, iommu_table_group& group);
    // KVM_DEV_VFIO_GROUP_DEL / the group leaving (kvm_spapr_tce_release_iommu_group): drop this group's
    // tables from every guest table.
    void release_iommu_group(iommu_table_group& group);

    // The hypercalls (kvmppc_h_*): H_SUCCESS, H_PARAMETER, H_TOO_HARD (tce_defs.h's PAPR codes; H_TOO_HARD
    // is KVM-internal: the VMM's user space completes the call).
    long h_put_tce(u64 liobn, u64 ioba, u64 tce);
    long h_put_tce_indirect(u64 liobn, u64 ioba, u64 tce_list, u64 npages);
    long h_stuff_tce(u64 liobn, u64 ioba, u64 tce_value, u64 npages);
    // H_GET_TCE: the guest-visible entry in `tce` (gpr4).
    long h_get_tce(u64 liobn, u64 ioba, u64& tce);

    // The guest-visible table as the VMM sees it through its mmap of the table fd (kvm_spapr_tce_mmap):
    // QEMU's user-space hypercall handlers read and write the same entries KVM does. index counts from
    // the table's offset. Reads of an unknown table or index return 0; writes to them are dropped.
    u64 mmap_get(int table, u64 index) const;
    void mmap_put(int table, u64 index, u64 tce);

    // For tests and reports: the hardware tables linked to a LIOBN.
    std::size_t linked_tables(u64 liobn) const;

private:
    struct linked {
        std::shared_ptr<iommu_table> tbl;
        unsigned refs = 1;  // stit->kref
    };
    struct table {          // struct kvmppc_spapr_tce_table
        u64 liobn = 0;
        unsigned page_shift = 12;
        u64 offset = 0, size = 0;
        std::unordered_map<u64, u64> tces; // guest-visible entries (index - offset), zeros absent
        std::vector<linked> iommu_tables;
    };
    struct memslot {
        u64 size = 0, ua = 0;
    };

    table* find(u64 liobn);
    // kvmppc_tce_pages / kvmppc_stt_pages: pages charged to locked_vm for a table of `size` entries.
    static u64 stt_pages(u64 size);
    long ioba_validate(const table& stt, u64 ioba, u64 npages) const;
    bool tce_to_ua(u64 tce, u64& ua) const;
    long tce_validate(const table& stt, u64 tce);
    void tce_put(table& stt, u64 idx, u64 tce);
    void clear_tce(const table& stt, iommu_table& tbl, u64 entry);
    long iommu_mapped_dec(iommu_table& tbl, u64 entry);
    long iommu_do_unmap(iommu_table& tbl, u64 entry);
    long iommu_unmap(const table& stt, iommu_table& tbl, u64 entry);
    long iommu_do_map(iommu_table& tbl, u64 entry, u64 ua, dma_direction dir);
    long iommu_map(const table& stt, iommu_table& tbl, u64 entry, u64 ua, dma_direction dir);

    process_mm& m_mm;
    mm_iommu* m_prereg;
    std::map<unsigned, std::pair<u64, memslot>> m_slots; // slot -> (gpa, slot)
    std::map<int, table> m_tables;                       // by id (fd)
    int m_next_id = 1;
};

// iommu_tce_direction: a TCE's permission bits as a DMA direction.
dma_direction tce_direction(u64 tce);

using tce::H_PARAMETER;
using tce::H_SUCCESS;
using tce::H_TOO_HARD;
using tce::TCE_PCI_READ;
using tce::TCE_PCI_WRITE;

} // namespace iommusim::host

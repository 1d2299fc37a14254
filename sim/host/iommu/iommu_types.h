// Vocabulary of the generic host IOMMU API, after Linux's include/linux/iommu.h (v6.1): protection
// flags, domain types, capabilities, reserved regions, and the DMA windows a domain's geometry is made
// of. Windows instead of a single aperture so a POWER TCE IOMMU (several windows, created and removed at
// run time, each with its own page sizes) is described as naturally as a page-table IOMMU (one window
// [0, 2^aw)).
#pragma once
#include "sim/core/types.h"

#include <string>
#include <vector>

namespace iommusim::host {

// iommu_map() prot bits, Linux's values.
constexpr int IOMMU_READ = 1 << 0;
constexpr int IOMMU_WRITE = 1 << 1;
constexpr int IOMMU_CACHE = 1 << 2;   // DMA cache coherency (snoop)
constexpr int IOMMU_NOEXEC = 1 << 3;
constexpr int IOMMU_MMIO = 1 << 4;    // e.g. an MSI doorbell
constexpr int IOMMU_PRIV = 1 << 5;

constexpr u64 SZ_4K = 1ull << 12, SZ_64K = 1ull << 16, SZ_2M = 1ull << 21, SZ_16M = 1ull << 24,
              SZ_1G = 1ull << 30;

// IOMMU_DOMAIN_* (v6.1): what a domain does with DMA.
enum class iommu_domain_type {
    blocked,    // all DMA blocked
    identity,   // DMA addresses are system physical addresses (pass-through)
    unmanaged,  // mappings managed by a user of the IOMMU API (VFIO)
    dma,        // mappings managed by the kernel's DMA API (the default domain)
};
const char* domain_type_name(iommu_domain_type t);
// __IOMMU_DOMAIN_PAGING: types whose map/unmap are meaningful.
inline bool domain_type_paging(iommu_domain_type t) {
    return t == iommu_domain_type::unmanaged || t == iommu_domain_type::dma;
}

// enum iommu_cap (v6.1 order and meaning).
enum class iommu_cap {
    cache_coherency,           // IOMMU_CAP_CACHE_COHERENCY: IOMMU_CACHE is supported
    intr_remap,                // IOMMU_CAP_INTR_REMAP: MSIs are isolated by interrupt remapping
    noexec,                    // IOMMU_CAP_NOEXEC: IOMMU_NOEXEC flag
    pre_boot_protection,       // IOMMU_CAP_PRE_BOOT_PROTECTION: firmware says DMA protection was on
    enforce_cache_coherency,   // IOMMU_CAP_ENFORCE_CACHE_COHERENCY (v6.2 name; the op exists in 6.1)
};

// enum iommu_resv_type.
enum class iommu_resv_type {
    direct,            // IOMMU_RESV_DIRECT: must be identity mapped (RMRR)
    direct_relaxable,  // IOMMU_RESV_DIRECT_RELAXABLE: identity mapped, may be dropped for assignment
    reserved,          // IOMMU_RESV_RESERVED: must never be mapped
    msi,               // IOMMU_RESV_MSI: hardware MSI window, translated by IR, not by the page tables
    sw_msi,            // IOMMU_RESV_SW_MSI: software-managed MSI window (ARM)
};
const char* resv_type_name(iommu_resv_type t);

struct iommu_resv_region {
    u64 start = 0;
    u64 length = 0;
    int prot = 0;
    iommu_resv_type type = iommu_resv_type::reserved;

    u64 last() const { return start + length - 1; }
    friend bool operator==(const iommu_resv_region& a, const iommu_resv_region& b) {
        return a.start == b.start && a.length == b.length && a.prot == b.prot && a.type == b.type;
    }
};

// One DMA window of a domain: the bus addresses [start, start + size) that translate. A page-table
// IOMMU has one, [0, 2^aw); a TCE IOMMU has one per table (default 32-bit window, DDW above).
struct dma_window {
    u64 start = 0;
    u64 size = 0;            // bytes; 0 only for a window not yet created
    u64 pgsize_bitmap = 0;   // page sizes the window maps (bit n = 2^n bytes)
    unsigned levels = 0;     // translation levels (radix depth or TCE indirection levels)
    bool table_backed = true;  // translations come from an in-memory table the hardware walks

    u64 last() const { return start + size - 1; }
    bool contains(u64 iova, u64 len) const {
        return size != 0 && len != 0 && iova >= start && iova - start < size && len - 1 <= last() - iova;
    }
};

// What a driver says about one window it could create (TCE DDW): requested page shift and size.
struct window_request {
    unsigned page_shift = 12;
    u64 size = 0;
    unsigned levels = 1;
};

// The MSI message a device is programmed with, as Linux's struct msi_msg.
struct msi_msg {
    u32 address_lo = 0;
    u32 address_hi = 0;
    u32 data = 0;
    u64 address() const { return (u64(address_hi) << 32) | address_lo; }
};

// Where iommu_unmap collects what it unmapped before one iotlb_sync (struct iommu_iotlb_gather).
struct iommu_iotlb_gather {
    u64 start = ~0ull;
    u64 end = 0;               // inclusive, as Linux keeps it
    std::vector<u64> freelist; // page-table pages to free once the IOTLB no longer holds them
    bool empty() const { return start > end; }
    void add_page(u64 iova, u64 size) {
        if (iova < start) start = iova;
        if (iova + size - 1 > end) end = iova + size - 1;
    }
};

} // namespace iommusim::host

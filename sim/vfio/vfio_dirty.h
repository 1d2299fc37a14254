// Dirty page bitmaps of type1's dirty tracking (VFIO_IOMMU_DIRTY_PAGES, drivers/vfio/vfio_iommu_type1.c
// in Linux 6.1): one bit per page of the smallest IOMMU page size, per mapping (struct vfio_dma's
// bitmap), sized by the mapping and allocated only while tracking is on. The user's bitmap is a plain
// array of u64 words; the kernel copies whole words into it (update_user_bitmap), which dirty_bitmap's
// copy_to_user reproduces bit for bit.
#pragma once
#include "sim/core/types.h"

#include <cstddef>
#include <vector>

namespace iommusim::vfio {

// DIRTY_BITMAP_PAGES_MAX (INT_MAX pages per mapping) and DIRTY_BITMAP_SIZE_MAX (its bitmap in bytes,
// rounded to u64 words: 256 MiB).
constexpr u64 dirty_bitmap_pages_max = 0x7fffffff;
constexpr u64 dirty_bitmap_bytes(u64 npages) { return ((npages + 63) / 64) * 8; }  // DIRTY_BITMAP_BYTES
constexpr u64 dirty_bitmap_size_max = dirty_bitmap_bytes(dirty_bitmap_pages_max);

// verify_bitmap_size: npages and the user's bitmap size non-zero, the size at most 256 MiB and large
// enough for npages bits in whole u64 words. 0 or -EINVAL.
int verify_bitmap_size(u64 npages, u64 bitmap_size);

class dirty_bitmap {
public:
    // Allocated (kvzalloc'd, all clear) for npages pages; empty() while tracking is off.
    void alloc(u64 npages) { m_bits = npages; m_words.assign(std::size_t((npages + 63) / 64), 0); }
    void free() { m_bits = 0; m_words.clear(); m_words.shrink_to_fit(); }
    bool empty() const { return m_words.empty() && m_bits == 0; }
    u64 bits() const { return m_bits; }

    void set(u64 first, u64 n);   // bitmap_set
    void clear_all();             // bitmap_clear(0, nbits)
    bool test(u64 bit) const;
    u64 count() const;            // bitmap_weight

    // update_user_bitmap's copy: the bits, shifted to bit_offset in the user's array, written as
    // dirty_bitmap_bytes(bits + bit_offset % 64) bytes starting at word bit_offset / 64. The first
    // word keeps the user's bits below the shift (read, OR, write); the last word's bits beyond the
    // mapping are written as zero, as the kernel's copy of whole words does.
    void copy_to_user(u64* user, u64 bit_offset) const;

private:
    u64 m_bits = 0;
    std::vector<u64> m_words;
};

} // namespace iommusim::vfio

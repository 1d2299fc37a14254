#include "sim/vfio/vfio_dirty.h"

#include <cerrno>

namespace iommusim::vfio {

int verify_bitmap_size(u64 npages, u64 bitmap_size) {
    if (!npages || !bitmap_size || bitmap_size > dirty_bitmap_size_max) return -EINVAL;
    if (bitmap_size < dirty_bitmap_bytes(npages)) return -EINVAL;
    return 0;
}

void dirty_bitmap::set(u64 first, u64 n) {
    for (u64 b = first; b < first + n && b < m_bits;) {
        // Whole words where possible: a 1 TiB mapping reported fully dirty is 4 M words, not 256 M bits.
        if (b % 64 == 0 && first + n - b >= 64 && m_bits - b >= 64) {
            m_words[std::size_t(b / 64)] = ~u64(0);
            b += 64;
            continue;
        }
        m_words[std::size_t(b / 64)] |= u64(1) << (b % 64);
        ++b;
    }
}

void dirty_bitmap::clear_all() {
    for (u64& w : m_words) w = 0;
}

bool dirty_bitmap::test(u64 bit) const {
    return bit < m_bits && (m_words[std::size_t(bit / 64)] >> (bit % 64)) & 1;
}

u64 dirty_bitmap::count() const {
    u64 n = 0;
    for (u64 w : m_words) n += u64(__builtin_popcountll(w));
    return n;
}

void dirty_bitmap::copy_to_user(u64* user, u64 bit_offset) const {
    const u64 shift = bit_offset % 64;
    const std::size_t first = std::size_t(bit_offset / 64);
    const std::size_t nwords = std::size_t(dirty_bitmap_bytes(m_bits + shift) / 8);
    for (std::size_t i = 0; i < nwords; ++i) {
        // Word i of the bitmap shifted left by `shift` (bitmap_shift_left over nbits + shift bits).
        u64 w = i < m_words.size() ? m_words[i] << shift : 0;
        if (shift && i > 0 && i - 1 < m_words.size()) w |= m_words[i - 1] >> (64 - shift);
        // bitmap_or with the leftover word: an OR of the whole word (bitmap_or works on longs), so the
        // user's bits in the first word survive, below the shift and above it.
        if (i == 0 && shift) w |= user[first];
        user[first + i] = w;
    }
}

} // namespace iommusim::vfio

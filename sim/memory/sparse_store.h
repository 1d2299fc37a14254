// The pure storage behind system memory: a byte-addressed space of `size` bytes, allocated in chunks on
// first write. Reads of untouched bytes return zero; a 1 TiB space costs one empty hash map until used.
// Header-only so the unit tests (which link no SystemC) can test it directly.
#pragma once
#include "sim/core/types.h"

#include <cstring>
#include <memory>
#include <stdexcept>
#include <unordered_map>

namespace iommusim::memory {

class sparse_store {
public:
    static constexpr u64 chunk_size = u64(64) << 10; // 64 KiB: 16 chunks per MiB, 16 Mi per TiB

    explicit sparse_store(u64 size) : m_size(size) {
        if (size == 0) throw std::invalid_argument("memory size must not be zero");
    }

    u64 size() const { return m_size; }
    bool in_range(u64 addr, u64 len) const { return addr <= m_size && len <= m_size - addr; }

    // Copy out / in; false (and nothing done) when [addr, addr + len) is not inside the space.
    bool read(u64 addr, unsigned char* data, u64 len) const {
        if (!in_range(addr, len)) return false;
        while (len) {
            const u64 off = addr % chunk_size;
            const u64 n = std::min(len, chunk_size - off);
            if (const unsigned char* c = find(addr)) std::memcpy(data, c + off, n);
            else std::memset(data, 0, n);
            addr += n, data += n, len -= n;
        }
        return true;
    }
    bool write(u64 addr, const unsigned char* data, u64 len) {
        if (!in_range(addr, len)) return false;
        while (len) {
            const u64 off = addr % chunk_size;
            const u64 n = std::min(len, chunk_size - off);
            std::memcpy(touch(addr) + off, data, n);
            addr += n, data += n, len -= n;
        }
        return true;
    }
    // Sets [addr, addr + len) to `byte`. Filling untouched memory with zero allocates nothing.
    bool fill(u64 addr, u8 byte, u64 len) {
        if (!in_range(addr, len)) return false;
        while (len) {
            const u64 off = addr % chunk_size;
            const u64 n = std::min(len, chunk_size - off);
            if (byte != 0 || find(addr)) std::memset(touch(addr) + off, byte, n);
            addr += n, len -= n;
        }
        return true;
    }

    // The chunk holding addr, or nullptr when untouched (or out of range).
    const unsigned char* find(u64 addr) const {
        auto it = m_chunks.find(addr / chunk_size);
        return it == m_chunks.end() ? nullptr : it->second.get();
    }
    // The chunk holding addr, allocated (zeroed) if needed; addr must be in range. Stable until clear().
    unsigned char* touch(u64 addr) {
        auto& c = m_chunks[addr / chunk_size];
        if (!c) c.reset(new unsigned char[chunk_size]()); // value-initialised: zeros
        return c.get();
    }

    u64 chunks() const { return m_chunks.size(); }
    u64 allocated_bytes() const { return m_chunks.size() * chunk_size; }
    void clear() { m_chunks.clear(); }

private:
    u64 m_size;
    std::unordered_map<u64, std::unique_ptr<unsigned char[]>> m_chunks;
};

} // namespace iommusim::memory

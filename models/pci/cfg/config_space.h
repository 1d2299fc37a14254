// A PCI function's configuration space: bytes plus, per byte, a write mask (which bits software may
// change) and a write-1-to-clear mask, so the generic write path gives every register its spec semantics
// (RO, RW, RW1C) as QEMU's PCIDevice does with wmask/w1cmask. Pure C++: no SystemC.
#pragma once
#include "sim/core/types.h"

#include <optional>
#include <vector>

namespace iommusim::pci {

class config_space {
public:
    // size: 256 for conventional PCI functions, 4096 for PCI Express (extended config space).
    explicit config_space(unsigned size = 4096);

    unsigned size() const { return unsigned(m_data.size()); }

    // Software (config cycle) access; len 1, 2 or 4, naturally aligned. Reads past size() return all
    // ones (an Unsupported Request completion), writes past size() are dropped.
    u32 read(unsigned off, unsigned len) const;
    void write(unsigned off, unsigned len, u32 value);

    // Model-side access: ignores the masks (hardware updating its own registers).
    u8 get8(unsigned off) const;
    u16 get16(unsigned off) const;
    u32 get32(unsigned off) const;
    void set8(unsigned off, u8 v);
    void set16(unsigned off, u16 v);
    void set32(unsigned off, u32 v);

    // Declares which bits of [off, off+len) software can write (wmask) and which clear on writing one.
    void set_wmask(unsigned off, unsigned len, u32 mask);
    void set_w1cmask(unsigned off, unsigned len, u32 mask);
    u32 wmask(unsigned off, unsigned len) const;
    u32 w1cmask(unsigned off, unsigned len) const;

    // Capability lists. add_* allocate the next free dword-aligned space, link the new capability at the
    // end of the list and set PCI_STATUS_CAP_LIST; they return the capability's offset.
    u16 add_capability(u8 id, unsigned size);
    u16 add_ext_capability(u16 id, u8 version, unsigned size);
    std::optional<u16> find_capability(u8 id) const;
    std::optional<u16> find_ext_capability(u16 id) const;

    // Replaces the whole content (captured bytes); masks are left as they are.
    void load(const std::vector<u8>& bytes);
    const std::vector<u8>& bytes() const { return m_data; }

private:
    bool in_range(unsigned off, unsigned len) const { return off + len <= m_data.size() && len <= 4; }

    std::vector<u8> m_data, m_wmask, m_w1cmask;
    u16 m_next_cap = 0x40;      // next free offset in the standard capability area (0x40..0xff)
    u16 m_next_ext_cap = 0x100; // next free offset in extended config space
};

} // namespace iommusim::pci

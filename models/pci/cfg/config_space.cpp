#include "models/pci/cfg/config_space.h"

#include "models/pci/cfg/pci_regs.h"

#include <stdexcept>

namespace iommusim::pci {

config_space::config_space(unsigned size) : m_data(size, 0), m_wmask(size, 0), m_w1cmask(size, 0) {
    if (size != PCI_CFG_SPACE_SIZE && size != PCI_CFG_SPACE_EXP_SIZE)
        throw std::invalid_argument("config space size must be 256 or 4096");
}

u32 config_space::read(unsigned off, unsigned len) const {
    if (!in_range(off, len)) return len >= 4 ? 0xffffffffu : (1u << (8 * len)) - 1;
    u32 v = 0;
    for (unsigned i = 0; i < len; ++i) v |= u32(m_data[off + i]) << (8 * i);
    return v;
}

void config_space::write(unsigned off, unsigned len, u32 value) {
    if (!in_range(off, len)) return;
    for (unsigned i = 0; i < len; ++i) {
        const u8 b = u8(value >> (8 * i));
        const unsigned o = off + i;
        const u8 wm = m_wmask[o], w1c = m_w1cmask[o];
        u8 v = u8((m_data[o] & ~wm) | (b & wm));
        v = u8(v & ~(b & w1c));
        m_data[o] = v;
    }
}

u8 config_space::get8(unsigned off) const { return u8(read(off, 1)); }
u16 config_space::get16(unsigned off) const { return u16(read(off, 2)); }
u32 config_space::get32(unsigned off) const { return read(off, 4); }

void config_space::set8(unsigned off, u8 v) {
    if (in_range(off, 1)) m_data[off] = v;
}
void config_space::set16(unsigned off, u16 v) {
    set8(off, u8(v));
    set8(off + 1, u8(v >> 8));
}
void config_space::set32(unsigned off, u32 v) {
    set16(off, u16(v));
    set16(off + 2, u16(v >> 16));
}

void config_space::set_wmask(unsigned off, unsigned len, u32 mask) {
    for (unsigned i = 0; i < len && off + i < m_wmask.size(); ++i) m_wmask[off + i] = u8(mask >> (8 * i));
}
void config_space::set_w1cmask(unsigned off, unsigned len, u32 mask) {
    for (unsigned i = 0; i < len && off + i < m_w1cmask.size(); ++i) m_w1cmask[off + i] = u8(mask >> (8 * i));
}
u32 config_space::wmask(unsigned off, unsigned len) const {
    u32 v = 0;
    for (unsigned i = 0; i < len && off + i < m_wmask.size(); ++i) v |= u32(m_wmask[off + i]) << (8 * i);
    return v;
}
u32 config_space::w1cmask(unsigned off, unsigned len) const {
    u32 v = 0;
    for (unsigned i = 0; i < len && off + i < m_w1cmask.size(); ++i) v |= u32(m_w1cmask[off + i]) << (8 * i);
    return v;
}

u16 config_space::add_capability(u8 id, unsigned size) {
    const unsigned off = m_next_cap;
    if (size < 2 || off + size > PCI_CFG_SPACE_SIZE)
        throw std::length_error("no room left for a capability in the standard configuration space");
    // Link at the end of the chain.
    unsigned link = PCI_CAPABILITY_LIST;
    for (int ttl = 48; get8(link) != 0 && ttl > 0; --ttl) link = get8(link) + PCI_CAP_LIST_NEXT;
    set8(link, u8(off));
    set8(off + PCI_CAP_LIST_ID, id);
    set8(off + PCI_CAP_LIST_NEXT, 0);
    set16(PCI_STATUS, u16(get16(PCI_STATUS) | PCI_STATUS_CAP_LIST));
    m_next_cap = u16((off + size + 3) & ~3u);
    return u16(off);
}

u16 config_space::add_ext_capability(u16 id, u8 version, unsigned size) {
    const unsigned off = m_next_ext_cap;
    if (m_data.size() != PCI_CFG_SPACE_EXP_SIZE || size < 4 || off + size > PCI_CFG_SPACE_EXP_SIZE)
        throw std::length_error("no room for an extended capability (conventional function or space full)");
    if (off != 0x100) {
        // Link the previous last capability to this one.
        unsigned cur = 0x100;
        for (int guard = 0; guard < 1024; ++guard) {
            const u32 hdr = get32(cur);
            const unsigned next = PCI_EXT_CAP_NEXT(hdr);
            if (next == 0) {
                set32(cur, (hdr & 0x000fffffu) | (u32(off) << 20));
                break;
            }
            cur = next;
        }
    }
    set32(off, pci_ext_cap_header(id, version, 0));
    m_next_ext_cap = u16((off + size + 3) & ~3u);
    return u16(off);
}

std::optional<u16> config_space::find_capability(u8 id) const {
    if (!(get16(PCI_STATUS) & PCI_STATUS_CAP_LIST)) return std::nullopt;
    unsigned pos = get8(PCI_CAPABILITY_LIST) & 0xfc;
    for (int ttl = 48; pos >= 0x40 && ttl > 0; --ttl) { // Linux's PCI_FIND_CAP_TTL loop guard
        if (get8(pos + PCI_CAP_LIST_ID) == id) return u16(pos);
        pos = get8(pos + PCI_CAP_LIST_NEXT) & 0xfc;
    }
    return std::nullopt;
}

std::optional<u16> config_space::find_ext_capability(u16 id) const {
    if (size() != PCI_CFG_SPACE_EXP_SIZE) return std::nullopt;
    unsigned pos = 0x100;
    // (4096 - 256) / 8: the loop bound Linux's pci_find_next_ext_capability uses.
    for (int ttl = (PCI_CFG_SPACE_EXP_SIZE - PCI_CFG_SPACE_SIZE) / 8; ttl > 0; --ttl) {
        const u32 hdr = get32(pos);
        if (hdr == 0 || hdr == 0xffffffffu) return std::nullopt;
        if (PCI_EXT_CAP_ID(hdr) == id) return u16(pos);
        pos = PCI_EXT_CAP_NEXT(hdr);
        if (pos < 0x100) return std::nullopt;
    }
    return std::nullopt;
}

void config_space::load(const std::vector<u8>& bytes) {
    for (size_t i = 0; i < m_data.size(); ++i) m_data[i] = i < bytes.size() ? bytes[i] : 0;
    m_next_cap = 0x100;      // captured layout: no further allocation in the standard area
    m_next_ext_cap = 0x1000;
}

} // namespace iommusim::pci

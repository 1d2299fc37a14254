#include "sim/vfio/vfio_pci_regions.h"

#include "sim/host/kernel.h"
#include "sim/host/pci_access.h"
#include "sim/host/pci_dev.h"
#include "sim/vfio/vfio_pci_config.h"

#include <linux/vfio.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <vector>

namespace iommusim::vfio {

namespace {
constexpr u64 PAGE = 4096;
constexpr unsigned SHIFT = 40;  // VFIO_PCI_OFFSET_SHIFT
constexpr u64 OFFSET_MASK = (u64(1) << SHIFT) - 1;
constexpr u64 VGA_SIZE = 0xc0000;
constexpr u32 PCI_CLASS_DISPLAY_VGA = 0x0300;
u64 index_to_offset(unsigned i) { return u64(i) << SHIFT; }
} // namespace

vfio_pci_regions::vfio_pci_regions(host::kernel* kernel, const host::pci_dev& dev, vfio_pci_config& config)
    : m_kernel(kernel), m_dev(dev), m_config(config) {}

const host::pci_resource* vfio_pci_regions::resource(unsigned index) const {
    for (const auto& r : m_dev.resources)
        if (r.index == index && r.size) return &r;
    return nullptr;
}

// vfio_pci_core_enable: MSI-X table BAR, offset and size ((QSIZE + 1) * 16, PCI_MSIX_ENTRY_SIZE); VGA
// support for a VGA-class device (CONFIG_VFIO_PCI_VGA, disable_vga=0).
void vfio_pci_regions::enable() {
    m_msix_bar = -1;
    if (m_config.msix_cap() && m_kernel) {
        auto& a = m_kernel->access();
        const u32 table = a.read32(m_dev, u16(m_config.msix_cap() + pci::PCI_MSIX_TABLE));
        const u16 flags = a.read16(m_dev, u16(m_config.msix_cap() + pci::PCI_MSIX_FLAGS));
        m_msix_bar = int(table & pci::PCI_MSIX_TABLE_BIR);
        m_msix_offset = table & ~u32(pci::PCI_MSIX_TABLE_BIR);
        m_msix_size = u64((flags & pci::PCI_MSIX_FLAGS_QSIZE) + 1) * 16;
    }
    m_has_vga = (m_dev.class_code >> 8) == PCI_CLASS_DISPLAY_VGA;
}

// vfio_pci_probe_mmaps: memory BARs of at least a page, or smaller ones starting on a page boundary
// (the rest of the page is reserved with a dummy resource so nothing else lands there).
bool vfio_pci_regions::mmap_supported(unsigned bar) const {
    const host::pci_resource* r = resource(bar);
    if (!r || r->io) return false;
    return r->size >= PAGE || (r->base & (PAGE - 1)) == 0;
}

// vfio_pci_ioctl_get_region_info: minsz through offset; a capability chain goes after the 32-byte
// struct when argsz leaves room, else argsz is raised to what is needed and cap_offset stays 0.
long vfio_pci_regions::get_region_info(unsigned long arg) {
    if (!arg) return -EFAULT;
    vfio_region_info info{};
    const size_t minsz = offsetof(vfio_region_info, offset) + sizeof(info.offset);
    std::memcpy(&info, reinterpret_cast<const void*>(arg), minsz);
    if (info.argsz < minsz) return -EINVAL;
    std::vector<u8> caps;
    switch (info.index) {
    case VFIO_PCI_CONFIG_REGION_INDEX:
        info.offset = index_to_offset(info.index);
        info.size = m_dev.cfg_size;
        info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
        break;
    case VFIO_PCI_BAR0_REGION_INDEX:
    case VFIO_PCI_BAR1_REGION_INDEX:
    case VFIO_PCI_BAR2_REGION_INDEX:
    case VFIO_PCI_BAR3_REGION_INDEX:
    case VFIO_PCI_BAR4_REGION_INDEX:
    case VFIO_PCI_BAR5_REGION_INDEX: {
        info.offset = index_to_offset(info.index);
        const host::pci_resource* r = resource(info.index);
        info.size = r ? r->size : 0;
        if (!info.size) {
            info.flags = 0;
            break;
        }
        info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
        if (mmap_supported(info.index)) {
            info.flags |= VFIO_REGION_INFO_FLAG_MMAP;
            // 6.1 lets the whole MSI-X BAR be mapped (the table is protected by interrupt remapping,
            // not by a sparse mmap hole) and says so with MSIX_MAPPABLE.
            if (int(info.index) == m_msix_bar) {
                vfio_info_cap_header h{VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 1, 0};
                caps.resize(sizeof h);
                std::memcpy(caps.data(), &h, sizeof h);
            }
        }
        break;
    }
    case VFIO_PCI_ROM_REGION_INDEX: {
        // The BAR's size; pci_map_rom decides whether it is really there (a ROM BAR the device decodes).
        info.offset = index_to_offset(info.index);
        info.flags = 0;
        const host::pci_resource* r = resource(host::PCI_ROM_RESOURCE);
        info.size = r ? r->size : 0;
        if (info.size) info.flags = VFIO_REGION_INFO_FLAG_READ;
        break;
    }
    case VFIO_PCI_VGA_REGION_INDEX:
        if (!m_has_vga) return -EINVAL;
        info.offset = index_to_offset(info.index);
        info.size = VGA_SIZE;
        info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
        break;
    default: return -EINVAL;  // no device-specific regions (num_regions is 0)
    }
    if (!caps.empty()) {
        info.flags |= VFIO_REGION_INFO_FLAG_CAPS;
        if (info.argsz < sizeof info + caps.size()) {
            info.argsz = u32(sizeof info + caps.size());
            info.cap_offset = 0;
        } else {
            std::memcpy(reinterpret_cast<u8*>(arg) + sizeof info, caps.data(), caps.size());
            info.cap_offset = sizeof info;
        }
    }
    std::memcpy(reinterpret_cast<void*>(arg), &info, minsz);
    return 0;
}

// vfio_pci_bar_rw + do_io_rw: naturally aligned 4/2/1-byte accesses, clamped to the BAR's end; bytes of
// the MSI-X table read as 0xff and writes to them are dropped; memory decode off in the virtual command
// register fails the access (vfio_pci_core_ioread/iowrite under the memory lock: -EIO).
// The ROM (vfio_pci_bar_rw's ROM path): pci_map_rom sets the ROM BAR's enable bit (pci_enable_rom) unless
// firmware left it on, sizes the images (pci_get_rom_size: 0xAA55, the "PCIR" structure, image lengths
// until the last-image bit), and no image at all is -ENOMEM; bytes past the images read 0xff; then
// pci_unmap_rom disables the BAR again. The memory-enable check (-EIO) comes after the mapping.
long vfio_pci_regions::rom_rw(u8* buf, u64 count, u64 pos) {
    using pci::PCI_ROM_ADDRESS, pci::PCI_ROM_ADDRESS_MASK, pci::PCI_ROM_ADDRESS_ENABLE;
    const host::pci_resource* r = resource(host::PCI_ROM_RESOURCE);
    if (!r || !r->base) return -EINVAL;
    if (pos >= r->size) return -EINVAL;
    if (count > r->size - pos) count = r->size - pos;
    auto& a = m_kernel->access();
    const u32 reg = a.read32(m_dev, PCI_ROM_ADDRESS);
    if (!r->rom_enabled)
        a.write32(m_dev, PCI_ROM_ADDRESS, (reg & ~PCI_ROM_ADDRESS_MASK) | (u32(r->base) & PCI_ROM_ADDRESS_MASK) |
                                              PCI_ROM_ADDRESS_ENABLE);
    auto& ops = a.ops();
    u64 image = 0;
    for (;;) {
        if (image + 0x1a > r->size || ops.mmio_read(r->base + image, 2) != 0xaa55) break;
        const u64 pds = image + ops.mmio_read(r->base + image + 0x18, 2);
        if (pds + 0x16 > r->size || ops.mmio_read(r->base + pds, 4) != 0x52494350) break;  // "PCIR"
        const bool last = ops.mmio_read(r->base + pds + 0x15, 1) & 0x80;
        image += ops.mmio_read(r->base + pds + 0x10, 2) * 512;
        if (last || image >= r->size) break;
    }
    const u64 rom_size = std::min(image, r->size);
    long done = 0;
    if (!rom_size) done = -ENOMEM;
    else if (!m_config.memory_enabled()) done = -EIO;
    else
        for (u64 i = 0; i < count; ++i) {
            const u64 p = pos + i;
            buf[i] = p < rom_size ? u8(ops.mmio_read(r->base + p, 1)) : 0xff;
            ++done;
        }
    if (!r->rom_enabled) a.write32(m_dev, PCI_ROM_ADDRESS, reg);
    return done;
}

long vfio_pci_regions::bar_rw(unsigned index, u8* buf, u64 count, u64 pos, bool iswrite) {
    const host::pci_resource* r = resource(index);
    if (!r || !r->base) return -EINVAL;
    if (pos >= r->size) return -EINVAL;
    if (count > r->size - pos) count = r->size - pos;
    u64 x_start = 0, x_end = 0;
    if (int(index) == m_msix_bar) {
        x_start = m_msix_offset;
        x_end = m_msix_offset + m_msix_size;
    }
    if (!r->io && !m_config.memory_enabled()) return -EIO;
    auto& ops = m_kernel->access().ops();
    u64 done = 0;
    while (done < count) {
        const u64 p = pos + done, left = count - done;
        if (p >= x_start && p < x_end) {  // skip the table: up to its end
            const u64 n = std::min(left, x_end - p);
            if (!iswrite) std::memset(buf + done, 0xff, n);
            done += n;
            continue;
        }
        unsigned len = left >= 4 && !(p % 4) ? 4 : left >= 2 && !(p % 2) ? 2 : 1;
        if (p < x_start && p + len > x_start) len = unsigned(x_start - p) >= 2 && !(p % 2) ? 2 : 1;
        if (r->io) {
            // Port I/O is not part of the simulated host ops: reads float high, writes are dropped.
            if (!iswrite) std::memset(buf + done, 0xff, len);
        } else if (iswrite) {
            u64 v = 0;
            for (unsigned i = 0; i < len; ++i) v |= u64(buf[done + i]) << (8 * i);
            ops.mmio_write(r->base + p, len, v);
        } else {
            const u64 v = ops.mmio_read(r->base + p, len);
            for (unsigned i = 0; i < len; ++i) buf[done + i] = u8(v >> (8 * i));
        }
        done += len;
    }
    return long(done);
}

// vfio_pci_rw: dispatch on the region index in the offset's top bits.
long vfio_pci_regions::rw(u8* buf, u64 count, u64 pos, bool iswrite) {
    const u64 index = pos >> SHIFT;
    const u64 off = pos & OFFSET_MASK;
    if (index >= VFIO_PCI_NUM_REGIONS) return -EINVAL;
    if (!count) return 0;
    switch (index) {
    case VFIO_PCI_CONFIG_REGION_INDEX: return m_config.rw(buf, count, off, iswrite);
    case VFIO_PCI_ROM_REGION_INDEX:
        if (iswrite) return -EINVAL;
        return m_kernel ? rom_rw(buf, count, off) : -EINVAL;
    case VFIO_PCI_VGA_REGION_INDEX: {
        if (!m_has_vga || off >= VGA_SIZE) return -EINVAL;
        // vfio_pci_vga_rw: only the legacy memory 0xa0000-0xbffff is reachable here (no port I/O).
        if (off < 0xa0000 || !m_kernel) return -EINVAL;
        if (count > VGA_SIZE - off) count = VGA_SIZE - off;
        auto& ops = m_kernel->access().ops();
        for (u64 i = 0; i < count; ++i) {
            if (iswrite) ops.mmio_write(off + i, 1, buf[i]);
            else buf[i] = u8(ops.mmio_read(off + i, 1));
        }
        return long(count);
    }
    default: return m_kernel ? bar_rw(unsigned(index), buf, count, off, iswrite) : -EINVAL;
    }
}

} // namespace iommusim::vfio

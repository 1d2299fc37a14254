#include "platforms/desc/captured_config.h"

#include "models/pci/cfg/pci_regs.h"

namespace iommusim::platforms::captured {

using namespace iommusim::pci;

u8 get8(const std::vector<u8>& cfg, unsigned off) { return off < cfg.size() ? cfg[off] : 0xff; }
u16 get16(const std::vector<u8>& cfg, unsigned off) { return u16(get8(cfg, off) | get8(cfg, off + 1) << 8); }
u32 get32(const std::vector<u8>& cfg, unsigned off) { return u32(get16(cfg, off)) | u32(get16(cfg, off + 2)) << 16; }

u8 header_type(const std::vector<u8>& cfg) { return get8(cfg, PCI_HEADER_TYPE) & PCI_HEADER_TYPE_MASK; }
bool multifunction(const std::vector<u8>& cfg) { return get8(cfg, PCI_HEADER_TYPE) & PCI_HEADER_TYPE_MFD; }

std::optional<u16> find_capability(const std::vector<u8>& cfg, u8 id) {
    if (!(get16(cfg, PCI_STATUS) & PCI_STATUS_CAP_LIST)) return std::nullopt;
    unsigned pos = get8(cfg, PCI_CAPABILITY_LIST);
    for (int ttl = 48; ttl > 0 && pos >= 0x40 && pos < 0x100; --ttl) { // Linux's PCI_FIND_CAP_TTL
        pos &= ~3u;
        u8 cap_id = get8(cfg, pos);
        if (cap_id == 0xff) break;
        if (cap_id == id) return u16(pos);
        pos = get8(cfg, pos + 1);
    }
    return std::nullopt;
}

std::optional<u16> find_ext_capability(const std::vector<u8>& cfg, u16 id) {
    if (cfg.size() <= PCI_CFG_SPACE_SIZE) return std::nullopt;
    unsigned pos = PCI_CFG_SPACE_SIZE;
    for (int ttl = 480; ttl > 0; --ttl) { // (4096 - 256) / 8, as pci_find_next_ext_capability
        u32 header = get32(cfg, pos);
        if (header == 0 || header == 0xffffffff) break;
        if (PCI_EXT_CAP_ID(header) == id) return u16(pos);
        pos = PCI_EXT_CAP_NEXT(header);
        if (pos < PCI_CFG_SPACE_SIZE) break;
    }
    return std::nullopt;
}

std::optional<u8> pcie_type(const std::vector<u8>& cfg) {
    auto pos = find_capability(cfg, PCI_CAP_ID_EXP);
    if (!pos) return std::nullopt;
    return u8((get16(cfg, *pos + PCI_EXP_FLAGS) & PCI_EXP_FLAGS_TYPE) >> 4);
}

std::optional<acs_params> acs(const std::vector<u8>& cfg) {
    auto pos = find_ext_capability(cfg, PCI_EXT_CAP_ID_ACS);
    if (!pos) return std::nullopt;
    acs_params a;
    a.cap = get16(cfg, *pos + PCI_ACS_CAP);
    a.ctrl = get16(cfg, *pos + PCI_ACS_CTRL);
    a.egress_bits = u8(a.cap >> 8);
    return a;
}

} // namespace iommusim::platforms::captured

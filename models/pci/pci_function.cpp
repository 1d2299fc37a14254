#include "models/pci/pci_function.h"

#include "models/pci/cfg/pci_regs.h"
#include "sim/tlm/payload_data.h"

#include <algorithm>
#include <cstring>

namespace iommusim::pci {

pci_function::pci_function(sc_core::sc_module_name name, u8 devfn, config_space cfg, const pci_timing& timing)
    : sc_module(name), target("target"), dma_out("dma_out"), m_cfg(std::move(cfg)), m_devfn(devfn), m_timing(timing) {
    target.register_b_transport(this, &pci_function::b_transport);
}

bool pci_function::is_type1() const {
    return (m_cfg.get8(PCI_HEADER_TYPE) & PCI_HEADER_TYPE_MASK) == PCI_HEADER_TYPE_BRIDGE;
}

// Walks the implemented BARs as programmed; stops early when f returns true. No allocation, since the
// bus asks every function on it for each memory request.
template <typename F>
bool pci_function::walk_bars(F&& f) const {
    const unsigned nbars = is_type1() ? 2 : 6;
    for (unsigned i = 0; i < nbars; ++i) {
        const unsigned off = PCI_BASE_ADDRESS_0 + 4 * i;
        const u32 wm = m_cfg.wmask(off, 4);
        if (wm == 0) continue; // unimplemented (or a captured BAR of unknown size)
        const u32 v = m_cfg.get32(off);
        bar_window b;
        b.index = i;
        if (v & PCI_BASE_ADDRESS_SPACE_IO) {
            b.io = true;
            b.base = v & PCI_BASE_ADDRESS_IO_MASK;
            b.size = u64(u32(~(wm | 0x3u))) + 1;
        } else if ((v & 0x6) == PCI_BASE_ADDRESS_MEM_TYPE_64 && i + 1 < nbars) {
            b.mem64 = true;
            const u64 mask = u64(m_cfg.wmask(off + 4, 4)) << 32 | wm | 0xfu;
            b.base = u64(m_cfg.get32(off + 4)) << 32 | (v & PCI_BASE_ADDRESS_MEM_MASK);
            b.size = ~mask + 1;
            ++i;
        } else {
            b.base = v & PCI_BASE_ADDRESS_MEM_MASK;
            b.size = u64(u32(~(wm | 0xfu))) + 1;
        }
        b.prefetchable = !b.io && (v & PCI_BASE_ADDRESS_MEM_PREFETCH);
        if (f(b)) return true;
    }
    return false;
}

std::vector<pci_function::bar_window> pci_function::bars() const {
    std::vector<bar_window> out;
    walk_bars([&](const bar_window& b) {
        out.push_back(b);
        return false;
    });
    return out;
}

std::optional<pci_function::bar_window> pci_function::decode_memory_bar(u64 addr) const {
    if (!(m_cfg.get16(PCI_COMMAND) & PCI_COMMAND_MEMORY)) return std::nullopt;
    std::optional<bar_window> hit;
    walk_bars([&](const bar_window& b) {
        if (b.io || addr - b.base >= b.size) return false;
        hit = b;
        return true;
    });
    return hit;
}

// The expansion ROM BAR (PCI 3.0 §6.2.5.2) of a type 0 function: decoded while its enable bit and
// COMMAND.MEMORY are both set; the size comes from the writable address bits.
std::optional<pci_function::bar_window> pci_function::decode_rom(u64 addr) const {
    if (is_type1() || !(m_cfg.get16(PCI_COMMAND) & PCI_COMMAND_MEMORY)) return std::nullopt;
    const u32 wm = m_cfg.wmask(PCI_ROM_ADDRESS, 4) & PCI_ROM_ADDRESS_MASK;
    const u32 v = m_cfg.get32(PCI_ROM_ADDRESS);
    if (!wm || !(v & PCI_ROM_ADDRESS_ENABLE)) return std::nullopt;
    bar_window b;
    b.index = 6;  // PCI_ROM_RESOURCE
    b.base = v & wm;
    b.size = u64(~wm & 0xffffffffu) + 1;  // wm has the low 11 bits clear
    if (addr - b.base >= b.size) return std::nullopt;
    return b;
}

// A ROM of one image filling the BAR (PCI Firmware 3.0 §5.1): 0x55AA, the PCI Data Structure at 0x1c
// with the function's IDs and class code, image length in 512-byte units, code type 0, last image.
bool pci_function::rom_read(u64 off, unsigned char* data, unsigned len, u64 size) {
    std::memset(data, 0, len);
    const u64 units = std::min<u64>(size / 512, 0xffff);
    auto put = [&](u64 at, u64 v, unsigned n) {
        for (unsigned i = 0; i < n; ++i)
            if (at + i >= off && at + i < off + len) data[at + i - off] = u8(v >> (8 * i));
    };
    put(0, 0xaa55, 2);
    put(2, std::min<u64>(units, 0xff), 1);
    put(0x18, 0x1c, 2);
    put(0x1c, 0x52494350, 4);  // "PCIR"
    put(0x20, m_cfg.get16(PCI_VENDOR_ID), 2);
    put(0x22, m_cfg.get16(PCI_DEVICE_ID), 2);
    put(0x26, 0x18, 2);        // structure length
    put(0x28, 3, 1);           // structure revision
    put(0x29, m_cfg.get32(PCI_CLASS_REVISION) >> 8, 3);
    put(0x2c, units, 2);
    put(0x31, 0x80, 1);        // indicator: last image
    return true;
}

bool pci_function::claims_config_type1(u8) const { return false; }

bool pci_function::claims_memory(u64 addr) const { return decode_memory_bar(addr).has_value() || decode_rom(addr).has_value(); }

void pci_function::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
    auto* ext = gp.get_extension<tlmx::pci_extension>();
    if (!ext) {
        gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    switch (ext->request) {
    case tlmx::pci_request::config_type0: config_type0(gp, *ext, delay); break;
    case tlmx::pci_request::config_type1: config_type1(gp, *ext, delay); break;
    case tlmx::pci_request::memory: memory(gp, *ext, delay); break;
    default: gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE); break; // I/O space not modelled
    }
}

void pci_function::config_type0(tlm::tlm_generic_payload& gp, tlmx::pci_extension& ext, sc_core::sc_time& delay) {
    delay += sc_core::sc_time(m_timing.config_access_ns, sc_core::SC_NS);
    if (ext.devfn != m_devfn) {
        gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    const unsigned len = gp.get_data_length();
    const unsigned reg = ext.reg;
    unsigned char* data = gp.get_data_ptr();
    // ECAM accesses are 1, 2 or 4 bytes, naturally aligned (PCIe Base §7.2.2); anything else reads as
    // all ones and writes nothing rather than trusting the guest.
    const bool well_formed = data && (len == 1 || len == 2 || len == 4) && (reg & (len - 1)) == 0;
    if (gp.is_read()) {
        if (well_formed) tlmx::put_le(data, len, m_cfg.read(reg, len));
        else tlmx::fill_all_ones(gp);
    } else if (gp.is_write()) {
        m_bus = ext.bus; // PCIe Base §2.2.6.2: capture the Bus Number of every type 0 write
        if (well_formed) {
            m_cfg.write(reg, len, u32(tlmx::get_le(data, len)));
            config_written(u16(reg), len);
        }
    }
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

void pci_function::config_type1(tlm::tlm_generic_payload& gp, tlmx::pci_extension&, sc_core::sc_time&) {
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE); // only bridges forward type 1
}

void pci_function::memory(tlm::tlm_generic_payload& gp, tlmx::pci_extension&, sc_core::sc_time& delay) {
    const auto bar = decode_memory_bar(gp.get_address());
    if (!bar && gp.get_data_ptr()) {
        if (const auto rom = decode_rom(gp.get_address())) {  // reads the image; writes are dropped
            delay += sc_core::sc_time(m_timing.mmio_access_ns, sc_core::SC_NS);
            const u64 off = gp.get_address() - rom->base;
            const unsigned len = gp.get_data_length();
            const bool ok = len && len <= rom->size - off && (!gp.is_read() || rom_read(off, gp.get_data_ptr(), len, rom->size));
            gp.set_response_status(ok ? tlm::TLM_OK_RESPONSE : tlm::TLM_ADDRESS_ERROR_RESPONSE);
            return;
        }
    }
    if (!bar || !gp.get_data_ptr()) {
        gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    delay += sc_core::sc_time(m_timing.mmio_access_ns, sc_core::SC_NS);
    const u64 off = gp.get_address() - bar->base;
    const unsigned len = gp.get_data_length();
    bool ok = false;
    if (len == 0 || len > bar->size - off) ok = false; // runs past the BAR
    else if (gp.is_read()) ok = bar_read(bar->index, off, gp.get_data_ptr(), len);
    else if (gp.is_write()) ok = bar_write(bar->index, off, gp.get_data_ptr(), len);
    else ok = true; // TLM_IGNORE_COMMAND
    gp.set_response_status(ok ? tlm::TLM_OK_RESPONSE : tlm::TLM_ADDRESS_ERROR_RESPONSE);
}

bool pci_function::bar_read(unsigned, u64, unsigned char*, unsigned) { return false; }
bool pci_function::bar_write(unsigned, u64, const unsigned char*, unsigned) { return false; }

void pci_function::trace_dma(dma_route route, const tlm::tlm_generic_payload& gp, const char* reason) const {
    if (!m_trace) return;
    const auto* ext = gp.get_extension<tlmx::pci_extension>();
    m_trace->record({route, ext ? ext->requester_id : requester_id(), gp.get_address(), gp.get_data_length(),
                     gp.is_write(), name(), reason});
}

void pci_function::issue_dma(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
    // PCI 3.0 §6.2.2: without Bus Master Enable a function does not master memory requests.
    if (!(m_cfg.get16(PCI_COMMAND) & PCI_COMMAND_MASTER)) {
        gp.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
        trace_dma(dma_route::blocked, gp, "bus master disabled");
        return;
    }
    tlmx::pci_extension own;
    auto* ext = gp.get_extension<tlmx::pci_extension>();
    std::optional<tlmx::scoped_extension> scope;
    if (!ext) {
        ext = &own;
        scope.emplace(gp, &own);
    }
    ext->request = tlmx::pci_request::dma;
    ext->requester_id = m_spoofed_rid ? *m_spoofed_rid : requester_id();
    dma_out->b_transport(gp, delay);
}

} // namespace iommusim::pci

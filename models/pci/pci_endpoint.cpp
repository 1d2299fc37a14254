#include "models/pci/pci_endpoint.h"

#include "sim/tlm/payload_data.h"

namespace iommusim::pci {

pci_endpoint::pci_endpoint(sc_core::sc_module_name name, u8 devfn, config_space cfg, const pci_timing& timing)
    : pci_function(name, devfn, std::move(cfg), timing) {}

bool pci_endpoint::bar_read(unsigned bar, u64 offset, unsigned char* data, unsigned len) {
    for (unsigned i = 0; i < len; ++i) {
        const u64 o = offset + i;
        auto it = m_pages.find(key(bar, o));
        data[i] = it == m_pages.end() ? 0 : (*it->second)[o % page_size];
    }
    return true;
}

bool pci_endpoint::bar_write(unsigned bar, u64 offset, const unsigned char* data, unsigned len) {
    for (unsigned i = 0; i < len; ++i) {
        const u64 o = offset + i;
        auto& p = m_pages[key(bar, o)];
        if (!p) p = std::make_unique<page>(page{});
        (*p)[o % page_size] = data[i];
    }
    return true;
}

u64 pci_endpoint::peek(unsigned bar, u64 offset, unsigned len) const {
    unsigned char buf[8] = {};
    if (len > 8) len = 8;
    for (unsigned i = 0; i < len; ++i) {
        auto it = m_pages.find(key(bar, offset + i));
        buf[i] = it == m_pages.end() ? 0 : (*it->second)[(offset + i) % page_size];
    }
    return tlmx::get_le(buf, len);
}

void pci_endpoint::poke(unsigned bar, u64 offset, unsigned len, u64 value) {
    unsigned char buf[8];
    if (len > 8) len = 8;
    tlmx::put_le(buf, len, value);
    bar_write(bar, offset, buf, len);
}

} // namespace iommusim::pci

// A generic type 0 function (PCIe endpoint, legacy endpoint, RCiEP, event collector, conventional PCI
// function, host bridge, captured type 0): a pci_function whose memory BARs are backed by a plain
// register file that reads back what was written (unwritten bytes read 0). Storage is sparse, 4 KiB
// pages allocated on first write, so a 16 GiB BAR costs nothing until used.
#pragma once
#include "models/pci/pci_function.h"

#include <array>
#include <memory>
#include <unordered_map>

namespace iommusim::pci {

class pci_endpoint : public pci_function {
public:
    pci_endpoint(sc_core::sc_module_name name, u8 devfn, config_space cfg, const pci_timing& timing = {});

    // Model-side view of the register file (what a device model behind the BAR would see).
    u64 peek(unsigned bar, u64 offset, unsigned len) const;
    void poke(unsigned bar, u64 offset, unsigned len, u64 value);

protected:
    bool bar_read(unsigned bar, u64 offset, unsigned char* data, unsigned len) override;
    bool bar_write(unsigned bar, u64 offset, const unsigned char* data, unsigned len) override;

private:
    static constexpr u64 page_size = 4096;
    using page = std::array<unsigned char, page_size>;
    static u64 key(unsigned bar, u64 offset) { return u64(bar) << 56 | (offset / page_size); }

    std::unordered_map<u64, std::unique_ptr<page>> m_pages;
};

} // namespace iommusim::pci

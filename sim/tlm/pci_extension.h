// The TLM-2.0 payload extension carried by every PCI transaction: which kind of request it is (config
// type 0/1, memory, I/O, upstream DMA), the requester ID bridges may rewrite, an optional PASID and the
// PCIe Address Type (untranslated, translation request, translated; PCIe Base §10.2.1).
#pragma once
#include "sim/core/types.h"

#include <optional>
#include <tlm>

namespace iommusim::tlmx {

enum class pci_request { config_type0, config_type1, memory, io, dma };
enum class address_type : u8 { untranslated = 0, translation_request = 1, translated = 2 };

class pci_extension : public tlm::tlm_extension<pci_extension> {
public:
    pci_request request = pci_request::memory;
    // Config requests: target bus, devfn and register (the TLM address then carries the register too).
    u8 bus = 0, devfn = 0;
    u16 reg = 0;
    // Upstream DMA: requester ID (bus << 8 | devfn) as seen at this point of the fabric.
    u16 requester_id = 0;
    std::optional<u32> pasid;
    address_type at = address_type::untranslated;

    tlm::tlm_extension_base* clone() const override { return new pci_extension(*this); }
    void copy_from(const tlm::tlm_extension_base& other) override {
        *this = static_cast<const pci_extension&>(other);
    }
};

} // namespace iommusim::tlmx

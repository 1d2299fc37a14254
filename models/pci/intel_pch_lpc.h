// Intel PCH LPC bridge (device 31 function 0) with its Root Complex Base Address register (config 0xf0:
// bits 31:14 base, bit 0 enable). While enabled, the function decodes the 16 KiB RCBA memory window
// independently of COMMAND.MEMORY (it is chipset configuration space, not a BAR). Modelled registers,
// the ones Linux's pci_quirk_enable_intel_pch_acs uses:
//   BSPR  RCBA + 0x1104  RO  Backbone Scratch Pad: firmware's value (root port peer decode state)
//   UPDCR RCBA + 0x1014  RW  Upstream Peer Decode Configuration (PCH datasheet offset; Linux once used
//                            0x1114, which decodes nothing here)
// Every other RCBA byte reads 0 and ignores writes.
#pragma once
#include "models/pci/pci_endpoint.h"

#include <vector>

namespace iommusim::pci {

class intel_pch_lpc : public pci_endpoint {
public:
    intel_pch_lpc(sc_core::sc_module_name name, u8 devfn, config_space cfg, u32 bspr, u32 updcr,
                  const pci_timing& timing = {});

    bool rcba_enabled() const;
    u64 rcba_base() const;
    u32 updcr() const;
    bool claims_memory(u64 addr) const override;

protected:
    void memory(tlm::tlm_generic_payload& gp, tlmx::pci_extension& ext, sc_core::sc_time& delay) override;

private:
    bool in_rcba(u64 addr) const;

    std::vector<u8> m_rcba, m_rcba_wmask; // INTEL_RCBA_SIZE bytes each
};

} // namespace iommusim::pci

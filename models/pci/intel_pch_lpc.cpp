#include "models/pci/intel_pch_lpc.h"

#include "models/pci/cfg/pci_regs.h"
#include "sim/tlm/payload_data.h"

namespace iommusim::pci {

intel_pch_lpc::intel_pch_lpc(sc_core::sc_module_name name, u8 devfn, config_space cfg, u32 bspr, u32 updcr,
                             const pci_timing& timing)
    : pci_endpoint(name, devfn, std::move(cfg), timing), m_rcba(INTEL_RCBA_SIZE, 0), m_rcba_wmask(INTEL_RCBA_SIZE, 0) {
    tlmx::put_le(&m_rcba[INTEL_BSPR_REG], 4, bspr);
    tlmx::put_le(&m_rcba[INTEL_UPDCR_REG], 4, updcr);
    for (unsigned i = 0; i < 4; ++i) m_rcba_wmask[INTEL_UPDCR_REG + i] = 0xff;
}

bool intel_pch_lpc::rcba_enabled() const { return config().get32(INTEL_LPC_RCBA_REG) & INTEL_LPC_RCBA_ENABLE; }
u64 intel_pch_lpc::rcba_base() const { return config().get32(INTEL_LPC_RCBA_REG) & INTEL_LPC_RCBA_MASK; }
u32 intel_pch_lpc::updcr() const { return u32(tlmx::get_le(&m_rcba[INTEL_UPDCR_REG], 4)); }

bool intel_pch_lpc::in_rcba(u64 addr) const { return rcba_enabled() && addr - rcba_base() < INTEL_RCBA_SIZE; }

bool intel_pch_lpc::claims_memory(u64 addr) const { return in_rcba(addr) || pci_endpoint::claims_memory(addr); }

void intel_pch_lpc::memory(tlm::tlm_generic_payload& gp, tlmx::pci_extension& ext, sc_core::sc_time& delay) {
    const u64 addr = gp.get_address();
    if (!in_rcba(addr)) {
        pci_endpoint::memory(gp, ext, delay);
        return;
    }
    delay += sc_core::sc_time(timing().mmio_access_ns, sc_core::SC_NS);
    const u64 off = addr - rcba_base();
    const unsigned len = gp.get_data_length();
    unsigned char* data = gp.get_data_ptr();
    if (!data || len == 0 || len > INTEL_RCBA_SIZE - off) {
        gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    for (unsigned i = 0; i < len; ++i) {
        u8& reg = m_rcba[off + i];
        if (gp.is_read()) data[i] = reg;
        else if (gp.is_write()) reg = u8((reg & ~m_rcba_wmask[off + i]) | (data[i] & m_rcba_wmask[off + i]));
    }
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

} // namespace iommusim::pci

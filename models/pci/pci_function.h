// A PCI function as a SystemC module: it owns a config_space (built by build_config_space) and answers
// the requests its bus delivers: type 0 configuration requests at its devfn and memory requests that
// fall in a BAR it has programmed (decoded from the BAR registers, gated by COMMAND.MEMORY, PCI 3.0
// §6.2.2). It masters upstream requests (DMA) through dma_out. Subclasses give BARs contents
// (pci_endpoint) or route through the function (pci_bridge).
#pragma once
#include "models/pci/cfg/config_space.h"
#include "models/pci/cfg/pci_timing.h"
#include "models/pci/dma_trace.h"
#include "sim/tlm/pci_extension.h"

#include <optional>
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <vector>

namespace iommusim::pci {

class pci_bus;

class pci_function : public sc_core::sc_module {
public:
    tlm_utils::simple_target_socket<pci_function> target;     // config and memory requests from the bus
    tlm_utils::simple_initiator_socket<pci_function> dma_out; // requests this function masters, upstream

    pci_function(sc_core::sc_module_name name, u8 devfn, config_space cfg, const pci_timing& timing = {});

    u8 devfn() const { return m_devfn; }
    config_space& config() { return m_cfg; }
    const config_space& config() const { return m_cfg; }
    bool is_type1() const;

    // Bus number captured from the last type 0 configuration write (PCIe Base §2.2.6.2); the function's
    // requester ID is captured_bus << 8 | devfn.
    u8 captured_bus() const { return m_bus; }
    u16 requester_id() const { return u16(m_bus << 8 | m_devfn); }

    struct bar_window {
        unsigned index = 0; // BAR register number (the first of a 64-bit pair)
        u64 base = 0, size = 0;
        bool io = false, mem64 = false, prefetchable = false;
    };
    // Implemented BARs as currently programmed (sizes from the write masks; captured functions whose
    // BAR sizes are unknown have none).
    std::vector<bar_window> bars() const;
    std::optional<bar_window> decode_memory_bar(u64 addr) const; // honours COMMAND.MEMORY
    // The expansion ROM window (index 6) when addr falls in it and it decodes (enable bit, COMMAND.MEMORY).
    std::optional<bar_window> decode_rom(u64 addr) const;

    // Decode questions the bus asks before it routes a request here.
    virtual bool claims_config_type1(u8 bus) const;
    virtual bool claims_memory(u64 addr) const;

    // Masters a request upstream (DMA): tags it with this function's requester ID (keeping a caller's
    // PASID and Address Type) and sends it through dma_out. Without COMMAND.MASTER the function cannot
    // master: nothing is sent and the response is TLM_GENERIC_ERROR_RESPONSE.
    void issue_dma(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);

    // A misbehaving device that puts another requester ID in its requests (what ACS Source Validation,
    // PCIe §6.12.1.1, exists to stop); nullopt: the captured ID, as a well-behaved function does.
    void set_spoofed_requester_id(std::optional<u16> rid) { m_spoofed_rid = rid; }

    // The bus this function sits on (set by pci_bus::attach), nullptr before.
    pci_bus* parent_bus() const { return m_parent_bus; }
    void set_parent_bus(pci_bus* bus) { m_parent_bus = bus; }
    // Where the fabric reports DMA routing decisions (the platform's dma_trace); nullptr: not recorded.
    // A bridge passes it on to its secondary bus.
    virtual void set_trace(dma_trace* trace) { m_trace = trace; }
    dma_trace* trace() const { return m_trace; }

protected:
    // Dispatch of a request from the bus by its pci_extension.
    virtual void config_type0(tlm::tlm_generic_payload& gp, tlmx::pci_extension& ext, sc_core::sc_time& delay);
    virtual void config_type1(tlm::tlm_generic_payload& gp, tlmx::pci_extension& ext, sc_core::sc_time& delay);
    virtual void memory(tlm::tlm_generic_payload& gp, tlmx::pci_extension& ext, sc_core::sc_time& delay);

    // BAR contents; offset is relative to the BAR base. Return false for "no such register" (the request
    // then completes with TLM_ADDRESS_ERROR_RESPONSE).
    virtual bool bar_read(unsigned bar, u64 offset, unsigned char* data, unsigned len);
    virtual bool bar_write(unsigned bar, u64 offset, const unsigned char* data, unsigned len);
    // Expansion ROM contents at offset (size: the ROM BAR's); the default is one image with a PCI Data
    // Structure naming the function.
    virtual bool rom_read(u64 offset, unsigned char* data, unsigned len, u64 size);
    // Side effects after a configuration write has been applied through the masks.
    virtual void config_written(u16 reg, unsigned len) {
        (void)reg;
        (void)len;
    }

    const pci_timing& timing() const { return m_timing; }
    // Records a routing decision about an upstream request, when a trace is attached.
    void trace_dma(dma_route route, const tlm::tlm_generic_payload& gp, const char* reason = "") const;

private:
    void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
    template <typename F>
    bool walk_bars(F&& f) const;

    config_space m_cfg;
    u8 m_devfn;
    u8 m_bus = 0;
    pci_timing m_timing;
    pci_bus* m_parent_bus = nullptr;
    dma_trace* m_trace = nullptr;
    std::optional<u16> m_spoofed_rid;
};

} // namespace iommusim::pci

#include "models/intc/msi_controller.h"

#include "sim/tlm/payload_data.h"
#include "sim/tlm/pci_extension.h"

namespace iommusim::intc {

const char* to_string(delivery_mode m) {
    switch (m) {
    case delivery_mode::fixed: return "fixed";
    case delivery_mode::lowest_priority: return "lowest priority";
    case delivery_mode::smi: return "SMI";
    case delivery_mode::nmi: return "NMI";
    case delivery_mode::init: return "INIT";
    case delivery_mode::extint: return "ExtINT";
    default: return "reserved";
    }
}

msi_message decode_msi(u64 address, u32 data) {
    msi_message m;
    m.destination = u32((address >> 12) & 0xff) | u32((address >> 40) & 0xffffff) << 8;
    m.redirection_hint = address & 0x8;
    m.logical = address & 0x4;
    m.remappable_format = address & 0x10;
    m.vector = u8(data);
    m.mode = delivery_mode((data >> 8) & 0x7);
    m.assert_level = data & 0x4000;
    m.level_triggered = data & 0x8000;
    return m;
}

msi_controller::msi_controller(sc_core::sc_module_name name, sc_core::sc_time latency, size_t history)
    : sc_module(name), socket("socket"), m_latency(latency), m_history(history ? history : 1) {
    socket.register_b_transport(this, &msi_controller::b_transport);
    socket.register_transport_dbg(this, &msi_controller::transport_dbg);
}

void msi_controller::deliver(u64 address, u32 data, std::optional<u16> requester_id, sc_core::sc_time delay) {
    msi_record r;
    r.time = sc_core::sc_time_stamp() + delay;
    r.address = address;
    r.data = data;
    r.msg = decode_msi(address, data);
    r.requester_id = requester_id;
    ++m_stats.delivered;
    ++m_stats.by_mode[unsigned(r.msg.mode) & 7];
    if (r.msg.remappable_format) ++m_stats.remappable;
    if (m_records.size() >= m_history) m_records.pop_front();
    m_records.push_back(r);
    if (m_callback) m_callback(m_records.back());
}

void msi_controller::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
    auto reject = [&](tlm::tlm_response_status s) {
        ++m_stats.rejected;
        gp.set_response_status(s);
    };
    // The window is decoded on address bits 31:20 only: bits 63:32 may carry an x2APIC destination.
    const u64 a = gp.get_address();
    if ((a & 0xfff00000u) != MSI_WINDOW_BASE) return reject(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    if (!gp.is_write()) return reject(tlm::TLM_COMMAND_ERROR_RESPONSE);
    // An MSI is one DWORD write (PCI 3.0 §6.8.1.6: the 16-bit message data with upper 16 bits zero).
    if (gp.get_data_length() != 4 || gp.get_streaming_width() < 4 || (a & 3) || !gp.get_data_ptr())
        return reject(tlm::TLM_BURST_ERROR_RESPONSE);
    if (const unsigned char* be = gp.get_byte_enable_ptr()) {
        const unsigned n = gp.get_byte_enable_length();
        for (unsigned i = 0; i < 4; ++i)
            if (n == 0 || be[i % n] != TLM_BYTE_ENABLED) return reject(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
    }
    const auto* ext = gp.get_extension<tlmx::pci_extension>();
    delay += m_latency;
    deliver(a, u32(tlmx::get_le(gp.get_data_ptr(), 4)),
            ext ? std::optional<u16>(ext->requester_id) : std::nullopt, delay);
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

unsigned msi_controller::transport_dbg(tlm::tlm_generic_payload&) { return 0; } // no debug access to LAPICs

} // namespace iommusim::intc

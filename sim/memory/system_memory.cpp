#include "sim/memory/system_memory.h"

#include "sim/tlm/time_ps.h"

#include "sim/tlm/payload_data.h"

#include <stdexcept>

namespace iommusim::memory {

system_memory::system_memory(sc_core::sc_module_name name, const memory_params& params)
    : sc_module(name), socket("socket"), m_params(params), m_store(params.size),
      m_latency(params.latency_ns, sc_core::SC_NS), m_latency_ps(u64(params.latency_ns * 1000 + 0.5)),
      m_ps_per_byte(1000.0 / params.bandwidth_bytes_per_ns) {
    if (!(params.bandwidth_bytes_per_ns > 0)) throw std::invalid_argument("memory bandwidth must be positive");
    if (!(params.latency_ns >= 0)) throw std::invalid_argument("memory latency must not be negative");
    socket.register_b_transport(this, &system_memory::b_transport);
    socket.register_transport_dbg(this, &system_memory::transport_dbg);
    socket.register_get_direct_mem_ptr(this, &system_memory::get_direct_mem_ptr);
}

bool system_memory::peek(u64 addr, void* data, u64 len) const {
    return m_store.read(addr, static_cast<unsigned char*>(data), len);
}
bool system_memory::poke(u64 addr, const void* data, u64 len) {
    return m_store.write(addr, static_cast<const unsigned char*>(data), len);
}
bool system_memory::fill(u64 addr, u8 byte, u64 len) { return m_store.fill(addr, byte, len); }

u64 system_memory::read_le(u64 addr, unsigned len) const {
    unsigned char b[8] = {};
    if (len > 8 || !m_store.read(addr, b, len)) return 0;
    return tlmx::get_le(b, len);
}

void system_memory::write_le(u64 addr, unsigned len, u64 value) {
    unsigned char b[8];
    if (len > 8) return;
    tlmx::put_le(b, len, value);
    m_store.write(addr, b, len);
}

void system_memory::clear() {
    m_store.clear();
    socket->invalidate_direct_mem_ptr(0, ~u64(0));
}

sc_core::sc_time system_memory::transfer_time(u64 bytes) const {
    return sc_core::sc_time(double(bytes) / m_params.bandwidth_bytes_per_ns, sc_core::SC_NS);
}

tlm::tlm_response_status system_memory::access(tlm::tlm_generic_payload& gp) {
    const tlm::tlm_command cmd = gp.get_command();
    const u64 addr = gp.get_address();
    const unsigned len = gp.get_data_length();
    unsigned char* data = gp.get_data_ptr();
    if (cmd == tlm::TLM_IGNORE_COMMAND) return tlm::TLM_OK_RESPONSE;
    if (len == 0) return m_store.in_range(addr, 0) ? tlm::TLM_OK_RESPONSE : tlm::TLM_ADDRESS_ERROR_RESPONSE;
    if (!data) return tlm::TLM_GENERIC_ERROR_RESPONSE;
    // Streaming width (IEEE 1666 §14.13): 0 or >= length means an ordinary incrementing burst; otherwise
    // the address wraps every `width` bytes (a FIFO-like register).
    unsigned width = gp.get_streaming_width();
    if (width == 0 || width > len) width = len;
    if (!m_store.in_range(addr, width)) return tlm::TLM_ADDRESS_ERROR_RESPONSE;
    const unsigned char* be = gp.get_byte_enable_ptr();
    const unsigned be_len = gp.get_byte_enable_length();
    if (be && be_len == 0) return tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE;

    if (!be && width == len) { // fast path
        const bool ok = cmd == tlm::TLM_READ_COMMAND ? m_store.read(addr, data, len) : m_store.write(addr, data, len);
        return ok ? tlm::TLM_OK_RESPONSE : tlm::TLM_ADDRESS_ERROR_RESPONSE;
    }
    // Byte enables (§14.15): byte i of the data is enabled when be[i % be_len] == 0xff; disabled bytes
    // are neither written nor, on reads, touched.
    for (unsigned i = 0; i < len; ++i) {
        if (be && be[i % be_len] != TLM_BYTE_ENABLED) continue;
        const u64 a = addr + i % width;
        if (cmd == tlm::TLM_READ_COMMAND) m_store.read(a, data + i, 1);
        else m_store.write(a, data + i, 1);
    }
    return tlm::TLM_OK_RESPONSE;
}

void system_memory::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
    const tlm::tlm_response_status status = access(gp);
    gp.set_response_status(status);
    if (status == tlm::TLM_ADDRESS_ERROR_RESPONSE) ++m_stats.address_errors;
    else if (status != tlm::TLM_OK_RESPONSE) ++m_stats.other_errors;
    if (status != tlm::TLM_OK_RESPONSE || gp.get_command() == tlm::TLM_IGNORE_COMMAND) return;

    const u64 len = gp.get_data_length();
    if (gp.is_read()) ++m_stats.reads, m_stats.bytes_read += len;
    else ++m_stats.writes, m_stats.bytes_written += len;
    // The memory channel (loosely timed): the transfer starts when both the request has arrived
    // (local time = now + delay) and the channel is free, and occupies it for len / bandwidth. Initiators
    // call in program order with their own timestamps: the calendar lets a transfer that arrives earlier
    // than one already booked use the gap before it instead of queueing behind it.
    const u64 delay_ps = tlmx::to_ps(delay);
    const u64 arrival_ps = tlmx::to_ps(sc_core::sc_time_stamp()) + delay_ps;
    const u64 busy_ps = u64(double(len) * m_ps_per_byte + 0.5);
    const u64 start_ps = m_channel.book(arrival_ps, busy_ps);
    delay = tlmx::from_ps(delay_ps + (start_ps - arrival_ps) + m_latency_ps + busy_ps);
    if (m_params.dmi) gp.set_dmi_allowed(true);
}

unsigned system_memory::transport_dbg(tlm::tlm_generic_payload& gp) {
    const u64 addr = gp.get_address();
    u64 len = gp.get_data_length();
    if (!gp.get_data_ptr() || addr >= m_store.size()) return 0;
    len = std::min<u64>(len, m_store.size() - addr);
    if (gp.is_read()) m_store.read(addr, gp.get_data_ptr(), len);
    else if (gp.is_write()) m_store.write(addr, gp.get_data_ptr(), len);
    else return 0;
    return unsigned(len);
}

bool system_memory::get_direct_mem_ptr(tlm::tlm_generic_payload& gp, tlm::tlm_dmi& dmi) {
    const u64 addr = gp.get_address();
    if (!m_params.dmi || addr >= m_store.size()) {
        // Deny for the whole space (or everything above it), so the initiator does not ask again.
        dmi.set_start_address(addr >= m_store.size() ? m_store.size() : 0);
        dmi.set_end_address(addr >= m_store.size() ? ~u64(0) : m_store.size() - 1);
        return false;
    }
    // One chunk at a time: a DMI request allocates the chunk (the initiator is about to use it), so the
    // pointer is valid for reads and writes until clear().
    const u64 base = addr - addr % sparse_store::chunk_size;
    const u64 end = std::min(base + sparse_store::chunk_size, m_store.size()) - 1;
    dmi.set_dmi_ptr(m_store.touch(addr));
    dmi.set_start_address(base);
    dmi.set_end_address(end);
    dmi.allow_read_write();
    dmi.set_read_latency(m_latency);
    dmi.set_write_latency(m_latency);
    ++m_stats.dmi_grants;
    return true;
}

} // namespace iommusim::memory

// Little-endian access to a generic payload's data array (PCI is little-endian, PCI 3.0 §3.2.2; the
// models never depend on the host's byte order).
#pragma once
#include "sim/core/types.h"

#include <tlm>

namespace iommusim::tlmx {

inline u64 get_le(const unsigned char* p, unsigned len) {
    u64 v = 0;
    for (unsigned i = 0; i < len && i < 8; ++i) v |= u64(p[i]) << (8 * i);
    return v;
}

inline void put_le(unsigned char* p, unsigned len, u64 v) {
    for (unsigned i = 0; i < len; ++i) p[i] = i < 8 ? (unsigned char)(v >> (8 * i)) : 0;
}

// Makes `gp` a plain single-beat request: command, address, data of `len` bytes (streaming width = len),
// no byte enables, no DMI hint, response not yet set. Every initiator in the models starts from this.
inline void init_payload(tlm::tlm_generic_payload& gp, tlm::tlm_command cmd, u64 addr, unsigned char* data,
                         unsigned len) {
    gp.set_command(cmd);
    gp.set_address(addr);
    gp.set_data_ptr(data);
    gp.set_data_length(len);
    gp.set_streaming_width(len);
    gp.set_byte_enable_ptr(nullptr);
    gp.set_dmi_allowed(false);
    gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
}

// Fills a read's data with all ones: what a master abort / Unsupported Request returns to the CPU.
inline void fill_all_ones(tlm::tlm_generic_payload& gp) {
    if (gp.is_read() && gp.get_data_ptr())
        for (unsigned i = 0; i < gp.get_data_length(); ++i) gp.get_data_ptr()[i] = 0xff;
}

// Attaches `ext` to `gp` for the duration of a call and puts back whatever was there before, so a
// stack-allocated extension never outlives the transaction.
class scoped_extension {
public:
    template <typename T>
    scoped_extension(tlm::tlm_generic_payload& gp, T* ext)
        : m_gp(gp), m_index(T::ID), m_previous(gp.set_extension(T::ID, ext)) {}
    ~scoped_extension() { m_gp.set_extension(m_index, m_previous); }
    scoped_extension(const scoped_extension&) = delete;
    scoped_extension& operator=(const scoped_extension&) = delete;

private:
    tlm::tlm_generic_payload& m_gp;
    unsigned m_index;
    tlm::tlm_extension_base* m_previous;
};

} // namespace iommusim::tlmx

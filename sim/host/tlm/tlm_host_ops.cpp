#include "sim/host/tlm/tlm_host_ops.h"

#include "models/iommu/tce/tlm/phb_iommu.h"
#include "platforms/platform.h"
#include "sim/tlm/payload_data.h"

#include <algorithm>

namespace iommusim::host {

tlm_host_ops::tlm_host_ops(sc_core::sc_module_name name, firmware_info firmware, std::vector<ecam_window> ecam)
    : sc_module(name), socket("socket"), mem("mem"), m_firmware(std::move(firmware)), m_ecam(std::move(ecam)) {}

const tlm_host_ops::ecam_window* tlm_host_ops::window(u16 segment) const {
    for (const auto& w : m_ecam)
        if (w.segment == segment) return &w;
    return nullptr;
}

bool tlm_host_ops::transport(tlm::tlm_command cmd, u64 addr, unsigned char* data, unsigned len) {
    return transport_on(*socket.operator->(), cmd, addr, data, len);
}

bool tlm_host_ops::transport_on(tlm::tlm_fw_transport_if<>& target, tlm::tlm_command cmd, u64 addr,
                                unsigned char* data, unsigned len) {
    tlm::tlm_generic_payload gp;
    tlmx::init_payload(gp, cmd, addr, data, len);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    target.b_transport(gp, delay);
    m_elapsed += delay;
    ++m_transactions;
    return gp.is_response_ok();
}

u32 tlm_host_ops::config_read(u16 segment, u8 bus, u8 devfn, u16 reg, unsigned len) {
    const u32 ones = len >= 4 ? 0xffffffffu : (1u << (8 * len)) - 1;
    const ecam_window* w = window(segment);
    if (!w || reg > 0xfff || !(len == 1 || len == 2 || len == 4)) return ones;
    unsigned char buf[4] = {0xff, 0xff, 0xff, 0xff};
    const u64 addr = w->base + (u64(bus) << 20 | u64(devfn) << 12 | reg);
    if (!transport(tlm::TLM_READ_COMMAND, addr, buf, len)) return ones;
    return u32(tlmx::get_le(buf, len));
}

void tlm_host_ops::config_write(u16 segment, u8 bus, u8 devfn, u16 reg, unsigned len, u32 value) {
    const ecam_window* w = window(segment);
    if (!w || reg > 0xfff || !(len == 1 || len == 2 || len == 4)) return;
    unsigned char buf[4];
    tlmx::put_le(buf, len, value);
    transport(tlm::TLM_WRITE_COMMAND, w->base + (u64(bus) << 20 | u64(devfn) << 12 | reg), buf, len);
}

u64 tlm_host_ops::mmio_read(u64 addr, unsigned len) {
    if (len == 0 || len > 8) return ~u64(0);
    unsigned char buf[8] = {};
    if (!transport(tlm::TLM_READ_COMMAND, addr, buf, len)) return len == 8 ? ~u64(0) : (u64(1) << (8 * len)) - 1;
    return tlmx::get_le(buf, len);
}

void tlm_host_ops::mmio_write(u64 addr, unsigned len, u64 value) {
    if (len == 0 || len > 8) return;
    unsigned char buf[8];
    tlmx::put_le(buf, len, value);
    transport(tlm::TLM_WRITE_COMMAND, addr, buf, len);
}

bool tlm_host_ops::memory_access(tlm::tlm_command cmd, u64 addr, unsigned char* data, u64 len) {
    if (mem.size() == 0) return false;
    // Cache-line-sized pieces, as the CPU's stores and loads would reach the memory controller.
    constexpr u64 line = 64;
    while (len) {
        const unsigned n = unsigned(std::min<u64>(len, line - (addr & (line - 1))));
        if (!transport_on(*mem.operator->(), cmd, addr, data, n)) return false;
        addr += n;
        data += n;
        len -= n;
    }
    return true;
}

bool tlm_host_ops::memory_read(u64 addr, void* data, u64 len) {
    return memory_access(tlm::TLM_READ_COMMAND, addr, static_cast<unsigned char*>(data), len);
}

bool tlm_host_ops::memory_write(u64 addr, const void* data, u64 len) {
    // TLM payloads carry a non-const pointer; a write command does not modify the buffer.
    return memory_access(tlm::TLM_WRITE_COMMAND, addr, static_cast<unsigned char*>(const_cast<void*>(data)), len);
}

tlm_machine::tlm_machine(const platforms::platform_desc& desc, const attach_fn& attach) {
    m_platform = std::make_unique<platforms::platform>("platform", desc);
    if (attach) attach(*m_platform);
    std::vector<tlm_host_ops::ecam_window> ecam;
    for (const auto& r : m_platform->root_complexes()) {
        bool seen = false;
        for (const auto& w : ecam) seen = seen || w.segment == r.segment;
        if (!seen) ecam.push_back({r.segment, r.ecam_base});
    }
    m_ops = std::make_unique<tlm_host_ops>("host_ops", m_platform->firmware(), std::move(ecam));
    std::vector<tce::phb*> opal;
    for (tce::phb_iommu* p : m_platform->phbs()) opal.push_back(&p->firmware());
    m_ops->set_opal_phbs(std::move(opal));
    m_ops->socket.bind(m_platform->cpu_side());
    if (m_platform->memory_bus()) m_ops->mem.bind(m_platform->memory_bus()->target);
    // Completes elaboration (binding checks, before/end_of_elaboration) without advancing time.
    sc_core::sc_start(sc_core::SC_ZERO_TIME);
}

tlm_machine::~tlm_machine() = default;

} // namespace iommusim::host

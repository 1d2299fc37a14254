// The simulated kernel's view of a SystemC platform: host::pci_host_ops over a TLM initiator socket
// bound to the platform's cpu_side(). Config accesses become ECAM memory transactions (PCIe Base §7.2.2)
// at the segment's ECAM base from the firmware (MCFG); MMIO accesses are plain memory transactions.
// Everything is a direct b_transport call: no process context, no wait(), so the kernel calls it from
// ordinary C++ code; annotated delays are summed into elapsed().
#pragma once
#include "sim/host/pci_host_ops.h"

#include <functional>
#include <memory>
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <vector>

namespace iommusim::platforms {
class platform;
struct platform_desc;
} // namespace iommusim::platforms

namespace iommusim::host {

class tlm_host_ops : public sc_core::sc_module, public pci_host_ops {
public:
    tlm_utils::simple_initiator_socket<tlm_host_ops> socket; // CPU side: ECAM, MMIO (the platform's cpu_side)
    // The CPU's coherent path to system memory (the platform's memory_bus), for the kernel's own tables.
    // Left unbound on a platform without memory: memory accesses then fail.
    tlm_utils::simple_initiator_socket_optional<tlm_host_ops> mem;

    struct ecam_window {
        u16 segment = 0;
        u64 base = 0; // address of bus 0 of the segment
    };

    tlm_host_ops(sc_core::sc_module_name name, firmware_info firmware, std::vector<ecam_window> ecam);

    u32 config_read(u16 segment, u8 bus, u8 devfn, u16 reg, unsigned len) override;
    void config_write(u16 segment, u8 bus, u8 devfn, u16 reg, unsigned len, u32 value) override;
    u64 mmio_read(u64 addr, unsigned len) override;
    void mmio_write(u64 addr, unsigned len, u64 value) override;
    bool memory_read(u64 addr, void* data, u64 len) override;
    bool memory_write(u64 addr, const void* data, u64 len) override;
    firmware_info firmware() const override { return m_firmware; }
    tce::phb* opal_phb(u64 opal_id) override { return opal_id < m_opal.size() ? m_opal[opal_id] : nullptr; }
    // The platform's PHBs by OPAL id (powernv).
    void set_opal_phbs(std::vector<tce::phb*> phbs) { m_opal = std::move(phbs); }

    sc_core::sc_time elapsed() const { return m_elapsed; } // sum of annotated delays so far
    u64 transactions() const { return m_transactions; }

private:
    const ecam_window* window(u16 segment) const;
    bool transport(tlm::tlm_command cmd, u64 addr, unsigned char* data, unsigned len);
    bool transport_on(tlm::tlm_fw_transport_if<>& target, tlm::tlm_command cmd, u64 addr, unsigned char* data,
                      unsigned len);
    bool memory_access(tlm::tlm_command cmd, u64 addr, unsigned char* data, u64 len);

    firmware_info m_firmware;
    std::vector<ecam_window> m_ecam;
    std::vector<tce::phb*> m_opal;
    sc_core::sc_time m_elapsed = sc_core::SC_ZERO_TIME;
    u64 m_transactions = 0;
};

// Owns a platform and the host ops bound to it, elaborated and ready:
//     platforms::platform_desc desc = platforms::load_preset("qemu-q35");
//     host::tlm_machine machine(desc);          // builds, binds, sc_start(SC_ZERO_TIME)
//     host::pci_host_ops& ops = machine.ops();
// One per process (SystemC elaborates once).
class tlm_machine {
public:
    // Called after the platform is built and before elaboration completes: the place to construct and
    // bind IOMMUs or memory to each host bridge's to_iommu_or_memory, or map more targets on the
    // platform's system_bus(). Modules created here must outlive the machine.
    using attach_fn = std::function<void(platforms::platform&)>;

    explicit tlm_machine(const platforms::platform_desc& desc, const attach_fn& attach = nullptr);
    ~tlm_machine();

    tlm_host_ops& ops() { return *m_ops; }
    platforms::platform& platform() { return *m_platform; }

private:
    std::unique_ptr<platforms::platform> m_platform;
    std::unique_ptr<tlm_host_ops> m_ops;
};

} // namespace iommusim::host

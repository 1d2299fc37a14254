// The x86 interrupt controller as seen from PCI: the Local APICs' message window 0xFEE0_0000-0xFEEF_FFFF.
// A DWORD write there is a message signalled interrupt (Intel SDM Vol. 3 §11.11); the controller decodes
// it, records it and tells an optional callback. No LAPIC state (IRR/ISR, EOI, priorities) is modelled:
// the record says which CPU(s) and vector the message addressed, which is what isolation and interrupt
// remapping tests need to observe.
//
// Message address (SDM §11.11.1):  31:20 0xFEE   19:12 Destination ID   3 RH (redirection hint)
//                                  2 DM (destination mode: 0 physical, 1 logical)
// x2APIC destinations above 255: address bits 63:40 carry Destination ID bits 31:8 (Linux's
// x86_msi_addr_hi.destid_8_31; the VT-d FEUADDR / IEUADDR registers hold the same for the IOMMU's own
// event messages, VT-d §11.4.4.4).
// Bit 4 set is the VT-d remappable format (VT-d §5.1.2.2): only an IOMMU with interrupt remapping
// understands it; reaching the LAPICs it is recorded as it is, flagged `remappable_format`.
// Message data (SDM §11.11.2):     7:0 vector   10:8 delivery mode   14 level (assert)   15 trigger mode
//
// A transaction that is not a valid message completes with an error response and is counted: a read
// (TLM_COMMAND_ERROR_RESPONSE), a length other than 4 or a streaming width below it
// (TLM_BURST_ERROR_RESPONSE), partial byte enables (TLM_BYTE_ENABLE_ERROR_RESPONSE), an address
// outside the window (TLM_ADDRESS_ERROR_RESPONSE). A device triggers these; they never throw.
#pragma once
#include "sim/core/types.h"

#include <deque>
#include <functional>
#include <optional>
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

namespace iommusim::intc {

constexpr u64 MSI_WINDOW_BASE = 0xfee00000;
constexpr u64 MSI_WINDOW_SIZE = u64(1) << 20;

// Delivery modes (SDM §11.11.2, message data bits 10:8).
enum class delivery_mode : u8 { fixed = 0, lowest_priority = 1, smi = 2, reserved3 = 3, nmi = 4, init = 5,
                                reserved6 = 6, extint = 7 };
const char* to_string(delivery_mode m);

struct msi_message {
    u32 destination = 0;       // APIC ID (physical) or logical destination (bits 19:12, + 63:40 for x2APIC)
    u8 vector = 0;
    delivery_mode mode = delivery_mode::fixed;
    bool logical = false;      // DM
    bool redirection_hint = false; // RH
    bool level_triggered = false;  // trigger mode (data bit 15)
    bool assert_level = false;     // level (data bit 14): meaningful for level-triggered messages
    bool remappable_format = false; // address bit 4: VT-d remappable format, not for the LAPICs
};

// Decodes a message (pure; also used by tests and by an IOMMU model delivering its own events).
msi_message decode_msi(u64 address, u32 data);

struct msi_record {
    sc_core::sc_time time;     // simulated time of arrival (time stamp + annotated delay)
    u64 address = 0;
    u32 data = 0;
    msi_message msg;
    std::optional<u16> requester_id; // from the pci_extension, when the request carried one
};

struct msi_stats {
    u64 delivered = 0;
    u64 rejected = 0;          // error responses (not a valid message)
    u64 remappable = 0;        // delivered with the remappable-format bit set
    u64 by_mode[8] = {};
};

class msi_controller : public sc_core::sc_module {
public:
    tlm_utils::simple_target_socket<msi_controller> socket;

    // latency: annotated on every message; history: how many records are kept (oldest dropped first;
    // statistics count everything).
    explicit msi_controller(sc_core::sc_module_name name, sc_core::sc_time latency = sc_core::SC_ZERO_TIME,
                            size_t history = 65536);

    // Delivers a message without a bus transaction (an IOMMU signalling its own events).
    void deliver(u64 address, u32 data, std::optional<u16> requester_id = std::nullopt,
                 sc_core::sc_time delay = sc_core::SC_ZERO_TIME);

    const std::deque<msi_record>& records() const { return m_records; }
    const msi_stats& stats() const { return m_stats; }
    void clear() { m_records.clear(); m_stats = {}; }
    void on_message(std::function<void(const msi_record&)> cb) { m_callback = std::move(cb); }

private:
    void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
    unsigned transport_dbg(tlm::tlm_generic_payload& gp);

    sc_core::sc_time m_latency;
    size_t m_history;
    std::deque<msi_record> m_records;
    msi_stats m_stats;
    std::function<void(const msi_record&)> m_callback;
};

} // namespace iommusim::intc

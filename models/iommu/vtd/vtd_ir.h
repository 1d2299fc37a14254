// Interrupt remapping (Intel VT-d Architecture Specification §5.1): the decision hardware makes for one
// interrupt request (a DWORD write to 0xFEEx_xxxx) from the registers (GSTS.IRES/CFIS, IRTA_REG §11.4.29)
// and the interrupt remapping table entry it fetches (§9.10), as a pure function over a fetch callback.
// The caller (the SystemC unit) records the fault (fault_info::ir) and delivers the message; the interrupt
// entry cache, if any, sits in the caller's fetch callback.
#pragma once
#include "models/iommu/vtd/vtd_defs.h"
#include "models/iommu/vtd/vtd_fault.h"

#include <functional>
#include <optional>
#include <utility>

namespace iommusim::vtd {

// An MSI write as it arrives at the remapping hardware.
struct interrupt_request {
    u16 sid = 0;      // requester ID
    u64 address = 0;  // 0xFEEx_xxxx
    u32 data = 0;
};

// What is delivered to the interrupt controller, in compatibility (x86 MSI) format.
struct interrupt_message {
    u64 address = 0;  // MSI address to forward; when remapped, rebuilt from the IRTE
    u32 data = 0;     // MSI data to forward
    u32 destination = 0;     // APIC ID: 8 bits in xAPIC mode, 32 bits with IRTA.EIME
    u8 vector = 0;
    u8 delivery_mode = 0;    // 000 fixed, 001 lowest priority, 010 SMI, 100 NMI, 101 INIT, 111 ExtINT
    bool level = false;      // trigger mode: true = level
    bool logical = false;    // destination mode: true = logical
    bool redirection_hint = false;
};

// What the unit's registers say.
struct ir_state {
    bool enabled = false;  // GSTS.IRES
    u64 irta = 0;          // IRTA_REG as latched by GCMD.SIRTP: IRTA 63:12, EIME 11, S 3:0
    bool cfis = false;     // GSTS.CFIS: compatibility-format interrupts pass through
    bool eim = false;      // ECAP.EIM: without it IRTA.EIME is ignored (xAPIC mode)
    unsigned haw = 46;     // host address width: an IRTE above it cannot be fetched
    bool pi = false;       // CAP.PI: posted-format IRTEs (IM = 1) are legal

    bool eime() const { return eim && (irta & (1ull << 11)); }
    u64 table_base() const { return irta & mask(63, 12); }
    // IRT size: 2^(S+1) entries (§11.4.29).
    u32 entries() const { return 1u << (bits(irta, 3, 0) + 1); }
};

struct ir_result {
    fault_reason fault = fault_reason::none;  // 20h-26h as the spec numbers them (27h is never raised here)
    bool fpd = false;        // the fetched IRTE's FPD; it suppresses only the qualified faults 22h, 24h, 26h
    u16 index = 0;           // interrupt_index (for the fault record, fault_info::ir); 0 for 20h and 25h
    bool remapped = false;   // false: passed through untranslated (IR disabled, or compatibility with CFIS)
    interrupt_message message;
    u64 irte_lo = 0, irte_hi = 0;  // the IRTE used (or that faulted), when one was fetched
    // Posted format (IM = 1 with CAP.PI): the message is not delivered as is; the unit posts `vector`
    // into the posted-interrupt descriptor at `pda` (not modelled by this class).
    bool posted = false;
    u64 pda = 0;
    bool urgent = false;

    bool ok() const { return fault == fault_reason::none; }
};

// Fetches IRTE `index` (16 bytes at IRTA + 16 * index); nullopt = the read failed (fault 23h).
using irte_fetch_fn = std::function<std::optional<std::pair<u64, u64>>(u64 irte_address)>;

class interrupt_remapper {
public:
    // The full remapping decision for one interrupt request, with the checks of §5.1.4 in the spec's
    // order. IR disabled: pass through unchanged. Compatibility format: blocked (25h) when IRTA.EIME is
    // set or GSTS.CFIS is clear, else pass through. Remappable format: reserved request fields (20h),
    // interrupt_index beyond IRTA.S (21h), IRTE fetch (23h), present (22h), reserved fields including the
    // xAPIC/x2APIC destination format and IM = 1 without CAP.PI (24h), source-id verification (26h).
    static ir_result remap(const ir_state& s, const interrupt_request& req, const irte_fetch_fn& fetch);

    static bool is_interrupt_address(u64 address) { return msi_address{address}.is_interrupt(); }
    // The remappable-format address a driver programs into a device's MSI/MSI-X (§5.1.2.2).
    static u64 remappable_address(u16 handle, bool shv) { return msi_address::make_remappable(handle, shv).v; }
    // Decode of a compatibility-format request (§5.1.2.1), as it is delivered when it passes through.
    static interrupt_message decode_compat(u64 address, u32 data);
    // The compatibility-format message a remapped-format IRTE produces (§9.10).
    static interrupt_message message_from_irte(const irte& e, bool eime);

    // Remappable-format request data: bits 31:16 are reserved (§5.1.2.2); 15:0 is the sub-handle.
    static constexpr u32 k_request_data_reserved = 0xffff0000u;
};

} // namespace iommusim::vtd

// Interrupt remapping of the AMD IOMMU (spec #48882 rev 3.0x §2.2.5): the decision for one interrupt request
// (a DWORD write to 0xFEEx_xxxx) from its DTE, the interrupt table entry it selects (32-bit, or 128-bit when
// Control.GAEn = 1) and the MSI data's delivery mode, as a pure function over a read callback. The caller
// (the SystemC unit) logs the event and delivers the message; an interrupt-table cache sits in the caller's
// fetch callback.
#pragma once
#include "models/iommu/amdvi/amdvi_defs.h"
#include "models/iommu/amdvi/amdvi_xlate.h"

#include <optional>

namespace iommusim::amdvi {

struct interrupt_request {
    u16 device_id = 0;
    u64 address = 0;  // 0xFEEx_xxxx
    u32 data = 0;
};

// The message delivered to the interrupt controller (x86 compatibility format) and its decoded fields.
struct interrupt_message {
    u64 address = 0;
    u32 data = 0;
    u32 destination = 0;  // APIC ID (8 bits in xAPIC mode; 32 with GA IRTEs and XTEn)
    u8 vector = 0;
    u8 delivery_mode = 0;
    bool logical = false;
};

// Reads one IRTE: 4 bytes (low half of the value) or 16; nullopt = the read failed.
struct irte_raw {
    u64 lo = 0, hi = 0;
};
using irte_fetch_fn = std::function<std::optional<irte_raw>(u64 address, unsigned bytes)>;

struct ir_result {
    enum class outcome : u8 { remapped, passed, aborted };
    outcome result = outcome::aborted;
    interrupt_message message;      // remapped or passed
    std::optional<event> ev;        // event to log
    bool log = true;                // false: the event is suppressed (SupIOPF, IG)
    u32 index = 0;                  // interrupt table index (MSI data 10:0)
    u64 irte_address = 0;           // where the IRTE was read, when it was
    bool ok() const { return result != outcome::aborted; }
};

struct ir_mode {
    bool ga = false;  // Control.GAEn (with EFR.GASup): 128-bit IRTEs
    bool xt = false;  // Control.XTEn: 32-bit destinations
};

class interrupt_remapper {
public:
    // From a fetched DTE (the caller handled DTE fetch errors): V = 0 or IV = 0 passes unmapped; reserved
    // bits of qwords 3:2 (ILLEGAL_DEV_TABLE_ENTRY); by delivery mode: fixed / arbitrated follow IntCtl (00b
    // abort, 01b pass, 10b remap, 11b ILLEGAL_DEV_TABLE_ENTRY), SMI passes, NMI / INIT / ExtInt by the pass
    // bits, reserved modes abort. Remapping: IntTabLen above 1011b (ILLEGAL_DEV_TABLE_ENTRY), index beyond
    // the table (IO_PAGE_FAULT), IRTE read error (PAGE_TAB_HW_ERROR, I = 1), RemapEn = 0 (IO_PAGE_FAULT,
    // suppressed by SupIOPF or DTE.IG), reserved bits, GuestMode or an IntType other than fixed/arbitrated
    // (IO_PAGE_FAULT, RZ = 1).
    static ir_result remap(const dte& d, const interrupt_request& req, ir_mode mode, const irte_fetch_fn& fetch);

    // The message a remapped IRTE produces.
    static interrupt_message message(u32 destination, u8 vector, u8 int_type, bool dm, bool xt);
    // A compatibility-format message decoded as it passes through.
    static interrupt_message decode(u64 address, u32 data);
};

} // namespace iommusim::amdvi

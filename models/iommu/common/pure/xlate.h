// Translation request and result: the value types every IOMMU model (VT-d, AMD-Vi, POWER TCE) passes
// through its pipeline (cache lookup, context fetch, walk, permission check, fill; gem5 SMMUv3's
// TranslRequest/TranslResult shape). Faults are results, never exceptions: a guest or device can cause
// them at will. Pure C++ (no SystemC): the TLM side converts from tlmx::pci_extension.
#pragma once
#include "sim/core/types.h"

#include <optional>
#include <string>

namespace iommusim::iommu {

// Access rights, both what a request asks for and what an entry grants.
using perm_mask = u8;
constexpr perm_mask perm_none = 0;
constexpr perm_mask perm_read = 1u << 0;
constexpr perm_mask perm_write = 1u << 1;
constexpr perm_mask perm_exec = 1u << 2;
constexpr perm_mask perm_priv = 1u << 3; // request: privileged mode; grant: supervisor-only entry
constexpr perm_mask perm_rw = perm_read | perm_write;
constexpr perm_mask perm_all = perm_read | perm_write | perm_exec;

// PCIe Address Type (PCIe Base §10.2.1); the same numbering as tlmx::address_type.
enum class address_type : u8 { untranslated = 0, translation_request = 1, translated = 2 };

struct xlate_request {
    u16 requester_id = 0;       // bus << 8 | devfn, as it reached the IOMMU
    std::optional<u32> pasid;   // PASID TLP prefix, when present
    u64 address = 0;            // IOVA / bus address
    u64 size = 1;               // bytes; the model decides what a page-crossing request means
    perm_mask access = perm_read; // one of read/write/exec, plus perm_priv for a privileged request
    address_type at = address_type::untranslated;
    bool interrupt = false;     // an interrupt message (x86 MSI to 0xFEEx_xxxx) for the remapping path

    bool is_write() const { return access & perm_write; }
};

// What went wrong, in words every format shares; the model-specific number (a VT-d fault reason, an
// AMD event code, a PAPR error) travels beside it in xlate_fault::reason.
enum class fault_kind : u8 {
    none = 0,
    not_present,       // an entry's present/valid bit is clear
    permission,        // the entry does not grant the requested access
    invalid_entry,     // an entry is present but malformed (e.g. a table pointer where a leaf must be)
    reserved_bit,      // a reserved bit is set
    out_of_window,     // the address lies outside the DMA window (TCE) or the table's reach
    address_size,      // the address exceeds the supported input width (VT-d MGAW/AGAW)
    walk_memory_error, // a table read got a TLM error response
    config_error,      // a root/context/device-table entry is unusable
    blocked,           // the request is refused outright (translation blocked, interrupt blocked, frozen PE)
};
const char* to_string(fault_kind k);

struct xlate_fault {
    fault_kind kind = fault_kind::none;
    u32 reason = 0;         // model-specific code (VT-d fault reason, AMD event type, ...)
    unsigned level = 0;     // table level that faulted (0: not during a walk)
    u64 address = 0;        // the request's input address
    u64 entry_address = 0;  // address of the offending entry in memory (0: none)
    perm_mask access = perm_none; // the access that faulted
};

struct translation {
    u64 address = 0;          // translated address of the request's first byte
    unsigned page_shift = 12; // the mapping's page size is 1 << page_shift
    perm_mask perms = perm_none; // rights the mapping grants
    u64 attrs = 0;            // model-specific leaf attributes (snoop, TM, ...)

    u64 page_size() const { return u64(1) << page_shift; }
    u64 page_mask() const { return page_size() - 1; }
};

class xlate_result {
public:
    static xlate_result success(const translation& t) {
        xlate_result r;
        r.m_ok = true;
        r.m_translation = t;
        return r;
    }
    static xlate_result failure(const xlate_fault& f) {
        xlate_result r;
        r.m_ok = false;
        r.m_fault = f;
        return r;
    }
    bool ok() const { return m_ok; }
    const translation& value() const { return m_translation; }
    const xlate_fault& fault() const { return m_fault; }
    std::string describe() const; // for logs and test messages

private:
    bool m_ok = false;
    translation m_translation;
    xlate_fault m_fault;
};

} // namespace iommusim::iommu

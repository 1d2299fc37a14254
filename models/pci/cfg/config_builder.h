// Builds a PCI function's configuration space from its hardware parameters: header, BARs, capability
// lists, and for every register the write mask / write-1-to-clear mask that gives it its spec semantics
// (RO, RW, RW1C). Pure C++, no SystemC; the SystemC models own the result.
#pragma once
#include "models/pci/cfg/config_space.h"
#include "models/pci/cfg/function_params.h"
#include "models/pci/cfg/pci_regs.h"

namespace iommusim::pci {

// Throws std::invalid_argument on parameters no hardware could have (BAR size not a power of two, a
// 64-bit BAR in the last slot, a capture shorter than the header...); callers add the JSON path.
//
// kind == captured: the bytes are used verbatim in a 4096-byte space. A 256-byte capture is padded with
// zeros, so offset 0x100 reads as the null extended capability header (PCIe Base §7.6: ID 0, version 0,
// next 0 means "no extended capabilities"); which is what Linux then sees on a device whose extended
// space was not captured. Masks come from the header type and the capabilities found by walking the
// captured lists. BAR and ROM registers stay read-only: sizes cannot be recovered from a dump.
config_space build_config_space(const function_params& params);

// The Device/Port Type (PCI_EXP_FLAGS_TYPE >> 4) of a PCIe kind; nullopt for conventional kinds.
std::optional<pcie_type> pcie_type_of(function_kind kind);

// Hardware erratum modelled: Intel Sunrise/Union Point PCH root ports (8086:a110-a11f, a167-a16a,
// a290-a29f, a2e7-a2ee, 9d10-9d1b) keep the ACS Control register as a dword at cap+8 instead of the word
// at cap+6 (cap+6 is then the RO upper half of a dword Capability register). Decided from the IDs and
// port type already in the space, so built and captured spaces behave alike.
bool intel_spt_pch_acs_layout(const config_space& cfg);

// Applies the register semantics of a capability already present at `off` (reading its RO fields to
// decide the layout). Used for built and captured spaces alike.
void apply_pm_masks(config_space& cfg, u16 off);
void apply_msi_masks(config_space& cfg, u16 off);
void apply_msix_masks(config_space& cfg, u16 off);
void apply_exp_masks(config_space& cfg, u16 off);
void apply_acs_masks(config_space& cfg, u16 off);
void apply_ats_masks(config_space& cfg, u16 off);
void apply_pasid_masks(config_space& cfg, u16 off);
void apply_pri_masks(config_space& cfg, u16 off);

} // namespace iommusim::pci

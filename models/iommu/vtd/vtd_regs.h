// The VT-d register map (Intel VT-d Architecture Specification, chapter 11, Table "Address Mapping for
// Remapping Hardware Registers") as one constexpr table, and the register file holding the values with
// one generic access path. Side effects (GCMD commands, invalidations, fault clearing) belong to whoever
// owns the register_file: a write reports which registers it touched, with old and new values.
#pragma once
#include "models/iommu/vtd/vtd_params.h"
#include "sim/core/types.h"

#include <array>
#include <string>
#include <vector>

namespace iommusim::vtd {

// Rows of the register table, in table order. FRCD_LO/FRCD_HI describe one fault recording register
// (§11.4.14, 128 bits); the register file replicates them NFR times at FRO.
enum class reg_id : u16 {
    VER, CAP, ECAP, GCMD, GSTS, RTADDR, CCMD, FSTS, FECTL, FEDATA, FEADDR, FEUADDR, AFLOG,
    PMEN, PLMBASE, PLMLIMIT, PHMBASE, PHMLIMIT,
    IQH, IQT, IQA, ICS, IECTL, IEDATA, IEADDR, IEUADDR, IQERCD, IRTA,
    PQH, PQT, PQA, PRS, PECTL, PEDATA, PEADDR, PEUADDR,
    IVA, IOTLB,
    FRCD_LO, FRCD_HI,
    count
};

// Where a register's offset is measured from.
enum class reg_base : u8 { fixed, iro, fro };

// The capability a register exists under; absent registers are reserved (reads 0, writes ignored).
enum class reg_feature : u8 { always, afl, pmr, plmr, phmr, qi, ir, prs };

struct reg_desc {
    reg_id id;
    const char* name;   // the spec's name without the _REG suffix
    u32 offset;         // from base
    u8 width;           // bytes: 4 or 8
    u64 reset;          // VER/CAP/ECAP take theirs from the parameters instead
    u64 rw;             // bits software may write
    u64 w1c;            // bits software clears by writing 1 (RW1C / RW1CS)
    u64 wo;             // write-only bits: stored for the side effect, read back as 0
    reg_base base;
    reg_feature feature;
    const char* note;   // the spec section and the access attributes in words
};

// §11.4, one row per register.
extern const std::array<reg_desc, static_cast<std::size_t>(reg_id::count)> k_regs;
const reg_desc& desc_of(reg_id id);

// Bit fields of the registers the models act on (§11.4.4 - §11.4.14).
namespace regbits {
// GCMD_REG / GSTS_REG (§11.4.4, §11.4.5): command bit n is mirrored by status bit n.
constexpr u32 GCMD_TE = 1u << 31, GCMD_SRTP = 1u << 30, GCMD_SFL = 1u << 29, GCMD_EAFL = 1u << 28,
              GCMD_WBF = 1u << 27, GCMD_QIE = 1u << 26, GCMD_IRE = 1u << 25, GCMD_SIRTP = 1u << 24,
              GCMD_CFI = 1u << 23;
constexpr u32 GSTS_TES = 1u << 31, GSTS_RTPS = 1u << 30, GSTS_FLS = 1u << 29, GSTS_AFLS = 1u << 28,
              GSTS_WBFS = 1u << 27, GSTS_QIES = 1u << 26, GSTS_IRES = 1u << 25, GSTS_IRTPS = 1u << 24,
              GSTS_CFIS = 1u << 23;
// RTADDR_REG (§11.4.6)
constexpr u64 RTADDR_RTA = ~0xfffull;
// CCMD_REG (§11.4.7)
constexpr u64 CCMD_ICC = 1ull << 63;
constexpr unsigned CCMD_CIRG_SHIFT = 61, CCMD_CAIG_SHIFT = 59, CCMD_FM_SHIFT = 32, CCMD_SID_SHIFT = 16;
// IOTLB_REG / IVA_REG (§11.4.8.1, §11.4.8.2)
constexpr u64 IOTLB_IVT = 1ull << 63, IOTLB_DR = 1ull << 49, IOTLB_DW = 1ull << 48;
constexpr unsigned IOTLB_IIRG_SHIFT = 60, IOTLB_IAIG_SHIFT = 57, IOTLB_DID_SHIFT = 32;
constexpr u64 IVA_ADDR = ~0xfffull, IVA_IH = 1ull << 6, IVA_AM = 0x3f;
// FSTS_REG (§11.4.9)
constexpr u32 FSTS_PFO = 1u << 0, FSTS_PPF = 1u << 1, FSTS_AFO = 1u << 2, FSTS_APF = 1u << 3,
              FSTS_IQE = 1u << 4, FSTS_ICE = 1u << 5, FSTS_ITE = 1u << 6;
constexpr unsigned FSTS_FRI_SHIFT = 8;
constexpr u32 FSTS_FRI = 0xffu << FSTS_FRI_SHIFT;
// Status bits that are interrupt conditions of the fault event (§7.3.1.1)
constexpr u32 FSTS_EVENT_BITS = FSTS_PFO | FSTS_PPF | FSTS_AFO | FSTS_APF | FSTS_IQE | FSTS_ICE | FSTS_ITE;
// FECTL_REG / IECTL_REG / PECTL_REG (§11.4.10, §11.4.21)
constexpr u32 ECTL_IM = 1u << 31, ECTL_IP = 1u << 30;
// FRCD_REG (§11.4.14) as two qwords: FRCD_LO holds FI in 63:12; FRCD_HI holds bits 127:64.
constexpr u64 FRCD_HI_F = 1ull << 63, FRCD_HI_T1 = 1ull << 62, FRCD_HI_PP = 1ull << 31,
              FRCD_HI_EXE = 1ull << 30, FRCD_HI_PRIV = 1ull << 29, FRCD_HI_T2 = 1ull << 28;
constexpr unsigned FRCD_HI_AT_SHIFT = 60, FRCD_HI_PV_SHIFT = 40, FRCD_HI_FR_SHIFT = 32;
// IQA_REG / IQH_REG / IQT_REG (§11.4.17 - §11.4.19)
constexpr u64 IQA_IQA = ~0xfffull, IQA_QS = 0x7, IQ_QH_QT = 0x7fff0;
// ICS_REG (§11.4.20)
constexpr u32 ICS_IWC = 1u << 0;
// IRTA_REG (§11.4.29)
constexpr u64 IRTA_IRTA = ~0xfffull, IRTA_EIME = 1ull << 11, IRTA_S = 0xf;
} // namespace regbits

// One register a write touched, with its value before and after the generic write path.
struct reg_write {
    reg_id id = reg_id::count;
    unsigned frcd = 0;  // fault recording register index, for FRCD_LO/FRCD_HI
    u64 old_value = 0;
    u64 new_value = 0;  // stored value (write-only bits included)
};

// At most two registers: an 8-byte access may span two adjacent 4-byte registers.
struct write_result {
    std::array<reg_write, 2> regs{};
    unsigned count = 0;
    const reg_write* find(reg_id id) const;
    bool touched(reg_id id) const { return find(id) != nullptr; }
};

class register_file {
public:
    explicit register_file(const vtd_params& params);

    void reset();

    // Software (MMIO) view. Sizes 1, 2, 4, 8; naturally aligned; bytes of absent or unknown registers
    // read 0 and ignore writes; an access of another size or alignment reads 0 and writes nothing.
    u64 read(u64 offset, unsigned size) const;
    write_result write(u64 offset, u64 data, unsigned size);

    // Hardware view: the stored value, and updates that bypass the software masks.
    u64 get(reg_id id) const;
    void set(reg_id id, u64 value);
    void update(reg_id id, u64 set_bits, u64 clear_bits) { set(id, (get(id) & ~clear_bits) | set_bits); }
    u64 frcd_lo(unsigned i) const;
    u64 frcd_hi(unsigned i) const;
    void set_frcd(unsigned i, u64 lo, u64 hi);

    bool present(reg_id id) const;
    // Absolute offset of a register (FRCD_LO/FRCD_HI: of record 0).
    u32 offset_of(reg_id id) const;
    u32 offset_of_frcd(unsigned i) const { return m_fro + 16 * i; }
    unsigned nfr() const { return m_nfr; }
    // Bytes of MMIO space the unit decodes (4 KiB multiple).
    u32 window_size() const { return m_window; }
    // Printable name of the register at an absolute offset ("FRCD_HI[3]"), empty if none.
    std::string name_at(u64 offset) const;

private:
    struct slot {
        const reg_desc* desc;
        u32 offset;      // absolute
        unsigned frcd;   // record index for FRCD rows
        bool present;
        u64 reset;
        u64 value;
    };
    unsigned slot_index(reg_id id) const { return static_cast<unsigned>(id); }
    unsigned frcd_slot(unsigned i, bool hi) const;
    int owner(u64 offset) const;

    std::vector<slot> m_slots;
    std::vector<int> m_dword_owner;  // slot covering each dword of the window, -1 if none
    u32 m_fro = 0, m_nfr = 0, m_window = 0;
};

} // namespace iommusim::vtd

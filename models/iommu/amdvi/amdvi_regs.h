// The AMD IOMMU MMIO register map (AMD I/O Virtualization Technology (IOMMU) Specification #48882 rev 3.0x,
// §3.4) as one constexpr table, and the register file holding the values with one generic write path
// (value = old & ~rw | new & rw, then RW1C bits cleared). Side effects (enabling logs, running the command
// buffer, clearing status) belong to the owner: a write reports the register it touched with its old and
// new values.
#pragma once
#include "models/iommu/amdvi/amdvi_params.h"
#include "sim/core/types.h"

#include <array>
#include <string>
#include <vector>

namespace iommusim::amdvi {

enum class reg_id : u8 {
    DEV_TABLE_BASE, CMD_BUF_BASE, EVENT_LOG_BASE, CONTROL, EXCL_BASE, EXCL_LIMIT, EXT_FEATURE, PPR_LOG_BASE,
    HW_EVENT_HI, HW_EVENT_LO, HW_EVENT_STATUS, XT_GEN_INTR_CTRL, XT_PPR_INTR_CTRL, XT_GALOG_INTR_CTRL,
    CMD_BUF_HEAD, CMD_BUF_TAIL, EVENT_LOG_HEAD, EVENT_LOG_TAIL, STATUS, PPR_LOG_HEAD, PPR_LOG_TAIL,
    count
};

// The feature a register exists under; absent registers are reserved (read 0, writes ignored).
enum class reg_feature : u8 { always, ppr, he, xt };

struct reg_desc {
    reg_id id;
    const char* name;  // the spec's name
    u32 offset;
    u64 reset;         // EXT_FEATURE takes its value from the parameters
    u64 rw;            // bits software may write
    u64 w1c;           // bits software clears by writing 1
    reg_feature feature;
    const char* note;  // section and access attributes in words
};

extern const std::array<reg_desc, static_cast<std::size_t>(reg_id::count)> k_regs;
const reg_desc& desc_of(reg_id id);

struct reg_write {
    reg_id id = reg_id::count;
    u64 old_value = 0;
    u64 new_value = 0;
};

class register_file {
public:
    explicit register_file(const amdvi_params& params);

    void reset();

    // Software (MMIO) view: sizes 1, 2, 4, 8, naturally aligned, within one 8-byte register; anything else
    // reads 0 and writes nothing (returns id = count). Bytes of absent registers read 0.
    u64 read(u64 offset, unsigned size) const;
    reg_write write(u64 offset, u64 data, unsigned size);

    // Hardware view.
    u64 get(reg_id id) const { return m_values[static_cast<std::size_t>(id)]; }
    void set(reg_id id, u64 value) { m_values[static_cast<std::size_t>(id)] = value; }
    void update(reg_id id, u64 set_bits, u64 clear_bits) { set(id, (get(id) & ~clear_bits) | set_bits); }
    bool present(reg_id id) const { return m_present[static_cast<std::size_t>(id)]; }

    u32 window_size() const;
    std::string name_at(u64 offset) const;

private:
    int find(u64 offset) const;  // register holding the 8-byte slot at offset, -1 if none

    std::array<u64, static_cast<std::size_t>(reg_id::count)> m_values{};
    std::array<u64, static_cast<std::size_t>(reg_id::count)> m_reset{};
    std::array<bool, static_cast<std::size_t>(reg_id::count)> m_present{};
};

} // namespace iommusim::amdvi

#include "models/iommu/amdvi/amdvi_regs.h"

#include "models/iommu/amdvi/amdvi_defs.h"

namespace iommusim::amdvi {

namespace {
using F = reg_feature;
constexpr u64 XT_INTR_CTRL_RW = bit(2) | mask(31, 8) | mask(40, 32) | mask(63, 56);
constexpr u64 CONTROL_RW = mask(17, 0) | mask(29, 22) | control::XT_EN | control::INT_CAP_XT_EN;
} // namespace

// §3.4, one row per register.
// clang-format off
const std::array<reg_desc, static_cast<std::size_t>(reg_id::count)> k_regs = {{
    {reg_id::DEV_TABLE_BASE, "DevTableBase", mmio::DEV_TABLE_BASE, 0, 0x000ffffffffff1ffull, 0, F::always, "§3.4.1 RW DevTabBase 51:12, Size 8:0"},
    {reg_id::CMD_BUF_BASE,   "CmdBufBase",   mmio::CMD_BUF_BASE,   0, 0x0f0ffffffffff000ull, 0, F::always, "§3.4.2 RW ComBase 51:12, ComLen 59:56"},
    {reg_id::EVENT_LOG_BASE, "EventLogBase", mmio::EVENT_LOG_BASE, 0, 0x0f0ffffffffff000ull, 0, F::always, "§3.4.3 RW EventBase 51:12, EventLen 59:56"},
    {reg_id::CONTROL,        "Control",      mmio::CONTROL,        0, CONTROL_RW,            0, F::always, "§3.4.4 RW IommuEn .. GAEn 17:0, SmiFEn .. GAIntEn 29:22, XTEn 50, IntCapXTEn 51"},
    {reg_id::EXCL_BASE,      "ExclBase",     mmio::EXCL_BASE,      0, 0x000ffffffffff003ull, 0, F::always, "§3.4.5 RW ExclusionBase 51:12, Allow 1, ExEn 0"},
    {reg_id::EXCL_LIMIT,     "ExclLimit",    mmio::EXCL_LIMIT,     exclusion::LIMIT_LOW_ONES, exclusion::LIMIT, 0, F::always, "§3.4.6 RW ExclusionLimit 51:12; 11:0 read as 1"},
    {reg_id::EXT_FEATURE,    "ExtFeature",   mmio::EXT_FEATURE,    0, 0,                     0, F::always, "§3.4.7 RO; built from parameters"},
    {reg_id::PPR_LOG_BASE,   "PPRLogBase",   mmio::PPR_LOG_BASE,   0, 0x0f0ffffffffff000ull, 0, F::ppr,    "§3.4.8 RW PPRLogBase 51:12, PPRLogLen 59:56; only with PPRSup"},
    {reg_id::HW_EVENT_HI,    "HwEventHi",    0x0040,               0, ~0ull,                 0, F::he,     "§3.4.14 RW; only with HESup"},
    {reg_id::HW_EVENT_LO,    "HwEventLo",    0x0048,               0, ~0ull,                 0, F::he,     "§3.4.14 RW; only with HESup"},
    {reg_id::HW_EVENT_STATUS,"HwEventStatus",0x0050,               0, 0,                     0x3, F::he,   "§3.4.14 RW1C HEO 1, HEV 0; only with HESup"},
    {reg_id::XT_GEN_INTR_CTRL,  "XtGenIntrCtrl",  mmio::XT_GEN_INTR_CTRL,   0, XT_INTR_CTRL_RW, 0, F::xt, "§3.4.15 RW DM 2, Destination 31:8 and 63:56, Vector 39:32; only with XTSup"},
    {reg_id::XT_PPR_INTR_CTRL,  "XtPprIntrCtrl",  mmio::XT_PPR_INTR_CTRL,   0, XT_INTR_CTRL_RW, 0, F::xt, "§3.4.15 RW; only with XTSup"},
    {reg_id::XT_GALOG_INTR_CTRL,"XtGALogIntrCtrl",mmio::XT_GALOG_INTR_CTRL, 0, XT_INTR_CTRL_RW, 0, F::xt, "§3.4.15 RW; only with XTSup"},
    {reg_id::CMD_BUF_HEAD,   "CmdBufHead",   mmio::CMD_BUF_HEAD,   0, RING_PTR,              0, F::always, "§3.4.9 RW CmdHdPtr 18:4 (software writes it only while CmdBufEn = 0)"},
    {reg_id::CMD_BUF_TAIL,   "CmdBufTail",   mmio::CMD_BUF_TAIL,   0, RING_PTR,              0, F::always, "§3.4.10 RW CmdTailPtr 18:4"},
    {reg_id::EVENT_LOG_HEAD, "EventLogHead", mmio::EVENT_LOG_HEAD, 0, RING_PTR,              0, F::always, "§3.4.11 RW EventHdPtr 18:4"},
    {reg_id::EVENT_LOG_TAIL, "EventLogTail", mmio::EVENT_LOG_TAIL, 0, RING_PTR,              0, F::always, "§3.4.12 RW EventTailPtr 18:4 (software writes it only while EventLogEn = 0)"},
    {reg_id::STATUS,         "Status",       mmio::STATUS,         0, 0,                     status::W1C, F::always, "§3.4.13 RW1C EventOverflow, EventLogInt, ComWaitInt, PPR/GA bits; Run bits RO"},
    {reg_id::PPR_LOG_HEAD,   "PPRLogHead",   mmio::PPR_LOG_HEAD,   0, RING_PTR,              0, F::ppr,    "§3.4.16 RW; only with PPRSup"},
    {reg_id::PPR_LOG_TAIL,   "PPRLogTail",   mmio::PPR_LOG_TAIL,   0, RING_PTR,              0, F::ppr,    "§3.4.17 RW; only with PPRSup"},
}};
// clang-format on

const reg_desc& desc_of(reg_id id) { return k_regs[static_cast<std::size_t>(id)]; }

register_file::register_file(const amdvi_params& p) {
    p.validate();
    for (const auto& d : k_regs) {
        const auto i = static_cast<std::size_t>(d.id);
        bool present = true;
        if (d.feature == F::ppr) present = p.ppr_sup;
        if (d.feature == F::he) present = p.he_sup;
        if (d.feature == F::xt) present = p.xt_sup;
        m_present[i] = present;
        m_reset[i] = d.id == reg_id::EXT_FEATURE ? build_efr(p) : d.reset;
    }
    reset();
}

void register_file::reset() { m_values = m_reset; }

u32 register_file::window_size() const { return mmio::WINDOW_SIZE; }

int register_file::find(u64 offset) const {
    const u64 slot = offset & ~7ull;
    for (const auto& d : k_regs)
        if (d.offset == slot) return m_present[static_cast<std::size_t>(d.id)] ? static_cast<int>(d.id) : -1;
    return -1;
}

namespace {
bool valid_access(u64 offset, unsigned size) {
    if (size != 1 && size != 2 && size != 4 && size != 8) return false;
    return offset % size == 0 && offset + size <= mmio::WINDOW_SIZE;
}
} // namespace

u64 register_file::read(u64 offset, unsigned size) const {
    if (!valid_access(offset, size)) return 0;
    const int r = find(offset);
    if (r < 0) return 0;
    const u64 v = m_values[static_cast<std::size_t>(r)] >> (8 * (offset & 7));
    return size == 8 ? v : v & ((1ull << (8 * size)) - 1);
}

reg_write register_file::write(u64 offset, u64 data, unsigned size) {
    reg_write w;
    if (!valid_access(offset, size)) return w;
    const int r = find(offset);
    if (r < 0) return w;
    const reg_desc& d = k_regs[static_cast<std::size_t>(r)];
    const unsigned shift = 8 * static_cast<unsigned>(offset & 7);
    const u64 bytes = (size == 8 ? ~0ull : ((1ull << (8 * size)) - 1)) << shift;
    const u64 value = (data << shift) & bytes;
    u64& cur = m_values[static_cast<std::size_t>(r)];
    w.id = d.id;
    w.old_value = cur;
    const u64 rw = d.rw & bytes;
    cur = ((cur & ~rw) | (value & rw)) & ~(value & d.w1c & bytes);
    w.new_value = cur;
    return w;
}

std::string register_file::name_at(u64 offset) const {
    const int r = find(offset);
    return r < 0 ? std::string() : std::string(k_regs[static_cast<std::size_t>(r)].name);
}

} // namespace iommusim::amdvi

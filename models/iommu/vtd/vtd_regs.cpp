#include "models/iommu/vtd/vtd_regs.h"

#include <algorithm>
#include <cstdio>

namespace iommusim::vtd {

namespace {
constexpr u64 M32 = 0xffffffffull;
constexpr u64 IM = regbits::ECTL_IM;
using B = reg_base;
using F = reg_feature;
} // namespace

// §11.4 register map. Offsets of the IOTLB registers come from ECAP.IRO, those of the fault recording
// registers from CAP.FRO; absent features make their registers reserved.
// clang-format off
const std::array<reg_desc, static_cast<std::size_t>(reg_id::count)> k_regs = {{
    //                       name       off   w  reset  rw                     w1c                    wo
    {reg_id::VER,     "VER",     0x00, 4, 0,  0,                     0, 0, B::fixed, F::always, "§11.4.1 RO; value from parameter version"},
    {reg_id::CAP,     "CAP",     0x08, 8, 0,  0,                     0, 0, B::fixed, F::always, "§11.4.2 RO; built from parameters"},
    {reg_id::ECAP,    "ECAP",    0x10, 8, 0,  0,                     0, 0, B::fixed, F::always, "§11.4.3 RO; built from parameters"},
    {reg_id::GCMD,    "GCMD",    0x18, 4, 0,  0xff800000,            0, 0xff800000, B::fixed, F::always, "§11.4.4 WO command bits 31:23, read 0"},
    {reg_id::GSTS,    "GSTS",    0x1c, 4, 0,  0,                     0, 0, B::fixed, F::always, "§11.4.5 RO status bits 31:23"},
    {reg_id::RTADDR,  "RTADDR",  0x20, 8, 0,  0xfffffffffffff000,    0, 0, B::fixed, F::always, "§11.4.6 RW RTA 63:12; TTM 11:10 reserved (legacy mode only)"},
    {reg_id::CCMD,    "CCMD",    0x28, 8, 0,  0xe0000003ffffffff,    0, 0, B::fixed, F::always, "§11.4.7 RW ICC, CIRG, FM, SID, DID; CAIG 60:59 RO"},
    {reg_id::FSTS,    "FSTS",    0x34, 4, 0,  0,                     0x7d, 0, B::fixed, F::always, "§11.4.9 RW1C PFO AFO APF IQE ICE ITE; PPF, FRI RO"},
    {reg_id::FECTL,   "FECTL",   0x38, 4, IM, IM,                    0, 0, B::fixed, F::always, "§11.4.10 RW IM (reset 1); IP RO"},
    {reg_id::FEDATA,  "FEDATA",  0x3c, 4, 0,  0xffff,                0, 0, B::fixed, F::always, "§11.4.11 RW IMD 15:0; EIMD 31:16 not supported"},
    {reg_id::FEADDR,  "FEADDR",  0x40, 4, 0,  0xfffffffc,            0, 0, B::fixed, F::always, "§11.4.12 RW MA 31:2"},
    {reg_id::FEUADDR, "FEUADDR", 0x44, 4, 0,  M32,                   0, 0, B::fixed, F::always, "§11.4.13 RW MUA 31:0"},
    {reg_id::AFLOG,   "AFLOG",   0x58, 8, 0,  0xfffffffffffffe00,    0, 0, B::fixed, F::afl,    "§11.4.15 RW FLA 63:12, FLS 11:9; only with CAP.AFL"},
    {reg_id::PMEN,    "PMEN",    0x64, 4, 0,  0x80000000,            0, 0, B::fixed, F::pmr,    "§11.4.16 RW EPM 31; PRS 0 RO; only with CAP.PLMR or PHMR"},
    {reg_id::PLMBASE, "PLMBASE", 0x68, 4, 0,  0xffe00000,            0, 0, B::fixed, F::plmr,   "§11.4.16 RW PLMB 31:21 (2 MiB)"},
    {reg_id::PLMLIMIT,"PLMLIMIT",0x6c, 4, 0,  0xffe00000,            0, 0, B::fixed, F::plmr,   "§11.4.16 RW PLML 31:21"},
    {reg_id::PHMBASE, "PHMBASE", 0x70, 8, 0,  0xffffffffffe00000,    0, 0, B::fixed, F::phmr,   "§11.4.16 RW PHMB 63:21"},
    {reg_id::PHMLIMIT,"PHMLIMIT",0x78, 8, 0,  0xffffffffffe00000,    0, 0, B::fixed, F::phmr,   "§11.4.16 RW PHML 63:21"},
    {reg_id::IQH,     "IQH",     0x80, 8, 0,  0,                     0, 0, B::fixed, F::qi,     "§11.4.17 RO QH 18:4"},
    {reg_id::IQT,     "IQT",     0x88, 8, 0,  0x7fff0,               0, 0, B::fixed, F::qi,     "§11.4.18 RW QT 18:4"},
    {reg_id::IQA,     "IQA",     0x90, 8, 0,  0xfffffffffffff007,    0, 0, B::fixed, F::qi,     "§11.4.19 RW IQA 63:12, QS 2:0; DW 11 reserved"},
    {reg_id::ICS,     "ICS",     0x9c, 4, 0,  0,                     0x1, 0, B::fixed, F::qi,   "§11.4.20 RW1C IWC 0"},
    {reg_id::IECTL,   "IECTL",   0xa0, 4, IM, IM,                    0, 0, B::fixed, F::qi,     "§11.4.21 RW IM (reset 1); IP RO"},
    {reg_id::IEDATA,  "IEDATA",  0xa4, 4, 0,  0xffff,                0, 0, B::fixed, F::qi,     "§11.4.22 RW IMD 15:0"},
    {reg_id::IEADDR,  "IEADDR",  0xa8, 4, 0,  0xfffffffc,            0, 0, B::fixed, F::qi,     "§11.4.23 RW MA 31:2"},
    {reg_id::IEUADDR, "IEUADDR", 0xac, 4, 0,  M32,                   0, 0, B::fixed, F::qi,     "§11.4.24 RW MUA 31:0"},
    {reg_id::IQERCD,  "IQERCD",  0xb0, 8, 0,  0,                     0, 0, B::fixed, F::qi,     "§11.4.25 RO ICESID, ITESID, IQEI"},
    {reg_id::IRTA,    "IRTA",    0xb8, 8, 0,  0xfffffffffffff80f,    0, 0, B::fixed, F::ir,     "§11.4.29 RW IRTA 63:12, EIME 11, S 3:0"},
    {reg_id::PQH,     "PQH",     0xc0, 8, 0,  0x7ffe0,               0, 0, B::fixed, F::prs,    "§11.4.30 RW PQH 18:5; only with ECAP.PRS"},
    {reg_id::PQT,     "PQT",     0xc8, 8, 0,  0,                     0, 0, B::fixed, F::prs,    "§11.4.31 RO PQT 18:5"},
    {reg_id::PQA,     "PQA",     0xd0, 8, 0,  0xfffffffffffff007,    0, 0, B::fixed, F::prs,    "§11.4.32 RW PQA 63:12, PQS 2:0"},
    {reg_id::PRS,     "PRS",     0xdc, 4, 0,  0,                     0x3, 0, B::fixed, F::prs,  "§11.4.33 RW1C PPR 0, PRO 1"},
    {reg_id::PECTL,   "PECTL",   0xe0, 4, IM, IM,                    0, 0, B::fixed, F::prs,    "§11.4.34 RW IM (reset 1); IP RO"},
    {reg_id::PEDATA,  "PEDATA",  0xe4, 4, 0,  0xffff,                0, 0, B::fixed, F::prs,    "§11.4.35 RW IMD 15:0"},
    {reg_id::PEADDR,  "PEADDR",  0xe8, 4, 0,  0xfffffffc,            0, 0, B::fixed, F::prs,    "§11.4.36 RW MA 31:2"},
    {reg_id::PEUADDR, "PEUADDR", 0xec, 4, 0,  M32,                   0, 0, B::fixed, F::prs,    "§11.4.37 RW MUA 31:0"},
    {reg_id::IVA,     "IVA",     0x00, 8, 0,  0xfffffffffffff07f,    0, 0xfffffffffffff07f, B::iro, F::always, "§11.4.8.2 WO ADDR 63:12, IH 6, AM 5:0; at ECAP.IRO"},
    {reg_id::IOTLB,   "IOTLB",   0x08, 8, 0,  0xb003ffff00000000,    0, 0, B::iro, F::always,   "§11.4.8.1 RW IVT, IIRG, DR, DW, DID; IAIG 58:57 RO; at ECAP.IRO+8"},
    {reg_id::FRCD_LO, "FRCD_LO", 0x00, 8, 0,  0,                     0, 0, B::fro, F::always,   "§11.4.14 RO FI 63:12; NFR records of 16 bytes at CAP.FRO"},
    {reg_id::FRCD_HI, "FRCD_HI", 0x08, 8, 0,  0,                     1ull << 63, 0, B::fro, F::always, "§11.4.14 F 127 RW1CS; T1, AT, PV, FR, PP, EXE, PRIV, T2, SID RO"},
}};
// clang-format on

const reg_desc& desc_of(reg_id id) { return k_regs[static_cast<std::size_t>(id)]; }

const reg_write* write_result::find(reg_id id) const {
    for (unsigned i = 0; i < count; ++i)
        if (regs[i].id == id) return &regs[i];
    return nullptr;
}

namespace {

bool feature_present(reg_feature f, const vtd_params& p) {
    switch (f) {
    case reg_feature::always: return true;
    case reg_feature::afl: return false;  // advanced fault logging is not modelled (CAP.AFL = 0)
    case reg_feature::pmr: return p.plmr || p.phmr;
    case reg_feature::plmr: return p.plmr;
    case reg_feature::phmr: return p.phmr;
    case reg_feature::qi: return p.qi;
    case reg_feature::ir: return p.ir;
    case reg_feature::prs: return false;  // page requests are not modelled (ECAP.PRS = 0)
    }
    return false;
}

u64 width_mask(unsigned width) { return width == 8 ? ~0ull : (1ull << (8 * width)) - 1; }

} // namespace

register_file::register_file(const vtd_params& p) : m_fro(p.fro), m_nfr(p.nfr) {
    p.validate();
    const u64 cap = build_cap(p), ecap = build_ecap(p);
    auto base_of = [&](reg_base b) -> u32 { return b == reg_base::iro ? p.iro : b == reg_base::fro ? p.fro : 0; };
    for (const auto& d : k_regs) {
        if (d.base == reg_base::fro) break;
        u64 reset = d.reset;
        if (d.id == reg_id::VER) reset = p.version;
        if (d.id == reg_id::CAP) reset = cap;
        if (d.id == reg_id::ECAP) reset = ecap;
        m_slots.push_back({&d, base_of(d.base) + d.offset, 0, feature_present(d.feature, p), reset, reset});
    }
    const reg_desc& lo = desc_of(reg_id::FRCD_LO);
    const reg_desc& hi = desc_of(reg_id::FRCD_HI);
    for (unsigned i = 0; i < m_nfr; ++i) {
        m_slots.push_back({&lo, p.fro + 16 * i + lo.offset, i, true, lo.reset, lo.reset});
        m_slots.push_back({&hi, p.fro + 16 * i + hi.offset, i, true, hi.reset, hi.reset});
    }
    u32 end = 0;
    for (const auto& s : m_slots) end = std::max(end, s.offset + s.desc->width);
    m_window = (end + 0xfff) & ~0xfffu;
    m_dword_owner.assign(m_window / 4, -1);
    for (std::size_t i = 0; i < m_slots.size(); ++i) {
        const auto& s = m_slots[i];
        if (!s.present) continue;
        for (u32 o = s.offset; o < s.offset + s.desc->width; o += 4) m_dword_owner[o / 4] = static_cast<int>(i);
    }
}

void register_file::reset() {
    for (auto& s : m_slots) s.value = s.reset;
}

unsigned register_file::frcd_slot(unsigned i, bool hi) const {
    return static_cast<unsigned>(reg_id::FRCD_LO) + 2 * i + (hi ? 1 : 0);
}

int register_file::owner(u64 offset) const {
    if (offset >= m_window) return -1;
    return m_dword_owner[offset / 4];
}

namespace {
bool valid_access(u64 offset, unsigned size, u32 window) {
    if (size != 1 && size != 2 && size != 4 && size != 8) return false;
    if (offset % size) return false;
    return offset < window && offset + size <= window;
}
} // namespace

u64 register_file::read(u64 offset, unsigned size) const {
    if (!valid_access(offset, size, m_window)) return 0;
    u64 result = 0;
    for (unsigned b = 0; b < size; ++b) {
        int o = owner(offset + b);
        if (o < 0) continue;
        const slot& s = m_slots[o];
        const u64 visible = s.value & ~s.desc->wo;
        const u64 byte = (visible >> (8 * (offset + b - s.offset))) & 0xff;
        result |= byte << (8 * b);
    }
    return result;
}

write_result register_file::write(u64 offset, u64 data, unsigned size) {
    write_result r;
    if (!valid_access(offset, size, m_window)) return r;
    // Sizes are powers of two and naturally aligned, so the access touches at most two registers.
    for (unsigned b = 0; b < size;) {
        int o = owner(offset + b);
        if (o < 0) {
            ++b;
            continue;
        }
        slot& s = m_slots[o];
        // Bytes of this register covered by the access, and the data moved into register position.
        u64 bytes = 0, value = 0;
        unsigned n = 0;
        for (; b + n < size && owner(offset + b + n) == o; ++n) {
            const unsigned pos = static_cast<unsigned>(offset + b + n - s.offset);
            bytes |= 0xffull << (8 * pos);
            value |= ((data >> (8 * (b + n))) & 0xff) << (8 * pos);
        }
        b += n;
        const reg_desc& d = *s.desc;
        const u64 rw = d.rw & bytes & width_mask(d.width);
        const u64 w1c = d.w1c & bytes;
        const u64 old = s.value;
        s.value = ((old & ~rw) | (value & rw)) & ~(value & w1c);
        if (r.count < r.regs.size()) r.regs[r.count++] = {d.id, s.frcd, old, s.value};
    }
    return r;
}

u64 register_file::get(reg_id id) const {
    if (id == reg_id::FRCD_LO) return frcd_lo(0);
    if (id == reg_id::FRCD_HI) return frcd_hi(0);
    return m_slots[slot_index(id)].value;
}

void register_file::set(reg_id id, u64 value) {
    if (id == reg_id::FRCD_LO || id == reg_id::FRCD_HI || id == reg_id::count) return;
    slot& s = m_slots[slot_index(id)];
    s.value = value & width_mask(s.desc->width);
}

u64 register_file::frcd_lo(unsigned i) const { return i < m_nfr ? m_slots[frcd_slot(i, false)].value : 0; }
u64 register_file::frcd_hi(unsigned i) const { return i < m_nfr ? m_slots[frcd_slot(i, true)].value : 0; }

void register_file::set_frcd(unsigned i, u64 lo, u64 hi) {
    if (i >= m_nfr) return;
    m_slots[frcd_slot(i, false)].value = lo;
    m_slots[frcd_slot(i, true)].value = hi;
}

bool register_file::present(reg_id id) const {
    if (id == reg_id::count) return false;
    if (id == reg_id::FRCD_LO || id == reg_id::FRCD_HI) return m_nfr > 0;
    return m_slots[slot_index(id)].present;
}

u32 register_file::offset_of(reg_id id) const {
    if (id == reg_id::FRCD_LO) return m_fro;
    if (id == reg_id::FRCD_HI) return m_fro + 8;
    return m_slots[slot_index(id)].offset;
}

std::string register_file::name_at(u64 offset) const {
    int o = owner(offset);
    if (o < 0) return {};
    const slot& s = m_slots[o];
    if (s.desc->base != reg_base::fro) return s.desc->name;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s[%u]", s.desc->name, s.frcd);
    return buf;
}

} // namespace iommusim::vtd

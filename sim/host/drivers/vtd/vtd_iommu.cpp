#include "sim/host/drivers/vtd/vtd_iommu.h"

#include "models/iommu/vtd/vtd_params.h"
#include "models/iommu/vtd/vtd_regs.h"
#include "sim/host/kernel_log.h"

#include <array>
#include <cerrno>
#include <fmt/format.h>

namespace iommusim::host {

using vtd::reg_id;
namespace rb = vtd::regbits;

namespace {
u32 off(reg_id id) { return vtd::desc_of(id).offset; }

// desc_status values of Linux's queued invalidation (enum qi_desc_status... QI_FREE, QI_IN_USE, QI_DONE,
// QI_ABORT): the wait descriptor's status write stores QI_DONE.
constexpr u32 QI_IN_USE = 1, QI_DONE = 2;
constexpr unsigned DMAR_IQ_SHIFT = 4;  // 128-bit descriptors

// Register-based invalidation encodings (DMA_CCMD_*, DMA_TLB_*, include/linux/intel-iommu.h).
u64 ccmd_granularity(vtd_flush t) {
    return u64(t == vtd_flush::global ? 1 : t == vtd_flush::domain ? 2 : 3) << rb::CCMD_CIRG_SHIFT;
}
u64 tlb_granularity(vtd_flush t) {
    return u64(t == vtd_flush::global ? 1 : t == vtd_flush::domain ? 2 : 3) << rb::IOTLB_IIRG_SHIFT;
}

// cap_esrtps / cap_esirtps (VT-d 4.0 CAP bits 63 and 62): SRTP/SIRTP also invalidate the caches.
bool cap_esrtps(u64 c) { return (c >> 63) & 1; }
bool cap_esirtps(u64 c) { return (c >> 62) & 1; }

// Linux's dma_remap_fault_reasons[] and irq_remap_fault_reasons[] (dmar.c): the text dmesg shows.
constexpr std::array<const char*, 14> k_dma_reasons = {
    "Software",
    "Present bit in root entry is clear",
    "Present bit in context entry is clear",
    "Invalid context entry",
    "Access beyond MGAW",
    "PTE Write access is not set",
    "PTE Read access is not set",
    "Next page table ptr is invalid",
    "Root table address invalid",
    "Context table ptr is invalid",
    "non-zero reserved fields in RTP",
    "non-zero reserved fields in CTP",
    "non-zero reserved fields in PTE",
    "PCE for translation request specifies blocking",
};
constexpr std::array<const char*, 7> k_ir_reasons = {
    "Detected reserved fields in the decoded interrupt-remapped request",
    "Interrupt index exceeded the interrupt-remapping table size",
    "Present field in the IRTE entry is clear",
    "Error accessing interrupt-remapping table pointed by IRTA_REG",
    "Detected reserved fields in the IRTE entry",
    "Blocked a compatibility format interrupt request",
    "Blocked an interrupt request due to source-id verification failure",
};

// dmar_get_fault_reason: the text, and whether the reason is an interrupt-remapping one.
const char* fault_reason_text(u8 reason, bool& intr) {
    intr = false;
    if (reason >= 0x20 && unsigned(reason - 0x20) < k_ir_reasons.size()) {
        intr = true;
        return k_ir_reasons[reason - 0x20];
    }
    if (reason < k_dma_reasons.size()) return k_dma_reasons[reason];
    return "Unknown";
}
} // namespace

vtd_iommu::vtd_iommu(pci_host_ops& ops, memory::page_allocator& pages, kernel_log& log, const dmar_drhd& drhd,
                     int seq_id, const vtd_options& options)
    : m_ops(ops), m_pages(pages), m_log(log), m_drhd(drhd), m_name(fmt::format("dmar{}", seq_id)),
      m_options(options) {}

u32 vtd_iommu::readl(u32 o) { return u32(m_ops.mmio_read(m_drhd.register_base + o, 4)); }
u64 vtd_iommu::readq(u32 o) { return m_ops.mmio_read(m_drhd.register_base + o, 8); }
void vtd_iommu::writel(u32 o, u32 v) { m_ops.mmio_write(m_drhd.register_base + o, 4, v); }
void vtd_iommu::writeq(u32 o, u64 v) { m_ops.mmio_write(m_drhd.register_base + o, 8, v); }

u64 vtd_iommu::read64(u64 pa) {
    u64 v = 0;
    if (!m_ops.memory_read(pa, &v, 8)) return 0;
    return v;  // host and simulated memory are both little-endian
}
void vtd_iommu::write64(u64 pa, u64 v) { m_ops.memory_write(pa, &v, 8); }
u32 vtd_iommu::read32(u64 pa) {
    u32 v = 0;
    if (!m_ops.memory_read(pa, &v, 4)) return 0;
    return v;
}
void vtd_iommu::write32(u64 pa, u32 v) { m_ops.memory_write(pa, &v, 4); }

// alloc_pgtable_page / alloc_pages(__GFP_ZERO): zeroed pages from the host allocator; 0 when exhausted.
u64 vtd_iommu::alloc_zeroed(unsigned order) {
    auto pa = m_pages.alloc(order);
    if (!pa) return 0;
    static const std::array<u8, 4096> zero{};
    for (u64 i = 0; i < (1ull << order); ++i) m_ops.memory_write(*pa + i * 4096, zero.data(), zero.size());
    return *pa;
}
void vtd_iommu::free_pages(u64 pa, unsigned order) { m_pages.free(pa, order); }

void vtd_iommu::fail(const char* what) {
    if (!m_failed) m_log.warn(fmt::format("DMAR: {}: DMAR hardware is malfunctioning ({})", m_name, what));
    m_failed = true;
}

// alloc_iommu() + map_iommu() (dmar.c).
int vtd_iommu::probe() {
    m_cap = readq(off(reg_id::CAP));
    m_ecap = readq(off(reg_id::ECAP));
    if (m_cap == ~0ull && m_ecap == ~0ull) {
        m_log.warn(fmt::format("DMAR: [Firmware Bug]: Your BIOS is broken; DMAR reported at address {:x} returns "
                               "all ones!",
                               m_drhd.register_base));
        return -EINVAL;
    }
    m_ver = readl(off(reg_id::VER));
    // iommu_calculate_agaw / iommu_calculate_max_sagaw: the largest supported AGAW at or below the
    // default domain width (57 in v6.1) and at or below 64.
    const u32 sagaw = vtd::cap::sagaw(m_cap);
    auto calc = [&](int max_gaw) {
        int agaw = (max_gaw - 30 + 8) / 9;  // width_to_agaw: DIV_ROUND_UP(width - 30, 9)
        for (; agaw >= 0; --agaw)
            if (sagaw & (1u << agaw)) break;
        return agaw;
    };
    m_agaw = calc(57);
    if (m_agaw < 0) {
        m_log.warn(fmt::format("DMAR: Cannot get a valid agaw for iommu (seq_id = {})", m_name.substr(4)));
        return -ENODEV;
    }
    m_msagaw = calc(64);
    // iommu->gcmd starts from the command bits the hardware reports as already in effect.
    const u32 sts = readl(off(reg_id::GSTS));
    if (sts & rb::GSTS_IRES) m_gcmd |= rb::GCMD_IRE;
    if (sts & rb::GSTS_TES) m_gcmd |= rb::GCMD_TE;
    if (sts & rb::GSTS_QIES) m_gcmd |= rb::GCMD_QIE;
    m_log.info(fmt::format("DMAR: {}: reg_base_addr {:x} ver {}:{} cap {:x} ecap {:x}", m_name,
                           m_drhd.register_base, (m_ver >> 4) & 0xf, m_ver & 0xf, m_cap, m_ecap));
    return 0;
}

// IOMMU_WAIT_OP on GSTS, bounded: Linux spins up to DMAR_OPERATION_TIMEOUT and then panics; the
// simulated kernel gives up after poll_limit reads and marks the unit failed instead of hanging.
bool vtd_iommu::wait_gsts(u32 bit, bool set) {
    for (unsigned i = 0; i < m_options.poll_limit; ++i) {
        const u32 sts = readl(off(reg_id::GSTS));
        if (bool(sts & bit) == set) return true;
    }
    fail(fmt::format("GSTS bit 0x{:08x} never {}", bit, set ? "set" : "cleared").c_str());
    return false;
}

// One GCMD command per write (§10.4.4), carrying the other commands already in effect (iommu->gcmd).
// keep: a persistent command (TE, QIE, IRE) stays in iommu->gcmd; one-shot commands (SRTP, SIRTP, WBF)
// are written on top of it without being remembered.
int vtd_iommu::gcmd_set(u32 cmd_bit, u32 sts_bit, bool keep) {
    if (keep) m_gcmd |= cmd_bit;
    writel(off(reg_id::GCMD), m_gcmd | cmd_bit);
    return wait_gsts(sts_bit, true) ? 0 : -ETIMEDOUT;
}

// dmar_enable_qi / __dmar_enable_qi (legacy mode: one page, QS = 0, DW = 0).
int vtd_iommu::enable_qi() {
    if (!vtd::ecap::qi(m_ecap)) return -ENOENT;
    if (m_qi) return 0;
    if (!m_qi_desc) m_qi_desc = alloc_pgtable_page();  // kept across a failed attempt
    if (!m_qi_status) m_qi_status = alloc_pgtable_page();
    if (!m_qi_desc || !m_qi_status) return -ENOMEM;
    m_free_head = 0;
    writel(off(reg_id::IQT), 0);
    writeq(off(reg_id::IQA), m_qi_desc);
    if (gcmd_set(rb::GCMD_QIE, rb::GSTS_QIES, true)) return -ETIMEDOUT;
    m_qi = true;
    return 0;
}

// intel_iommu_init_qi: clear old faults, then queued invalidation if the unit has it.
void vtd_iommu::init_qi() {
    if (!m_qi) handle_faults();
    if (enable_qi())
        m_log.info(fmt::format("DMAR: {}: Using Register based invalidation", m_name));
    else
        m_log.info(fmt::format("DMAR: {}: Using Queued invalidation", m_name));
}

u32 vtd_iommu::ndomains() const { return 1u << (4 + 2 * vtd::cap::nd(m_cap)); }

int vtd_iommu::init_domains() {
    m_domain_ids.assign(ndomains(), false);
    // DID 0 is never handed out: with caching mode the hardware tags cached not-present entries with
    // it, and Linux uses 0 as "no domain id" (iommu_init_domains).
    m_domain_ids[0] = true;
    return 0;
}

int vtd_iommu::alloc_did() {
    for (u32 i = 0; i < m_domain_ids.size(); ++i)
        if (!m_domain_ids[i]) {
            m_domain_ids[i] = true;
            return int(i);
        }
    m_log.warn(fmt::format("DMAR: {}: No free domain ids", m_name));
    return -ENOSPC;
}

void vtd_iommu::free_did(u16 did) {
    if (did && did < m_domain_ids.size()) m_domain_ids[did] = false;
}

int vtd_iommu::alloc_root_entry() {
    m_root = alloc_pgtable_page();
    if (!m_root) {
        m_log.warn(fmt::format("DMAR: Allocating root entry for {} failed", m_name));
        return -ENOMEM;
    }
    return 0;
}

// iommu_set_root_entry: RTADDR, SRTP (one-shot), wait RTPS; then the global context-cache and IOTLB
// invalidation the hardware needs unless it does them as part of SRTP (CAP.ESRTPS).
int vtd_iommu::set_root_entry() {
    writeq(off(reg_id::RTADDR), m_root);
    if (gcmd_set(rb::GCMD_SRTP, rb::GSTS_RTPS, false)) return -ETIMEDOUT;
    if (cap_esrtps(m_cap)) return 0;
    flush_context(0, 0, 0, vtd_flush::global);
    flush_iotlb(0, 0, 0, vtd_flush::global);
    return 0;
}

int vtd_iommu::enable_translation() { return gcmd_set(rb::GCMD_TE, rb::GSTS_TES, true); }

int vtd_iommu::disable_translation() {
    m_gcmd &= ~rb::GCMD_TE;
    writel(off(reg_id::GCMD), m_gcmd);
    return wait_gsts(rb::GSTS_TES, false) ? 0 : -ETIMEDOUT;
}

void vtd_iommu::flush_write_buffer() {
    if (!vtd::cap::rwbf(m_cap)) return;
    writel(off(reg_id::GCMD), m_gcmd | rb::GCMD_WBF);
    wait_gsts(rb::GSTS_WBFS, false);
}

// ---- invalidation ------------------------------------------------------------------------------

int vtd_iommu::qi_check_fault(unsigned index, unsigned wait_index) {
    const u32 fsts = readl(off(reg_id::FSTS));
    if (fsts & rb::FSTS_IQE) {
        const unsigned head = (readl(off(reg_id::IQH)) >> DMAR_IQ_SHIFT) % qi_length;
        if (head == index) {
            const u64 d = m_qi_desc + head * 16;
            m_log.warn(fmt::format("DMAR: VT-d detected invalid descriptor: qw0 = {:x}, qw1 = {:x}, qw2 = 0, qw3 = 0",
                                   read64(d), read64(d + 8)));
            // Overwrite the bad descriptor with the wait descriptor so the queue can move on.
            const u64 w = m_qi_desc + wait_index * 16;
            write64(d, read64(w));
            write64(d + 8, read64(w + 8));
            writel(off(reg_id::FSTS), rb::FSTS_IQE);
            return -EINVAL;
        }
    }
    if (fsts & rb::FSTS_ITE) {
        // A device-TLB invalidation timed out: the pending waits are aborted and the caller retries.
        writel(off(reg_id::FSTS), rb::FSTS_ITE);
        return -EAGAIN;
    }
    if (fsts & rb::FSTS_ICE) writel(off(reg_id::FSTS), rb::FSTS_ICE);
    return 0;
}

int vtd_iommu::qi_submit_sync(const std::vector<vtd::inv_desc>& descs) {
    if (!m_qi) return -ENODEV;
    int rc = 0;
    for (unsigned attempt = 0; attempt <= m_options.qi_retries; ++attempt) {
        const unsigned index = m_free_head;
        const unsigned count = unsigned(descs.size());
        const unsigned wait_index = (index + count) % qi_length;
        for (unsigned i = 0; i < count; ++i) {
            const u64 slot = m_qi_desc + ((index + i) % qi_length) * 16;
            write64(slot, descs[i].lo);
            write64(slot + 8, descs[i].hi);
        }
        const u64 status = m_qi_status + wait_index * 4;
        const auto wait = vtd::inv_desc::make_wait(true, false, false, status, QI_DONE);
        write64(m_qi_desc + wait_index * 16, wait.lo);
        write64(m_qi_desc + wait_index * 16 + 8, wait.hi);
        write32(status, QI_IN_USE);
        m_free_head = (wait_index + 1) % qi_length;
        writel(off(reg_id::IQT), m_free_head << DMAR_IQ_SHIFT);

        rc = -ETIMEDOUT;
        for (unsigned n = 0; n < m_options.poll_limit; ++n) {
            if (read32(status) == QI_DONE) {
                rc = 0;
                break;
            }
            const int f = qi_check_fault(index, wait_index);
            if (f) {
                rc = f;
                break;
            }
        }
        if (rc != -EAGAIN) break;
    }
    if (rc == -ETIMEDOUT) fail("invalidation wait descriptor never completed");
    return rc;
}

void vtd_iommu::qi_flush_context(u16 did, u16 sid, u8 fm, vtd_flush type) {
    vtd::inv_desc d = type == vtd_flush::global   ? vtd::inv_desc::make_cc_global()
                      : type == vtd_flush::domain ? vtd::inv_desc::make_cc_domain(did)
                                                  : vtd::inv_desc::make_cc_device(did, sid, fm);
    qi_submit_sync({d});
}

// qi_flush_iotlb (v6.1): DR/DW from CAP.DRD/DWD; the address is masked to its page, so the IH hint the
// callers pass in bit 6 never reaches the descriptor (the local ih is always 0 in this version).
void vtd_iommu::qi_flush_iotlb(u16 did, u64 addr, unsigned size_order, vtd_flush type) {
    const bool dw = vtd::cap::dwd(m_cap), dr = vtd::cap::drd(m_cap);
    vtd::inv_desc d = type == vtd_flush::global   ? vtd::inv_desc::make_iotlb_global(dr, dw)
                      : type == vtd_flush::domain ? vtd::inv_desc::make_iotlb_domain(did, dr, dw)
                                                  : vtd::inv_desc::make_iotlb_page(did, addr & ~0xfffull, size_order,
                                                                                   false, dr, dw);
    qi_submit_sync({d});
}

// __iommu_flush_context: CCMD with ICC, wait for ICC to clear.
void vtd_iommu::reg_flush_context(u16 did, u16 sid, u8 fm, vtd_flush type) {
    u64 val = ccmd_granularity(type) | rb::CCMD_ICC;
    if (type != vtd_flush::global) val |= did;
    if (type == vtd_flush::device_or_page)
        val |= (u64(sid) << rb::CCMD_SID_SHIFT) | (u64(fm & 3) << rb::CCMD_FM_SHIFT);
    writeq(off(reg_id::CCMD), val);
    for (unsigned i = 0; i < m_options.poll_limit; ++i)
        if (!(readq(off(reg_id::CCMD)) & rb::CCMD_ICC)) return;
    fail("CCMD.ICC never cleared");
}

// __iommu_flush_iotlb: IVA (PSI only: address with IH in bit 6, AM) then IOTLB_REG with IVT and DW.
void vtd_iommu::reg_flush_iotlb(u16 did, u64 addr, unsigned size_order, vtd_flush type) {
    const u32 iro = vtd::ecap::iro(m_ecap);
    u64 val = tlb_granularity(type) | rb::IOTLB_IVT;
    u64 iva = 0;
    if (type != vtd_flush::global) val |= u64(did) << rb::IOTLB_DID_SHIFT;
    if (type == vtd_flush::device_or_page) iva = size_order | addr;
    if (vtd::cap::dwd(m_cap)) val |= rb::IOTLB_DW;  // read drain is compiled out in Linux (#if 0)
    if (iva) writeq(iro, iva);
    writeq(iro + 8, val);
    for (unsigned i = 0; i < m_options.poll_limit; ++i) {
        val = readq(iro + 8);
        if (!(val & rb::IOTLB_IVT)) {
            if (((val >> rb::IOTLB_IAIG_SHIFT) & 3) == 0) m_log.warn("DMAR: Flush IOTLB failed");
            return;
        }
    }
    fail("IOTLB_REG.IVT never cleared");
}

void vtd_iommu::flush_context(u16 did, u16 sid, u8 fm, vtd_flush type) {
    if (m_qi) qi_flush_context(did, sid, fm, type);
    else reg_flush_context(did, sid, fm, type);
}

void vtd_iommu::flush_iotlb(u16 did, u64 addr, unsigned size_order, vtd_flush type) {
    if (m_skip_iotlb) {  // fault injection: pretend to flush
        --m_skip_iotlb;
        ++m_skipped;
        m_log.info(fmt::format("DMAR: {}: fault injection: skipped IOTLB invalidation (did {})", m_name, did));
        return;
    }
    if (m_qi) qi_flush_iotlb(did, addr, size_order, type);
    else reg_flush_iotlb(did, addr, size_order, type);
}

// iommu_flush_iotlb_psi: the AM that covers [pfn, pfn + pages) from pfn's alignment, DSI when the unit
// has no PSI or the mask exceeds CAP.MAMV. The device-TLB part is not modelled (no ATS).
void vtd_iommu::flush_iotlb_psi(u16 did, u64 pfn, u64 pages, bool ih, bool map) {
    (void)map;
    if (pages == 0) return;  // Linux BUG()s
    u64 aligned = 1;
    while (aligned < pages) aligned <<= 1;
    unsigned mask = unsigned(__builtin_ctzll(aligned));
    const u64 bitmask = aligned - 1;
    if (bitmask & pfn) {
        const u64 end_pfn = pfn + pages - 1;
        const u64 shared = ~(pfn ^ end_pfn) & ~bitmask;
        mask = shared ? unsigned(__builtin_ctzll(shared)) : 64;
    }
    if (!vtd::cap::psi(m_cap) || mask > vtd::cap::mamv(m_cap))
        flush_iotlb(did, 0, 0, vtd_flush::domain);
    else
        flush_iotlb(did, (pfn << 12) | (ih ? 1u << 6 : 0), mask, vtd_flush::device_or_page);
}

void vtd_iommu::flush_iec_global() { qi_submit_sync({vtd::inv_desc::make_iec_global()}); }
void vtd_iommu::flush_iec_index(u16 index, unsigned mask) {
    qi_submit_sync({vtd::inv_desc::make_iec_index(index, mask)});
}

// ---- context entries ------------------------------------------------------------------------------

u64 vtd_iommu::context_addr(u8 bus, u8 devfn, bool alloc) {
    if (!m_root) return 0;
    const u64 re = m_root + u64(bus) * 16;
    u64 lo = read64(re);
    if (!(lo & 1)) {
        if (!alloc) return 0;
        const u64 ctx = alloc_pgtable_page();
        if (!ctx) return 0;
        lo = ctx | 1;
        write64(re, lo);
    }
    return (lo & ~0xfffull) + u64(devfn) * 16;
}

// ---- faults ------------------------------------------------------------------------------------------

// dmar_fault(): FSTS, then the recording registers from FSTS.FRI until one without F; each is logged
// as dmar_fault_do_one prints it and cleared; finally PFO/PPF (and PRO) are cleared.
unsigned vtd_iommu::handle_faults() {
    const u32 fsts = readl(off(reg_id::FSTS));
    if (fsts) m_log.warn(fmt::format("DMAR: DRHD: handling fault status reg {:x}", fsts));
    unsigned handled = 0;
    if (fsts & rb::FSTS_PPF) {
        const u32 fro = vtd::cap::fro(m_cap);
        const unsigned nfr = vtd::cap::nfr(m_cap);
        unsigned idx = (fsts >> rb::FSTS_FRI_SHIFT) & 0xff;
        for (unsigned n = 0; n < nfr; ++n) {  // bounded: a unit that never clears F cannot hang us
            if (idx >= nfr) idx = 0;
            const u32 rec = fro + idx * 16;
            const u32 hi = readl(rec + 12);
            if (!(hi & (1u << 31))) break;
            const u8 reason = u8(hi & 0xff);
            const bool read = (hi >> 30) & 1;
            const u32 pasid = (hi >> 8) & 0xfffff;
            const u32 mid = readl(rec + 8);
            const u16 sid = u16(mid & 0xffff);
            const bool pasid_present = (mid >> 31) & 1;
            const u64 addr = readq(rec) & ~0xfffull;
            writel(rec + 12, 1u << 31);
            bool intr = false;
            const char* text = fault_reason_text(reason, intr);
            m_fault_history.push_back({sid, reason, addr, !read, intr,
                                       pasid_present ? std::optional<u32>(pasid) : std::nullopt});
            const unsigned bus = sid >> 8, slot = (sid >> 3) & 0x1f, fn = sid & 7;
            if (intr)
                m_log.warn(fmt::format("DMAR: [INTR-REMAP] Request device [{:02x}:{:02x}.{}] fault index 0x{:x} "
                                       "[fault reason 0x{:02x}] {}",
                                       bus, slot, fn, addr >> 48, reason, text));
            else if (!pasid_present)
                m_log.warn(fmt::format("DMAR: [{} NO_PASID] Request device [{:02x}:{:02x}.{}] fault addr 0x{:x} "
                                       "[fault reason 0x{:02x}] {}",
                                       read ? "DMA Read" : "DMA Write", bus, slot, fn, addr, reason, text));
            else
                m_log.warn(fmt::format("DMAR: [{} PASID 0x{:x}] Request device [{:02x}:{:02x}.{}] fault addr 0x{:x} "
                                       "[fault reason 0x{:02x}] {}",
                                       read ? "DMA Read" : "DMA Write", pasid, bus, slot, fn, addr, reason, text));
            ++handled;
            ++idx;
        }
    }
    writel(off(reg_id::FSTS), rb::FSTS_PFO | rb::FSTS_PPF | (1u << 7) /* PRO */);
    return handled;
}

void vtd_iommu::set_fault_interrupt(u32 dest, u8 vector) {
    // dmar_msi_write: compatibility-format message, physical destination mode, fixed delivery.
    writel(off(reg_id::FEDATA), vector);
    writel(off(reg_id::FEADDR), u32(0xfee00000u | (dest & 0xff) << 12));
    writel(off(reg_id::FEUADDR), (dest >> 8) << 8);  // x2APIC destination bits 31:8 (dmar_msi_write)
    writel(off(reg_id::FECTL), 0);                    // dmar_msi_unmask
    m_fault_vector = vector;
    handle_faults();
}

// ---- interrupt remapping registers -----------------------------------------------------------------

// iommu_set_irq_remapping: IRTA (table | EIME | S), SIRTP (one-shot), wait IRTPS, then a global
// interrupt-entry-cache invalidation unless the hardware does it on SIRTP (CAP.ESIRTPS).
int vtd_iommu::set_irq_remapping(u64 table, bool x2apic_mode, unsigned size_field) {
    writeq(off(reg_id::IRTA), table | (x2apic_mode ? rb::IRTA_EIME : 0) | (size_field & rb::IRTA_S));
    if (gcmd_set(rb::GCMD_SIRTP, rb::GSTS_IRTPS, false)) return -ETIMEDOUT;
    if (!cap_esirtps(m_cap)) flush_iec_global();
    return 0;
}

// iommu_enable_irq_remapping: IRE, wait IRES; compatibility-format interrupts stay blocked (CFI clear;
// if firmware left CFIS set it is cleared).
int vtd_iommu::enable_irq_remapping() {
    if (gcmd_set(rb::GCMD_IRE, rb::GSTS_IRES, true)) return -ETIMEDOUT;
    if (readl(off(reg_id::GSTS)) & rb::GSTS_CFIS) {
        m_gcmd &= ~rb::GCMD_CFI;
        writel(off(reg_id::GCMD), m_gcmd);
        if (!wait_gsts(rb::GSTS_CFIS, false)) return -ETIMEDOUT;
    }
    return 0;
}

} // namespace iommusim::host

#include "sim/bench/bench_iommu.h"

#include "models/iommu/amdvi/amdvi_defs.h"
#include "models/iommu/amdvi/tlm/amdvi_unit.h"
#include "models/iommu/vtd/tlm/vtd_unit.h"
#include "models/iommu/vtd/vtd_defs.h"
#include "models/iommu/vtd/vtd_regs.h"
#include "platforms/platform.h"
#include "sim/host/pci_host_ops.h"
#include "sim/memory/system_memory.h"

#include <algorithm>
#include <stdexcept>

namespace iommusim::bench {

namespace {

constexpr u16 k_domain = 1;

class vtd_bench_iommu : public bench_iommu {
public:
    vtd_bench_iommu(vtd::vtd_unit& u, access a) : m_unit(u), m_a(std::move(a)) {}

    void program(u16 rid) override {
        using namespace vtd;
        m_root = m_a.alloc_page();
        m_pml4 = m_a.alloc_page();
        const u64 ctx_table = m_a.alloc_page();
        m_a.mem->write_le(m_root + (rid >> 8) * root_entry::size, 8, root_entry::make(ctx_table).lo);
        // 4-level (48-bit AGAW, aw = 2) tables: SAGAW bit 2 is in every default and Linux's choice.
        const context_entry ce = context_entry::make(m_pml4, 2, k_domain, translation_type::untranslated_only);
        m_a.mem->write_le(ctx_table + (rid & 0xff) * context_entry::size, 8, ce.lo);
        m_a.mem->write_le(ctx_table + (rid & 0xff) * context_entry::size + 8, 8, ce.hi);
        reg_write(0x20, 8, m_root);                      // RTADDR_REG
        reg_write(0x18, 4, regbits::GCMD_SRTP);          // latch the root table
        reg_write(0x18, 4, regbits::GCMD_TE);            // enable translation
        if (!(m_a.ops->mmio_read(m_unit.reg_base() + 0x1c, 4) & regbits::GSTS_TES))
            throw std::runtime_error("the bench's VT-d unit did not enable translation");
    }

    void map(u64 iova, u64 pa, unsigned leaf) override {
        using namespace vtd;
        u64 table = m_pml4;
        for (unsigned level = 4; level > leaf; --level) {
            const u64 slot = table + level_index(iova, level) * 8;
            sl_entry e{m_a.mem->read_le(slot, 8)};
            if (!e.present()) {
                e = sl_entry::table(m_a.alloc_page());
                m_a.mem->write_le(slot, 8, e.v);
            }
            table = e.addr();
        }
        m_a.mem->write_le(table + level_index(iova, leaf) * 8, 8, sl_entry::page(pa, true, true, leaf > 1).v);
    }

    // Global context-cache and IOTLB invalidation by register (§6.5.1).
    void invalidate_all() override {
        using namespace vtd::regbits;
        reg_write(0x28, 8, CCMD_ICC | u64(1) << CCMD_CIRG_SHIFT);
        reg_write(m_unit.params().hw.iro + 8, 8, IOTLB_IVT | u64(1) << IOTLB_IIRG_SHIFT | IOTLB_DR | IOTLB_DW);
    }

    u64 iotlb_hits() const override { return m_unit.stats().iotlb_hits; }
    u64 page_walks() const override { return m_unit.stats().page_walks; }
    bench_iommu_info info() const override {
        const auto& p = m_unit.params();
        return {p.iotlb.geometry.sets * p.iotlb.geometry.ways, p.iotlb_large.geometry.sets * p.iotlb_large.geometry.ways,
                p.timing.walk_slots};
    }
    const char* name() const override { return "VT-d"; }

private:
    void reg_write(u64 off, unsigned len, u64 v) { m_a.ops->mmio_write(m_unit.reg_base() + off, len, v); }

    vtd::vtd_unit& m_unit;
    access m_a;
    u64 m_root = 0, m_pml4 = 0;
};

class amdvi_bench_iommu : public bench_iommu {
public:
    amdvi_bench_iommu(amdvi::amdvi_unit& u, access a) : m_unit(u), m_a(std::move(a)) {}

    void program(u16 rid) override {
        using namespace amdvi;
        // A device table reaching the requester (one 4 KiB page holds 128 DTEs), 256 commands.
        const u32 pages = u32(rid / 128 + 1);
        m_devtab = m_a.alloc_page();
        for (u32 i = 1; i < pages; ++i) m_a.alloc_page(); // contiguous: the allocator hands out pages in order
        m_cmdbuf = m_a.alloc_page();
        m_pml4 = m_a.alloc_page();
        const dte d = dte::make_translation(m_pml4, 4, k_domain, true, true);
        for (unsigned q = 0; q < 4; ++q) m_a.mem->write_le(m_devtab + rid * 32u + q * 8, 8, d.w[q]);
        reg_write(mmio::DEV_TABLE_BASE, devtab_base::make(m_devtab, pages));
        reg_write(mmio::CMD_BUF_BASE, ring_base::make(m_cmdbuf, ring_base::MIN_LEN));
        reg_write(mmio::CMD_BUF_HEAD, 0);
        reg_write(mmio::CMD_BUF_TAIL, 0);
        reg_write(mmio::CONTROL, control::IOMMU_EN | control::CMD_BUF_EN | control::COHERENT);
        if (!(m_a.ops->mmio_read(m_unit.reg_base() + mmio::STATUS, 4) & status::CMD_BUF_RUN))
            throw std::runtime_error("the bench's AMD IOMMU did not start its command buffer");
    }

    // 4-level v1 tables; a 2 MiB or 1 GiB leaf is a NextLevel-0 PTE in the level-2 or level-3 table.
    void map(u64 iova, u64 pa, unsigned leaf) override {
        using namespace amdvi;
        u64 table = m_pml4;
        for (unsigned level = 4; level > leaf; --level) {
            const u64 slot = table + level_index(iova, level) * 8;
            pte e{m_a.mem->read_le(slot, 8)};
            if (!e.pr()) {
                e = pte::pde(m_a.alloc_page(), level - 1);
                m_a.mem->write_le(slot, 8, e.v);
            }
            table = e.addr();
        }
        m_a.mem->write_le(table + level_index(iova, leaf) * 8, 8, pte::page(pa, true, true).v);
    }

    // INVALIDATE_IOMMU_ALL (EFR.IASup; every default has it) then a COMPLETION_WAIT store, as Linux's
    // amd_iommu_flush_all does on such parts.
    void invalidate_all() override {
        using namespace amdvi;
        const u64 sem = m_cmdbuf + 0xff0; // the last slot of the ring page, never reached: 256 commands
        queue(command::invalidate_iommu_all());
        queue(command::completion_wait(sem, 1, true, false));
    }

    u64 iotlb_hits() const override { return m_unit.stats().iotlb_hits; }
    u64 page_walks() const override { return m_unit.stats().page_walks; }
    bench_iommu_info info() const override {
        const auto& p = m_unit.params();
        // One IOTLB holds every page size.
        return {p.iotlb.geometry.sets * p.iotlb.geometry.ways, 0, p.timing.walk_slots};
    }
    const char* name() const override { return "AMD-Vi"; }

private:
    void reg_write(u32 off, u64 v) { m_a.ops->mmio_write(m_unit.reg_base() + off, 8, v); }
    void queue(const amdvi::command& c) {
        // 255 usable slots; wrap before the slot the semaphore uses.
        if (m_tail + 16 >= 0xff0) m_tail = 0, reg_write(amdvi::mmio::CMD_BUF_TAIL, 0);
        m_a.mem->write_le(m_cmdbuf + m_tail, 8, c.lo);
        m_a.mem->write_le(m_cmdbuf + m_tail + 8, 8, c.hi);
        m_tail += 16;
        reg_write(amdvi::mmio::CMD_BUF_TAIL, m_tail);
    }

    amdvi::amdvi_unit& m_unit;
    access m_a;
    u64 m_devtab = 0, m_cmdbuf = 0, m_pml4 = 0, m_tail = 0;
};

} // namespace

std::unique_ptr<bench_iommu> bench_iommu::for_platform(platforms::platform& p, size_t root, access a) {
    if (!p.vtd_units().empty()) {
        // One unit per segment, in segment order (as the DMAR table lists the DRHDs).
        std::vector<u16> segments;
        for (const auto& rc : p.root_complexes()) segments.push_back(rc.segment);
        std::sort(segments.begin(), segments.end());
        segments.erase(std::unique(segments.begin(), segments.end()), segments.end());
        const u16 seg = p.root_complexes().at(root).segment;
        const size_t i = size_t(std::find(segments.begin(), segments.end(), seg) - segments.begin());
        if (i >= p.vtd_units().size()) return nullptr;
        return std::make_unique<vtd_bench_iommu>(*p.vtd_units()[i], std::move(a));
    }
    amdvi::amdvi_unit* pick = p.amdvi_unit_of_root(root);
    return pick ? std::make_unique<amdvi_bench_iommu>(*pick, std::move(a)) : nullptr;
}

} // namespace iommusim::bench

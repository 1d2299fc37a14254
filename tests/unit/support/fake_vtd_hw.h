// A small fake of a platform with VT-d units for the driver's unit tests: the PCI fabric of
// test_host_fabric.h, sparse system memory, and per unit a register responder built on the pure
// VT-d register file (vtd::register_file): GCMD -> GSTS (TE, QIE, IRE, CFI follow their command bit;
// SRTP/SIRTP latch RTADDR/IRTA and set RTPS/IRTPS; WBF completes at once), CCMD/IOTLB register
// invalidations complete at once, and the invalidation queue executes on every IQT write: each
// descriptor is recorded, wait descriptors perform their status write, reserved types stop the queue
// with FSTS.IQE. A tiny IOTLB (DID + page -> translation) lets tests observe stale entries after a
// skipped invalidation. Faults are injected through vtd::fault_logger. A unit can be made "dead"
// (never changes GSTS) to show the kernel does not hang.
#pragma once
#include "../test_host_fabric.h"
#include "models/iommu/vtd/vtd_fault.h"
#include "models/iommu/vtd/vtd_inv_desc.h"
#include "models/iommu/vtd/vtd_params.h"
#include "models/iommu/vtd/vtd_regs.h"
#include "models/iommu/vtd/vtd_slpt.h"

#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <unordered_map>

namespace iommusim::test {

class fake_vtd_hw : public fake_fabric {
public:
    struct unit {
        vtd::vtd_params params;
        host::dmar_drhd drhd;
        std::unique_ptr<vtd::register_file> regs;
        std::unique_ptr<vtd::fault_logger> faults;
        bool dead = false;             // ignores GCMD: status bits never change
        u64 rtaddr_active = 0;         // latched by SRTP
        u64 irta_active = 0;           // latched by SIRTP
        std::vector<vtd::inv_desc> queued;      // every descriptor the queue executed, in order
        std::vector<std::pair<u64, u64>> reg_iotlb;  // register-based IOTLB invalidations: (IOTLB_REG, IVA_REG)
        std::vector<u64> reg_ccmd;               // register-based context invalidations (CCMD value)
        std::vector<u32> gcmd_writes;            // every value written to GCMD
        std::map<std::pair<u16, u64>, vtd::xlate_result> iotlb;  // (DID, page) -> cached translation

        u64 gsts() const { return regs->get(vtd::reg_id::GSTS); }
    };

    explicit fake_vtd_hw(u64 mem_base = 0, u64 mem_size = 1ull << 36) : m_mem_base(mem_base), m_mem_end(mem_base + mem_size) {}

    // A DRHD at base for the given root buses (empty scope + include_all = catch-all).
    unit& add_unit(u64 base, const vtd::vtd_params& p = {}, bool include_all = true,
                   std::vector<host::root_bus_info> scope = {}) {
        auto u = std::make_unique<unit>();
        u->params = p;
        u->drhd.register_base = base;
        u->drhd.include_pci_all = include_all;
        u->drhd.scope = std::move(scope);
        u->regs = std::make_unique<vtd::register_file>(p);
        u->faults = std::make_unique<vtd::fault_logger>(*u->regs);
        m_units.push_back(std::move(u));
        return *m_units.back();
    }
    unit& hw(std::size_t i = 0) { return *m_units.at(i); }

    host::firmware_info firmware() const override {
        host::firmware_info fw = fake_fabric::firmware();
        for (const auto& u : m_units) fw.dmar.push_back(u->drhd);
        return fw;
    }

    // ---- memory ------------------------------------------------------------------------------------
    bool memory_read(u64 addr, void* data, u64 len) override {
        if (addr < m_mem_base || addr + len > m_mem_end) return false;
        auto* out = static_cast<u8*>(data);
        for (u64 i = 0; i < len; ++i) {
            auto it = m_pages.find((addr + i) >> 12);
            out[i] = it == m_pages.end() ? 0 : it->second[(addr + i) & 0xfff];
        }
        return true;
    }
    bool memory_write(u64 addr, const void* data, u64 len) override {
        if (addr < m_mem_base || addr + len > m_mem_end) return false;
        const auto* in = static_cast<const u8*>(data);
        for (u64 i = 0; i < len; ++i) m_pages[(addr + i) >> 12][(addr + i) & 0xfff] = in[i];
        return true;
    }
    u64 read64(u64 pa) {
        u64 v = 0;
        memory_read(pa, &v, 8);
        return v;
    }
    vtd::read_u64_fn reader() {
        return [this](u64 pa) -> std::optional<u64> {
            u64 v = 0;
            if (!memory_read(pa, &v, 8)) return std::nullopt;
            return v;
        };
    }

    // ---- registers ----------------------------------------------------------------------------------
    u64 mmio_read(u64 addr, unsigned len) override {
        if (unit* u = unit_at(addr)) return u->regs->read(addr - u->drhd.register_base, len);
        return fake_fabric::mmio_read(addr, len);
    }
    void mmio_write(u64 addr, unsigned len, u64 value) override {
        unit* u = unit_at(addr);
        if (!u) return fake_fabric::mmio_write(addr, len, value);
        const vtd::write_result w = u->regs->write(addr - u->drhd.register_base, value, len);
        using vtd::reg_id;
        namespace rb = vtd::regbits;
        if (const auto* g = w.find(reg_id::GCMD)) {
            const u32 cmd = u32(g->new_value);
            u->gcmd_writes.push_back(cmd);
            if (!u->dead) {
                u64 sts = u->gsts();
                auto follow = [&](u32 c, u32 s) { sts = (cmd & c) ? (sts | s) : (sts & ~u64(s)); };
                follow(rb::GCMD_TE, rb::GSTS_TES);
                follow(rb::GCMD_QIE, rb::GSTS_QIES);
                follow(rb::GCMD_IRE, rb::GSTS_IRES);
                follow(rb::GCMD_CFI, rb::GSTS_CFIS);
                if (cmd & rb::GCMD_SRTP) {
                    u->rtaddr_active = u->regs->get(reg_id::RTADDR) & rb::RTADDR_RTA;
                    sts |= rb::GSTS_RTPS;
                }
                if (cmd & rb::GCMD_SIRTP) {
                    u->irta_active = u->regs->get(reg_id::IRTA);
                    sts |= rb::GSTS_IRTPS;
                }
                if ((cmd & rb::GCMD_QIE) && !(u->gsts() & rb::GSTS_QIES)) u->regs->set(reg_id::IQH, 0);
                u->regs->set(reg_id::GSTS, sts);
            }
        }
        if (const auto* c = w.find(reg_id::CCMD); c && (c->new_value & rb::CCMD_ICC)) {
            u->reg_ccmd.push_back(c->new_value);
            const u64 cirg = (c->new_value >> rb::CCMD_CIRG_SHIFT) & 3;
            u->regs->set(reg_id::CCMD, (c->new_value & ~rb::CCMD_ICC & ~(3ull << rb::CCMD_CAIG_SHIFT)) |
                                           (cirg << rb::CCMD_CAIG_SHIFT));
        }
        if (const auto* t = w.find(reg_id::IOTLB); t && (t->new_value & rb::IOTLB_IVT)) {
            const u64 iva = u->regs->get(reg_id::IVA);
            u->reg_iotlb.emplace_back(t->new_value, iva);
            const u64 iirg = (t->new_value >> rb::IOTLB_IIRG_SHIFT) & 3;
            invalidate_iotlb(*u, unsigned(iirg), u16(t->new_value >> rb::IOTLB_DID_SHIFT), iva & rb::IVA_ADDR,
                             unsigned(iva & rb::IVA_AM));
            u->regs->set(reg_id::IOTLB, (t->new_value & ~rb::IOTLB_IVT) | (iirg << rb::IOTLB_IAIG_SHIFT));
        }
        if (w.touched(reg_id::IQT) && (u->gsts() & rb::GSTS_QIES) && !u->dead) run_queue(*u);
        u->faults->after_write(w);
    }

    // ---- DMA through a unit, with the fake IOTLB -----------------------------------------------------
    vtd::xlate_result dma(std::size_t unit_index, u16 sid, u64 addr, bool write) {
        unit& u = hw(unit_index);
        vtd::slpt_translator tr(caps(u));
        vtd::context_entry ce;
        vtd::xlate_result ctx = tr.lookup_context(u.rtaddr_active, sid, reader(), ce);
        if (ctx.ok()) {
            auto it = u.iotlb.find({ctx.did, addr >> 12});
            if (it != u.iotlb.end()) {
                vtd::xlate_result r = it->second;
                r.addr = (r.addr & ~0xfffull) | (addr & 0xfff);
                return r;
            }
        }
        vtd::xlate_request req{sid, addr, write, vtd::address_type::untranslated};
        vtd::xlate_result r = tr.translate(u.rtaddr_active, req, reader());
        if (r.ok() && !r.pass_through) u.iotlb[{r.did, addr >> 12}] = r;
        if (!r.ok()) {
            vtd::fault_info f;
            f.sid = sid;
            f.reason = r.fault;
            f.write = write;
            f.addr = addr & ~0xfffull;
            u.faults->record(f, r.fpd);
        }
        return r;
    }
    // The reference walk alone (no IOTLB): what the tables say now.
    vtd::xlate_result translate(std::size_t unit_index, u16 sid, u64 addr, bool write = false) {
        unit& u = hw(unit_index);
        vtd::slpt_translator tr(caps(u));
        return tr.translate(u.rtaddr_active, vtd::xlate_request{sid, addr, write, vtd::address_type::untranslated},
                            reader());
    }
    static vtd::xlate_caps caps(const unit& u) {
        return vtd::xlate_caps::from_registers(vtd::build_cap(u.params), vtd::build_ecap(u.params), u.params.haw);
    }

    // Descriptors of one type the unit's queue executed.
    std::vector<vtd::inv_desc> queued_of(std::size_t i, vtd::inv_type t) {
        std::vector<vtd::inv_desc> out;
        for (const auto& d : hw(i).queued)
            if (d.type() == u8(t)) out.push_back(d);
        return out;
    }

private:
    unit* unit_at(u64 addr) {
        for (auto& u : m_units)
            if (addr >= u->drhd.register_base && addr < u->drhd.register_base + u->regs->window_size()) return u.get();
        return nullptr;
    }

    void invalidate_iotlb(unit& u, unsigned gran, u16 did, u64 addr, unsigned am) {
        for (auto it = u.iotlb.begin(); it != u.iotlb.end();) {
            bool hit = gran == 1 || (it->first.first == did && gran == 2);
            if (gran == 3 && it->first.first == did) {
                const u64 first = (addr >> 12) & ~((1ull << am) - 1);
                hit = it->first.second >= first && it->first.second < first + (1ull << am);
                // A large-page entry is cached per 4 KiB page here, so a PSI covering any of its pages
                // covers the cached ones it names; entries outside the range stay (as on hardware).
            }
            it = hit ? u.iotlb.erase(it) : std::next(it);
        }
    }

    // Execute descriptors from IQH to IQT (§6.5.2): record, perform wait status writes, stop with IQE
    // on a descriptor this legacy-mode queue does not know.
    void run_queue(unit& u) {
        using vtd::reg_id;
        const u64 base = u.regs->get(reg_id::IQA) & vtd::regbits::IQA_IQA;
        const unsigned qs = unsigned(u.regs->get(reg_id::IQA) & vtd::regbits::IQA_QS);
        const u64 entries = 256ull << qs;
        u64 head = (u.regs->get(reg_id::IQH) >> 4) % entries;
        const u64 tail = (u.regs->get(reg_id::IQT) >> 4) % entries;
        while (head != tail) {
            vtd::inv_desc d{read64(base + head * 16), read64(base + head * 16 + 8)};
            if (!d.legacy_type() || d.reserved()) {
                u.faults->raise_status(vtd::regbits::FSTS_IQE);
                break;
            }
            u.queued.push_back(d);
            switch (static_cast<vtd::inv_type>(d.type())) {
            case vtd::inv_type::iotlb:
                invalidate_iotlb(u, unsigned(d.granularity()), d.did(), d.iotlb_addr(), d.iotlb_am());
                break;
            case vtd::inv_type::inv_wait:
                if (d.wait_sw()) {
                    const u32 data = d.wait_status_data();
                    memory_write(d.wait_status_addr(), &data, 4);
                }
                break;
            default: break;
            }
            head = (head + 1) % entries;
        }
        u.regs->set(reg_id::IQH, head << 4);
    }

    u64 m_mem_base, m_mem_end;
    std::unordered_map<u64, std::array<u8, 4096>> m_pages;
    std::vector<std::unique_ptr<unit>> m_units;
};

} // namespace iommusim::test

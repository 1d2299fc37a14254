// A small fake of an AMD-Vi platform for the driver's unit tests: the PCI fabric of test_host_fabric.h
// with an IVRS, sparse system memory, and per IOMMU the model's pure parts (amdvi::register_file,
// command_processor, event_log, v1_translator) behind MMIO: every CmdBufTail or Control write runs the
// command buffer; invalidations drop entries of a tiny IOTLB ((DomainID, page) -> translation) and DTE
// cache so tests can see stale entries after a skipped invalidation; translate() is a device's DMA
// (cached like hardware, faults written to the event log). A unit can be "dead": its command buffer never
// runs, so completion waits time out.
#pragma once
#include "../test_host_fabric.h"
#include "models/iommu/amdvi/amdvi_cmd.h"
#include "models/iommu/amdvi/amdvi_event_log.h"
#include "models/iommu/amdvi/amdvi_params.h"
#include "models/iommu/amdvi/amdvi_regs.h"
#include "models/iommu/amdvi/amdvi_xlate.h"

#include <array>
#include <map>
#include <memory>
#include <unordered_map>

namespace iommusim::test {

class fake_amdvi_hw : public fake_fabric {
public:
    struct unit : amdvi::cmd_sink {
        fake_amdvi_hw* hw = nullptr;
        amdvi::amdvi_params params;
        u64 base = 0;
        u16 devid = 0;
        std::unique_ptr<amdvi::register_file> regs;
        std::unique_ptr<amdvi::command_processor> cmds;
        std::unique_ptr<amdvi::event_log> events;
        bool dead = false;
        std::vector<amdvi::command> executed;                     // every command run, in order
        std::map<u16, amdvi::dte> dte_cache;                      // device ID -> cached DTE
        std::map<std::pair<u16, u64>, amdvi::xlate_result> iotlb; // (DomainID, 4 KiB page) -> translation
        std::vector<u64> control_writes;

        u64 reg(amdvi::reg_id id) const { return regs->get(id); }
        bool read_memory(u64 a, void* d, unsigned len) override { return hw->memory_read(a, d, len); }
        bool write_memory(u64 a, const void* d, unsigned len) override { return hw->memory_write(a, d, len); }
        void log_event(const amdvi::event& ev) override {
            events->write(ev, [this](u64 a, const void* d, unsigned len) { return hw->memory_write(a, d, len); });
        }
        void completion_interrupt() override {}
        void invalidate_devtab_entry(u16 id) override { dte_cache.erase(id); }
        void invalidate_iommu_pages(u16 dom, const amdvi::inv_range& r, bool) override {
            for (auto it = iotlb.begin(); it != iotlb.end();) {
                const bool hit = it->first.first == dom &&
                                 (r.all() || (it->first.second >= r.base && it->first.second - r.base < r.size));
                it = hit ? iotlb.erase(it) : std::next(it);
            }
        }
        void invalidate_iotlb_pages(u16, const amdvi::inv_range&) override {}
        void invalidate_interrupt_table(u16) override {}
        void prefetch_iommu_pages(u16, u64) override {}
        void invalidate_iommu_all() override {
            dte_cache.clear();
            iotlb.clear();
        }
    };

    explicit fake_amdvi_hw(u64 mem_base = 0, u64 mem_size = 1ull << 36)
        : fake_fabric(host::firmware_iommu::ivrs), m_mem_base(mem_base), m_mem_end(mem_base + mem_size) {}

    host::ivrs_table ivrs;
    std::vector<u8> ioapics{0};

    // An IOMMU function at `devfn` on root bus 0 with its capability block (base address programmed) and
    // an MSI capability, the unit's registers at `base`.
    unit& add_unit(u8 devfn, u64 base, const amdvi::amdvi_params& p = {}) {
        auto fp = fn(pci::function_kind::rc_endpoint, 0x1022, 0x1481);
        fp.class_code = 0x080600;
        fp.msi = pci::msi_params{1, true, false};
        auto& n = at_root(devfn, fp);
        const u16 cap = n.cfg.add_capability(amdvi::pcicap::CAP_ID, amdvi::pcicap::LENGTH);
        const u32 hdr = amdvi::build_cap_header(p, 0);
        n.cfg.set32(cap, (n.cfg.get32(cap) & 0xff00u) | (hdr & ~0xff00u));
        n.cfg.set32(cap + amdvi::pcicap::BASE_LO, u32(base) | amdvi::pcicap::BASE_ENABLE);
        n.cfg.set32(cap + amdvi::pcicap::BASE_HI, u32(base >> 32));
        n.cfg.set32(cap + amdvi::pcicap::MISC0, amdvi::build_misc0(p));
        auto u = std::make_unique<unit>();
        u->hw = this;
        u->params = p;
        u->base = base;
        u->devid = pci_devid(0, devfn);
        u->regs = std::make_unique<amdvi::register_file>(u->params);
        u->cmds = std::make_unique<amdvi::command_processor>(*u->regs, u->params);
        u->events = std::make_unique<amdvi::event_log>(*u->regs);
        m_units.push_back(std::move(u));
        m_cap_ptrs.push_back(cap);
        return *m_units.back();
    }
    unit& hw(std::size_t i = 0) { return *m_units.at(i); }
    u16 cap_ptr(std::size_t i = 0) const { return m_cap_ptrs.at(i); }

    host::firmware_info firmware() const override {
        host::firmware_info fw = fake_fabric::firmware();
        fw.ivrs = ivrs;
        fw.ioapic_ids = ioapics;
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

    // ---- registers ---------------------------------------------------------------------------------
    u64 mmio_read(u64 addr, unsigned len) override {
        if (unit* u = unit_at(addr)) return u->regs->read(addr - u->base, len);
        return fake_fabric::mmio_read(addr, len);
    }
    void mmio_write(u64 addr, unsigned len, u64 value) override {
        unit* u = unit_at(addr);
        if (!u) return fake_fabric::mmio_write(addr, len, value);
        const amdvi::reg_write w = u->regs->write(addr - u->base, value, len);
        if (w.id == amdvi::reg_id::CONTROL) {
            u->control_writes.push_back(w.new_value);
            u->cmds->on_control(w.old_value, w.new_value);
            u->events->on_control(w.old_value, w.new_value);
        }
        if ((w.id == amdvi::reg_id::CONTROL || w.id == amdvi::reg_id::CMD_BUF_TAIL) && !u->dead) run(*u);
    }

    // A device's DMA through unit i: the DTE (cached), the IOTLB, then the walk; a fault is logged.
    amdvi::xlate_result translate(u16 devid, u64 addr, bool write, std::size_t i = 0) {
        unit& u = hw(i);
        auto rd = [this](u64 pa) -> std::optional<u64> { return read64(pa); };
        amdvi::v1_translator t(u.reg(amdvi::reg_id::EXT_FEATURE));
        amdvi::dte d;
        if (auto it = u.dte_cache.find(devid); it != u.dte_cache.end()) {
            d = it->second;
        } else {
            const u64 base = u.reg(amdvi::reg_id::DEV_TABLE_BASE);
            auto l = t.fetch_dte(base, devid, addr, write, false, rd);
            if (l.fault) return fault_of(u, *l.fault);
            d = l.entry;
            u.dte_cache[devid] = d;
        }
        const u64 page = addr & ~0xfffull;
        if (auto it = u.iotlb.find({d.domain_id(), page}); it != u.iotlb.end() && d.v() && d.tv() && d.mode()) {
            amdvi::xlate_result r = it->second;
            if ((write && r.iw) || (!write && r.ir)) {  // a rights miss walks again (and faults there)
                r.addr = (r.addr & ~0xfffull) | (addr & 0xfff);
                return r;
            }
        }
        amdvi::xlate_regs regs{u.reg(amdvi::reg_id::DEV_TABLE_BASE), 0, 0, u.reg(amdvi::reg_id::EXT_FEATURE)};
        amdvi::xlate_result r = t.translate(regs, d, amdvi::dma_request{devid, addr, write}, rd);
        if (!r.ok()) return fault_of(u, *r.fault, r);
        if (!r.pass_through) u.iotlb[{d.domain_id(), page}] = r;
        return r;
    }
    // Hardware writes an event (tests of the handler).
    void log_event(const amdvi::event& ev, std::size_t i = 0) { hw(i).log_event(ev); }

private:
    amdvi::xlate_result fault_of(unit& u, const amdvi::xlate_fault& f, amdvi::xlate_result r = {}) {
        u.log_event(f.ev);
        r.fault = f;
        return r;
    }
    unit* unit_at(u64 addr) {
        for (auto& u : m_units)
            if (addr >= u->base && addr - u->base < amdvi::mmio::WINDOW_SIZE) return u.get();
        return nullptr;
    }
    void run(unit& u) {
        // Record what runs: the commands between head and tail before processing.
        const u64 base = u.reg(amdvi::reg_id::CMD_BUF_BASE) & amdvi::ring_base::BASE;
        const u64 entries = amdvi::ring_base::entries(u.reg(amdvi::reg_id::CMD_BUF_BASE));
        u64 head = u.reg(amdvi::reg_id::CMD_BUF_HEAD) & amdvi::RING_PTR;
        const u64 tail = u.reg(amdvi::reg_id::CMD_BUF_TAIL) & amdvi::RING_PTR;
        const u64 ctrl = u.reg(amdvi::reg_id::CONTROL);
        if (!entries || !(ctrl & amdvi::control::IOMMU_EN) || !(ctrl & amdvi::control::CMD_BUF_EN)) return;
        std::vector<amdvi::command> pending;
        for (unsigned n = 0; head != tail && n < entries; ++n) {
            pending.push_back(amdvi::command{read64(base + head), read64(base + head + 8)});
            head = (head + 16) % (entries * 16);
        }
        const auto res = u.cmds->process(u);
        for (unsigned i = 0; i < res.executed && i < pending.size(); ++i) u.executed.push_back(pending[i]);
    }

    u64 m_mem_base, m_mem_end;
    std::unordered_map<u64, std::array<u8, 4096>> m_pages;
    std::vector<std::unique_ptr<unit>> m_units;
    std::vector<u16> m_cap_ptrs;
};

} // namespace iommusim::test

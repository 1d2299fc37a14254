#include "sim/scenario/iommu_monitor.h"

#include "models/iommu/amdvi/amdvi_defs.h"
#include "models/iommu/amdvi/tlm/amdvi_unit.h"
#include "models/iommu/tce/tlm/phb_iommu.h"
#include "models/iommu/vtd/tlm/vtd_unit.h"
#include "platforms/platform.h"
#include "sim/host/kernel.h"

#include <fmt/format.h>

namespace iommusim::scenario {

namespace {

void add_cache(std::map<std::string, u64>& m, const std::string& name, const iommu::cache_stats& c) {
    m[name + ".lookups"] = c.lookups;
    m[name + ".hits"] = c.hits;
    m[name + ".misses"] = c.misses;
    m[name + ".fills"] = c.fills;
    m[name + ".evictions"] = c.evictions;
    u64 inval = 0, entries = 0;
    for (size_t k = 0; k < c.invalidations.size(); ++k) {
        inval += c.invalidations[k];
        entries += c.invalidated_entries[k];
    }
    m[name + ".invalidations"] = inval;
    m[name + ".invalidated_entries"] = entries;
}

// The request counters every unit keeps under the same names.
template <typename Stats>
void add_requests(std::map<std::string, u64>& m, const Stats& s) {
    m["dma_requests"] = s.dma_requests;
    m["translated"] = s.translated;
    m["passed_through"] = s.passed_through;
    m["faulted"] = s.faulted;
    m["interrupts"] = s.interrupts;
    m["interrupts_remapped"] = s.interrupts_remapped;
    m["interrupts_passed"] = s.interrupts_passed;
    m["interrupts_blocked"] = s.interrupts_blocked;
}

// A PHB's counters (phb_iommu::statistics) under the common names where they exist.
std::map<std::string, u64> phb_stats(const tce::phb_iommu::statistics& s) {
    std::map<std::string, u64> m;
    add_cache(m, "tce_cache", s.tce_cache);
    add_cache(m, "rtc", s.rtc);
    m["dma_requests"] = s.dma_requests;
    m["translated"] = s.translated;
    m["passed_through"] = s.bypassed;
    m["faulted"] = s.faulted;
    m["dma_blocked"] = s.dma_blocked;
    m["freezes"] = s.freezes;
    m["walks"] = s.tce_walks;
    m["tce_kills"] = s.tce_kills;
    m["interrupts"] = s.msi_received;
    m["interrupts_passed"] = s.msi_delivered;
    u64 rejected = 0;
    for (const auto& [v, n] : s.msi_rejected) rejected += n;
    m["interrupts_blocked"] = rejected;
    m["mmio_all_ones"] = s.mmio_all_ones;
    m["mmio_dropped"] = s.mmio_dropped;
    return m;
}

// AMD-Vi IO_PAGE_FAULT flags as Linux prints them (event[1] 27:16): RW is bit 5.
constexpr u16 AMD_EVENT_FLAG_RW = 0x020;

std::map<std::string, u64> vtd_stats(const vtd::vtd_unit::statistics& s) {
    std::map<std::string, u64> m;
    add_cache(m, "context_cache", s.context_cache);
    add_cache(m, "iotlb", s.iotlb);
    add_cache(m, "iotlb_large", s.iotlb_large);
    add_cache(m, "psc", s.psc);
    add_cache(m, "iec", s.iec);
    m["walks"] = s.walks.walks;
    m["walk_reads"] = s.walks.reads;
    add_requests(m, s);
    m["faults_recorded"] = s.faults_recorded;
    m["fault_events"] = s.fault_events;
    m["context_invalidations"] = s.context_invalidations;
    m["iotlb_invalidations"] = s.iotlb_invalidations;
    m["iec_invalidations"] = s.iec_invalidations;
    m["queue_descriptors"] = s.queue_descriptors;
    return m;
}

// The same names as VT-d where the meaning is the same (translated, walks, iotlb.*, faults_recorded ...),
// AMD-Vi's own otherwise (dte_cache, pde, irt_cache, events_*, commands, *_invalidations).
std::map<std::string, u64> amdvi_stats(const amdvi::amdvi_unit::statistics& s) {
    std::map<std::string, u64> m;
    add_cache(m, "dte_cache", s.dte_cache);
    add_cache(m, "iotlb", s.iotlb);
    add_cache(m, "pde", s.pde);
    add_cache(m, "irt_cache", s.irt_cache);
    m["walks"] = s.page_walks;
    m["walk_reads"] = s.walk_reads;
    m["dte_fetches"] = s.dte_fetches;
    add_requests(m, s);
    m["faults_recorded"] = s.events_logged;
    m["events_logged"] = s.events_logged;
    m["events_lost"] = s.events_lost;
    m["fault_events"] = s.iommu_interrupts;
    m["commands"] = s.commands;
    m["illegal_commands"] = s.illegal_commands;
    m["completion_stores"] = s.completion_stores;
    m["dte_invalidations"] = s.dte_invalidations;
    m["iotlb_invalidations"] = s.page_invalidations;
    m["device_iotlb_invalidations"] = s.iotlb_invalidations;
    m["irt_invalidations"] = s.irt_invalidations;
    m["all_invalidations"] = s.all_invalidations;
    return m;
}

} // namespace

bool iommu_monitor::is_unit_interrupt(const intc::msi_record& r) const {
    // The units' own messages carry no requester ID: they do not come from a PCI function's DMA.
    if (r.requester_id) return false;
    if (host::vtd_driver* v = m_kernel.vtd())
        for (const auto& u : v->units())
            if (u->fault_vector() && r.msg.vector == *u->fault_vector()) return true;
    if (host::amd_iommu_driver* a = m_kernel.amdvi())
        for (const auto& u : a->units())
            if (u->event_vector() && r.msg.vector == *u->event_vector()) return true;
    return false;
}

void iommu_monitor::collect(bool unit_interrupt, std::vector<fault_seen>& out) {
    if (host::vtd_driver* v = m_kernel.vtd()) {
        if (unit_interrupt) v->handle_faults();
        m_seen.resize(v->units().size(), 0);
        for (unsigned i = 0; i < v->units().size(); ++i) {
            const auto& h = v->units()[i]->fault_history();
            for (; m_seen[i] < h.size(); ++m_seen[i]) {
                const auto& f = h[m_seen[i]];
                out.push_back({i, f.sid, f.reason, vtd::fault_reason_name(vtd::fault_reason(f.reason)), f.address,
                               f.write, ""});
            }
        }
    }
    // POWER: an error froze a PE (the EEH event the kernel's eeh_ops->next_error finds); one record per
    // error freeze, with the access that caused it.
    const auto& phbs = m_platform.phbs();
    if (!phbs.empty()) {
        size_t slot = 0;
        for (unsigned i = 0; i < phbs.size(); ++i) {
            const tce::phb& h = phbs[i]->firmware();
            for (unsigned pe = 0; pe < h.num_pes(); ++pe, ++slot) {
                if (m_seen.size() <= slot) m_seen.resize(slot + 1, 0);
                const tce::eeh_statistics& st = h.eeh(pe).stats();
                if (st.freezes == m_seen[slot]) continue;
                m_seen[slot] = st.freezes;
                out.push_back({i, st.last_rid, u32(st.last_reason), tce::to_string(st.last_reason),
                               st.last_address & ~u64(0xfff), st.last_write, fmt::format("PE#{:x} frozen", pe)});
            }
        }
    }
    if (host::amd_iommu_driver* a = m_kernel.amdvi()) {
        if (unit_interrupt) a->handle_events();
        m_seen.resize(a->units().size(), 0);
        for (unsigned i = 0; i < a->units().size(); ++i) {
            const auto& h = a->units()[i]->event_history();
            for (; m_seen[i] < h.size(); ++m_seen[i]) {
                const auto& e = h[m_seen[i]];
                out.push_back({i, e.devid, e.type, amdvi::event_name(e.type), e.address & ~u64(0xfff),
                               (e.flags & AMD_EVENT_FLAG_RW) != 0,
                               fmt::format("domain {:#x} flags {:#x}", e.domain_or_pasid, e.flags)});
            }
        }
    }
}

std::map<std::string, u64> iommu_monitor::stats(unsigned iommu) const {
    const auto& vtd_units = m_platform.vtd_units();
    if (!vtd_units.empty()) return iommu < vtd_units.size() ? vtd_stats(vtd_units[iommu]->stats()) : std::map<std::string, u64>{};
    const auto& amd_units = m_platform.amdvi_units();
    if (iommu < amd_units.size()) return amdvi_stats(amd_units[iommu]->stats());
    const auto& phbs = m_platform.phbs();
    if (iommu < phbs.size()) return phb_stats(phbs[iommu]->stats());
    return {};
}

bool iommu_monitor::inject_skip_invalidations(unsigned n) {
    if (host::vtd_driver* v = m_kernel.vtd()) {
        v->inject_skip_invalidations(n);
        return true;
    }
    if (host::amd_iommu_driver* a = m_kernel.amdvi()) {
        a->inject_skip_invalidations(n);
        return true;
    }
    if (m_kernel.tce_iommu()) {
        for (const auto& phb : m_kernel.pnv_phbs()) phb->inject_skip_kills(n);
        return true;
    }
    return false;
}

std::string iommu_monitor::describe(const fault_seen& f) {
    if (!f.detail.empty())
        return fmt::format("devid {:04x} {} ({:#x}) address {:#x} {} {}", f.sid, f.name, f.code, f.address,
                           f.write ? "write" : "read", f.detail);
    return fmt::format("sid {:04x} reason {:#x} ({}) address {:#x} {}", f.sid, f.code, f.name, f.address,
                       f.write ? "write" : "read");
}

} // namespace iommusim::scenario

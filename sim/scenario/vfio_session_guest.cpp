// A pseries guest in a VFIO session: QEMU's sPAPR machine (sim/vmm/spapr_vmm) in the session's process, its
// RAM one of the process's buffers at guest physical 0, its PHBs passing groups through in v2 containers
// with KVM TCE tables linked to the PEs' hardware tables. The guest's TCE hypercalls and DDW RTAS calls are
// the steps; the device then DMAs to the bus addresses the guest mapped.
#include "models/iommu/tce/tce_defs.h"
#include "sim/host/kernel.h"
#include "sim/host/process/process_mm.h"
#include "sim/scenario/vfio_session.h"
#include "sim/vfio/vfio_core.h"
#include "sim/vfio/vfio_kernel_host.h"
#include "sim/vmm/spapr_vmm.h"

#include <algorithm>
#include <fmt/format.h>

namespace iommusim::scenario {

namespace {
std::string hcall_name(long rc) {
    switch (rc) {
    case tce::H_SUCCESS: return "H_SUCCESS";
    case tce::H_HARDWARE: return "H_HARDWARE";
    case tce::H_FUNCTION: return "H_FUNCTION";
    case tce::H_PARAMETER: return "H_PARAMETER";
    case tce::H_NOT_FOUND: return "H_NOT_FOUND";
    case tce::H_PERMISSION: return "H_PERMISSION";
    case tce::H_TOO_HARD: return "H_TOO_HARD";
    default: return std::to_string(rc);
    }
}

std::string rtas_name(long rc) {
    switch (rc) {
    case tce::RTAS_OUT_SUCCESS: return "success";
    case tce::RTAS_OUT_HW_ERROR: return "hw_error";
    case tce::RTAS_OUT_BUSY: return "busy";
    case tce::RTAS_OUT_PARAM_ERROR: return "param_error";
    default: return std::to_string(rc);
    }
}
} // namespace

void vfio_session::guest(const vfio_step& s, step_result& out) {
    const vfio_step::guest_args& g = s.guest;
    if (s.op == vfio_op::guest_create) {
        if (m_guest) return fail(out, "a guest is running already (one per scenario)");
        const buffer* ram = find_buffer(s.buffer, out);
        if (!ram) return;
        vfio::kernel_vfio_host* host = m_host.get();
        m_guest = std::make_unique<vmm::spapr_vmm>(*m_core, *m_mm, &m_core->mm_iommu(),
                                                   [host](int group) { return host->table_group(group); }, ram->vaddr,
                                                   ram->len);
        m_guest_ram = ram->vaddr;
        for (const auto& [index, devices] : g.phbs) {
            std::vector<int> groups;
            for (const bdf& d : devices) {
                const host::pci_dev* dev = m_kernel.find(d);
                if (!dev || dev->group == host::no_group)
                    return fail(out, fmt::format("{} has no IOMMU group to pass through", d.str()));
                if (std::find(groups.begin(), groups.end(), dev->group) == groups.end()) groups.push_back(dev->group);
            }
            const long rc = m_guest->add_phb(index, groups);
            if (!check(s, fmt::format("guest PHB {} (LIOBN {:#x}) with {} group(s)", index, vmm::spapr_vmm::liobn(index, 0),
                                      groups.size()),
                       rc, out))
                return;
        }
        for (const auto& [index, devices] : g.phbs)
            for (const auto& w : m_guest->windows(index))
                if (w.enabled)
                    out.messages.push_back(fmt::format("guest PHB {} window LIOBN {:#x}: [{:#x}, +{:#x}) of {} KiB TCEs",
                                                       index, w.liobn, w.bus_offset, w.size, (u64(1) << w.page_shift) >> 10));
        return;
    }
    if (!m_guest) return fail(out, "no guest is running (a guest_create step starts one)");
    if (s.op == vfio_op::guest_hcall) {
        long rc = 0;
        u64 tce_out = 0;
        if (g.call == "H_PUT_TCE") {
            rc = m_guest->h_put_tce(g.liobn, g.ioba, g.tce);
        } else if (g.call == "H_PUT_TCE_INDIRECT") {
            // The list sits in guest RAM, big-endian (PAPR; kvmppc_h_put_tce_indirect reads be64).
            const buffer* ram = nullptr;
            for (const auto& [name, b] : m_buffers)
                if (b.vaddr == m_guest_ram) ram = &b;
            if (!g.tces.empty() && ram) {
                std::vector<unsigned char> bytes(g.tces.size() * 8);
                for (size_t i = 0; i < g.tces.size(); ++i) tce::store_be64(&bytes[i * 8], g.tces[i]);
                if (g.tce_list + bytes.size() > ram->len)
                    return fail(out, fmt::format("the TCE list at {:#x} lies beyond guest RAM", g.tce_list));
                if (int e = m_mm->write(ram->vaddr + g.tce_list, bytes.data(), bytes.size()))
                    return fail(out, fmt::format("writing the TCE list faulted ({})", e));
            }
            rc = m_guest->h_put_tce_indirect(g.liobn, g.ioba, g.tce_list, g.npages);
        } else if (g.call == "H_STUFF_TCE") {
            rc = m_guest->h_stuff_tce(g.liobn, g.ioba, g.tce, g.npages);
        } else {
            rc = m_guest->h_get_tce(g.liobn, g.ioba, tce_out);
        }
        const std::string what = fmt::format("{} LIOBN {:#x} IOBA {:#x}", g.call, g.liobn, g.ioba);
        if (rc != g.expect_ret) return fail(out, fmt::format("{}: {}, expected {}", what, hcall_name(rc), hcall_name(g.expect_ret)));
        out.messages.push_back(fmt::format("{}: {}{}", what, hcall_name(rc),
                                           g.call == "H_GET_TCE" ? fmt::format(", TCE {:#x}", tce_out) : std::string()));
        if (g.expect_tce && rc == 0 && tce_out != *g.expect_tce)
            fail(out, fmt::format("H_GET_TCE returned TCE {:#x}, expected {:#x}", tce_out, *g.expect_tce));
        out.messages.push_back(fmt::format("hypercalls KVM handed to user space so far: {}", m_guest->user_space_hcalls()));
        return;
    }
    // RTAS: config_addr names the device as PAPR does (bus << 16 | devfn << 8), the BUID the guest PHB.
    const u32 config_addr = s.device ? u32(s.device->bus) << 16 | u32(s.device->devfn) << 8 : 0;
    const u64 buid = vmm::spapr_vmm::buid(g.phb);
    long status = 0;
    auto expect = [&](const char* what, u64 got, const auto& want) {
        if (want && got != u64(*want)) fail(out, fmt::format("{} is {:#x}, expected {:#x}", what, got, u64(*want)));
    };
    if (g.call == "ibm,query-pe-dma-window") {
        const auto q = m_guest->rtas_query_pe_dma_window(config_addr, buid);
        status = q.status;
        out.messages.push_back(fmt::format("{}: {} windows available, largest block {:#x} TCEs, page sizes {:#x}",
                                           g.call, q.windows_available, q.largest_block, q.page_sizes));
        if (status == g.expect_ret) expect("windows available", q.windows_available, g.expect_windows_available);
    } else if (g.call == "ibm,create-pe-dma-window") {
        const auto c = m_guest->rtas_create_pe_dma_window(config_addr, buid, s.page_shift, g.window_shift);
        status = c.status;
        out.messages.push_back(fmt::format("{}: LIOBN {:#x} at {:#x}", g.call, c.liobn, c.bus_offset));
        if (status == g.expect_ret) {
            expect("LIOBN", c.liobn, g.expect_liobn);
            expect("bus offset", c.bus_offset, g.expect_bus_offset);
        }
    } else if (g.call == "ibm,remove-pe-dma-window") {
        status = m_guest->rtas_remove_pe_dma_window(u32(g.liobn));
    } else {
        status = m_guest->rtas_reset_pe_dma_window(config_addr, buid);
    }
    if (status != g.expect_ret)
        return fail(out, fmt::format("{}: status {}, expected {}", g.call, rtas_name(status), rtas_name(g.expect_ret)));
    out.messages.push_back(fmt::format("{}: {}", g.call, rtas_name(status)));
}

} // namespace iommusim::scenario

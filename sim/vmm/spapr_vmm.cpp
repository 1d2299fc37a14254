#include "sim/vmm/spapr_vmm.h"

#include "sim/host/process/process_mm.h"
#include "sim/vfio/vfio_core.h"

#include <linux/vfio.h>

#include <cerrno>
#include <fcntl.h>
#include <string>

namespace iommusim::vmm {

using host::H_PARAMETER;
using host::H_SUCCESS;
using host::H_TOO_HARD;

spapr_vmm::spapr_vmm(vfio::vfio_core& vfio, host::process_mm& mm, host::mm_iommu* prereg,
                     table_group_fn table_group, u64 ram_ua, u64 ram_size)
    : m_vfio(vfio), m_mm(mm), m_table_group(std::move(table_group)), m_ram_ua(ram_ua), m_ram_size(ram_size),
      m_kvm(mm, prereg) {
    // The guest's RAM is KVM memslot 0 at guest physical 0.
    m_kvm.set_user_memory_region(0, 0, ram_size, ram_ua);
}

spapr_vmm::~spapr_vmm() {
    // Process exit: the KVM table fds close first (dropping their links), then the VFIO fds.
    for (auto& [index, p] : m_phbs) {
        for (window& w : p.win)
            if (w.kvm_table >= 0) m_kvm.release_spapr_tce(w.kvm_table);
        for (int fd : p.group_fds) m_vfio.close(fd);
        m_vfio.close(p.container);
    }
}

int spapr_vmm::add_phb(unsigned index, const std::vector<int>& groups, const spapr_phb_options& options) {
    if (m_phbs.count(index)) return -EEXIST;
    phb p;
    p.index = index;
    p.options = options;
    for (int n = 0; n < SPAPR_PCI_DMA_MAX_WINDOWS; ++n) p.win[n].liobn = liobn(index, n);
    auto fail = [&](long err) {
        for (int fd : p.group_fds) m_vfio.close(fd);
        if (p.container >= 0) m_vfio.close(p.container);
        return int(err);
    };

    // hw/vfio: the container, its groups, the v2 IOMMU.
    p.container = m_vfio.open("/dev/vfio/vfio", O_RDWR);
    if (p.container < 0) return p.container;
    for (int g : groups) {
        const int fd = m_vfio.open("/dev/vfio/" + std::to_string(g), O_RDWR);
        if (fd < 0) return fail(fd);
        p.group_fds.push_back(fd);
        p.groups.push_back(g);
        int c = p.container;
        if (long rc = m_vfio.ioctl(fd, VFIO_GROUP_SET_CONTAINER, reinterpret_cast<unsigned long>(&c)); rc < 0)
            return fail(rc);
    }
    if (long rc = m_vfio.ioctl(p.container, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU); rc < 0) return fail(rc);

    // The prereg listener registers guest RAM before any window is used.
    vfio_iommu_spapr_register_memory reg{};
    reg.argsz = sizeof(reg);
    reg.vaddr = m_ram_ua;
    reg.size = m_ram_size;
    if (long rc = m_vfio.ioctl(p.container, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, reinterpret_cast<unsigned long>(&reg));
        rc < 0)
        return fail(rc);

    // vfio_spapr_container_init: learn the host's windows and page sizes, then remove the kernel's default
    // window so that the guest's windows are created with the guest's parameters.
    vfio_iommu_spapr_tce_info info{};
    info.argsz = sizeof(info);
    if (long rc = m_vfio.ioctl(p.container, VFIO_IOMMU_SPAPR_TCE_GET_INFO, reinterpret_cast<unsigned long>(&info));
        rc < 0)
        return fail(rc);
    if (info.flags & VFIO_IOMMU_SPAPR_INFO_DDW) p.options.page_size_mask &= info.ddw.pgsizes;
    vfio_iommu_spapr_tce_remove rm{};
    rm.argsz = sizeof(rm);
    rm.start_addr = info.dma32_window_start;
    if (long rc = m_vfio.ioctl(p.container, VFIO_IOMMU_SPAPR_TCE_REMOVE, reinterpret_cast<unsigned long>(&rm)); rc < 0)
        return fail(rc);

    auto& added = m_phbs[index] = std::move(p);
    dma_reset(added);
    if (!added.win[0].nb_table) {
        const int err = -EIO;
        for (int fd : added.group_fds) m_vfio.close(fd);
        m_vfio.close(added.container);
        m_phbs.erase(index);
        return err;
    }
    return 0;
}

spapr_vmm::phb* spapr_vmm::find_phb(u64 b) {
    for (auto& [index, p] : m_phbs)
        if (buid(index) == b) return &p;
    return nullptr;
}

spapr_vmm::window* spapr_vmm::find_window(u32 l, phb** owner) {
    for (auto& [index, p] : m_phbs)
        for (window& w : p.win)
            if (w.liobn == l) {
                if (owner) *owner = &p;
                return &w;
            }
    return nullptr;
}

int spapr_vmm::active_windows(const phb& p) const {
    int n = 0;
    for (const window& w : p.win) n += w.nb_table ? 1 : 0;
    return n;
}

int spapr_vmm::enable_window(phb& p, window& w, unsigned page_shift, u64 bus_offset, u64 nb_table) {
    // hw/vfio/spapr.c vfio_spapr_create_window: levels so that each level is at most 64 KiB of TCEs.
    vfio_iommu_spapr_tce_create create{};
    create.argsz = sizeof(create);
    create.page_shift = page_shift;
    create.window_size = nb_table << page_shift;
    u64 pages = (nb_table * sizeof(u64)) / host::process_mm::page_size;
    if (pages == 0) pages = 1;
    u64 pow2 = 1;
    while (pow2 < pages) pow2 <<= 1;
    unsigned ctz = 0;
    while (!(pow2 >> ctz & 1)) ++ctz;
    create.levels = ctz / 6 + 1;
    if (long rc = m_vfio.ioctl(p.container, VFIO_IOMMU_SPAPR_TCE_CREATE, reinterpret_cast<unsigned long>(&create));
        rc < 0)
        return int(rc);
    if (create.start_addr != bus_offset) {
        // "Host doesn't support DMA window at ...": the host put it elsewhere.
        vfio_iommu_spapr_tce_remove rm{};
        rm.argsz = sizeof(rm);
        rm.start_addr = create.start_addr;
        m_vfio.ioctl(p.container, VFIO_IOMMU_SPAPR_TCE_REMOVE, reinterpret_cast<unsigned long>(&rm));
        return -EINVAL;
    }

    // The guest-visible table in KVM, linked to each group's new hardware table.
    host::kvm_create_spapr_tce_64 args;
    args.liobn = w.liobn;
    args.page_shift = page_shift;
    args.offset = bus_offset >> page_shift;
    args.size = nb_table;
    const int t = m_kvm.create_spapr_tce(args);
    if (t < 0) {
        vfio_iommu_spapr_tce_remove rm{};
        rm.argsz = sizeof(rm);
        rm.start_addr = bus_offset;
        m_vfio.ioctl(p.container, VFIO_IOMMU_SPAPR_TCE_REMOVE, reinterpret_cast<unsigned long>(&rm));
        return t;
    }
    for (int g : p.groups)
        if (host::iommu_table_group* tg = m_table_group ? m_table_group(g) : nullptr)
            m_kvm.attach_iommu_group(t, *tg);
    w.page_shift = page_shift;
    w.bus_offset = bus_offset;
    w.nb_table = nb_table;
    w.kvm_table = t;
    return 0;
}

void spapr_vmm::disable_window(phb& p, window& w) {
    if (!w.nb_table) return;
    m_kvm.release_spapr_tce(w.kvm_table);
    vfio_iommu_spapr_tce_remove rm{};
    rm.argsz = sizeof(rm);
    rm.start_addr = w.bus_offset;
    m_vfio.ioctl(p.container, VFIO_IOMMU_SPAPR_TCE_REMOVE, reinterpret_cast<unsigned long>(&rm));
    w.kvm_table = -1;
    w.nb_table = 0;
    w.bus_offset = 0;
}

// spapr_phb_dma_reset: every window off, then the default 32-bit window with 4 KiB TCEs.
void spapr_vmm::dma_reset(phb& p) {
    for (window& w : p.win) disable_window(p, w);
    enable_window(p, p.win[0], SPAPR_TCE_PAGE_SHIFT, p.options.dma_win_addr,
                  p.options.dma_win_size >> SPAPR_TCE_PAGE_SHIFT);
}

std::vector<spapr_vmm::window_info> spapr_vmm::windows(unsigned index) const {
    std::vector<window_info> out;
    auto it = m_phbs.find(index);
    if (it == m_phbs.end()) return out;
    for (const window& w : it->second.win)
        out.push_back({w.liobn, w.nb_table != 0, w.page_shift, w.bus_offset, w.nb_table << w.page_shift});
    return out;
}

bool spapr_vmm::read_guest_u64(u64 gpa, u64& value) {
    if (gpa >= m_ram_size || m_ram_size - gpa < 8) return false;
    u8 b[8];
    if (m_mm.read(m_ram_ua + gpa, b, 8)) return false;
    value = 0;
    for (u8 byte : b) value = value << 8 | byte;
    return true;
}

// spapr_iommu.c put_tce_emu, then the IOMMU notifier's VFIO call (vfio_iommu_map_notify).
long spapr_vmm::put_tce_emu(phb& p, window& w, u64 ioba, u64 tce) {
    const u64 index = (ioba - w.bus_offset) >> w.page_shift;
    if (ioba < w.bus_offset || index >= w.nb_table) return H_PARAMETER;
    m_kvm.mmap_put(w.kvm_table, index, tce);

    const u64 page = u64(1) << w.page_shift;
    const u64 perm = tce & (tce::TCE_PCI_READ | tce::TCE_PCI_WRITE);
    if (!perm) {
        vfio_iommu_type1_dma_unmap unmap{};
        unmap.argsz = sizeof(unmap);
        unmap.iova = ioba;
        unmap.size = page;
        m_vfio.ioctl(p.container, VFIO_IOMMU_UNMAP_DMA, reinterpret_cast<unsigned long>(&unmap));
        return H_SUCCESS;
    }
    const u64 gpa = tce & ~(page - 1);
    if (gpa >= m_ram_size || m_ram_size - gpa < page) return H_SUCCESS; // "iommu map to non memory area": not mapped
    vfio_iommu_type1_dma_map map{};
    map.argsz = sizeof(map);
    // IOMMU_RO (device reads only) maps read-only; anything the device may write maps read-write.
    map.flags = VFIO_DMA_MAP_FLAG_READ | ((perm & tce::TCE_PCI_WRITE) ? VFIO_DMA_MAP_FLAG_WRITE : 0);
    map.vaddr = m_ram_ua + gpa;
    map.iova = ioba;
    map.size = page;
    m_vfio.ioctl(p.container, VFIO_IOMMU_MAP_DMA, reinterpret_cast<unsigned long>(&map));
    return H_SUCCESS;
}

long spapr_vmm::h_put_tce(u64 l, u64 ioba, u64 tce) {
    const long rc = m_kvm.h_put_tce(l, ioba, tce);
    if (rc != H_TOO_HARD) return rc;
    ++m_user_hcalls;
    phb* p = nullptr;
    window* w = find_window(u32(l), &p);
    if (!w || l > 0xffffffffULL) return H_PARAMETER;
    return put_tce_emu(*p, *w, ioba & ~((u64(1) << w->page_shift) - 1), tce);
}

long spapr_vmm::h_put_tce_indirect(u64 l, u64 ioba, u64 tce_list, u64 npages) {
    const long rc = m_kvm.h_put_tce_indirect(l, ioba, tce_list, npages);
    if (rc != H_TOO_HARD) return rc;
    ++m_user_hcalls;
    phb* p = nullptr;
    window* w = find_window(u32(l), &p);
    if (!w || l > 0xffffffffULL) return H_PARAMETER;
    if (npages > 512 || (tce_list & (host::process_mm::page_size - 1))) return H_PARAMETER;
    const u64 page = u64(1) << w->page_shift;
    ioba &= ~(page - 1);
    for (u64 i = 0; i < npages; ++i, ioba += page) {
        u64 tce = 0;
        if (!read_guest_u64(tce_list + i * 8, tce)) return H_PARAMETER;
        if (long ret = put_tce_emu(*p, *w, ioba, tce)) return ret;
    }
    return H_SUCCESS;
}

long spapr_vmm::h_stuff_tce(u64 l, u64 ioba, u64 tce_value, u64 npages) {
    const long rc = m_kvm.h_stuff_tce(l, ioba, tce_value, npages);
    if (rc != H_TOO_HARD) return rc;
    ++m_user_hcalls;
    phb* p = nullptr;
    window* w = find_window(u32(l), &p);
    if (!w || l > 0xffffffffULL || npages > w->nb_table) return H_PARAMETER;
    const u64 page = u64(1) << w->page_shift;
    ioba &= ~(page - 1);
    for (u64 i = 0; i < npages; ++i, ioba += page)
        if (long ret = put_tce_emu(*p, *w, ioba, tce_value)) return ret;
    return H_SUCCESS;
}

long spapr_vmm::h_get_tce(u64 l, u64 ioba, u64& tce) {
    const long rc = m_kvm.h_get_tce(l, ioba, tce);
    if (rc != H_TOO_HARD) return rc;
    ++m_user_hcalls;
    return H_PARAMETER; // KVM knows every table QEMU has: an unknown LIOBN
}

rtas_query_result spapr_vmm::rtas_query_pe_dma_window(u32 config_addr, u64 b) {
    (void)config_addr;
    rtas_query_result r;
    phb* p = find_phb(b);
    if (!p || !p->options.ddw) return r;
    r.status = RTAS_OUT_SUCCESS;
    r.windows_available = u32(SPAPR_PCI_DMA_MAX_WINDOWS - active_windows(*p));
    r.largest_block = 0x80000000; // QEMU's answer: the largest window it could possibly create
    r.page_sizes = tce::pgsizes_to_ddw_mask(p->options.page_size_mask);
    r.migration_capable = 0;
    return r;
}

rtas_create_result spapr_vmm::rtas_create_pe_dma_window(u32 config_addr, u64 b, u32 page_shift, u32 window_shift) {
    (void)config_addr;
    rtas_create_result r;
    phb* p = find_phb(b);
    if (!p || !p->options.ddw) return r;
    if (page_shift >= 64 || !(p->options.page_size_mask & (u64(1) << page_shift)) || window_shift < page_shift ||
        window_shift >= 64)
        return r;
    window* free = nullptr;
    for (window& w : p->win)
        if (!w.nb_table) {
            free = &w;
            break;
        }
    const int windows = active_windows(*p);
    r.status = RTAS_OUT_HW_ERROR;
    if (!free || windows == SPAPR_PCI_DMA_MAX_WINDOWS) return r;
    const u64 win_addr = windows == 0 ? p->options.dma_win_addr : p->options.dma64_win_addr;
    if (enable_window(*p, *free, page_shift, win_addr, u64(1) << (window_shift - page_shift))) return r;
    r.status = RTAS_OUT_SUCCESS;
    r.liobn = free->liobn;
    r.bus_offset = free->bus_offset;
    return r;
}

int spapr_vmm::rtas_remove_pe_dma_window(u32 l) {
    phb* p = nullptr;
    window* w = find_window(l, &p);
    if (!w || !p->options.ddw || !w->nb_table) return RTAS_OUT_PARAM_ERROR;
    disable_window(*p, *w);
    return RTAS_OUT_SUCCESS;
}

int spapr_vmm::rtas_reset_pe_dma_window(u32 config_addr, u64 b) {
    (void)config_addr;
    phb* p = find_phb(b);
    if (!p || !p->options.ddw) return RTAS_OUT_PARAM_ERROR;
    dma_reset(*p);
    return RTAS_OUT_SUCCESS;
}

} // namespace iommusim::vmm

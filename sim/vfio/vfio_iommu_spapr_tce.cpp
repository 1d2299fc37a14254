#include "sim/vfio/vfio_iommu_spapr_tce.h"

#include <linux/vfio.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <typeinfo>

namespace iommusim::vfio {

using host::dma_direction;
using host::iommu_table;
using host::iommu_table_group;

namespace {

constexpr unsigned k_page_shift = mm_iommu_regions::page_shift; // PAGE_SHIFT of the simulated host
constexpr unsigned IOMMU_PAGE_SHIFT_4K = 12;

template <typename T>
bool copy_in(T& dst, unsigned long arg, size_t n) {
    if (!arg) return false;
    std::memcpy(&dst, reinterpret_cast<const void*>(arg), n);
    return true;
}

// copy_from_user of the struct's first minsz bytes, then the argsz and (unless flags are the caller's) the
// no-flags checks every sPAPR ioctl makes.
template <typename T>
long read_arg(T& out, unsigned long arg, size_t minsz, bool no_flags = true) {
    if (!copy_in(out, arg, minsz)) return -EFAULT;
    if (out.argsz < minsz) return -EINVAL;
    if (no_flags && out.flags) return -EINVAL;
    return 0;
}

// iommu_tce_check_ioba: aligned to the table's page, one page inside [it_offset, it_offset + it_size).
int check_ioba(const iommu_table& tbl, u64 ioba, u64 npages) {
    const u64 mask = (u64(1) << tbl.page_shift()) - 1;
    if (ioba & mask) return -EINVAL;
    ioba >>= tbl.page_shift();
    if (ioba < tbl.offset()) return -EINVAL;
    if (ioba + npages > tbl.offset() + tbl.size() || ioba + npages < ioba) return -EINVAL;
    return 0;
}

} // namespace

vfio_iommu_spapr_tce::vfio_iommu_spapr_tce(vfio_host& host, vfio_mm& mm, mm_iommu_regions& prereg, bool v2)
    : m_host(host), m_mm(mm), m_prereg(prereg), m_v2(v2) {}

vfio_iommu_spapr_tce::~vfio_iommu_spapr_tce() {
    while (!m_groups.empty()) detach_group(m_groups.front());
    for (auto& tbl : m_tables) {
        if (!tbl) continue;
        clear(*tbl, tbl->offset(), tbl->size());
        free_table(tbl);
        tbl.reset();
    }
    for (host::mm_iommu::region* mem : m_prereg_list) m_prereg.put(mem);
    m_prereg_list.clear();
    disable();
}

int vfio_iommu_spapr_tce::static_check_extension(const vfio_host& host, unsigned long ext) {
    switch (ext) {
    case VFIO_SPAPR_TCE_IOMMU:
    case VFIO_SPAPR_TCE_v2_IOMMU: return 1;
    case VFIO_EEH: return host.eeh_enabled() ? 1 : 0;  // vfio_spapr_iommu_eeh_ioctl
    default: return 0;
    }
}

iommu_table_group* vfio_iommu_spapr_tce::first_group() const {
    return m_groups.empty() ? nullptr : m_host.table_group(m_groups.front());
}

int vfio_iommu_spapr_tce::attach_group(int group, bool emulated) {
    if (emulated) return -EINVAL;
    iommu_table_group* tg = m_host.table_group(group);
    if (!tg) return -ENODEV;
    // A second group needs ownership ops (a legacy platform allows one group per container).
    if (!m_groups.empty() && !tg->has_ops()) return -EBUSY;
    for (int g : m_groups) {
        if (g == group) return -EBUSY;  // "Group %d is already attached"
        // "is incompatible": another platform's create_table (here: another kind of table group).
        iommu_table_group* other = m_host.table_group(g);
        if (other && typeid(*other) != typeid(*tg)) return -EPERM;
    }
    if (!tg->has_ops()) {
        // Legacy: v1 only; the container adopts the platform's tables (tce_iommu_take_ownership).
        if (m_v2) return -EPERM;
        for (int i = 0; i < host::IOMMU_TABLE_GROUP_MAX_TABLES; ++i) m_tables[i] = tg->tables[i];
    } else {
        if (!m_v2) return -EPERM;
        // tce_iommu_take_ownership_ddw: the kernel's DMA setup leaves the PE, every window of the
        // container is programmed into it.
        tg->take_ownership();
        for (int i = 0; i < host::IOMMU_TABLE_GROUP_MAX_TABLES; ++i) {
            if (!m_tables[i]) continue;
            if (long rc = tg->set_window(i, m_tables[i])) {
                for (int j = 0; j < host::IOMMU_TABLE_GROUP_MAX_TABLES; ++j) tg->unset_window(j);
                tg->release_ownership();
                return int(rc);
            }
        }
        if (m_groups.empty() && !m_tables[0]) m_def_window_pending = true;
    }
    m_groups.push_back(group);
    return 0;
}

void vfio_iommu_spapr_tce::detach_group(int group) {
    auto it = std::find(m_groups.begin(), m_groups.end(), group);
    if (it == m_groups.end()) return;
    m_groups.erase(it);
    iommu_table_group* tg = m_host.table_group(group);
    if (!tg) return;
    if (!tg->has_ops()) {
        // tce_iommu_release_ownership: the adopted tables are cleared and handed back.
        for (auto& tbl : m_tables) {
            if (!tbl) continue;
            clear(*tbl, tbl->offset(), tbl->size());
            tbl.reset();
        }
        return;
    }
    // tce_iommu_release_ownership_ddw
    for (int i = 0; i < host::IOMMU_TABLE_GROUP_MAX_TABLES; ++i)
        if (m_tables[i]) tg->unset_window(i);
    tg->release_ownership();
}

long vfio_iommu_spapr_tce::ioctl(unsigned long request, unsigned long arg) {
    // The mm latch (tce_iommu_mm_set, -EPERM from another process) cannot fire: a container here is only
    // ever used by the process that opened it.
    switch (request) {
    case VFIO_CHECK_EXTENSION: return check_extension(arg);
    case VFIO_IOMMU_SPAPR_TCE_GET_INFO: return get_info(arg);
    case VFIO_IOMMU_MAP_DMA: return map_dma(arg);
    case VFIO_IOMMU_UNMAP_DMA: return unmap_dma(arg);
    case VFIO_IOMMU_SPAPR_REGISTER_MEMORY:
        if (!m_v2) break;
        return register_memory(arg);
    case VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY:
        if (!m_v2) break;
        return unregister_memory(arg);
    case VFIO_IOMMU_ENABLE:
        if (m_v2) break;
        return enable();
    case VFIO_IOMMU_DISABLE:
        if (m_v2) break;
        disable();
        return 0;
    case VFIO_EEH_PE_OP: return eeh_pe_op(arg);
    case VFIO_IOMMU_SPAPR_TCE_CREATE:
        if (!m_v2) break;
        return tce_create(arg);
    case VFIO_IOMMU_SPAPR_TCE_REMOVE:
        if (!m_v2) break;
        return tce_remove(arg);
    default: break;
    }
    return -ENOTTY;
}

long vfio_iommu_spapr_tce::get_info(unsigned long arg) {
    iommu_table_group* tg = first_group();
    if (!tg) return -ENXIO;
    vfio_iommu_spapr_tce_info info{};
    const size_t minsz = offsetof(vfio_iommu_spapr_tce_info, dma32_window_size) + sizeof(info.dma32_window_size);
    if (!copy_in(info, arg, minsz)) return -EFAULT;
    if (info.argsz < minsz) return -EINVAL;
    info.dma32_window_start = tg->tce32_start;
    info.dma32_window_size = tg->tce32_size;
    info.flags = 0;
    std::memset(&info.ddw, 0, sizeof(info.ddw));
    if (tg->max_dynamic_windows_supported && m_v2) {
        info.flags |= VFIO_IOMMU_SPAPR_INFO_DDW;
        info.ddw.pgsizes = tg->pgsizes;
        info.ddw.max_dynamic_windows_supported = tg->max_dynamic_windows_supported;
        info.ddw.levels = tg->max_levels;
    }
    const size_t ddwsz = offsetof(vfio_iommu_spapr_tce_info, ddw) + sizeof(info.ddw);
    std::memcpy(reinterpret_cast<void*>(arg), &info, info.argsz >= ddwsz ? ddwsz : minsz);
    return 0;
}

int vfio_iommu_spapr_tce::find_table(u64 ioba) const {
    for (int i = 0; i < host::IOMMU_TABLE_GROUP_MAX_TABLES; ++i) {
        const auto& tbl = m_tables[i];
        if (tbl && tbl->bus_start() <= ioba && ioba - tbl->bus_start() < tbl->bus_size()) return i;
    }
    return -1;
}

long vfio_iommu_spapr_tce::map_dma(unsigned long arg) {
    if (!m_enabled) return -EPERM;
    vfio_iommu_type1_dma_map p{};
    if (long rc = read_arg(p, arg, offsetof(vfio_iommu_type1_dma_map, size) + sizeof(p.size), false)) return rc;
    if (p.flags & ~(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)) return -EINVAL;
    if (long rc = create_default_window()) return rc;
    const int num = find_table(p.iova);
    if (num < 0) return -ENXIO;
    iommu_table& tbl = *m_tables[num];
    const u64 mask = (u64(1) << tbl.page_shift()) - 1;
    if ((p.size & mask) || (p.vaddr & mask)) return -EINVAL;
    dma_direction dir;
    if (p.flags & VFIO_DMA_MAP_FLAG_READ)
        dir = (p.flags & VFIO_DMA_MAP_FLAG_WRITE) ? dma_direction::bidirectional : dma_direction::to_device;
    else if (p.flags & VFIO_DMA_MAP_FLAG_WRITE)
        dir = dma_direction::from_device;
    else
        return -EINVAL;
    // iommu_tce_put_param_check: the address aligned (checked above), the first page inside the window.
    if (int rc = check_ioba(tbl, p.iova, 1)) return rc;
    const u64 entry = p.iova >> tbl.page_shift(), pages = p.size >> tbl.page_shift();
    return m_v2 ? build_v2(tbl, entry, p.vaddr, pages, dir) : build(tbl, entry, p.vaddr, pages, dir);
}

long vfio_iommu_spapr_tce::unmap_dma(unsigned long arg) {
    if (!m_enabled) return -EPERM;
    vfio_iommu_type1_dma_unmap p{};
    if (long rc = read_arg(p, arg, offsetof(vfio_iommu_type1_dma_unmap, size) + sizeof(p.size))) return rc;
    if (long rc = create_default_window()) return rc;
    const int num = find_table(p.iova);
    if (num < 0) return -ENXIO;
    iommu_table& tbl = *m_tables[num];
    if (p.size & ((u64(1) << tbl.page_shift()) - 1)) return -EINVAL;
    // iommu_tce_clear_param_check
    if (int rc = check_ioba(tbl, p.iova, p.size >> tbl.page_shift())) return rc;
    clear(tbl, p.iova >> tbl.page_shift(), p.size >> tbl.page_shift());
    return 0;  // the size is not written back
}

// tce_iommu_enable: the worst case (every TCE of the 32-bit window in use) is charged once, because
// H_PUT_TCE may run in real mode where it cannot account.
long vfio_iommu_spapr_tce::enable() {
    if (m_enabled) return -EBUSY;
    if (m_groups.empty()) return -ENODEV;
    iommu_table_group* tg = first_group();
    if (!tg) return -ENODEV;
    if (!tg->tce32_size) return -EPERM;
    const u64 locked = u64(tg->tce32_size) >> k_page_shift;
    if (int rc = m_mm.account_locked_vm(locked << k_page_shift, true)) return rc;
    m_locked_pages = locked;
    m_enabled = true;
    return 0;
}

void vfio_iommu_spapr_tce::disable() {
    if (!m_enabled) return;
    m_enabled = false;
    m_mm.account_locked_vm(m_locked_pages << k_page_shift, false);
    m_locked_pages = 0;
}

// tce_iommu_register_pages
long vfio_iommu_spapr_tce::register_memory(unsigned long arg) {
    vfio_iommu_spapr_register_memory p{};
    if (long rc = read_arg(p, arg, offsetof(vfio_iommu_spapr_register_memory, size) + sizeof(p.size))) return rc;
    const u64 pmask = (u64(1) << k_page_shift) - 1;
    if ((p.vaddr & pmask) || (p.size & pmask) || p.vaddr + p.size < p.vaddr) return -EINVAL;
    const u64 entries = p.size >> k_page_shift;
    host::mm_iommu::region* mem = m_prereg.get(p.vaddr, entries);
    if (mem) {
        if (std::find(m_prereg_list.begin(), m_prereg_list.end(), mem) != m_prereg_list.end()) {
            m_prereg.put(mem);
            return -EBUSY;  // this container registered it already
        }
    } else if (long rc = m_prereg.create(p.vaddr, entries, mem)) {
        return rc;
    }
    m_prereg_list.push_back(mem);
    m_enabled = true;
    return 0;
}

// tce_iommu_unregister_pages
long vfio_iommu_spapr_tce::unregister_memory(unsigned long arg) {
    vfio_iommu_spapr_register_memory p{};
    if (long rc = read_arg(p, arg, offsetof(vfio_iommu_spapr_register_memory, size) + sizeof(p.size))) return rc;
    const u64 pmask = (u64(1) << k_page_shift) - 1;
    if ((p.vaddr & pmask) || (p.size & pmask)) return -EINVAL;
    host::mm_iommu::region* mem = m_prereg.get(p.vaddr, p.size >> k_page_shift);
    if (!mem) return -ENOENT;
    long ret = 0;
    auto it = std::find(m_prereg_list.begin(), m_prereg_list.end(), mem);
    if (it == m_prereg_list.end()) {
        ret = -ENOENT;
    } else {
        // tce_iommu_prereg_free: this container's use goes (unless TCEs still point into the region).
        ret = m_prereg.put(mem);
        if (!ret) m_prereg_list.erase(it);
    }
    m_prereg.put(mem);  // the reference mm_iommu_get took
    return ret;
}

long vfio_iommu_spapr_tce::tce_create(unsigned long arg) {
    if (m_groups.empty()) return -ENXIO;
    vfio_iommu_spapr_tce_create c{};
    const size_t minsz = offsetof(vfio_iommu_spapr_tce_create, start_addr) + sizeof(c.start_addr);
    if (long rc = read_arg(c, arg, minsz)) return rc;
    long ret = create_default_window();
    u64 start = 0;
    if (!ret) ret = create_window(c.page_shift, c.window_size, c.levels, start);
    if (!ret) {
        c.start_addr = start;
        std::memcpy(reinterpret_cast<void*>(arg), &c, minsz);
    }
    return ret;
}

long vfio_iommu_spapr_tce::tce_remove(unsigned long arg) {
    if (m_groups.empty()) return -ENXIO;
    vfio_iommu_spapr_tce_remove r{};
    if (long rc = read_arg(r, arg, offsetof(vfio_iommu_spapr_tce_remove, start_addr) + sizeof(r.start_addr))) return rc;
    if (m_def_window_pending && !r.start_addr) {
        m_def_window_pending = false;  // the default window is never created
        return 0;
    }
    return remove_window(r.start_addr);
}

long vfio_iommu_spapr_tce::create_default_window() {
    if (!m_def_window_pending) return 0;
    iommu_table_group* tg = first_group();
    if (!tg) return -ENODEV;
    u64 start = 0;
    const long ret = create_window(IOMMU_PAGE_SHIFT_4K, tg->tce32_size, 1, start);
    if (!ret) m_def_window_pending = false;
    return ret;
}

long vfio_iommu_spapr_tce::create_window(unsigned page_shift, u64 window_size, unsigned levels, u64& start_addr) {
    int num = -1;
    for (int i = 0; i < host::IOMMU_TABLE_GROUP_MAX_TABLES && num < 0; ++i)
        if (!m_tables[i]) num = i;
    if (num < 0) return -ENOSPC;
    iommu_table_group* tg = first_group();
    if (!tg) return -EFAULT;
    if (page_shift >= 64 || !(tg->pgsizes & (u64(1) << page_shift))) return -EINVAL;
    if (!tg->has_ops()) return -EPERM;
    // tce_iommu_create_table: the table's memory is charged to locked_vm.
    const u64 table_size = tg->get_table_size(page_shift, window_size, levels);
    if (!table_size) return -EINVAL;
    if (int rc = m_mm.account_locked_vm(table_size, true)) return rc;
    std::shared_ptr<iommu_table> tbl;
    if (long rc = tg->create_table(num, page_shift, window_size, levels, tbl)) {
        m_mm.account_locked_vm(table_size, false);
        return rc;
    }
    for (int g : m_groups) {
        iommu_table_group* each = m_host.table_group(g);
        if (long rc = each ? each->set_window(num, tbl) : -EFAULT) {
            for (int u : m_groups)
                if (iommu_table_group* x = m_host.table_group(u)) x->unset_window(num);
            free_table(tbl);
            return rc;
        }
    }
    m_tables[num] = tbl;
    start_addr = tbl->bus_start();  // the address the platform chose
    return 0;
}

long vfio_iommu_spapr_tce::remove_window(u64 start_addr) {
    const int num = find_table(start_addr);
    if (num < 0) return -EINVAL;
    for (int g : m_groups) {
        iommu_table_group* tg = m_host.table_group(g);
        if (!tg || !tg->has_ops()) return -EPERM;  // a platform that cannot remove its default window
        tg->unset_window(num);
    }
    auto tbl = m_tables[num];
    clear(*tbl, tbl->offset(), tbl->size());
    free_table(tbl);
    m_tables[num].reset();
    return 0;
}

// tce_iommu_free_table: the charge for the table's memory goes back.
void vfio_iommu_spapr_tce::free_table(const std::shared_ptr<iommu_table>& tbl) {
    m_mm.account_locked_vm(tbl->allocated_size(), false);
}

// tce_iommu_build (v1): each IOMMU page pinned (written to unless the device only reads it); its backing
// must be one contiguous piece at least the IOMMU page's size (tce_page_is_contained); the entry is
// exchanged and whatever it held before is unpinned. On failure every entry of this call is cleared.
long vfio_iommu_spapr_tce::build(iommu_table& tbl, u64 entry, u64 ua, u64 pages, dma_direction dir) {
    const u64 pgsize = u64(1) << tbl.page_shift();
    long ret = 0;
    u64 i = 0;
    for (; i < pages; ++i, ua += pgsize) {
        std::vector<pin_run> runs;
        if (m_mm.pin_uncharged(ua, pgsize, dir != dma_direction::to_device, runs)) {
            ret = -EFAULT;
            break;
        }
        if (runs.size() != 1 || runs[0].reserved) {
            m_mm.unpin_uncharged(runs);
            ret = -EPERM;
            break;
        }
        u64 hpa = runs[0].phys;
        dma_direction old = dir;
        if (tbl.xchg_no_kill(entry + i, hpa, old)) {
            m_mm.unpin_uncharged(runs);
            ret = -EINVAL;
            break;
        }
        if (old != dma_direction::none) unuse_page(tbl, entry + i);
        m_v1_pins[{&tbl, entry + i}] = runs[0];
    }
    if (ret) clear(tbl, entry, i);
    else tbl.tce_kill(entry, pages);
    return ret;
}

// tce_iommu_build_v2: only preregistered memory, translated (the region's page size must cover the IOMMU
// page) and counted as mapped; the userspace address is kept beside the entry.
long vfio_iommu_spapr_tce::build_v2(iommu_table& tbl, u64 entry, u64 ua, u64 pages, dma_direction dir) {
    const u64 pgsize = u64(1) << tbl.page_shift();
    long ret = 0;
    u64 i = 0;
    for (; i < pages; ++i, ua += pgsize) {
        host::mm_iommu::region* mem = m_prereg.lookup(ua, pgsize);
        u64 hpa = 0;
        if (!mem || !m_prereg.ua_to_hpa(mem, ua, tbl.page_shift(), hpa)) {
            ret = -EINVAL;  // tce_iommu_prereg_ua_to_hpa
            break;
        }
        if (!m_prereg.mapped_inc(mem)) break;  // the region is going away: stop here, as 6.1 does
        dma_direction old = dir;
        if (tbl.xchg_no_kill(entry + i, hpa, old)) {
            m_prereg.mapped_dec(mem);
            ret = -EINVAL;
            break;
        }
        if (old != dma_direction::none) unuse_page_v2(tbl, entry + i);
        tbl.set_userspace(entry + i, ua);
    }
    if (ret) clear(tbl, entry, i);
    else tbl.tce_kill(entry, pages);
    return ret;
}

// tce_iommu_clear: absent entries are fine.
void vfio_iommu_spapr_tce::clear(iommu_table& tbl, u64 entry, u64 pages) {
    for (u64 i = 0; i < pages; ++i) {
        u64 oldhpa = 0;
        dma_direction dir = dma_direction::none;
        if (tbl.xchg_no_kill(entry + i, oldhpa, dir)) continue;
        if (dir == dma_direction::none) continue;
        if (m_v2) unuse_page_v2(tbl, entry + i);
        else unuse_page(tbl, entry + i);
    }
    tbl.tce_kill(entry, pages);
}

void vfio_iommu_spapr_tce::unuse_page(iommu_table& tbl, u64 entry) {
    auto it = m_v1_pins.find({&tbl, entry});
    if (it == m_v1_pins.end()) return;  // mapped by someone else (the platform's own entries)
    m_mm.unpin_uncharged({it->second});
    m_v1_pins.erase(it);
}

void vfio_iommu_spapr_tce::unuse_page_v2(iommu_table& tbl, u64 entry) {
    const u64 ua = tbl.userspace(entry);
    if (!ua) return;
    if (host::mm_iommu::region* mem = m_prereg.lookup(ua, u64(1) << tbl.page_shift())) m_prereg.mapped_dec(mem);
    tbl.set_userspace(entry, 0);
}

// VFIO_EEH_PE_OP (vfio_spapr_iommu_eeh_ioctl) on the PE of every attached group; the first non-zero
// result is returned (GET_STATE's state, or an error).
long vfio_iommu_spapr_tce::eeh_pe_op(unsigned long arg) {
    if (m_groups.empty()) return -ENODEV;
    for (int g : m_groups) {
        iommu_table_group* tg = m_host.table_group(g);
        host::eeh_pe_ops* pe = tg ? tg->eeh() : nullptr;
        if (!pe) return -ENODEV;
        vfio_eeh_pe_op op{};
        if (long rc = read_arg(op, arg, offsetof(vfio_eeh_pe_op, op) + sizeof(op.op))) return rc;
        long ret;
        switch (op.op) {
        case VFIO_EEH_PE_DISABLE: ret = pe->set_option(0); break;      // EEH_OPT_DISABLE
        case VFIO_EEH_PE_ENABLE: ret = pe->set_option(1); break;       // EEH_OPT_ENABLE
        case VFIO_EEH_PE_UNFREEZE_IO: ret = pe->set_option(2); break;  // EEH_OPT_THAW_MMIO
        case VFIO_EEH_PE_UNFREEZE_DMA: ret = pe->set_option(3); break; // EEH_OPT_THAW_DMA
        case VFIO_EEH_PE_GET_STATE: ret = pe->get_state(); break;
        case VFIO_EEH_PE_RESET_DEACTIVATE: ret = pe->reset(0); break;  // EEH_RESET_DEACTIVATE
        case VFIO_EEH_PE_RESET_HOT: ret = pe->reset(1); break;         // EEH_RESET_HOT
        case VFIO_EEH_PE_RESET_FUNDAMENTAL: ret = pe->reset(3); break; // EEH_RESET_FUNDAMENTAL
        case VFIO_EEH_PE_CONFIGURE: ret = pe->configure(); break;
        case VFIO_EEH_PE_INJECT_ERR: {
            const size_t errsz = offsetof(vfio_eeh_pe_op, err.mask) + sizeof(op.err.mask);
            if (op.argsz < errsz) return -EINVAL;
            copy_in(op, arg, errsz);
            ret = pe->inject_err(int(op.err.type), int(op.err.func), op.err.addr, op.err.mask);
            break;
        }
        default: ret = -EINVAL;
        }
        if (ret) return ret;
    }
    return 0;
}

} // namespace iommusim::vfio

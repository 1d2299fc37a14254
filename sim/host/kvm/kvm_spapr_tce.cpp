#include "sim/host/kvm/kvm_spapr_tce.h"

#include "sim/host/process/process_mm.h"

#include <cerrno>
#include <limits>

namespace iommusim::host {

namespace {
constexpr u64 k_page_size = process_mm::page_size;
constexpr u64 k_stt_header_bytes = 128; // sizeof(struct kvmppc_spapr_tce_table) before its page array

u64 align_up(u64 v, u64 a) { return (v + a - 1) / a * a; }
} // namespace

dma_direction tce_direction(u64 tce) {
    const bool read = tce & TCE_PCI_READ, write = tce & TCE_PCI_WRITE;
    if (read && write) return dma_direction::bidirectional;
    if (read) return dma_direction::to_device;
    if (write) return dma_direction::from_device;
    return dma_direction::none;
}

kvm_spapr_tce::kvm_spapr_tce(process_mm& mm, mm_iommu* prereg) : m_mm(mm), m_prereg(prereg) {}

kvm_spapr_tce::~kvm_spapr_tce() {
    // The VM going away closes every table fd.
    while (!m_tables.empty()) release_spapr_tce(m_tables.begin()->first);
}

int kvm_spapr_tce::set_user_memory_region(unsigned slot, u64 gpa, u64 size, u64 ua) {
    if ((gpa | size | ua) & (k_page_size - 1)) return -EINVAL;
    if (size == 0) {
        m_slots.erase(slot);
        return 0;
    }
    if (gpa + size < gpa) return -EINVAL;
    for (const auto& [id, s] : m_slots) {
        if (id == slot) continue;
        if (gpa < s.first + s.second.size && s.first < gpa + size) return -EEXIST;
    }
    m_slots[slot] = {gpa, {size, ua}};
    return 0;
}

u64 kvm_spapr_tce::stt_pages(u64 size) {
    const u64 tce_pages = align_up(size * sizeof(u64), k_page_size) / k_page_size;
    const u64 stt_bytes = k_stt_header_bytes + tce_pages * sizeof(void*);
    return tce_pages + align_up(stt_bytes, k_page_size) / k_page_size;
}

int kvm_spapr_tce::create_spapr_tce(const kvm_create_spapr_tce_64& args) {
    if (!args.size || args.page_shift < 12 || args.page_shift > 34 ||
        args.offset + args.size > (std::numeric_limits<u64>::max() >> args.page_shift) ||
        args.offset + args.size < args.offset)
        return -EINVAL;
    const u64 pages = stt_pages(args.size);
    if (int err = m_mm.account_locked_vm(pages * k_page_size, true)) return err;
    for (const auto& [id, t] : m_tables) {
        if (t.liobn == args.liobn) {
            m_mm.account_locked_vm(pages * k_page_size, false);
            return -EBUSY;
        }
    }
    table t;
    t.liobn = args.liobn;
    t.page_shift = args.page_shift;
    t.offset = args.offset;
    t.size = args.size;
    const int id = m_next_id++;
    m_tables.emplace(id, std::move(t));
    return id;
}

int kvm_spapr_tce::release_spapr_tce(int id) {
    auto it = m_tables.find(id);
    if (it == m_tables.end()) return -EBADF;
    m_mm.account_locked_vm(stt_pages(it->second.size) * k_page_size, false);
    m_tables.erase(it);  // the links go with it; the hardware tables keep what was mirrored into them
    return 0;
}

int kvm_spapr_tce::attach_iommu_group(int id, iommu_table_group& group) {
    auto it = m_tables.find(id);
    if (it == m_tables.end()) return -EBADF;
    table& stt = it->second;
    std::shared_ptr<iommu_table> tbl;
    for (const auto& cand : group.tables) {
        if (!cand) continue;
        // Hardware table parameters must be compatible: same bus offset, at least the guest window's
        // size, and a page size no larger than the guest's (a guest page is then whole hardware pages).
        if (cand->page_shift() <= stt.page_shift &&
            (cand->offset() << cand->page_shift()) == (stt.offset << stt.page_shift) &&
            (cand->size() << cand->page_shift()) >= (stt.size << stt.page_shift)) {
            tbl = cand;
            break;
        }
    }
    if (!tbl) return -EINVAL;
    for (linked& l : stt.iommu_tables) {
        if (l.tbl == tbl) {
            ++l.refs;
            return 0;
        }
    }
    stt.iommu_tables.push_back({tbl, 1});
    return 0;
}

void kvm_spapr_tce::release_iommu_group(iommu_table_group& group) {
    for (auto& [id, stt] : m_tables) {
        for (const auto& gt : group.tables) {
            if (!gt) continue;
            for (auto l = stt.iommu_tables.begin(); l != stt.iommu_tables.end(); ++l) {
                if (l->tbl != gt) continue;
                if (--l->refs == 0) stt.iommu_tables.erase(l);
                break;
            }
        }
    }
}

std::size_t kvm_spapr_tce::linked_tables(u64 liobn) const {
    for (const auto& [id, t] : m_tables)
        if (t.liobn == liobn) return t.iommu_tables.size();
    return 0;
}

u64 kvm_spapr_tce::mmap_get(int id, u64 index) const {
    auto t = m_tables.find(id);
    if (t == m_tables.end() || index >= t->second.size) return 0;
    auto e = t->second.tces.find(index);
    return e == t->second.tces.end() ? 0 : e->second;
}

void kvm_spapr_tce::mmap_put(int id, u64 index, u64 tce) {
    auto t = m_tables.find(id);
    if (t == m_tables.end() || index >= t->second.size) return;
    tce_put(t->second, t->second.offset + index, tce);
}

kvm_spapr_tce::table* kvm_spapr_tce::find(u64 liobn) {
    for (auto& [id, t] : m_tables)
        if (t.liobn == liobn) return &t;
    return nullptr;
}

// kvmppc_ioba_validate: aligned to the table's page, inside [offset, offset + size) for npages entries.
long kvm_spapr_tce::ioba_validate(const table& stt, u64 ioba, u64 npages) const {
    const u64 mask = (u64(1) << stt.page_shift) - 1;
    const u64 idx = ioba >> stt.page_shift;
    if ((ioba & mask) || idx < stt.offset || idx - stt.offset + npages > stt.size || idx + npages < idx)
        return H_PARAMETER;
    return H_SUCCESS;
}

// kvmppc_tce_to_ua: the memslot holding the TCE's guest frame; the offset inside the 4 KiB page is kept.
bool kvm_spapr_tce::tce_to_ua(u64 tce, u64& ua) const {
    const u64 gpa = tce & ~(k_page_size - 1);
    for (const auto& [id, s] : m_slots) {
        const u64 start = s.first;
        if (gpa >= start && gpa - start < s.second.size) {
            ua = (s.second.ua + (gpa - start)) | (tce & (k_page_size - 1) & ~(TCE_PCI_READ | TCE_PCI_WRITE));
            return true;
        }
    }
    return false;
}

// kvmppc_tce_validate: a clearing TCE is always fine (user space may poison entries); a mapping needs
// a GPA aligned to the guest table's page, a memslot, and for every linked hardware table a
// preregistered region that translates it.
long kvm_spapr_tce::tce_validate(const table& stt, u64 tce) {
    const u64 gpa = tce & ~(TCE_PCI_READ | TCE_PCI_WRITE);
    if (tce_direction(tce) == dma_direction::none) return H_SUCCESS;
    if (gpa & ((u64(1) << stt.page_shift) - 1)) return H_TOO_HARD; // iommu_tce_check_gpa
    u64 ua = 0;
    if (!tce_to_ua(tce, ua)) return H_TOO_HARD;
    for (const linked& l : stt.iommu_tables) {
        const unsigned shift = l.tbl->page_shift();
        mm_iommu::region* mem = m_prereg ? m_prereg->lookup(ua, u64(1) << shift) : nullptr;
        u64 hpa = 0;
        if (!mem || !m_prereg->ua_to_hpa(mem, ua, shift, hpa)) return H_TOO_HARD;
    }
    return H_SUCCESS;
}

// kvmppc_tce_put: the guest-visible copy (pages of it allocated only for non-zero entries).
void kvm_spapr_tce::tce_put(table& stt, u64 idx, u64 tce) {
    idx -= stt.offset;
    if (tce) stt.tces[idx] = tce;
    else stt.tces.erase(idx);
}

// kvmppc_clear_tce: every hardware entry under one guest entry back to none, no accounting (the caller
// is unwinding a failure).
void kvm_spapr_tce::clear_tce(const table& stt, iommu_table& tbl, u64 entry) {
    const u64 subpages = u64(1) << (stt.page_shift - tbl.page_shift());
    const u64 io_entry = entry << (stt.page_shift - tbl.page_shift());
    for (u64 i = 0; i < subpages; ++i) {
        u64 hpa = 0;
        dma_direction dir = dma_direction::none;
        tbl.xchg_no_kill(io_entry + i, hpa, dir);
    }
}

// kvmppc_tce_iommu_mapped_dec: the region an entry came from loses one mapping.
long kvm_spapr_tce::iommu_mapped_dec(iommu_table& tbl, u64 entry) {
    const u64 ua = tbl.userspace(entry);
    if (!ua) return H_SUCCESS;
    mm_iommu::region* mem = m_prereg ? m_prereg->lookup(ua, u64(1) << tbl.page_shift()) : nullptr;
    if (!mem) return H_TOO_HARD;
    m_prereg->mapped_dec(mem);
    tbl.set_userspace(entry, 0);
    return H_SUCCESS;
}

long kvm_spapr_tce::iommu_do_unmap(iommu_table& tbl, u64 entry) {
    u64 hpa = 0;
    dma_direction dir = dma_direction::none;
    if (tbl.xchg_no_kill(entry, hpa, dir)) return H_TOO_HARD;
    if (dir == dma_direction::none) return H_SUCCESS;
    const long ret = iommu_mapped_dec(tbl, entry);
    if (ret != H_SUCCESS) tbl.xchg_no_kill(entry, hpa, dir); // put the old entry back
    return ret;
}

long kvm_spapr_tce::iommu_unmap(const table& stt, iommu_table& tbl, u64 entry) {
    const u64 subpages = u64(1) << (stt.page_shift - tbl.page_shift());
    const u64 io_entry = entry * subpages;
    long ret = H_SUCCESS;
    for (u64 i = 0; i < subpages; ++i) {
        ret = iommu_do_unmap(tbl, io_entry + i);
        if (ret != H_SUCCESS) break;
    }
    tbl.tce_kill(io_entry, subpages);
    return ret;
}

// kvmppc_tce_iommu_do_map: only preregistered memory (the v2 backend's) is mapped in the kernel; v1
// containers go through the VMM's ioctls (H_TOO_HARD).
long kvm_spapr_tce::iommu_do_map(iommu_table& tbl, u64 entry, u64 ua, dma_direction dir) {
    mm_iommu::region* mem = m_prereg ? m_prereg->lookup(ua, u64(1) << tbl.page_shift()) : nullptr;
    if (!mem) return H_TOO_HARD;
    u64 hpa = 0;
    if (!m_prereg->ua_to_hpa(mem, ua, tbl.page_shift(), hpa)) return H_TOO_HARD;
    if (!m_prereg->mapped_inc(mem)) return H_TOO_HARD;
    if (tbl.xchg_no_kill(entry, hpa, dir)) {
        m_prereg->mapped_dec(mem);
        return H_TOO_HARD;
    }
    if (dir != dma_direction::none) iommu_mapped_dec(tbl, entry); // the entry replaced
    tbl.set_userspace(entry, ua);
    return H_SUCCESS;
}

long kvm_spapr_tce::iommu_map(const table& stt, iommu_table& tbl, u64 entry, u64 ua, dma_direction dir) {
    const u64 subpages = u64(1) << (stt.page_shift - tbl.page_shift());
    const u64 io_entry = entry * subpages;
    const u64 pgsize = u64(1) << tbl.page_shift();
    long ret = H_SUCCESS;
    for (u64 i = 0; i < subpages; ++i) {
        ret = iommu_do_map(tbl, io_entry + i, ua + i * pgsize, dir);
        if (ret != H_SUCCESS) break;
    }
    tbl.tce_kill(io_entry, subpages);
    return ret;
}

long kvm_spapr_tce::h_put_tce(u64 liobn, u64 ioba, u64 tce) {
    table* stt = find(liobn);
    if (!stt) return H_TOO_HARD;
    long ret = ioba_validate(*stt, ioba, 1);
    if (ret != H_SUCCESS) return ret;
    ret = tce_validate(*stt, tce);
    if (ret != H_SUCCESS) return ret;
    const dma_direction dir = tce_direction(tce);
    u64 ua = 0;
    if (dir != dma_direction::none && !tce_to_ua(tce, ua)) return H_PARAMETER;
    const u64 entry = ioba >> stt->page_shift;
    for (linked& l : stt->iommu_tables) {
        ret = dir == dma_direction::none ? iommu_unmap(*stt, *l.tbl, entry)
                                         : iommu_map(*stt, *l.tbl, entry, ua, dir);
        if (ret != H_SUCCESS) {
            clear_tce(*stt, *l.tbl, entry);
            return ret;
        }
    }
    tce_put(*stt, entry, tce);
    return H_SUCCESS;
}

long kvm_spapr_tce::h_put_tce_indirect(u64 liobn, u64 ioba, u64 tce_list, u64 npages) {
    table* stt = find(liobn);
    if (!stt) return H_TOO_HARD;
    const u64 entry = ioba >> stt->page_shift;
    // PAPR: at most 512 TCEs, so the list is one 4 KiB page.
    if (npages > 512) return H_PARAMETER;
    if (tce_list & (k_page_size - 1)) return H_PARAMETER;
    long ret = ioba_validate(*stt, ioba, npages);
    if (ret != H_SUCCESS) return ret;
    u64 list_ua = 0;
    if (!tce_to_ua(tce_list, list_ua)) return H_TOO_HARD;

    // get_user of each big-endian TCE from the guest's list page.
    auto read_tce = [&](u64 i, u64& tce) {
        u8 b[8];
        if (m_mm.read(list_ua + i * 8, b, 8)) return false;
        tce = 0;
        for (u8 byte : b) tce = tce << 8 | byte;
        return true;
    };
    for (u64 i = 0; i < npages; ++i) {
        u64 tce = 0;
        if (!read_tce(i, tce)) return H_TOO_HARD;
        ret = tce_validate(*stt, tce);
        if (ret != H_SUCCESS) return ret;
    }
    for (u64 i = 0; i < npages; ++i) {
        u64 tce = 0, ua = 0;
        if (!read_tce(i, tce)) return H_TOO_HARD;
        if (!tce_to_ua(tce, ua)) return H_PARAMETER;
        for (linked& l : stt->iommu_tables) {
            ret = iommu_map(*stt, *l.tbl, entry + i, ua, tce_direction(tce));
            if (ret != H_SUCCESS) {
                clear_tce(*stt, *l.tbl, entry + i);
                return ret;
            }
        }
        tce_put(*stt, entry + i, tce);
    }
    return H_SUCCESS;
}

long kvm_spapr_tce::h_stuff_tce(u64 liobn, u64 ioba, u64 tce_value, u64 npages) {
    table* stt = find(liobn);
    if (!stt) return H_TOO_HARD;
    long ret = ioba_validate(*stt, ioba, npages);
    if (ret != H_SUCCESS) return ret;
    // Only clearing values: permission bits are refused (user space may still poison with other bits).
    if (tce_value & (TCE_PCI_WRITE | TCE_PCI_READ)) return H_PARAMETER;
    const u64 entry = ioba >> stt->page_shift;
    for (linked& l : stt->iommu_tables) {
        for (u64 i = 0; i < npages; ++i) {
            ret = iommu_unmap(*stt, *l.tbl, entry + i);
            if (ret == H_SUCCESS) continue;
            if (ret == H_TOO_HARD) return ret;
            clear_tce(*stt, *l.tbl, entry + i);
        }
    }
    for (u64 i = 0; i < npages; ++i) tce_put(*stt, entry + i, tce_value);
    return ret;
}

long kvm_spapr_tce::h_get_tce(u64 liobn, u64 ioba, u64& tce) {
    table* stt = find(liobn);
    if (!stt) return H_TOO_HARD;
    const long ret = ioba_validate(*stt, ioba, 1);
    if (ret != H_SUCCESS) return ret;
    auto it = stt->tces.find((ioba >> stt->page_shift) - stt->offset);
    tce = it == stt->tces.end() ? 0 : it->second;
    return H_SUCCESS;
}

} // namespace iommusim::host

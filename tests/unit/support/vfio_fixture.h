// The VFIO core over the booted fake-VT-d kernel of vtd_fixture.h, with a fake host (which devices are
// bound to vfio-pci, which groups a kernel DMA driver keeps non-viable, DMA ownership) and a fake process
// memory (registered virtual ranges backed by linear physical ranges, a locked-memory limit), so every
// VFIO rule is tested without SystemC and independently of the host-side binding code.
#pragma once
#include "vtd_fixture.h"
#include "sim/vfio/vfio_core.h"

#include <linux/vfio.h>

#include <algorithm>
#include <fcntl.h>
#include <map>
#include <set>

namespace iommusim::test {

struct fake_vfio_host : vfio::vfio_host {
    vtd_world& w;
    std::set<std::string> vfio_bound;  // device names bound to vfio-pci
    std::set<int> kernel_dma;          // groups with a member on a kernel DMA driver
    std::map<int, const void*> owners;
    explicit fake_vfio_host(vtd_world& world) : w(world) {}
    host::iommu_core* iommu() override { return w.core.get(); }
    const host::iommu_group* group(int id) const override { return w.k->group(id); }
    bool is_vfio_device(const host::pci_dev& d) const override { return vfio_bound.count(d.name()) != 0; }
    bool group_viable(int g) const override { return !kernel_dma.count(g) && !owners.count(g); }
    int claim_dma_owner(int g, const void* owner) override {
        if (kernel_dma.count(g)) return -EPERM;
        if (owners.count(g)) return -EBUSY;
        owners[g] = owner;
        return 0;
    }
    void release_dma_owner(int g, const void* owner) override {
        if (owners.count(g) && owners[g] == owner) owners.erase(g);
    }
};

struct fake_vfio_mm : vfio::vfio_mm {
    struct area { u64 phys, len; bool writable; };
    std::map<u64, area> areas;  // vaddr -> backing
    u64 limit = ~u64(0), locked = 0;
    int pins = 0;  // pin() calls that succeeded minus unpin() calls
    void add(u64 vaddr, u64 phys, u64 len, bool writable = true) { areas[vaddr] = {phys, len, writable}; }
    std::optional<u64> phys_of(u64 va) const {
        auto it = areas.upper_bound(va);
        if (it == areas.begin()) return std::nullopt;
        --it;
        if (va - it->first >= it->second.len) return std::nullopt;
        return it->second.phys + (va - it->first);
    }
    int pin(u64 vaddr, u64 len, bool write, std::vector<vfio::pin_run>& out) override {
        auto it = areas.upper_bound(vaddr);
        if (it == areas.begin()) return -EFAULT;
        --it;
        const area& a = it->second;
        if (vaddr - it->first >= a.len || len > a.len - (vaddr - it->first)) return -EFAULT;
        if (write && !a.writable) return -EFAULT;
        if (locked + len > limit) return -ENOMEM;
        locked += len;
        ++pins;
        out.push_back({vaddr, a.phys + (vaddr - it->first), len, false});
        return 0;
    }
    void unpin(const std::vector<vfio::pin_run>& runs) override {
        for (const auto& r : runs) locked -= r.len;
        --pins;
    }
    // sPAPR: pins that leave locked_vm alone, and explicit accounting against the same limit.
    int pin_uncharged(u64 vaddr, u64 len, bool write, std::vector<vfio::pin_run>& out) override {
        const u64 saved = limit;
        limit = ~u64(0);
        const int rc = pin(vaddr, len, write, out);
        limit = saved;
        if (!rc) locked -= len;
        return rc;
    }
    void unpin_uncharged(const std::vector<vfio::pin_run>& runs) override {
        for (const auto& r : runs) locked += r.len;
        unpin(runs);
    }
    int account_locked_vm(u64 bytes, bool inc) override {
        if (!inc) {
            locked -= std::min(locked, bytes);
            return 0;
        }
        if (locked + bytes > limit) return -ENOMEM;
        locked += bytes;
        return 0;
    }
};

struct vfio_world {
    static constexpr u64 VA = 0x7f0000000000ull, PA = 0x100000000ull, LEN = 64ull << 20;
    vtd_world w;
    fake_vfio_host host{w};
    fake_vfio_mm mm;
    vfio::vfio_core v;
    explicit vfio_world(host::vtd_options o = {}, vfio::vfio_options vo = {}) : w({}, o), v(host, mm, vo) {
        mm.add(VA, PA, LEN);
        for (const char* d : {"0000:01:00.0", "0000:00:02.0", "0000:03:04.0", "0000:03:05.0"}) host.vfio_bound.insert(d);
    }
    std::string node(const char* bdf) { return "/dev/vfio/" + std::to_string(w.group(bdf)); }
    long io(int fd, unsigned long req, const void* arg) { return v.ioctl(fd, req, reinterpret_cast<unsigned long>(arg)); }
    long io(int fd, unsigned long req, unsigned long arg = 0) { return v.ioctl(fd, req, arg); }
    // container + group of bdf + SET_CONTAINER + SET_IOMMU(type): {container fd, group fd}
    std::pair<int, int> ready(const char* bdf = "01:00.0", unsigned long type = VFIO_TYPE1v2_IOMMU) {
        const int c = v.open("/dev/vfio/vfio", O_RDWR);
        const int g = v.open(node(bdf), O_RDWR);
        REQUIRE(c >= 0);
        REQUIRE(g >= 0);
        REQUIRE(io(g, VFIO_GROUP_SET_CONTAINER, &c) == 0);
        REQUIRE(io(c, VFIO_SET_IOMMU, type) == 0);
        return {c, g};
    }
    long map(int c, u64 vaddr, u64 iova, u64 size, u32 flags = 3, u32 argsz = 32) {
        vfio_iommu_type1_dma_map m{argsz, flags, vaddr, iova, size};
        return io(c, VFIO_IOMMU_MAP_DMA, &m);
    }
    // UNMAP_DMA: the result, and the size the kernel wrote back in `out`.
    long unmap(int c, u64 iova, u64 size, u32 flags = 0, u64* out = nullptr) {
        vfio_iommu_type1_dma_unmap u{};
        u.argsz = 24;
        u.flags = flags;
        u.iova = iova;
        u.size = size;
        const long r = io(c, VFIO_IOMMU_UNMAP_DMA, &u);
        if (out) *out = u.size;
        return r;
    }
    vfio::vfio_iommu_type1& type1(int c) { return *v.container_of_fd(c)->backend(); }
};

} // namespace iommusim::test

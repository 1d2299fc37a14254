// A POWER PE as the host IOMMU API shows it (sim/host/iommu/iommu_table_group.h), without a PHB: TCE tables
// as maps of entries (every exchange and kill recorded), a table group with the IODA2 shape (the default
// 32-bit window the kernel owns until a user takes the PE, a second window at 2^59, 4K/64K/16M pages) or a
// legacy one without ownership ops, and an EEH PE that records every operation.
#pragma once
#include "sim/host/iommu/iommu_table_group.h"

#include <algorithm>
#include <cerrno>
#include <map>
#include <string>
#include <vector>

namespace iommusim::test {

class fake_tce_table : public host::iommu_table {
public:
    fake_tce_table(u64 offset, u64 size, unsigned shift, unsigned levels = 1, u64 allocated = 0)
        : iommu_table(offset, size, shift, levels, allocated ? allocated : std::max<u64>(4096, size * 8)) {}
    long xchg_no_kill(u64 index, u64& hpa, host::dma_direction& dir) override {
        if (index < offset() || index >= offset() + size()) return -EINVAL;
        auto old = entries.count(index) ? entries[index] : std::make_pair(u64(0), host::dma_direction::none);
        if (dir == host::dma_direction::none) entries.erase(index);
        else entries[index] = {hpa, dir};
        hpa = old.first;
        dir = old.second;
        return 0;
    }
    void tce_kill(u64 index, u64 npages) override { kills.push_back({index, npages}); }
    u64 get(u64 index) const override {
        auto it = entries.find(index);
        if (it == entries.end()) return 0;
        const auto d = it->second.second;
        const bool r = d == host::dma_direction::bidirectional || d == host::dma_direction::to_device;
        const bool w = d == host::dma_direction::bidirectional || d == host::dma_direction::from_device;
        return it->second.first | (r ? 1 : 0) | (w ? 2 : 0);
    }
    std::map<u64, std::pair<u64, host::dma_direction>> entries;
    std::vector<std::pair<u64, u64>> kills;
};

struct fake_eeh : host::eeh_pe_ops {
    int state = 0;  // EEH_PE_STATE_NORMAL
    std::vector<std::string> calls;
    int set_option(int option) override {
        calls.push_back("set_option " + std::to_string(option));
        if (option == 2 || option == 3) state = 0;  // thawed
        return 0;
    }
    int get_state() override { return state; }
    int reset(int option) override {
        calls.push_back("reset " + std::to_string(option));
        return 0;
    }
    int configure() override {
        calls.push_back("configure");
        return 0;
    }
    int inject_err(int type, int func, u64 addr, u64 mask) override {
        calls.push_back("inject " + std::to_string(type) + " " + std::to_string(func) + " " + std::to_string(addr) +
                        " " + std::to_string(mask));
        state = 2;  // EEH_PE_STATE_STOPPED_IO_DMA
        return 0;
    }
};

class fake_table_group : public host::iommu_table_group {
public:
    // ops: an IODA2-like PE with DDW and ownership ops; without, a legacy PE whose only table (the 32-bit
    // window, 4 KiB TCEs) stays programmed.
    explicit fake_table_group(int id, bool ops = true, bool eeh_on = true) : m_ops(ops), m_eeh_on(eeh_on) {
        group = id;
        tce32_start = 0;
        tce32_size = 1u << 30;
        pgsizes = (u64(1) << 12) | (u64(1) << 16) | (u64(1) << 24);
        max_dynamic_windows_supported = ops ? 2 : 0;
        max_levels = ops ? 5 : 0;
        m_kernel_table = std::make_shared<fake_tce_table>(0, tce32_size >> 12, 12);
        tables[0] = m_kernel_table;
    }
    bool has_ops() const override { return m_ops; }
    u64 get_table_size(unsigned page_shift, u64 window_size, unsigned levels) const override {
        if (levels == 0 || levels > max_levels || page_shift >= 64 || (window_size >> page_shift) == 0) return 0;
        const u64 bytes = (window_size >> page_shift) * 8;
        return (bytes + 4095) / 4096 * 4096 + (levels - 1) * 4096;
    }
    long create_table(int num, unsigned page_shift, u64 window_size, unsigned levels,
                      std::shared_ptr<host::iommu_table>& out) override {
        const u64 bytes = get_table_size(page_shift, window_size, levels);
        if (!bytes) return -EINVAL;
        const u64 bus = num == 0 ? 0 : u64(1) << 59;
        out = std::make_shared<fake_tce_table>(bus >> page_shift, window_size >> page_shift, page_shift, levels, bytes);
        ++created;
        return 0;
    }
    long set_window(int num, std::shared_ptr<host::iommu_table> t) override {
        tables[num] = std::move(t);
        ++set_windows;
        return 0;
    }
    long unset_window(int num) override {
        tables[num].reset();
        return 0;
    }
    // pnv_ioda2_take_ownership: the kernel's default window goes; release: it comes back.
    void take_ownership() override {
        owned = true;
        tables = {};
    }
    void release_ownership() override {
        owned = false;
        tables = {};
        tables[0] = m_kernel_table;
    }
    host::eeh_pe_ops* eeh() override { return m_eeh_on ? &pe : nullptr; }

    fake_eeh pe;
    bool owned = false;
    int created = 0, set_windows = 0;

private:
    bool m_ops, m_eeh_on;
    std::shared_ptr<host::iommu_table> m_kernel_table;
};

} // namespace iommusim::test

// vfio_mm over a simulated process address space (host::process_mm): pins for type1 as
// vfio_pin_pages_remote does, with the process's RLIMIT_MEMLOCK accounting. `translate` lets a front end
// whose user addresses differ from the process_mm's (the C API hands out host pointers) map a user
// vaddr to the process's; an address it cannot translate is not mapped (-EFAULT).
#pragma once
#include "sim/vfio/vfio_host.h"

#include <functional>
#include <optional>

namespace iommusim::host {
class process_mm;
}

namespace iommusim::vfio {

class process_vfio_mm : public vfio_mm {
public:
    // [vaddr, vaddr + len) in the user's addresses -> the process_mm's address of vaddr, if the whole
    // range translates contiguously.
    using translate_fn = std::function<std::optional<u64>(u64 vaddr, u64 len)>;

    explicit process_vfio_mm(host::process_mm& mm, translate_fn translate = nullptr)
        : m_mm(mm), m_translate(std::move(translate)) {}

    int pin(u64 vaddr, u64 len, bool write, std::vector<pin_run>& out) override {
        return pin_impl(vaddr, len, write, out, true);
    }
    void unpin(const std::vector<pin_run>& runs) override { unpin_impl(runs, true); }
    int pin_uncharged(u64 vaddr, u64 len, bool write, std::vector<pin_run>& out) override {
        return pin_impl(vaddr, len, write, out, false);
    }
    void unpin_uncharged(const std::vector<pin_run>& runs) override { unpin_impl(runs, false); }
    int account_locked_vm(u64 bytes, bool inc) override;
    host::process_mm& mm() { return m_mm; }

private:
    int pin_impl(u64 vaddr, u64 len, bool write, std::vector<pin_run>& out, bool charge);
    void unpin_impl(const std::vector<pin_run>& runs, bool charge);

    host::process_mm& m_mm;
    translate_fn m_translate;
};

} // namespace iommusim::vfio

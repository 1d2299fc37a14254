// vfio-pci's virtual config space (Linux 6.1 drivers/vfio/pci/vfio_pci_config.c): what a user reads and
// writes through the CONFIG region. Every byte of config space has an owner (the standard header, a
// capability vfio knows, or nobody) and, per bit, a `virt` mask (served from the virtual copy vconfig)
// and a `write` mask (what the user may change). Reads merge hardware and vconfig through virt; writes
// change only write bits, the virtual ones in vconfig, the others read-modify-write in hardware.
// Capabilities vfio cannot size are hidden by the virtualised next pointers; bytes nobody owns are raw.
//
//   vfio_pci_config cfg(kernel.access(), dev, hooks);
//   cfg.init();                                   // vfio_config_init, at the first open
//   u32 v; cfg.read(0x10, 4, v);                  // 0 or -EFAULT (outside cfg_size)
#pragma once
#include "sim/core/types.h"

#include <functional>
#include <vector>

namespace iommusim::host {
class pci_access;
struct pci_dev;
} // namespace iommusim::host

namespace iommusim::vfio {

// Side effects of config writes that belong to other parts of vfio-pci.
struct vfio_pci_config_hooks {
    std::function<void(bool disable)> intx_disable;  // virtual COMMAND.INTx-Disable changed (virq_disabled)
    std::function<void(unsigned state)> power_state; // PM_CTRL state field written (vfio_pci_set_power_state)
    std::function<void()> flr;                       // PCIe/AF Initiate FLR written as 1 on an FLR-capable device
    std::function<bool()> msi_active;                // MSI is the active interrupt mode (ENABLE stays set)
};

class vfio_pci_config {
public:
    vfio_pci_config(host::pci_access& access, const host::pci_dev& dev, vfio_pci_config_hooks hooks = {});

    // vfio_config_init: vconfig from hardware, permissions per byte, the virtual capability chain.
    void init();
    unsigned size() const { return unsigned(m_vconfig.size()); }

    // One naturally aligned access of 1, 2 or 4 bytes (vfio_config_do_rw): 0 or -EFAULT.
    int read(u32 pos, unsigned len, u32& value);
    int write(u32 pos, unsigned len, u32 value);
    // vfio_pci_config_rw: count bytes at pos split into aligned chunks; bytes done or -errno.
    long rw(u8* buf, u64 count, u64 pos, bool iswrite);

    // The virtual COMMAND Memory / I/O enables (__vfio_pci_memory_enabled reads vconfig).
    bool memory_enabled() const;
    bool io_enabled() const;
    bool virq_disabled() const;
    // vfio_msi_enable: the largest queue size the user may request, log2(vectors allocated).
    void set_msi_qmax(unsigned qmax) { m_msi_qmax = qmax; }
    u8 msi_cap() const { return m_msi_cap; }
    u8 msix_cap() const { return m_msix_cap; }
    u8 pcie_cap() const { return m_pcie_cap; }
    const std::vector<u8>& vconfig() const { return m_vconfig; }

private:
    enum owner : u8 { unassigned, header, cap_pm, cap_msi, cap_msix, cap_exp, cap_af, cap_vndr, cap_other, ecap };

    void set_perm(unsigned off, unsigned len, u32 virt, u32 write);
    void init_capabilities();
    void init_ext_capabilities();
    unsigned cap_length(u8 id, u8 pos);
    void bar_fixup();
    u32 hw_read(unsigned pos, unsigned len);
    void hw_write(unsigned pos, unsigned len, u32 v);
    u32 vget(unsigned pos, unsigned len) const;
    void vset(unsigned pos, unsigned len, u32 v);

    host::pci_access& m_access;
    const host::pci_dev& m_dev;
    vfio_pci_config_hooks m_hooks;
    std::vector<u8> m_vconfig, m_virt, m_write, m_owner;
    bool m_bardirty = true;
    unsigned m_msi_qmax = 0;
    u8 m_msi_cap = 0, m_msix_cap = 0, m_pcie_cap = 0, m_pm_cap = 0, m_af_cap = 0;
};

} // namespace iommusim::vfio

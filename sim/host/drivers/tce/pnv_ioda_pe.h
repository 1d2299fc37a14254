// One Partitionable Endpoint as the powernv kernel keeps it (arch/powerpc/platforms/powernv/pci-ioda.c, v6.1:
// struct pnv_ioda_pe with its iommu_table_group and pnv_pci_ioda2_ops), and its EEH operations as
// arch/powerpc/kernel/eeh.c layers them over powernv's eeh-powernv.c. Every hardware effect is an OPAL call on
// the PHB (tce::phb): TVEs through opal_pci_map_pe_dma_window(_real), TCE cache kills through the PHB3 TCE
// Kill register (or opal_pci_tce_kill on PHB4), freeze state through opal_pci_eeh_freeze_*, resets through
// opal_pci_reset, injection through opal_pci_err_inject.
#pragma once
#include "sim/host/drivers/tce/pnv_tce_table.h"
#include "sim/host/iommu/iommu_table_group.h"

#include <string>
#include <vector>

namespace iommusim::host {

class pnv_phb;
class pnv_tce_domain;

class pnv_ioda_pe : public iommu_table_group, public eeh_pe_ops, public tce_kill_target {
public:
    pnv_ioda_pe(pnv_phb& phb, unsigned pe_number);

    unsigned number() const { return m_pe; }
    pnv_phb& phb() const { return m_phb; }
    // What the PE covers (pnv_ioda_setup_bus_PE): bus `bus_start`, or with `all` every bus to `bus_end`.
    u8 bus_start = 0, bus_end = 0;
    bool all = false;
    bool dma_setup_done = false;
    bool bypass_enabled = false;
    // A compound PE (pnv_ioda_pick_m64_pe): the bus's BARs span several M64 segments, each a PE of its own
    // (segment n is PE n on PHB3); the first is the master, the others its slaves, frozen and thawed with it.
    pnv_ioda_pe* master = nullptr;
    std::vector<pnv_ioda_pe*> slaves;
    // The unmanaged domain of the host IOMMU API that has taken the PE, if any (pnv_tce_domain).
    pnv_tce_domain* user_domain = nullptr;
    static constexpr u64 TCE_BYPASS_BASE = u64(1) << 59; // TVE#1 is selected by PCI address bit 59

    // pnv_pci_ioda2_setup_dma_pe: the table group's facts, the default window (setup_default_config) and
    // the bypass window; false when the default window could not be set up.
    bool setup_dma();

    // ---- iommu_table_group (pnv_pci_ioda2_ops) --------------------------------------------------------------
    bool has_ops() const override { return true; }
    u64 get_table_size(unsigned page_shift, u64 window_size, unsigned levels) const override;
    long create_table(int num, unsigned page_shift, u64 window_size, unsigned levels,
                      std::shared_ptr<iommu_table>& out) override;
    long set_window(int num, std::shared_ptr<iommu_table> table) override;
    long unset_window(int num) override;
    void take_ownership() override;
    void release_ownership() override;
    eeh_pe_ops* eeh() override { return this; }

    // ---- eeh_pe_ops (eeh_pe_set_option, eeh_pe_get_state, eeh_pe_reset, eeh_pe_configure, eeh_pe_inject_err)
    int set_option(int option) override;
    int get_state() override;
    int reset(int option) override;
    int configure() override;
    int inject_err(int type, int func, u64 addr, u64 mask) override;

    // tce_kill_target: pnv_pci_ioda2_tce_invalidate for this PE.
    void invalidate(u64 index, u64 npages, unsigned page_shift) override;
    // pnv_pci_ioda2_tce_invalidate_pe.
    void invalidate_pe();

private:
    long setup_default_config();
    void set_bypass(bool enable);
    void info(const std::string& msg) const;
    int thaw(int opt);
    int freeze_state();  // pnv_ioda_get_pe_state: the worst OPAL freeze state of the master and its slaves

    pnv_phb& m_phb;
    unsigned m_pe;
};

} // namespace iommusim::host

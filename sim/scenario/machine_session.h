// A booted machine kept alive for a scenario's machine steps: the platform (with its IOMMUs, memory and
// interrupt controller), the simulated kernel with its IOMMU driver and core, named IOMMU domains, and what
// the steps observed (fault records read from the hardware, the routes of each device's last DMA). Every
// action goes through the kernel's APIs or the device's registers, as software would; the hardware models
// are only read for what a debugger or performance counter would show (statistics, fault records).
// SystemC: one per process.
#pragma once
#include "models/intc/msi_controller.h"
#include "models/pci/dma_engine_driver.h"
#include "sim/scenario/group_result.h"
#include "sim/scenario/iommu_monitor.h"
#include "sim/scenario/scenario.h"
#include "sim/scenario/step_checks.h"
#include "sim/scenario/vfio_session.h"

#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

namespace iommusim::host {
class iommu_domain;
class kernel;
class tlm_machine;
struct pci_dev;
} // namespace iommusim::host


namespace iommusim::scenario {

class machine_session {
public:
    // Builds, elaborates and boots; throws input_error for a platform or options that cannot boot.
    explicit machine_session(const scenario_desc& sc);
    ~machine_session();

    const group_result& groups() const { return m_groups; }
    // Runs one machine step (s.op == step_op::machine), or a VFIO step (s.vfio) in the session's process.
    step_result run(const step& s);

private:
    host::pci_dev* device(const bdf& b, step_result& out);
    std::shared_ptr<host::iommu_domain> domain(const std::string& name, step_result& out);
    void collect_faults();
    std::vector<intc::msi_record> new_interrupts();
    // The device's DMA engine driver over its BAR0, the device and the bridges above it enabled.
    std::optional<pci::dma_engine_driver> engine(host::pci_dev& dev, step_result& out);
    std::optional<u64> resolve(const machine_step& m, step_result& out); // "address" or "target"'s BAR
    pci::dma_engine* engine_model(const bdf& b) const;
    void connect_vfio(bool on);  // interrupt controller and INTx lines to the VFIO session's core

    void attach(const machine_step& m, step_result& out);
    void detach(const machine_step& m, step_result& out);
    void map(const machine_step& m, step_result& out);
    void unmap(const machine_step& m, step_result& out);
    void memory(const machine_step& m, step_result& out);
    void dma(const machine_step& m, step_result& out);
    void msi(const machine_step& m, step_result& out);
    void phb_msi(const machine_step& m, host::pci_dev& dev, pci::dma_engine_driver& drv, step_result& out);
    bool send_kernel_msi(host::pci_dev& dev, u8 vector, pci::dma_engine_driver& drv, step_result& out);
    static void send_forged_msi(pci::dma_engine_driver& drv, u64 address, u32 data);
    void inject(const machine_step& m, step_result& out);
    void expect_fault(const machine_step& m, step_result& out);
    void expect_no_fault(const machine_step& m, step_result& out);
    void expect_route(const machine_step& m, step_result& out);
    void expect_stat(const machine_step& m, step_result& out);
    void print_faults(const machine_step& m, step_result& out);
    void print_stats(const machine_step& m, step_result& out);

    std::unique_ptr<host::tlm_machine> m_machine;
    std::unique_ptr<host::kernel> m_kernel;
    group_result m_groups;
    std::map<std::string, std::shared_ptr<host::iommu_domain>> m_domains;
    std::map<int, std::string> m_group_domain;     // group id -> domain name it is attached to
    std::vector<fault_seen> m_faults;              // every fault record the hardware logged, in order
    size_t m_faults_checked = 0;                   // records before this index were already expected
    std::map<bdf, std::vector<std::string>> m_routes; // per device: routes of the pieces of its last DMA
    size_t m_log_lines = 0;
    u64 m_interrupts_seen = 0;                     // interrupt controller deliveries already looked at
    std::vector<intc::msi_record> m_device_interrupts; // devices' interrupts since the last msi step
    std::unique_ptr<iommu_monitor> m_monitor;      // fault records, statistics, injection
    vfio_process_options m_process;                // for the VFIO session, made at the first VFIO step
    std::unique_ptr<vfio_session> m_vfio;
};

} // namespace iommusim::scenario

#include "sim/host/drivers/amdvi/amd_iommu.h"

#include "sim/host/kernel_log.h"

#include <array>
#include <cerrno>
#include <fmt/format.h>

namespace iommusim::host {

using namespace amdvi;

namespace {
constexpr u32 MMIO_EXT_FEATURES2 = 0x01a0;      // Extended Feature 2 register (Linux MMIO_EXT_FEATURES2)
constexpr u64 CTRL_INV_TO_1S = 4;               // InvTimeOut 100b: 1 s
constexpr u64 MAX_DOMAIN_ID = 65536;
constexpr u8 PCI_CAP_ID_MSI = 0x05;
// Event interrupt sources amd_iommu_int_thread acknowledges (AMD_IOMMU_INT_MASK plus the overflow).
constexpr u64 AMD_IOMMU_INT_MASK = status::EVENT_LOG_INT | status::PPR_INT | status::GA_INT;

std::string devid_str(u16 seg, u16 devid) {
    return fmt::format("{:04x}:{:02x}:{:02x}.{:x}", seg, devid >> 8, (devid >> 3) & 0x1f, devid & 7);
}
} // namespace

amd_iommu::amd_iommu(pci_host_ops& ops, memory::page_allocator& pages, kernel_log& log, const ivrs_ivhd& h, int index,
                     const amd_iommu_options& options)
    : m_ops(ops), m_pages(pages), m_log(log), m_ivhd(h), m_index(index), m_options(options),
      m_name(bdf{h.pci_seg, u8(h.devid >> 8), u8(h.devid & 0xff)}.str()) {}

amd_iommu::~amd_iommu() {
    if (m_cmd_sem) m_pages.free(m_cmd_sem, 0);
    if (m_cmd_buf) m_pages.free(m_cmd_buf, 1);
    if (m_evt_buf) m_pages.free(m_evt_buf, 1);
}

u32 amd_iommu::readl(u32 off) { return u32(m_ops.mmio_read(m_ivhd.mmio_phys + off, 4)); }
u64 amd_iommu::readq(u32 off) { return m_ops.mmio_read(m_ivhd.mmio_phys + off, 8); }
void amd_iommu::writel(u32 off, u32 v) { m_ops.mmio_write(m_ivhd.mmio_phys + off, 4, v); }
void amd_iommu::writeq(u32 off, u64 v) { m_ops.mmio_write(m_ivhd.mmio_phys + off, 8, v); }
void amd_iommu::feature_enable(u64 b) { writeq(mmio::CONTROL, readq(mmio::CONTROL) | b); }
void amd_iommu::feature_disable(u64 b) { writeq(mmio::CONTROL, readq(mmio::CONTROL) & ~b); }

u64 amd_iommu::read64(u64 pa) {
    u64 v = 0;
    if (!m_ops.memory_read(pa, &v, 8)) return 0;
    return v;
}
void amd_iommu::write64(u64 pa, u64 v) { m_ops.memory_write(pa, &v, 8); }

int amd_iommu::init_one(u64 ivhd_efr, bool efr_sup) {
    if (!m_ivhd.mmio_phys) {
        m_log.err("AMD-Vi: Can not reserve memory region 0-3fff for mmio");
        m_log.err("AMD-Vi: This is a BIOS bug. Please contact your hardware vendor");
        return -ENODEV;
    }
    // Ours: a window where nothing answers reads all ones; Linux would go on with garbage.
    if (readq(mmio::CONTROL) == ~0ull && readq(mmio::STATUS) == ~0ull) {
        m_log.err(fmt::format("AMD-Vi: {}: no IOMMU registers answer at {:#x}", m_name, m_ivhd.mmio_phys));
        m_failed = true;
        return -ENODEV;
    }
    // early_iommu_features_init: with IVinfo.EFRSup the IVHD image is the EFR until PCI init.
    if (efr_sup) m_features = ivhd_efr;
    auto zeroed = [&](unsigned order) -> u64 {
        auto pa = m_pages.alloc(order);
        if (!pa) return 0;
        static const std::array<u8, 4096> zero{};
        for (u64 i = 0; i < (1ull << order); ++i) m_ops.memory_write(*pa + i * 4096, zero.data(), zero.size());
        return *pa;
    };
    m_cmd_sem = zeroed(0);                 // alloc_cwwb_sem
    m_cmd_buf = zeroed(1);                 // alloc_command_buffer: CMD_BUFFER_SIZE
    m_evt_buf = zeroed(1);                 // alloc_event_buffer: EVT_BUFFER_SIZE
    if (!m_cmd_sem || !m_cmd_buf || !m_evt_buf) return -ENOMEM;
    return 0;
}

// iommu_init_flags: the IVHD's recommended HyperTransport settings, coherent, 1 s invalidation timeout.
void amd_iommu::init_flags() {
    auto apply = [&](u8 ivhd_flag, u64 ctrl) {
        if (m_ivhd.flags & ivhd_flag) feature_enable(ctrl);
        else feature_disable(ctrl);
    };
    apply(ivrs::IVHD_FLAG_HT_TUN_EN, control::HT_TUN_EN);
    apply(ivrs::IVHD_FLAG_PASSPW, control::PASS_PW);
    apply(ivrs::IVHD_FLAG_RESPASSPW, control::RES_PASS_PW);
    apply(ivrs::IVHD_FLAG_ISOC, control::ISOC);
    feature_enable(control::COHERENT);
    const u64 ctrl = readq(mmio::CONTROL);
    writeq(mmio::CONTROL, (ctrl & ~control::INV_TIMEOUT) | (CTRL_INV_TO_1S << control::INV_TIMEOUT_SHIFT));
}

void amd_iommu::early_enable(u64 dev_table, u64 dev_table_size, bool ga, bool xt) {
    // iommu_disable
    feature_disable(control::CMD_BUF_EN);
    feature_disable(control::EVENT_INT_EN);
    feature_disable(control::EVENT_LOG_EN);
    feature_disable(control::GA_LOG_EN);
    feature_disable(control::GA_INT_EN);
    feature_disable(control::IOMMU_EN);
    init_flags();
    // iommu_set_device_table
    writeq(mmio::DEV_TABLE_BASE, devtab_base::make(dev_table, u32(dev_table_size >> 12)));
    // iommu_enable_command_buffer: base and length, head = tail = 0, then CmdBufEn.
    feature_disable(control::CMD_BUF_EN);
    writeq(mmio::CMD_BUF_BASE, ring_base::make(m_cmd_buf, 9));
    writel(mmio::CMD_BUF_HEAD, 0);
    writel(mmio::CMD_BUF_TAIL, 0);
    m_cmd_head = m_cmd_tail = 0;
    feature_enable(control::CMD_BUF_EN);
    // iommu_enable_event_buffer
    writeq(mmio::EVENT_LOG_BASE, ring_base::make(m_evt_buf, 9));
    writel(mmio::EVENT_LOG_HEAD, 0);
    writel(mmio::EVENT_LOG_TAIL, 0);
    feature_enable(control::EVENT_LOG_EN);
    // iommu_enable_ga: 128-bit IRTEs (no vAPIC: GAM stays 0, amd_iommu_guest_ir = LEGACY_GA).
    if (ga) feature_enable(control::GA_EN);
    // iommu_enable_xt: x2APIC interrupts and IntCapXT for the IOMMU's own.
    if (xt) {
        feature_enable(control::XT_EN);
        feature_enable(control::INT_CAP_XT_EN);
    }
    feature_enable(control::IOMMU_EN);
}

int amd_iommu::find_pci_capability(u8 id) {
    const u8 bus = u8(m_ivhd.devid >> 8), devfn = u8(m_ivhd.devid & 0xff);
    if (!(m_ops.config_read(m_ivhd.pci_seg, bus, devfn, 0x06, 2) & 0x10)) return 0;  // PCI_STATUS_CAP_LIST
    u8 pos = u8(m_ops.config_read(m_ivhd.pci_seg, bus, devfn, 0x34, 1)) & ~3;
    for (int ttl = 48; pos >= 0x40 && ttl; --ttl) {
        const u16 hdr = u16(m_ops.config_read(m_ivhd.pci_seg, bus, devfn, pos, 2));
        if ((hdr & 0xff) == id) return pos;
        pos = u8(hdr >> 8) & ~3;
    }
    return 0;
}

void amd_iommu::init_pci() {
    const u8 bus = u8(m_ivhd.devid >> 8), devfn = u8(m_ivhd.devid & 0xff);
    if (m_ivhd.cap_ptr) m_cap = m_ops.config_read(m_ivhd.pci_seg, bus, devfn, m_ivhd.cap_ptr + pcicap::HEADER, 4);
    // late_iommu_features_init: the MMIO EFR is the truth; an IVHD image that differs is a firmware bug.
    const u64 features = readq(mmio::EXT_FEATURE), features2 = readq(MMIO_EXT_FEATURES2);
    if (!m_features) {
        m_features = features;
        m_features2 = features2;
    } else if (m_features != features || m_features2 != features2) {
        m_log.warn(fmt::format("AMD-Vi: [Firmware Bug]: EFR mismatch. Use IVHD EFR ({:#x} : {:#x}), EFR2 ({:#x} : {:#x}).",
                               m_features, features, m_features2, features2));
    }
    if (m_cap & pcicap::NP_CACHE) {
        m_log.info("AMD-Vi: Using strict mode due to virtualization");
        m_np_cache = true;
    }
}

// iommu_setup_msi (pci_enable_msi on the IOMMU function, one vector) then CONTROL_EVT_INT_EN. With
// x2APIC the interrupt goes through the IntCapXT register instead (iommu_update_intcapxt).
int amd_iommu::setup_event_interrupt(u32 dest, u8 vector) {
    if (readq(mmio::CONTROL) & control::INT_CAP_XT_EN) {
        // XT_GEN_INTR_CTRL: DestMode 2, Dest[23:0] 31:8, Vector 39:32, Dest[31:24] 63:56.
        const u64 v = (u64(dest & 0xffffff) << 8) | (u64(vector) << 32) | (u64(dest >> 24) << 56);
        writeq(mmio::XT_GEN_INTR_CTRL, v);
    } else {
        const int pos = find_pci_capability(PCI_CAP_ID_MSI);
        if (!pos) {
            m_log.err(fmt::format("AMD-Vi: {}: no MSI capability for the event interrupt", m_name));
            return -EINVAL;
        }
        const u8 bus = u8(m_ivhd.devid >> 8), devfn = u8(m_ivhd.devid & 0xff);
        const u16 flags = u16(m_ops.config_read(m_ivhd.pci_seg, bus, devfn, u16(pos + 2), 2));
        const bool is64 = flags & 0x80;
        m_ops.config_write(m_ivhd.pci_seg, bus, devfn, u16(pos + 4), 4, 0xfee00000u | ((dest & 0xff) << 12));
        if (is64) m_ops.config_write(m_ivhd.pci_seg, bus, devfn, u16(pos + 8), 4, 0);
        m_ops.config_write(m_ivhd.pci_seg, bus, devfn, u16(pos + (is64 ? 12 : 8)), 2, vector);
        // One vector (MME 0), enable.
        m_ops.config_write(m_ivhd.pci_seg, bus, devfn, u16(pos + 2), 2, (flags & ~0x70u) | 1u);
    }
    m_event_vector = vector;
    feature_enable(control::EVENT_INT_EN);
    return 0;
}

// __iommu_queue_command_sync: wait while fewer than 0x20 bytes are free (re-reading the head), copy the
// command at the tail, advance the tail register.
int amd_iommu::queue_command(const command& cmd, bool sync) {
    const u32 next_tail = u32((m_cmd_tail + command::size) % CMD_BUFFER_SIZE);
    for (unsigned count = 0;; ++count) {
        const u32 left = u32((m_cmd_head - next_tail) % CMD_BUFFER_SIZE);
        if (left > 0x20) break;
        if (count >= m_options.poll_limit) {
            m_log.err("AMD-Vi: Command buffer timeout");
            m_failed = true;
            return -EIO;
        }
        m_cmd_head = readl(mmio::CMD_BUF_HEAD) & u32(RING_PTR);
    }
    write64(m_cmd_buf + m_cmd_tail, cmd.lo);
    write64(m_cmd_buf + m_cmd_tail + 8, cmd.hi);
    m_cmd_tail = next_tail;
    writel(mmio::CMD_BUF_TAIL, m_cmd_tail);
    m_commands.push_back(cmd);
    m_need_sync = sync;
    return 0;
}

// iommu_completion_wait: COMPLETION_WAIT storing the next semaphore value, then wait_on_sem.
int amd_iommu::completion_wait() {
    if (!m_need_sync) return 0;
    const u64 data = ++m_sem_val;
    int ret = queue_command(command::completion_wait(m_cmd_sem, data, true, false), false);
    if (ret) return ret;
    for (unsigned i = 0; i < m_options.poll_limit; ++i)
        if (read64(m_cmd_sem) == data) return 0;
    m_log.err("AMD-Vi: Completion-Wait loop timed out");
    m_failed = true;
    return -EIO;
}

int amd_iommu::flush_dte(u16 devid) { return queue_command(command::invalidate_devtab_entry(devid)); }
int amd_iommu::flush_irt(u16 devid) { return queue_command(command::invalidate_interrupt_table(devid)); }

// build_inv_address: one page as is; otherwise every bit below the highest bit that differs between
// the first and last byte set, with S = 1; all pages when that bit is above 51.
int amd_iommu::flush_pages(u16 domid, u64 address, u64 size, bool pde) {
    u64 addr = address & ~0xfffull;
    const u64 pages = ((address & 0xfff) + size + 0xfff) >> 12;
    bool s = false;
    if (pages > 1) {
        const u64 end = address + size - 1;
        const unsigned msb_diff = 63 - unsigned(__builtin_clzll(end ^ address));
        if (msb_diff > 51) addr = INV_ALL_PAGES_ADDRESS;
        else addr = (address | ((1ull << msb_diff) - 1)) & ~0xfffull;
        s = true;
    }
    if (m_skip_inv) {
        --m_skip_inv;
        ++m_skipped;
        return 0;
    }
    return queue_command(command::invalidate_iommu_pages(domid, addr, s, pde));
}

// iommu_flush_all_caches / amd_iommu_flush_all: INVALIDATE_IOMMU_ALL when the unit has IASup.
void amd_iommu::flush_all_caches(u16 last_bdf) {
    if (feature(efr::IA_SUP)) {
        queue_command(command::invalidate_iommu_all());
        completion_wait();
        return;
    }
    for (u32 d = 0; d <= last_bdf && !m_failed; ++d) flush_dte(u16(d));
    completion_wait();
    for (u32 d = 0; d <= last_bdf && !m_failed; ++d) flush_irt(u16(d));
    completion_wait();
    for (u64 dom = 0; dom < MAX_DOMAIN_ID && !m_failed; ++dom)
        queue_command(command::invalidate_iommu_pages(u16(dom), INV_ALL_PAGES_ADDRESS, true, true));
    completion_wait();
}

void amd_iommu::print_event(const event& ev, const amd_find_dev& find_dev) {
    event_record r;
    r.type = ev.code();
    r.devid = ev.device_id();
    r.domain_or_pasid = ev.pasid();  // DomainID, or PASID[19:0] with GN
    r.address = ev.address();
    r.flags = u16(bits(ev.lo, 59, 48));
    const u16 seg = m_ivhd.pci_seg;
    const std::string dev = devid_str(seg, r.devid);
    const std::string prefix = "iommu ivhd" + std::to_string(m_index) + ": AMD-Vi: ";
    switch (event_code(r.type)) {
    case event_code::io_page_fault: {
        // amd_iommu_report_page_fault: on the device when the kernel knows it, else with its ID.
        const pci_dev* pdev = find_dev ? find_dev(seg, r.devid) : nullptr;
        const std::string body = fmt::format("domain=0x{:04x} address=0x{:x} flags=0x{:04x}]", r.domain_or_pasid,
                                             r.address, r.flags);
        if (pdev) {
            r.text = "AMD-Vi: Event logged [IO_PAGE_FAULT " + body;
            m_log.pci_err(*pdev, r.text);
        } else {
            r.text = "AMD-Vi: Event logged [IO_PAGE_FAULT device=" + dev + " " + body;
            m_log.err(r.text);
        }
        m_events.push_back(r);
        return;
    }
    case event_code::illegal_dev_table_entry:
        r.text = fmt::format("Event logged [ILLEGAL_DEV_TABLE_ENTRY device={} pasid=0x{:05x} address=0x{:x} flags=0x{:04x}]",
                             dev, ev.pasid(), r.address, r.flags);
        break;
    case event_code::dev_tab_hw_error:
        r.text = fmt::format("Event logged [DEV_TAB_HARDWARE_ERROR device={} address=0x{:x} flags=0x{:04x}]", dev,
                             r.address, r.flags);
        break;
    case event_code::page_tab_hw_error:
        r.text = fmt::format("Event logged [PAGE_TAB_HARDWARE_ERROR device={} pasid=0x{:04x} address=0x{:x} flags=0x{:04x}]",
                             dev, r.domain_or_pasid, r.address, r.flags);
        break;
    case event_code::illegal_command_error:
        r.text = fmt::format("Event logged [ILLEGAL_COMMAND_ERROR address=0x{:x}]", r.address);
        break;
    case event_code::command_hw_error:
        r.text = fmt::format("Event logged [COMMAND_HARDWARE_ERROR address=0x{:x} flags=0x{:04x}]", r.address, r.flags);
        break;
    case event_code::iotlb_inv_timeout:
        r.text = fmt::format("Event logged [IOTLB_INV_TIMEOUT device={} address=0x{:x}]", dev, r.address);
        break;
    case event_code::invalid_device_request:
        r.text = fmt::format("Event logged [INVALID_DEVICE_REQUEST device={} pasid=0x{:05x} address=0x{:x} flags=0x{:04x}]",
                             dev, ev.pasid(), r.address, r.flags);
        break;
    default:
        r.text = fmt::format("Event logged [UNKNOWN event[0]=0x{:08x} event[1]=0x{:08x} event[2]=0x{:08x} event[3]=0x{:08x}]",
                             u32(ev.lo), u32(ev.lo >> 32), u32(ev.hi), u32(ev.hi >> 32));
        break;
    }
    r.text = prefix + r.text;
    m_log.err(r.text);
    m_events.push_back(r);
}

// amd_iommu_int_thread: acknowledge, drain the event log (iommu_poll_events), restart logging after
// an overflow (amd_iommu_restart_event_logging), until the status shows nothing new.
unsigned amd_iommu::poll_events(const amd_find_dev& find_dev) {
    if (!m_evt_buf || m_failed) return 0;
    unsigned handled = 0;
    u64 st = readq(mmio::STATUS);
    for (unsigned rounds = 0; (st & (AMD_IOMMU_INT_MASK | status::EVENT_OVERFLOW)) && rounds < 16; ++rounds) {
        writeq(mmio::STATUS, AMD_IOMMU_INT_MASK | status::EVENT_OVERFLOW);
        if (st & status::EVENT_LOG_INT) {
            u32 head = readl(mmio::EVENT_LOG_HEAD) & u32(RING_PTR);
            const u32 tail = readl(mmio::EVENT_LOG_TAIL) & u32(RING_PTR);
            for (unsigned n = 0; head != tail && n < EVT_BUFFER_SIZE / event::size; ++n) {
                event ev{read64(m_evt_buf + head), read64(m_evt_buf + head + 8)};
                if (ev.code() == 0) {
                    // The erratum Linux retries for: the entry is not written yet. Ours is written at once.
                    m_log.err("AMD-Vi: No event written to event log");
                } else {
                    print_event(ev, find_dev);
                    ++handled;
                }
                write64(m_evt_buf + head, 0);
                write64(m_evt_buf + head + 8, 0);
                head = u32((head + event::size) % EVT_BUFFER_SIZE);
            }
            writel(mmio::EVENT_LOG_HEAD, head);
        }
        if (st & status::EVENT_OVERFLOW) {
            m_log.info("AMD-Vi: IOMMU event log overflow");
            feature_disable(control::EVENT_LOG_EN);
            feature_enable(control::EVENT_LOG_EN);
        }
        st = readq(mmio::STATUS);
    }
    return handled;
}

} // namespace iommusim::host

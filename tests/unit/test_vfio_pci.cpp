// vfio-pci over the fake VT-d kernel (tests/unit/support): region info, the virtual config space, IRQ info
// and SET_IRQS errno rules with real eventfds, reset and hot reset. Expectations come from Linux 6.1
// (vfio_pci_core.c, vfio_pci_config.c, vfio_pci_intrs.c, vfio_main.c), named per section.
#include "support/vfio_fixture.h"

#include <catch2/catch.hpp>
#include <sys/eventfd.h>
#include <unistd.h>

using namespace iommusim;
using namespace iommusim::test;

namespace {
// fake_vfio_host with the kernel behind it, so device fds reach config space.
struct hw_vfio_host : fake_vfio_host {
    using fake_vfio_host::fake_vfio_host;
    host::kernel* kernel() override { return w.k.get(); }
};

struct pci_world {
    vtd_world w;
    hw_vfio_host host{w};
    fake_vfio_mm mm;
    vfio::vfio_core v{host, mm};
    pci_world() {
        for (const char* d : {"0000:01:00.0", "0000:00:02.0", "0000:03:04.0", "0000:03:05.0"}) host.vfio_bound.insert(d);
    }
    long io(int fd, unsigned long req, const void* arg) { return v.ioctl(fd, req, reinterpret_cast<unsigned long>(arg)); }
    // container, group, device fd of bdf.
    int device(const char* bdf, int* group_fd = nullptr) {
        const int c = v.open("/dev/vfio/vfio", O_RDWR);
        const int g = v.open("/dev/vfio/" + std::to_string(w.group(bdf)), O_RDWR);
        REQUIRE(io(g, VFIO_GROUP_SET_CONTAINER, &c) == 0);
        REQUIRE(v.ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == 0);
        const std::string name = std::string("0000:") + bdf;
        const int d = int(io(g, VFIO_GROUP_GET_DEVICE_FD, name.c_str()));
        REQUIRE(d >= 0);
        if (group_fd) *group_fd = g;
        return d;
    }
    u32 cfg_read(int d, u32 off, unsigned len) {
        u32 val = 0;
        REQUIRE(v.rw(d, &val, len, (u64(VFIO_PCI_CONFIG_REGION_INDEX) << 40) + off, false) == long(len));
        return val;
    }
    void cfg_write(int d, u32 off, unsigned len, u32 val) {
        REQUIRE(v.rw(d, &val, len, (u64(VFIO_PCI_CONFIG_REGION_INDEX) << 40) + off, true) == long(len));
    }
    long set_irqs(int d, u32 flags, u32 index, u32 start, u32 count, const void* data = nullptr, size_t dlen = 0,
                  u32 argsz = 0) {
        std::vector<u8> buf(sizeof(vfio_irq_set) + dlen);
        auto* s = reinterpret_cast<vfio_irq_set*>(buf.data());
        s->argsz = argsz ? argsz : u32(buf.size());
        s->flags = flags;
        s->index = index;
        s->start = start;
        s->count = count;
        if (dlen) std::memcpy(s->data, data, dlen);
        return io(d, VFIO_DEVICE_SET_IRQS, buf.data());
    }
};

// The ioctl structs end in flexible arrays, which C++ cannot embed: same layouts spelled out.
struct info_view {
    struct {
        u32 argsz, flags, count;
    } h;
    vfio_pci_dependent_device dev[4];  // 4-byte aligned: right after the 12-byte header, as the kernel writes
};
struct reset_view {
    struct {
        u32 argsz, flags, count;
    } h;
    std::int32_t fds[2];
};
static_assert(sizeof(vfio_pci_hot_reset) == 12 && sizeof(vfio_pci_hot_reset_info) == 12, "uapi headers");
static_assert(offsetof(info_view, dev) == 12, "devices follow the header");

u64 efd_count(int fd) {
    u64 n = 0;
    return ::read(fd, &n, sizeof n) == sizeof n ? n : 0;
}
} // namespace

TEST_CASE("vfio-pci GET_REGION_INFO: fixed index map, CONFIG size, VGA and out-of-range EINVAL, argsz", "[vfio][pci]") {
    pci_world p;
    const int d = p.device("01:00.0");
    vfio_region_info ri{};
    ri.argsz = sizeof ri;
    ri.index = VFIO_PCI_CONFIG_REGION_INDEX;
    REQUIRE(p.io(d, VFIO_DEVICE_GET_REGION_INFO, &ri) == 0);
    CHECK(ri.size == 0x1000);  // PCIe: extended config space
    CHECK(ri.offset == u64(7) << 40);
    CHECK(ri.flags == (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE));
    ri.index = 0;  // no BARs on this function: size 0, flags 0, offset still index << 40
    REQUIRE(p.io(d, VFIO_DEVICE_GET_REGION_INFO, &ri) == 0);
    CHECK(ri.size == 0);
    CHECK(ri.flags == 0);
    ri.index = VFIO_PCI_ROM_REGION_INDEX;
    REQUIRE(p.io(d, VFIO_DEVICE_GET_REGION_INFO, &ri) == 0);
    CHECK(ri.size == 0);
    CHECK(ri.offset == u64(6) << 40);
    ri.index = VFIO_PCI_VGA_REGION_INDEX;
    CHECK(p.io(d, VFIO_DEVICE_GET_REGION_INFO, &ri) == -EINVAL);
    ri.index = 9;
    CHECK(p.io(d, VFIO_DEVICE_GET_REGION_INFO, &ri) == -EINVAL);
    ri.index = 7;
    ri.argsz = 31;
    CHECK(p.io(d, VFIO_DEVICE_GET_REGION_INFO, &ri) == -EINVAL);
}

TEST_CASE("vfio-pci config space: virtual IDs and BARs, INTx-Disable virtual, raw writable bytes, EFAULT past the end",
          "[vfio][pci][config]") {
    pci_world p;
    const int d = p.device("01:00.0");
    host::pci_dev& dev = p.w.dev("01:00.0");
    CHECK(p.cfg_read(d, 0, 2) == 0x8086);
    CHECK(p.cfg_read(d, 2, 2) == 0x10d3);
    p.cfg_write(d, 0, 4, 0x12345678);  // vendor/device: virtual, read-only
    CHECK(p.cfg_read(d, 0, 4) == 0x10d38086);
    // BAR0 is fully virtual: a sizing write of all ones reads back 0 (no BAR), the hardware never sees it.
    const size_t writes = p.w.hw.config_writes.size();
    p.cfg_write(d, 0x10, 4, 0xffffffff);
    CHECK(p.cfg_read(d, 0x10, 4) == 0);
    for (size_t i = writes; i < p.w.hw.config_writes.size(); ++i) CHECK(std::get<2>(p.w.hw.config_writes[i]) != 0x10);
    // COMMAND: INTx-Disable lives in vconfig; outside INTx mode vfio_pci_intx_mask only makes the physical
    // bit follow it on a PCI 2.3 device (and the unmask clears it again); Memory goes through.
    p.cfg_write(d, pci::PCI_COMMAND, 2, pci::PCI_COMMAND_INTX_DISABLE | pci::PCI_COMMAND_MEMORY);
    CHECK((p.cfg_read(d, pci::PCI_COMMAND, 2) & pci::PCI_COMMAND_INTX_DISABLE) != 0);
    const u16 hw_after = p.w.k->access().read16(dev, pci::PCI_COMMAND);
    CHECK((hw_after & pci::PCI_COMMAND_INTX_DISABLE) != 0);
    CHECK((hw_after & pci::PCI_COMMAND_MEMORY) != 0);
    p.cfg_write(d, pci::PCI_COMMAND, 2, pci::PCI_COMMAND_MEMORY);
    CHECK((p.w.k->access().read16(dev, pci::PCI_COMMAND) & pci::PCI_COMMAND_INTX_DISABLE) == 0);
    // Interrupt line: virtual read/write; interrupt pin read-only.
    p.cfg_write(d, pci::PCI_INTERRUPT_LINE, 1, 0x5a);
    CHECK(p.cfg_read(d, pci::PCI_INTERRUPT_LINE, 1) == 0x5a);
    CHECK(p.w.k->access().read8(dev, pci::PCI_INTERRUPT_LINE) != 0x5a);
    // The virtual capability chain: the PCIe capability is reachable from the capability pointer.
    u8 pos = u8(p.cfg_read(d, pci::PCI_CAPABILITY_LIST, 1));
    bool exp = false;
    for (int ttl = 48; pos && ttl; --ttl) {
        exp = exp || p.cfg_read(d, pos, 1) == pci::PCI_CAP_ID_EXP;
        pos = u8(p.cfg_read(d, pos + 1u, 1));
    }
    CHECK(exp);
    u32 v = 0;
    CHECK(p.v.rw(d, &v, 4, (u64(7) << 40) + 0xffe, false) == -EFAULT);
    CHECK(p.v.rw(d, &v, 4, u64(9) << 40, false) == -EINVAL);
    CHECK(p.v.rw(d, &v, 4, u64(0) << 40, false) == -EINVAL);  // no BAR0
    CHECK(p.v.rw(99, &v, 4, 0, false) == -EBADF);
}

TEST_CASE("vfio-pci GET_IRQ_INFO: flags per index, counts from config space, EINVAL past REQ", "[vfio][pci][irq]") {
    pci_world p;
    const int d = p.device("01:00.0");
    auto info = [&](u32 index, vfio_irq_info& ii) {
        ii = {};
        ii.argsz = sizeof ii;
        ii.index = index;
        return p.io(d, VFIO_DEVICE_GET_IRQ_INFO, &ii);
    };
    vfio_irq_info ii;
    REQUIRE(info(VFIO_PCI_INTX_IRQ_INDEX, ii) == 0);
    CHECK(ii.flags == (VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED));
    CHECK(ii.count == 0);  // interrupt pin 0
    REQUIRE(info(VFIO_PCI_MSI_IRQ_INDEX, ii) == 0);
    CHECK(ii.flags == (VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE));
    CHECK(ii.count == 0);  // no MSI capability
    REQUIRE(info(VFIO_PCI_ERR_IRQ_INDEX, ii) == 0);
    CHECK(ii.count == 1);  // PCIe
    REQUIRE(info(VFIO_PCI_REQ_IRQ_INDEX, ii) == 0);
    CHECK(ii.count == 1);
    CHECK(info(5, ii) == -EINVAL);
    // A conventional PCI device has no ERR index at all.
    pci_world q;
    const int c = q.device("03:04.0");
    ii = {};
    ii.argsz = sizeof ii;
    ii.index = VFIO_PCI_ERR_IRQ_INDEX;
    CHECK(q.io(c, VFIO_DEVICE_GET_IRQ_INFO, &ii) == -EINVAL);
}

TEST_CASE("vfio-pci SET_IRQS: validate_and_prepare errno, ENOTTY for unhandled actions, REQ/ERR with eventfds",
          "[vfio][pci][irq]") {
    pci_world p;
    const int d = p.device("01:00.0");
    const u32 NONE = VFIO_IRQ_SET_DATA_NONE, BOOL = VFIO_IRQ_SET_DATA_BOOL, EFD = VFIO_IRQ_SET_DATA_EVENTFD;
    const u32 TRIG = VFIO_IRQ_SET_ACTION_TRIGGER, MASK = VFIO_IRQ_SET_ACTION_MASK, UNMASK = VFIO_IRQ_SET_ACTION_UNMASK;
    const u32 REQ = VFIO_PCI_REQ_IRQ_INDEX, ERR = VFIO_PCI_ERR_IRQ_INDEX;
    CHECK(p.set_irqs(d, NONE | TRIG, REQ, 0, 1, nullptr, 0, 19) == -EINVAL);        // argsz < 20
    CHECK(p.set_irqs(d, NONE | TRIG, 5, 0, 1) == -EINVAL);                          // index
    CHECK(p.set_irqs(d, NONE | TRIG | 0x100, REQ, 0, 1) == -EINVAL);                // unknown flag bit
    CHECK(p.set_irqs(d, NONE | TRIG, REQ, 1, 0) == -EINVAL);                        // start >= max
    CHECK(p.set_irqs(d, NONE | TRIG, REQ, 0, 2) == -EINVAL);                        // start + count > max
    CHECK(p.set_irqs(d, NONE | TRIG, REQ, 0, 0xffffffffu) == -EINVAL);              // count >= U32_MAX - start
    CHECK(p.set_irqs(d, NONE | BOOL | TRIG, REQ, 0, 1) == -EINVAL);                 // two data types
    CHECK(p.set_irqs(d, EFD | TRIG, REQ, 0, 1) == -EINVAL);                         // no room for the fd
    CHECK(p.set_irqs(d, NONE | MASK, REQ, 0, 1) == -ENOTTY);                        // no MASK for REQ
    CHECK(p.set_irqs(d, NONE | UNMASK, ERR, 0, 1) == -ENOTTY);
    CHECK(p.set_irqs(d, NONE | MASK | UNMASK, REQ, 0, 1) == -ENOTTY);               // not exactly one action
    CHECK(p.set_irqs(d, NONE | TRIG, VFIO_PCI_INTX_IRQ_INDEX, 0, 1) == -EINVAL);    // INTx count 0: every call
    CHECK(p.set_irqs(d, NONE | TRIG, VFIO_PCI_MSIX_IRQ_INDEX, 0, 0) == -EINVAL);    // no MSI-X: max 0
    // REQ: NONE without a trigger is EINVAL; an eventfd set, loopback-signalled, cleared.
    CHECK(p.set_irqs(d, NONE | TRIG, REQ, 0, 1) == -EINVAL);
    const int efd = eventfd(0, EFD_NONBLOCK);
    REQUIRE(efd >= 0);
    std::int32_t fd = efd;
    CHECK(p.set_irqs(d, EFD | TRIG, REQ, 0, 1, &fd, 4) == 0);
    CHECK(p.set_irqs(d, NONE | TRIG, REQ, 0, 1) == 0);
    u8 yes = 1, no = 0;
    CHECK(p.set_irqs(d, BOOL | TRIG, REQ, 0, 1, &yes, 1) == 0);
    CHECK(p.set_irqs(d, BOOL | TRIG, REQ, 0, 1, &no, 1) == 0);
    CHECK(efd_count(efd) == 2);
    p.v.device("0000:01:00.0")->irqs()->req_signal();
    CHECK(efd_count(efd) == 1);
    CHECK(p.set_irqs(d, NONE | TRIG, REQ, 0, 0) == 0);  // count 0: release
    p.v.device("0000:01:00.0")->irqs()->req_signal();
    CHECK(efd_count(efd) == 0);
    // Bad descriptors: not open -EBADF, not an eventfd -EINVAL, below -1 -EINVAL.
    int pipefd[2];
    REQUIRE(pipe(pipefd) == 0);
    fd = 1000;
    CHECK(p.set_irqs(d, EFD | TRIG, ERR, 0, 1, &fd, 4) == -EBADF);
    fd = pipefd[0];
    CHECK(p.set_irqs(d, EFD | TRIG, ERR, 0, 1, &fd, 4) == -EINVAL);
    fd = -2;
    CHECK(p.set_irqs(d, EFD | TRIG, ERR, 0, 1, &fd, 4) == -EINVAL);
    fd = efd;
    CHECK(p.set_irqs(d, EFD | TRIG, ERR, 0, 1, &fd, 4) == 0);
    p.v.device("0000:01:00.0")->irqs()->err_signal();
    CHECK(efd_count(efd) == 1);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    ::close(efd);
}

TEST_CASE("vfio-pci DEVICE_GET_INFO reports RESET from the first open's function reset, DEVICE_RESET follows it",
          "[vfio][pci][reset]") {
    pci_world p;
    // 01:00.0 is alone behind its root port: the parent bus reset works.
    const int d = p.device("01:00.0");
    vfio_device_info di{};
    di.argsz = sizeof di;
    REQUIRE(p.io(d, VFIO_DEVICE_GET_INFO, &di) == 0);
    CHECK(di.flags == (VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET));
    const size_t writes = p.w.hw.config_writes.size();
    CHECK(p.v.ioctl(d, VFIO_DEVICE_RESET, 0) == 0);
    bool sbr = false;  // Secondary Bus Reset on the root port 00:1c.0
    for (size_t i = writes; i < p.w.hw.config_writes.size(); ++i) {
        const auto& [bus, devfn, reg, len, val] = p.w.hw.config_writes[i];
        sbr = sbr || (bus == 0 && devfn == pci_devfn(0x1c, 0) && reg == pci::PCI_BRIDGE_CONTROL &&
                      (val & pci::PCI_BRIDGE_CTL_BUS_RESET));
    }
    CHECK(sbr);
    // 03:04.0 shares its bus with 03:05.0 and has no PM capability (fn() turns it off): no reset method.
    pci_world q;
    const int c = q.device("03:04.0");
    di.argsz = sizeof di;
    REQUIRE(q.io(c, VFIO_DEVICE_GET_INFO, &di) == 0);
    CHECK(di.flags == VFIO_DEVICE_FLAGS_PCI);
    CHECK(q.v.ioctl(c, VFIO_DEVICE_RESET, 0) == -EINVAL);
}

TEST_CASE("vfio-pci hot reset: INFO lists the bus, ENOSPC with the count, ENODEV on a root bus, HOT_RESET needs every group",
          "[vfio][pci][reset]") {
    pci_world p;
    int g = -1;
    const int d = p.device("01:00.0", &g);
    // header + 4 dependent devices (flexible array members: a byte buffer, as C callers use)
    alignas(8) u8 hrbuf[sizeof(vfio_pci_hot_reset_info) + 4 * sizeof(vfio_pci_dependent_device)] = {};
    auto& hr = *reinterpret_cast<info_view*>(hrbuf);
    hr.h.argsz = sizeof hrbuf;
    REQUIRE(p.io(d, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &hr) == 0);
    REQUIRE(hr.h.count == 1);
    CHECK(hr.dev[0].group_id == u32(p.w.group("01:00.0")));
    CHECK(hr.dev[0].bus == 1);
    CHECK(hr.dev[0].devfn == 0);
    std::memset(hrbuf, 0, sizeof hrbuf);
    hr.h.argsz = sizeof hr.h;
    CHECK(p.io(d, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &hr) == -ENOSPC);
    CHECK(hr.h.count == 1);
    hr.h.argsz = 11;
    CHECK(p.io(d, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &hr) == -EINVAL);

    reset_view rs{};
    auto reset = [&](u32 flags, u32 count, std::int32_t fd0, std::int32_t fd1 = -1) {
        rs.h.argsz = sizeof rs;
        rs.h.flags = flags;
        rs.h.count = count;
        rs.fds[0] = fd0;
        rs.fds[1] = fd1;
        return p.io(d, VFIO_DEVICE_PCI_HOT_RESET, &rs);
    };
    CHECK(reset(1, 1, g) == -EINVAL);      // flags
    CHECK(reset(0, 0, g) == -EINVAL);      // count 0
    CHECK(reset(0, 2, g, g) == -EINVAL);   // more fds than affected devices
    CHECK(reset(0, 1, 77) == -EBADF);
    CHECK(reset(0, 1, d) == -EINVAL);      // a device fd is not a group
    CHECK(reset(0, 1, g) == 0);

    // 00:02.0 sits on the root bus: no bus to reset.
    pci_world q;
    const int r = q.device("00:02.0");
    std::memset(hrbuf, 0, sizeof hrbuf);
    hr.h.argsz = sizeof hrbuf;
    CHECK(q.io(r, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &hr) == -ENODEV);
}

TEST_CASE("vfio-pci HOT_RESET: a sibling not bound to vfio-pci, or a group not passed, is EINVAL", "[vfio][pci][reset]") {
    pci_world p;
    int g4 = -1;
    const int d = p.device("03:04.0", &g4);
    reset_view rs{};
    rs.h.argsz = sizeof rs;
    rs.h.count = 1;
    rs.fds[0] = g4;
    // 03:04.0 and 03:05.0 share a group (behind a PCIe-to-PCI bridge), so one fd covers both.
    REQUIRE(p.w.group("03:04.0") == p.w.group("03:05.0"));
    CHECK(p.io(d, VFIO_DEVICE_PCI_HOT_RESET, &rs) == 0);
    p.host.vfio_bound.erase("0000:03:05.0");  // the sibling leaves vfio-pci: not in the dev_set
    CHECK(p.io(d, VFIO_DEVICE_PCI_HOT_RESET, &rs) == -EINVAL);
}

// lspci importer: both capture forms of each oracle fixture give the same tree; malformed dumps are
// reported with their line.
#include "platforms/desc/captured_config.h"
#include "platforms/desc/lspci_import.h"
#include "platforms/desc/platform_check.h"
#include "sim/core/bdf.h"
#include "sim/core/input_error.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>

using namespace iommusim;
using namespace iommusim::platforms;

namespace {

struct flat {
    std::string parent;
    std::optional<u8> pcie_type;
    bool bridge = false;
    std::optional<pci::acs_params> acs;
};

std::string bdf_of(unsigned seg, unsigned bus, u8 devfn) {
    return bdf{u16(seg), u8(bus), devfn}.str();
}

void flatten(const std::vector<function_desc>& fs, unsigned seg, unsigned bus, const std::string& parent,
             std::map<std::string, flat>& out) {
    for (const auto& f : fs) {
        std::string me = bdf_of(seg, bus, f.devfn);
        flat x;
        x.parent = parent;
        x.pcie_type = desc_pcie_type(f);
        x.bridge = desc_is_bridge(f);
        x.acs = f.params.kind == pci::function_kind::captured ? captured::acs(f.params.config) : f.params.acs;
        out[me] = x;
        if (x.bridge && f.params.secondary_bus) flatten(f.children, seg, *f.params.secondary_bus, me, out);
    }
}

std::map<std::string, flat> flatten(const platform_desc& p) {
    std::map<std::string, flat> out;
    for (const auto& rb : p.root_buses) flatten(rb.functions, rb.segment, rb.bus, "root", out);
    return out;
}

std::vector<std::string> fixture_names() {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(IOMMUSIM_FIXTURE_DIR "/oracle"))
        if (e.path().extension() == ".xxxx") names.push_back(e.path().stem().string());
    std::sort(names.begin(), names.end());
    return names;
}

std::string expect_error(const std::string& text, const std::string& what) {
    try {
        import_lspci_text(text, "dump.txt");
    } catch (const input_error& e) {
        CHECK_THAT(e.message(), Catch::Contains(what));
        return e.location();
    }
    FAIL("no input_error for: " << what);
    return "";
}

const char* k_rp_hdr = "0000:00:1c.0 PCI bridge [0604]: Red Hat, Inc. QEMU PCIe Root port [1b36:000c]\n";

// 64-byte type 1 header with the given bus numbers
std::string bridge_hex(unsigned pri, unsigned sec, unsigned sub) {
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "00: 36 1b 0c 00 07 05 10 00 00 00 04 06 00 00 01 00\n"
                  "10: 00 00 00 00 00 00 00 00 %02x %02x %02x 00 00 00 00 00\n"
                  "20: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00\n"
                  "30: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00\n",
                  pri, sec, sub);
    return buf;
}

std::string endpoint_hex() {
    return "00: 86 80 d3 10 07 05 10 00 00 00 00 02 00 00 00 00\n"
           "10: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00\n"
           "20: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00\n"
           "30: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00\n";
}

} // namespace

TEST_CASE("oracle fixtures: -xxxx and -vvv forms import to the same tree") {
    auto names = fixture_names();
    REQUIRE(names.size() >= 10);
    for (const auto& n : names) {
        INFO(n);
        std::string base = IOMMUSIM_FIXTURE_DIR "/oracle/" + n;
        platform_desc hex, vvv;
        REQUIRE_NOTHROW(hex = import_lspci_file(base + ".xxxx"));
        REQUIRE_NOTHROW(vvv = import_lspci_file(base + ".vvv"));
        auto a = flatten(hex), b = flatten(vvv);
        REQUIRE(a.size() == b.size());
        for (const auto& [bdf_s, x] : a) {
            INFO(bdf_s);
            REQUIRE(b.count(bdf_s));
            const auto& y = b.at(bdf_s);
            CHECK(x.parent == y.parent);
            CHECK(x.pcie_type == y.pcie_type);
            CHECK(x.bridge == y.bridge);
            REQUIRE(bool(x.acs) == bool(y.acs));
            if (x.acs) {
                CHECK(x.acs->cap == y.acs->cap);
                CHECK(x.acs->ctrl == y.acs->ctrl);
            }
        }
        CHECK(hex.iommu == vvv.iommu);
        CHECK((hex.iommu == iommu_kind::amd_vi) == (n.find("-amd") != std::string::npos));
    }
}

TEST_CASE("lspci: pxb dump has a second root bus at 0x80 and bus 0 ends below it") {
    auto p = import_lspci_file(IOMMUSIM_FIXTURE_DIR "/oracle/pxb.xxxx");
    REQUIRE(p.root_buses.size() == 2);
    CHECK(p.root_buses[0].bus == 0);
    CHECK(p.root_buses[0].bus_end == 0x7f);
    CHECK(p.root_buses[1].bus == 0x80);
}

TEST_CASE("lspci: captured bytes are kept verbatim and 256-byte PCIe captures are noted") {
    // 256-byte root port: capability list at 0x40 holding a PCIe capability of type root port
    std::string text = k_rp_hdr;
    for (unsigned off = 0; off < 0x100; off += 16) {
        std::vector<unsigned> b(16, 0);
        if (off == 0x00) b = {0x36, 0x1b, 0x0c, 0x00, 0x07, 0x05, 0x10, 0x00, 0, 0, 0x04, 0x06, 0, 0, 0x01, 0};
        if (off == 0x10) b[8] = 0, b[9] = 1, b[10] = 1;
        if (off == 0x30) b[4] = 0x40;
        if (off == 0x40) b[0] = 0x10, b[2] = 0x42;
        char row[80];
        int n = std::snprintf(row, sizeof row, "%02x:", off);
        for (unsigned v : b) n += std::snprintf(row + n, sizeof row - size_t(n), " %02x", v);
        text += std::string(row) + "\n";
    }
    text += "0000:01:00.0 Ethernet controller [0200]: Intel [8086:10d3]\n" + endpoint_hex();
    auto p = import_lspci_text(text, "dump.txt");
    const auto& rp = p.root_buses.at(0).functions.at(0);
    REQUIRE(rp.params.config.size() == 256);
    CHECK(rp.params.config[0x34] == 0x40);
    CHECK(desc_pcie_type(rp) == u8(4));  // PCI_EXP_TYPE_ROOT_PORT
    bool noted_256 = false, noted_64 = false;
    for (const auto& n : p.notes) {
        noted_256 |= n.find("only 256 bytes") != std::string::npos;
        noted_64 |= n.find("first 64 bytes") != std::string::npos;
    }
    CHECK(noted_256);
    CHECK(noted_64);
}

TEST_CASE("lspci: iommu guess can be overridden") {
    lspci_import_options opt;
    opt.iommu = iommu_kind::none;
    auto p = import_lspci_file(IOMMUSIM_FIXTURE_DIR "/oracle/switch-amd.vvv", opt);
    CHECK(p.iommu == iommu_kind::none);
}

TEST_CASE("lspci: -vvv without -nn is refused with advice") {
    CHECK(expect_error("00:00.0 Host bridge: Intel Corporation 82G33 DRAM Controller\n", "-nn") == "line 1");
}

TEST_CASE("lspci: garbled header line") {
    CHECK(expect_error("0000:00:1c PCI bridge [0604]: x [1b36:000c]\n", "garbled") == "line 1");
    CHECK(expect_error("0000:00:20.0 PCI bridge [0604]: x [1b36:000c]\n", "slot above 1f") == "line 1");
}

TEST_CASE("lspci: hex row with wrong offset, length or digits") {
    std::string h = k_rp_hdr;
    CHECK(expect_error(h + "10: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00\n", "out of sequence") == "line 2");
    CHECK(expect_error(h + "00: 36 1b 0c 00 07 05 10 00 00 00 04 06 00 00 01\n", "16 bytes") == "line 2");
    CHECK(expect_error(h + "00: 36 1b 0c 00 07 05 10 00 00 00 04 06 00 00 01 zz\n", "non-hex") == "line 2");
    CHECK(expect_error(h + "00: 36 1b 0c 00 07 05 10 00 00 00 04 06 00 00 01 00 00\n", "more than 16") == "line 2");
}

TEST_CASE("lspci: truncated device dump") {
    std::string h = std::string(k_rp_hdr) + "00: 36 1b 0c 00 07 05 10 00 00 00 04 06 00 00 01 00\n";
    expect_error(h, "truncated");
    std::string two = std::string(k_rp_hdr) + bridge_hex(0, 1, 1) + "0000:01:00.0 Ethernet controller [0200]: x [8086:10d3]\n";
    CHECK(expect_error(two, "no hex dump") == "line 6");
}

TEST_CASE("lspci: duplicate BDF") {
    std::string d = std::string(k_rp_hdr) + bridge_hex(0, 1, 1) + k_rp_hdr + bridge_hex(0, 2, 2);
    CHECK(expect_error(d, "duplicate device") == "line 6");
}

TEST_CASE("lspci: bridge whose secondary bus is not above its own bus") {
    CHECK(expect_error(std::string(k_rp_hdr) + bridge_hex(0, 0, 0), "not above") == "line 1");
}

TEST_CASE("lspci: two bridges claiming one secondary bus") {
    std::string d = std::string(k_rp_hdr) + bridge_hex(0, 1, 1) +
                    "0000:00:1d.0 PCI bridge [0604]: x [1b36:000c]\n" + bridge_hex(0, 1, 1);
    CHECK(expect_error(d, "both claim") == "line 6");
}

TEST_CASE("lspci: overlapping subordinate ranges") {
    std::string d = std::string(k_rp_hdr) + bridge_hex(0, 1, 3) +
                    "0000:00:1d.0 PCI bridge [0604]: x [1b36:000c]\n" + bridge_hex(0, 2, 2);
    CHECK(expect_error(d, "overlaps") == "line 6");
}

TEST_CASE("lspci: device inside a bridge's range without a bridge leading to its bus") {
    std::string d = std::string(k_rp_hdr) + bridge_hex(0, 1, 5) +
                    "0000:03:00.0 Ethernet controller [0200]: x [8086:10d3]\n" + endpoint_hex();
    CHECK(expect_error(d, "no bridge has secondary bus 03") == "line 6");
}

TEST_CASE("lspci: hex IDs must match the device line") {
    std::string d = "0000:00:02.0 Ethernet controller [0200]: x [8086:1234]\n" + endpoint_hex();
    CHECK(expect_error(d, "hex dump reads 8086:10d3") == "line 1");
}

TEST_CASE("lspci: capabilities hidden by a non-root lspci are refused") {
    std::string d = "0000:00:02.0 Ethernet controller [0200]: x [8086:10d3]\n\tCapabilities: <access denied>\n";
    CHECK(expect_error(d, "without root") == "line 2");
}

TEST_CASE("lspci: -vvv text synthesises ACS, MSI-X and BARs") {
    std::string d =
        "00:1c.0 PCI bridge [0604]: Intel Corporation Device [8086:a110] (rev f1) (prog-if 00 [Normal decode])\n"
        "\tBus: primary=00, secondary=01, subordinate=01, sec-latency=0\n"
        "\tCapabilities: [40] Express (v2) Root Port (Slot+), MSI 00\n"
        "\tCapabilities: [140 v1] Access Control Services\n"
        "\t\tACSCap:\tSrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-\n"
        "\t\tACSCtl:\tSrcValid- TransBlk- ReqRedir- CmpltRedir- UpstreamFwd- EgressCtrl- DirectTrans-\n"
        "\n"
        "01:00.0 Ethernet controller [0200]: Intel Corporation I210 [8086:1533] (rev 03)\n"
        "\tSubsystem: ASUSTeK Computer Inc. Device [1043:8554]\n"
        "\tInterrupt: pin A routed to IRQ 16\n"
        "\tRegion 0: Memory at df000000 (32-bit, non-prefetchable) [size=128K]\n"
        "\tRegion 3: Memory at df020000 (32-bit, non-prefetchable) [size=16K]\n"
        "\tCapabilities: [50] MSI: Enable- Count=1/1 Maskable+ 64bit+\n"
        "\tCapabilities: [70] MSI-X: Enable+ Count=5 Masked-\n"
        "\t\tVector table: BAR=3 offset=00000000\n"
        "\t\tPBA: BAR=3 offset=00002000\n"
        "\tCapabilities: [a0] Express (v2) Endpoint, MSI 00\n";
    auto p = import_lspci_text(d, "x.vvv");
    const auto& rp = p.root_buses.at(0).functions.at(0);
    CHECK(rp.params.kind == pci::function_kind::root_port);
    REQUIRE(rp.params.acs);
    CHECK(rp.params.acs->cap == 0x001d);
    CHECK(rp.params.revision == 0xf1);
    REQUIRE(rp.children.size() == 1);
    const auto& nic = rp.children[0].params;
    CHECK(nic.kind == pci::function_kind::endpoint);
    CHECK(nic.subsystem_vendor_id == 0x1043);
    CHECK(nic.interrupt_pin == 1);
    REQUIRE(nic.bars.size() == 2);
    CHECK(nic.bars[0].size == 128 * 1024);
    REQUIRE(nic.msix);
    CHECK(nic.msix->table_size == 5);
    CHECK(nic.msix->table_bar == 3);
    CHECK(nic.msix->pba_offset == 0x2000);
    REQUIRE(nic.msi);
    CHECK(nic.msi->per_vector_mask);
    bool spt_note = false, domain_note = false;
    for (const auto& n : p.notes) {
        spt_note |= n.find("Sunrise/Union Point") != std::string::npos;
        domain_note |= n.find("without -D") != std::string::npos;
    }
    CHECK(spt_note);
    CHECK(domain_note);
}

TEST_CASE("lspci: unreadable file") {
    try {
        import_lspci_file("/nonexistent/dump.txt");
        FAIL("no error");
    } catch (const input_error& e) {
        CHECK(e.file() == "/nonexistent/dump.txt");
    }
}

TEST_CASE("lspci: -vvv lines interleaved with hex (lspci -vvv -xxxx) import like the hex alone") {
    for (const char* n : {"switch", "pcie_pci_bridge-amd", "pxb"}) {
        INFO(n);
        std::string base = IOMMUSIM_FIXTURE_DIR "/oracle/" + std::string(n);
        auto blocks = [](const std::string& path) {
            std::ifstream in(path);
            std::vector<std::string> out(1);
            for (std::string l; std::getline(in, l);) {
                if (l.empty()) {
                    if (!out.back().empty()) out.emplace_back();
                    continue;
                }
                out.back() += l + "\n";
            }
            if (out.back().empty()) out.pop_back();
            return out;
        };
        auto hex = blocks(base + ".xxxx"), vvv = blocks(base + ".vvv");
        REQUIRE(hex.size() == vvv.size());
        std::string merged;
        for (size_t i = 0; i < hex.size(); ++i)
            merged += vvv[i] + hex[i].substr(hex[i].find('\n') + 1) + "\n";
        auto a = flatten(import_lspci_text(merged, "merged")), b = flatten(import_lspci_file(base + ".xxxx"));
        REQUIRE(a.size() == b.size());
        for (const auto& [k, x] : a) {
            REQUIRE(b.count(k));
            CHECK(x.parent == b.at(k).parent);
            CHECK(x.pcie_type == b.at(k).pcie_type);
        }
    }
}

// AMD IOMMU formats (spec #48882 rev 3.0x): every encoder against a raw value computed by hand from the
// spec's bit positions, cross-checked with the way Linux's amd_iommu driver builds the same words
// (set_dte_entry, build_completion_wait, build_inv_iommu_pages, build_inv_address, PAGE_SIZE_PTE, union irte,
// struct irte_ga, iommu_print_event), and the decoders back.
#include "models/iommu/amdvi/amdvi_defs.h"
#include "models/iommu/amdvi/amdvi_params.h"
#include "models/iommu/amdvi/amdvi_regs.h"
#include "sim/core/input_error.h"

#include <catch2/catch.hpp>

using namespace iommusim;
using namespace iommusim::amdvi;

TEST_CASE("amdvi defs: DTE translation and interrupt fields at spec positions", "[amdvi][defs]") {
    // V 0, TV 1, Mode 11:9 = 3, root 51:12, IR 61, IW 62; DomainID 79:64.
    dte d = dte::make_translation(0x12345000, 3, 0x42, true, true);
    CHECK(d.w[0] == 0x6000000012345603ull);
    CHECK(d.w[1] == 0x42);
    CHECK(d.v());
    CHECK(d.tv());
    CHECK(d.mode() == 3);
    CHECK(d.page_table_root() == 0x12345000);
    CHECK(d.domain_id() == 0x42);
    CHECK(d.ir());
    CHECK(d.iw());
    // IV 128, IntTabLen 132:129 = 9 (512 entries, Linux DTE_INTTABLEN), root 179:134, IntCtl 189:188 = 10b.
    d.with_interrupts(0xabcd00, 9);
    CHECK(d.w[2] == 0x2000000000abcd13ull);
    CHECK(d.iv());
    CHECK(d.int_tab_len() == 9);
    CHECK(d.int_table_entries() == 512);
    CHECK(d.int_table_root() == 0xabcd00);
    CHECK(d.intctl() == int_ctl::remap);
    // InitPass 184, EIntPass 185, NMIPass 186, Lint0Pass 190, Lint1Pass 191.
    d.with_pass(true, false, true, false, true);
    CHECK((d.w[2] >> 56) == 0xa5);  // 0x85 plus IntCtl 10b in 189:188
    CHECK(d.init_pass());
    CHECK(!d.eint_pass());
    CHECK(d.nmi_pass());
    CHECK(d.lint1_pass());
    // I 96, SE 97, SA 98, Cache 101, SD 102, EX 103, SysMgt 105:104.
    d.with_flags(true, true, false, true).with_sysmgt(sys_mgt::forward_int);
    CHECK((d.w[1] >> 32) == (0x1 | 0x2 | 0x80 | 0x200));
    CHECK(d.i());
    CHECK(d.se());
    CHECK(!d.sa());
    CHECK(d.ex());
    CHECK(d.sysmgt() == sys_mgt::forward_int);
    // Passthrough: Mode 0 with IR/IW.
    dte p = dte::make_passthrough(0, true, false);
    CHECK(p.w[0] == 0x2000000000000003ull);
    CHECK(p.mode() == 0);
}

TEST_CASE("amdvi defs: DTE reserved bits and feature gating", "[amdvi][defs]") {
    dte d = dte::make_translation(0x1000, 4, 1, true, true);
    dte_format f;
    u64 r0 = 1, r1 = 1, r2 = 1, r3 = 1;
    f.reserved_translation(d, r0, r1);
    CHECK(r0 == 0);
    CHECK(r1 == 0);
    d.w[0] |= 1ull << 3;     // 6:2
    d.w[1] |= 1ull << 42;    // 106
    f.reserved_translation(d, r0, r1);
    CHECK(r0 == (1ull << 3));
    CHECK(r1 == (1ull << 42));
    dte g = dte::make_translation(0x1000, 4, 1, true, true);
    g.w[0] |= 1ull << 55;    // GV: reserved without GTSup
    f.reserved_translation(g, r0, r1);
    CHECK(r0 == (1ull << 55));
    f.gt_sup = true;
    f.reserved_translation(g, r0, r1);
    CHECK(r0 == 0);
    CHECK(dte_format::from_efr(efr::GT_SUP).gt_sup);
    dte h;
    h.with_interrupts(0x1000, 8);
    h.w[2] |= 1ull << 59;    // 187
    h.w[3] = 1;              // 192
    f.reserved_interrupt(h, r2, r3);
    CHECK(r2 == (1ull << 59));
    CHECK(r3 == 1);
    h.w[3] = 1ull << 63;     // snoop attribute region: accepted
    f.reserved_interrupt(h, r2, r3);
    CHECK(r3 == 0);
}

TEST_CASE("amdvi defs: page-table entries and next-level-7 page sizes", "[amdvi][defs]") {
    // Linux IOMMU_PTE_PR | IOMMU_PTE_IR | IOMMU_PTE_IW | address.
    pte p = pte::page(0x7654321000, true, true);
    CHECK(p.v == 0x6000007654321001ull);
    CHECK(p.pr());
    CHECK(p.next_level() == 0);
    CHECK(p.is_leaf());
    CHECK(pte::page(0x1000, true, false, true, true).v == (0x1000 | 1 | (1ull << 59) | (1ull << 60) | (1ull << 61)));
    // PDE with NextLevel 2 (Linux PM_LEVEL_PDE).
    pte d = pte::pde(0x1000, 2);
    CHECK(d.v == 0x6000000000001401ull);
    CHECK(!d.is_leaf());
    CHECK(d.next_level() == 2);
    // 2 MiB via NextLevel 7: bits 19:12 ones, bit 20 zero (Linux PAGE_SIZE_PTE(0x40200000, 2M) = 0x402fffff).
    pte l = pte::large(0x40200000, 21, true, true);
    CHECK(l.v == 0x60000000402ffe01ull);
    CHECK(large_page_shift(l.v) == 21);
    CHECK(large_page_shift(pte::large(0x8000, 15, true, true).v) == 15);  // 32 KiB: bits 13:12 ones
    CHECK(large_page_shift(pte::large(0x2000, 13, true, true).v) == 13);  // 8 KiB: bit 12 zero
    CHECK(large_page_shift(ADDR_51_12) == 0);
    // Reserved: 58:52 in a PTE, 60:52 in a PDE (FC/U belong to PTEs).
    CHECK(pte{p.v | (1ull << 52)}.reserved() == (1ull << 52));
    CHECK(pte{p.v | (1ull << 60)}.reserved() == 0);
    CHECK(pte{d.v | (1ull << 60)}.reserved() == (1ull << 60));
    // Geometry.
    CHECK(level_shift(1) == 12);
    CHECK(level_shift(6) == 57);
    CHECK(level_index(0x0000ff8000000000ull, 4) == 0x1ff);
    CHECK(mode_address_bits(3) == 39);
    CHECK(mode_address_bits(6) == 64);
}

TEST_CASE("amdvi defs: commands encode as Linux builds them", "[amdvi][defs]") {
    // build_completion_wait: data[0] = lower_32(paddr) | STORE, data[1] = upper_32(paddr) | type << 28.
    command cw = command::completion_wait(0x123456780, 0xdeadbeefcafef00dull, true, false);
    CHECK(cw.lo == 0x1000000123456781ull);
    CHECK(cw.hi == 0xdeadbeefcafef00dull);
    CHECK(cw.opcode() == 0x1);
    CHECK(cw.cw_s());
    CHECK(!cw.cw_i());
    CHECK(cw.cw_store_address() == 0x123456780);
    CHECK(cw.reserved_lo() == 0);
    CHECK(command{cw.lo | (1ull << 55), cw.hi}.reserved_lo() == (1ull << 55));
    // build_inv_iommu_pages: data[1] = domid | 3 << 28; data[2] = address | PDE.
    command ip = command::invalidate_iommu_pages(5, 0x5000, false, true);
    CHECK(ip.lo == 0x3000000500000000ull);
    CHECK(ip.hi == 0x5002);
    CHECK(ip.domain_id() == 5);
    CHECK(ip.pde());
    CHECK(!ip.s());
    CHECK(ip.address() == 0x5000);
    CHECK(ip.reserved_lo() == 0);
    CHECK(ip.reserved_hi() == 0);
    CHECK(command::invalidate_devtab_entry(0x0123).lo == 0x2000000000000123ull);
    CHECK(command::invalidate_interrupt_table(0x10).lo == 0x5000000000000010ull);
    CHECK(command::invalidate_iommu_all().lo == 0x8000000000000000ull);
    CHECK(command::invalidate_iommu_all().hi == 0);
    // build_inv_iotlb_pages: QueueID = DeviceID, maxpend 31:24, PASID split 23:16 / 55:48.
    command it = command::invalidate_iotlb_pages(0x0208, 32, 0x3000, true, false, 0x1234);
    CHECK(it.lo == ((0x4ull << 60) | (0x34ull << 48) | (0x0208ull << 32) | (32ull << 24) | (0x12ull << 16) | 0x0208));
    CHECK(it.iotlb_pasid() == 0x1234);
    CHECK(it.maxpend() == 32);
    CHECK(it.queue_id() == 0x208);
    CHECK(it.reserved_lo() == 0);
    // build_complete_ppr: tag in data[3] 8:0, status in data[3] 15:12.
    command pp = command::complete_ppr_request(0x10, 3, true, 0x1ff, 0xf);
    CHECK(pp.hi == (0x4ull | (0x1ffull << 32) | (0xfull << 44)));
    CHECK(pp.completion_tag() == 0x1ff);
    CHECK(pp.reserved_hi() == 0);
    // Reserved fields and unknown opcodes.
    CHECK(command{command::invalidate_devtab_entry(1).lo | (1ull << 20), 0}.reserved_lo() != 0);
    CHECK(command{command::invalidate_devtab_entry(1).lo, 1}.reserved_hi() == 1);
    CHECK(command{0, 0}.reserved_lo() != 0);
    CHECK(command{0x9ull << 60, 0}.reserved_lo() != 0);
    CHECK(std::string(cmd_name(0x3)) == "INVALIDATE_IOMMU_PAGES");
}

TEST_CASE("amdvi defs: S-bit invalidation ranges as build_inv_address encodes them", "[amdvi][defs]") {
    // build_inv_address(0x200000, 2 MiB): end ^ address = 0x1fffff, msb_diff 20 -> 0x2fffff & PAGE_MASK.
    CHECK(encode_inv_range(0x200000, 21) == 0x2ff000);
    auto r = decode_inv_range(0x2ff000, true);
    CHECK(r.base == 0x200000);
    CHECK(r.size == 0x200000);
    auto one = decode_inv_range(0x5123, false);
    CHECK(one.base == 0x5000);
    CHECK(one.size == 0x1000);
    auto eight = decode_inv_range(0x6000, true);  // bit 12 zero: 8 KiB
    CHECK(eight.base == 0x6000);
    CHECK(eight.size == 0x2000);
    CHECK(decode_inv_range(INV_ALL_PAGES_ADDRESS, true).all());
    CHECK(encode_inv_range(0, 64) == INV_ALL_PAGES_ADDRESS);
}

TEST_CASE("amdvi defs: event log entries decode as iommu_print_event reads them", "[amdvi][defs]") {
    // devid = event[0] & 0xffff; domid = event[1] & 0xffff; flags = (event[1] >> 16) & 0xfff;
    // type = event[1] >> 28; address = event[3]:event[2].
    event_flags f;
    f.pr = true;
    f.rw = true;
    event e = event::io_page_fault(0x0100, 7, 0xdead000, f);
    CHECK(e.lo == 0x2030000700000100ull);
    CHECK(e.hi == 0xdead000);
    const u32 dword1 = static_cast<u32>(e.lo >> 32);
    CHECK((dword1 >> 28) == 0x2);
    CHECK((dword1 & 0xffff) == 7);
    CHECK(((dword1 >> 16) & 0xfff) == 0x030);  // EVENT_FLAG_RW 0x020 | PR 0x010
    auto g = e.flags();
    CHECK(g.pr);
    CHECK(g.rw);
    CHECK(!g.i);
    CHECK(e.device_id() == 0x100);
    CHECK(e.domain_or_pasid() == 7);
    // Every flag at its position: GN 48 NX 49 US 50 I 51 PR 52 RW 53 PE 54 RZ 55 TR 56.
    event_flags all{true, true, true, true, true, true, true, true, true};
    CHECK(all.encode() == 0x01ff000000000000ull);
    event_flags i_only;
    i_only.i = true;
    CHECK(i_only.encode() == 0x0008000000000000ull);  // Linux EVENT_FLAG_I 0x008 << 48
    // ILLEGAL_DEV_TABLE_ENTRY keeps GN I RW RZ TR only.
    event il = event::illegal_dev_table_entry(0x08, 0x1000, all);
    CHECK(il.lo == ((1ull << 60) | 0x08 | (1ull << 48) | (1ull << 51) | (1ull << 53) | (1ull << 55) | (1ull << 56)));
    // DEV_TAB_HW_ERROR with TYPE 58:57 and the DTE address.
    event dt = event::dev_tab_hw_error(0x10, 0x100200, i_only, hw_error_type::target_abort);
    CHECK(dt.lo == ((3ull << 60) | (2ull << 57) | (1ull << 51) | 0x10));
    CHECK(dt.type() == 2);
    CHECK(dt.address() == 0x100200);
    event pt = event::page_tab_hw_error(0x10, 9, 0x3008, event_flags{}, hw_error_type::master_abort);
    CHECK(pt.lo == ((4ull << 60) | (1ull << 57) | (9ull << 32) | 0x10));
    CHECK(pt.address() == 0x3008);
    event ic = event::illegal_command_error(0x10020);
    CHECK(ic.lo == 0x5000000000000000ull);
    CHECK(ic.hi == 0x10020);
    CHECK(event::command_hw_error(0x4000, hw_error_type::data_error).lo == ((6ull << 60) | (3ull << 57)));
    CHECK(event::iotlb_inv_timeout(0x22, 0x8010).lo == ((7ull << 60) | 0x22));
    event ir = event::invalid_device_request(0x30, 0x1000, all, 5);
    CHECK(ir.type3() == 5);
    CHECK(ir.code() == 0x8);
    CHECK(std::string(event_name(0x2)) == "IO_PAGE_FAULT");
}

TEST_CASE("amdvi defs: IRTE formats and the MSI data index", "[amdvi][defs]") {
    // union irte: valid 0, no_fault 1, int_type 4:2, rq_eoi 5, dm 6, destination 15:8, vector 23:16.
    irte32 e = irte32::make(0x31, 0x02);
    CHECK(e.v == 0x00310201u);
    CHECK(e.remap_en());
    CHECK(e.vector() == 0x31);
    CHECK(e.destination() == 2);
    CHECK(e.int_type() == msi::FIXED);
    CHECK(irte32::make(0x31, 2, true, msi::ARBITRATED, true, true).v == 0x00310267u);
    CHECK(irte32{e.v | 0x80}.reserved() == 0x80);  // GuestMode is reserved in the 32-bit format
    // struct irte_ga: lo destination 31:8 = APIC ID 23:0, hi vector 7:0 and destination 63:56 = APIC ID 31:24.
    irte_ga g = irte_ga::make(0x41, 0x12345678);
    CHECK(g.lo == 0x34567801ull);
    CHECK(g.hi == 0x1200000000000041ull);
    CHECK(g.destination() == 0x12345678u);
    CHECK(g.vector() == 0x41);
    CHECK(g.reserved_lo() == 0);
    CHECK(g.reserved_hi() == 0);
    CHECK(irte_ga{g.lo | (1ull << 40), g.hi}.reserved_lo() == (1ull << 40));
    // MSI data 10:0 index, 10:8 delivery mode.
    CHECK(msi::index(0xf123) == 0x123);
    CHECK(msi::delivery(0x0123) == msi::ARBITRATED);
    CHECK(msi::delivery(0x0400) == msi::NMI);
    CHECK(msi::is_interrupt_address(0xfee01000));
    CHECK(!msi::is_interrupt_address(0xfed00000));
    CHECK(msi::make_address(3, true) == 0xfee03004ull);
    CHECK(msi::make_data(0x41, msi::FIXED) == 0x41u);
}

TEST_CASE("amdvi defs: EFR, capability block and register table", "[amdvi][defs]") {
    amdvi_params p;
    // XTSup 2, IASup 6, GASup 7, HATS 11:10 = 10b.
    CHECK(build_efr(p) == 0x8c4ull);
    CHECK(efr::max_levels(build_efr(p)) == 6);
    p.hats = 0;
    CHECK(efr::max_levels(build_efr(p)) == 4);
    // CapId 0Fh, CapPtr, CapType 011b, CapRev 00001b, EFRSup 27, CapExt 28.
    CHECK(build_cap_header(amdvi_params{}, 0x50) == 0x180b500fu);
    CHECK(build_misc0(amdvi_params{}) == 0x203040u);  // GVAsize 2, PAsize 48, VAsize 64
    CHECK(pcicap::misc0_pa_size(0x203040u) == 48);
    CHECK(pcicap::range(true, 0, 0x00, 0xff) == 0xff000080u);
    amdvi_params bad;
    bad.hats = 3;
    CHECK_THROWS_AS(bad.validate(), input_error);

    register_file r(amdvi_params{});
    CHECK(r.read(mmio::EXT_FEATURE, 8) == 0x8c4);
    r.write(mmio::EXT_FEATURE, 0, 8);
    CHECK(r.read(mmio::EXT_FEATURE, 8) == 0x8c4);  // RO
    CHECK(r.read(mmio::EXCL_LIMIT, 8) == 0xfff);    // 11:0 read as ones
    r.write(mmio::EXCL_LIMIT, 0x12345678, 8);
    CHECK(r.read(mmio::EXCL_LIMIT, 8) == 0x12345fff);
    // Head/tail pointers keep 18:4.
    r.write(mmio::CMD_BUF_TAIL, 0xfffff, 8);
    CHECK(r.read(mmio::CMD_BUF_TAIL, 8) == 0x7fff0);
    // ComLen 59:56 and base 51:12.
    r.write(mmio::CMD_BUF_BASE, ring_base::make(0x10000, 9) | 0xfff, 8);
    CHECK(r.get(reg_id::CMD_BUF_BASE) == 0x0900000000010000ull);
    CHECK(ring_base::entries(r.get(reg_id::CMD_BUF_BASE)) == 512);
    CHECK(ring_base::entries(ring_base::make(0, 7)) == 0);
    // DevTabBase Size: 0x1ff + 1 pages = 2 MiB (65536 DTEs).
    CHECK(devtab_base::bytes(devtab_base::make(0x200000, 512)) == 0x200000);
    // Status RW1C, Run bits RO.
    r.set(reg_id::STATUS, status::EVENT_OVERFLOW | status::EVENT_LOG_INT | status::EVENT_LOG_RUN);
    auto w = r.write(mmio::STATUS, status::EVENT_LOG_INT | status::EVENT_LOG_RUN, 4);
    CHECK(w.id == reg_id::STATUS);
    CHECK(r.get(reg_id::STATUS) == (status::EVENT_OVERFLOW | status::EVENT_LOG_RUN));
    // 4-byte halves of the 8-byte Control register (Linux writes it with writel... and reads readq).
    r.write(mmio::CONTROL + 4, 0x000c0000, 4);  // XTEn 50, IntCapXTEn 51
    r.write(mmio::CONTROL, 0x1005, 4);           // IommuEn, EventLogEn, CmdBufEn
    CHECK(r.read(mmio::CONTROL, 8) == (control::XT_EN | control::INT_CAP_XT_EN | 0x1005));
    CHECK(r.read(mmio::CONTROL + 4, 4) == 0x000c0000);
    // PPR registers are absent without PPRSup; unknown offsets read 0.
    CHECK(!r.present(reg_id::PPR_LOG_BASE));
    r.write(mmio::PPR_LOG_BASE, ~0ull, 8);
    CHECK(r.read(mmio::PPR_LOG_BASE, 8) == 0);
    CHECK(r.read(0x1000, 8) == 0);
    CHECK(r.write(0x1000, 1, 8).id == reg_id::count);
    CHECK(r.name_at(mmio::STATUS) == "Status");
    CHECK(r.read(mmio::CONTROL + 2, 4) == 0);  // misaligned
}

// "params"."amdvi" in platform JSON (platform_loader.cpp): checked by name, type and range with the JSON path.
#include "platforms/desc/platform_loader.h"

TEST_CASE("amdvi params in platform JSON: accepted, and bad ones named with their JSON path", "[amdvi][platform]") {
    const std::string head = R"({"iommu": "amd", "root_buses": [{"bus": "0x00", "devices": [
        {"addr": "00.0", "kind": "host_bridge", "vendor": "0x1022", "device": "0x1480"}]}], "params": )";
    const auto d = platforms::load_platform_text(head + R"({"amdvi": {"iotlb_ways": 128, "hats": 1}, "amdvi_units": false}})", "t.json");
    CHECK(d.params.amdvi["iotlb_ways"] == 128);
    CHECK(!d.params.amdvi_units);
    try {
        platforms::load_platform_text(head + R"({"amdvi": {"iotlb_wayz": 4}}})", "t.json");
        FAIL("accepted an unknown parameter");
    } catch (const input_error& e) {
        CHECK(e.location() == "/params/amdvi/iotlb_wayz");
        CHECK_THAT(e.message(), Catch::Contains("iotlb_ways"));
    }
    try {
        platforms::load_platform_text(head + R"({"amdvi": {"gt_sup": true}}})", "t.json");
        FAIL("accepted guest translation");
    } catch (const input_error& e) {
        CHECK(e.location() == "/params/amdvi/gt_sup");
    }
}

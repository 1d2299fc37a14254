// Testbench of the IOMMU framework (models/iommu/common): a toy IOMMU built only from the framework
// (xlate_engine + tlb_cache + paging_structure_cache + a toy 4-level table format) between a DMA
// initiator and a small sparse memory written inside this file. Checks translation and faults through
// TLM, walk time = memory time, functional mode, walk-slot contention, paging-structure-cache hits and
// exact invalidation. CTest runs each TEST_CASE in its own process (one elaboration each).
#include "models/iommu/common/pure/paging_structure_cache.h"
#include "models/iommu/common/pure/tlb_cache.h"
#include "models/iommu/common/tlm_request.h"
#include "models/iommu/common/xlate_engine.h"
#include "sim/tlm/payload_data.h"
#include "sim/tlm/pci_extension.h"
#include "tests/support/toy_walk_format.h"

#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <memory>
#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <vector>

using namespace iommusim;
using namespace iommusim::iommu;
using sc_core::SC_NS;
using sc_core::sc_time;

namespace {

// Sparse byte-addressed memory: fixed latency per access, an address that answers with an error.
struct sparse_memory : sc_core::sc_module {
    tlm_utils::multi_passthrough_target_socket<sparse_memory> target;
    std::map<u64, u8> bytes;
    sc_time latency;
    u64 error_address = ~u64(0);
    unsigned reads = 0, writes = 0;

    sparse_memory(sc_core::sc_module_name n, sc_time lat) : sc_module(n), target("target"), latency(lat) {
        target.register_b_transport(this, &sparse_memory::b_transport);
    }
    void put64(u64 a, u64 v) {
        for (unsigned i = 0; i < 8; ++i) bytes[a + i] = u8(v >> (8 * i));
    }
    u8 byte(u64 a) const {
        auto it = bytes.find(a);
        return it == bytes.end() ? 0 : it->second;
    }
    void b_transport(int, tlm::tlm_generic_payload& gp, sc_time& delay) {
        delay += latency;
        const u64 a = gp.get_address();
        if (a <= error_address && error_address < a + gp.get_data_length()) {
            gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
            return;
        }
        for (unsigned i = 0; i < gp.get_data_length(); ++i) {
            if (gp.is_read())
                gp.get_data_ptr()[i] = byte(a + i);
            else
                bytes[a + i] = gp.get_data_ptr()[i];
        }
        (gp.is_read() ? reads : writes)++;
        gp.set_response_status(tlm::TLM_OK_RESPONSE);
    }
};

using toy::LEAF;
using toy::P;
using toy::R;
using toy::RSVD;
using toy::W;
walk_format toy_format() { return toy::format(0x40); }

// The smallest IOMMU a model author would write with the framework: IOTLB, PSC, one table root per
// domain, domain = requester ID's bus (toy rule). DMA that faults answers TLM_ADDRESS_ERROR_RESPONSE
// and is recorded.
struct toy_iommu : sc_core::sc_module {
    tlm_utils::simple_target_socket<toy_iommu> dma;
    tlm_utils::simple_initiator_socket<toy_iommu> out;
    xlate_engine engine;
    tlb_cache iotlb;
    paging_structure_cache psc;
    walk_format format = toy_format();
    std::map<u32, u64> roots; // domain -> root table
    std::vector<xlate_fault> faults;
    unsigned iotlb_cycles;

    toy_iommu(sc_core::sc_module_name n, const timing_params& tp, unsigned iotlb_lookup_cycles = 0)
        : sc_module(n), dma("dma"), out("out"), engine("engine", tp), iotlb(geometry(1, 8)),
          psc(psc_levels()), iotlb_cycles(iotlb_lookup_cycles) {
        dma.register_b_transport(this, &toy_iommu::b_transport);
    }
    static cache_geometry geometry(unsigned sets, unsigned ways) {
        cache_geometry g;
        g.sets = sets;
        g.ways = ways;
        return g;
    }
    static std::vector<cache_geometry> psc_levels() {
        std::vector<cache_geometry> g(5, geometry(1, 0));
        g[2] = geometry(1, 4); // only the L2 entries (pointers to leaf tables), like a PDE cache
        return g;
    }

    xlate_result translate(const xlate_request& req, sc_time& delay) {
        const u32 domain = req.requester_id >> 8;
        engine.charge_lookup(iotlb_cycles, delay);
        if (auto t = iotlb.lookup(domain, no_pasid, req.address)) {
            if ((req.access & t->perms) == (req.access & perm_all)) return xlate_result::success(*t);
        }
        walk_context ctx;
        ctx.domain = domain;
        ctx.psc = &psc;
        const auto w = engine.walk(format, roots.at(domain), req, ctx, delay);
        if (w.result.ok()) iotlb.fill(domain, no_pasid, req.requester_id, req.address, w.result.value());
        return w.result;
    }

    void b_transport(tlm::tlm_generic_payload& gp, sc_time& delay) {
        const auto r = translate(to_xlate_request(gp), delay);
        if (!r.ok()) {
            faults.push_back(r.fault());
            gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
            return;
        }
        const u64 iova = gp.get_address();
        gp.set_address(r.value().address);
        out->b_transport(gp, delay);
        gp.set_address(iova);
    }
};

// Runs `body` in an SC_THREAD; several may run at the same simulated time.
struct runner : sc_core::sc_module {
    std::vector<std::function<void()>> bodies;
    explicit runner(sc_core::sc_module_name n, std::vector<std::function<void()>> b)
        : sc_module(n), bodies(std::move(b)) {
        for (size_t i = 0; i < bodies.size(); ++i)
            sc_core::sc_spawn([this, i] { bodies[i](); }, sc_core::sc_gen_unique_name("body"));
    }
};

// DMA initiator: one socket per device, requester ID set per transaction.
struct dma_master : sc_core::sc_module {
    tlm_utils::simple_initiator_socket<dma_master> socket;
    explicit dma_master(sc_core::sc_module_name n) : sc_module(n), socket("socket") {}
    // Returns the response status; *delay_out gets the annotated delay (transaction started at delay 0).
    tlm::tlm_response_status access(u16 rid, u64 addr, bool write, u32& value, sc_time* delay_out = nullptr) {
        tlm::tlm_generic_payload gp;
        tlmx::pci_extension ext;
        ext.request = tlmx::pci_request::dma;
        ext.requester_id = rid;
        gp.set_extension(&ext);
        unsigned char buf[4];
        for (unsigned i = 0; i < 4; ++i) buf[i] = u8(value >> (8 * i));
        tlmx::init_payload(gp, write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND, addr, buf, 4);
        sc_time d = sc_core::SC_ZERO_TIME;
        socket->b_transport(gp, d);
        gp.clear_extension(&ext);
        if (delay_out) *delay_out = d;
        if (!write) value = u32(buf[0]) | u32(buf[1]) << 8 | u32(buf[2]) << 16 | u32(buf[3]) << 24;
        return gp.get_response_status();
    }
};

// Platform: master -> toy_iommu -> memory, engine.mem -> memory. Tables for domain 1 (requester 01:00.0):
// root 0x1000 -> L3 0x2000 -> L2 0x3000 -> L1 0x4000.
//   IOVA 0x40201000 -> 0x9000 RW, 0x40202000 -> 0xa000 read-only, 0x40203000 reserved bit set,
//   0x40400000 (2 MiB) -> 0x800000 RW; anything else not present.
// Domain 2 (requester 02:00.0): root 0x11000, its own tables, IOVA 0x40201000 -> 0xb000.
struct platform {
    sparse_memory memory;
    toy_iommu iommu;
    dma_master master;

    platform(const timing_params& tp, sc_time mem_latency, unsigned iotlb_cycles = 0)
        : memory("memory", mem_latency), iommu("iommu", tp, iotlb_cycles), master("master") {
        master.socket.bind(iommu.dma);
        iommu.out.bind(memory.target);
        iommu.engine.mem.bind(memory.target);
        build_tables(1, 0x1000);
        memory.put64(0x4000 + 8 * 1, 0x9000 | P | R | W);
        memory.put64(0x4000 + 8 * 2, 0xa000 | P | R);
        memory.put64(0x4000 + 8 * 3, 0xc000 | P | R | W | (u64(1) << 55));
        memory.put64(0x3000 + 8 * 2, 0x800000 | P | R | W | LEAF);
        build_tables(2, 0x11000);
        memory.put64(0x14000 + 8 * 1, 0xb000 | P | R | W);
    }
    void build_tables(u32 domain, u64 root) {
        const u64 iova = 0x40201000;
        memory.put64(root + 8 * ((iova >> 39) & 511), (root + 0x1000) | P | R | W);
        memory.put64(root + 0x1000 + 8 * ((iova >> 30) & 511), (root + 0x2000) | P | R | W);
        memory.put64(root + 0x2000 + 8 * ((iova >> 21) & 511), (root + 0x3000) | P | R | W);
        iommu.roots[domain] = root;
    }
};

const sc_time mem_lat(50, SC_NS);

timing_params timed(unsigned walk_slots = 4) {
    timing_params tp;
    tp.clock_mhz = 1000;
    tp.walk_slots = walk_slots;
    return tp;
}

} // namespace

TEST_CASE("toy IOMMU translates DMA through a 4-level table, with 4 KiB and 2 MiB pages", "[iommu_common]") {
    platform p(timed(), mem_lat);
    p.memory.put64(0x9010, 0x11223344);
    p.memory.put64(0x800000 + 0x12340, 0x55667788);
    u32 v1 = 0, v2 = 0, w = 0xcafef00d;
    tlm::tlm_response_status s1{}, s2{}, s3{};
    runner r("r", {[&] {
                 s1 = p.master.access(0x0100, 0x40201010, false, v1);
                 s2 = p.master.access(0x0100, 0x40412340, false, v2);
                 s3 = p.master.access(0x0100, 0x40201020, true, w);
             }});
    sc_core::sc_start();
    CHECK(s1 == tlm::TLM_OK_RESPONSE);
    CHECK(v1 == 0x11223344);
    CHECK(s2 == tlm::TLM_OK_RESPONSE);
    CHECK(v2 == 0x55667788);
    CHECK(s3 == tlm::TLM_OK_RESPONSE);
    CHECK(p.memory.byte(0x9020) == 0x0d);
    CHECK(p.memory.byte(0x9023) == 0xca);
    CHECK(p.iommu.faults.empty());
    CHECK(p.iommu.iotlb.stats().hits == 1); // the write hit the first read's entry
}

TEST_CASE("toy IOMMU faults: not present, permission, reserved bit, walk memory error", "[iommu_common]") {
    platform p(timed(), mem_lat);
    p.memory.error_address = 0x3000 + 8 * 3; // L2 entry of IOVA 0x40600000
    std::vector<tlm::tlm_response_status> st;
    runner r("r", {[&] {
                 u32 v = 0;
                 st.push_back(p.master.access(0x0100, 0x80000000, false, v)); // L3 entry absent
                 st.push_back(p.master.access(0x0100, 0x40202000, true, v));  // read-only page
                 st.push_back(p.master.access(0x0100, 0x40203000, false, v)); // reserved bit
                 st.push_back(p.master.access(0x0100, 0x40600000, false, v)); // table read error
                 st.push_back(p.master.access(0x0100, 0x40202000, false, v)); // reading is fine
             }});
    sc_core::sc_start();
    REQUIRE(st.size() == 5);
    for (size_t i = 0; i < 4; ++i) CHECK(st[i] == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    CHECK(st[4] == tlm::TLM_OK_RESPONSE);
    const auto& f = p.iommu.faults;
    REQUIRE(f.size() == 4);
    CHECK(f[0].kind == fault_kind::not_present);
    CHECK(f[0].level == 3);
    CHECK(f[0].reason == 0x13);
    CHECK(f[0].address == 0x80000000);
    CHECK(f[1].kind == fault_kind::permission);
    CHECK(f[1].reason == 0x5);
    CHECK(f[1].level == 1);
    CHECK(f[1].entry_address == 0x4000 + 8 * 2);
    CHECK(f[2].kind == fault_kind::reserved_bit);
    CHECK(f[2].level == 1);
    CHECK(f[3].kind == fault_kind::walk_memory_error);
    CHECK(f[3].reason == 0x40);
    CHECK(f[3].level == 2);
    CHECK(p.iommu.engine.memory_errors() == 1);
}

// (Catch sections re-enter the test case in the same process, and SystemC elaborates once per process:
// each timing variant is its own TEST_CASE.)
TEST_CASE("timed: a DMA's delay is IOTLB lookup + PSC probe + the table reads' memory time + data", "[iommu_common][timing]") {
    platform p(timed(), mem_lat, 3);
    sc_time miss, hit;
    runner r("r", {[&] {
                 u32 v = 0;
                 p.master.access(0x0100, 0x40201000, false, v, &miss);
                 p.master.access(0x0100, 0x40201004, false, v, &hit);
             }});
    sc_core::sc_start();
    // Miss: IOTLB lookup (3 cycles at 1 GHz) + PSC probe (4) + 4 table reads + the data read.
    CHECK(miss == sc_time(3 + 4, SC_NS) + 4 * mem_lat + mem_lat);
    CHECK(hit == sc_time(3, SC_NS) + mem_lat);
}

TEST_CASE("functional mode: the IOMMU adds no delay, the walk still reads the tables", "[iommu_common][timing]") {
    timing_params tp = timed();
    tp.functional = true;
    platform p(tp, mem_lat, 3);
    sc_time miss;
    u32 v = 0;
    runner r("r", {[&] { p.master.access(0x0100, 0x40201000, false, v, &miss); }});
    sc_core::sc_start();
    CHECK(p.iommu.engine.walk_stats().reads == 4);
    CHECK(miss == mem_lat); // only the data access itself, which is the memory's time
    CHECK(p.iommu.engine.walk_slots().stats().grants == 0);
}

TEST_CASE("walk latency through xlate_engine alone equals the memory time of its reads", "[iommu_common][timing]") {
    platform p(timed(), sc_time(70, SC_NS));
    walk_outcome out;
    sc_time d = sc_core::SC_ZERO_TIME;
    runner r("r", {[&] {
                 xlate_request q;
                 q.address = 0x40201000;
                 out = p.iommu.engine.walk(p.iommu.format, 0x1000, q, walk_context{}, d);
             }});
    sc_core::sc_start();
    REQUIRE(out.result.ok());
    CHECK(out.reads == 4);
    CHECK(d == sc_time(280, SC_NS));
    CHECK(out.elapsed_ps == 280000);
}

namespace {
// Two devices in different domains start a DMA at the same time; both miss and walk.
void contend(unsigned slots) {
    platform p(timed(slots), mem_lat);
    sc_time a, b;
    runner r("r", {[&] {
                       u32 v = 0;
                       p.master.access(0x0100, 0x40201000, false, v, &a);
                   },
                   [&] {
                       u32 v = 0;
                       p.master.access(0x0200, 0x40201000, false, v, &b);
                   }});
    sc_core::sc_start();
    const sc_time walk = sc_time(4, SC_NS) + 4 * mem_lat; // PSC probe + 4 reads
    CHECK(a == walk + mem_lat);
    if (slots == 1) {
        CHECK(b == walk + walk + mem_lat); // second walk starts when the first ends
        CHECK(p.iommu.engine.walk_slots().stats().waited == 1);
        CHECK(p.iommu.engine.walk_slots().stats().total_wait_ps == xlate_engine::to_ps(walk));
    } else {
        CHECK(b == walk + mem_lat);
        CHECK(p.iommu.engine.walk_slots().stats().waited == 0);
    }
}
} // namespace

TEST_CASE("walk slots: with one slot the second of two simultaneous walks starts when the first ends", "[iommu_common][timing]") {
    contend(1);
}

TEST_CASE("walk slots: with two slots two simultaneous walks overlap", "[iommu_common][timing]") { contend(2); }

TEST_CASE("paging-structure cache hits shorten walks to the leaf table read", "[iommu_common][psc]") {
    platform p(timed(), mem_lat);
    sc_time first, neighbour;
    runner r("r", {[&] {
                 u32 v = 0;
                 p.master.access(0x0100, 0x40201000, false, v, &first);
                 p.master.access(0x0100, 0x40202000, false, v, &neighbour); // same leaf table, IOTLB miss
             }});
    sc_core::sc_start();
    CHECK(first == sc_time(4, SC_NS) + 5 * mem_lat);
    CHECK(neighbour == sc_time(4, SC_NS) + 2 * mem_lat); // one table read + data
    CHECK(p.iommu.engine.walk_stats().psc_hits == 1);
    CHECK(p.iommu.engine.walk_stats().reads == 5);
}

TEST_CASE("invalidations remove exactly the selected IOTLB and PSC entries", "[iommu_common][inval]") {
    platform p(timed(), mem_lat);
    unsigned reads_before_final = 0;
    std::vector<bool> walked;
    sc_time inv1, inv2;
    runner r("r", {[&] {
                 u32 v = 0;
                 auto reads = [&] { return p.iommu.engine.walk_stats().reads; };
                 // Fill: domain 1 4K page, domain 1 2 MiB page, domain 2 4K page.
                 p.master.access(0x0100, 0x40201000, false, v);
                 p.master.access(0x0100, 0x40400000, false, v);
                 p.master.access(0x0200, 0x40201000, false, v);
                 CHECK(p.iommu.iotlb.cache().size() == 3);

                 // Page-selective, domain 1, one 4 KiB page inside the 2 MiB mapping: only that entry goes.
                 const auto rg = masked_range(0x40500000, 0);
                 CHECK(p.iommu.iotlb.cache().invalidate_range(rg.base, rg.size, 1u) == 1);
                 auto probe = [&](u16 rid, u64 iova) {
                     const u64 before = reads();
                     p.master.access(rid, iova, false, v);
                     walked.push_back(reads() != before);
                 };
                 probe(0x0100, 0x40401000); // walks again (2 MiB entry gone)
                 probe(0x0100, 0x40201000); // still cached
                 probe(0x0200, 0x40201000); // still cached

                 // Domain-selective for domain 2 (IOTLB and PSC), timed on the invalidation engine.
                 p.iommu.engine.invalidate(100, inv1);
                 p.iommu.engine.invalidate(100, inv2); // one engine: waits for the first
                 CHECK(p.iommu.iotlb.cache().invalidate_domain(2) == 1);
                 CHECK(p.iommu.psc.invalidate_domain(2) == 1);
                 probe(0x0200, 0x40201000); // full walk again
                 probe(0x0100, 0x40201000); // domain 1 untouched

                 // Global.
                 p.iommu.iotlb.cache().invalidate_all();
                 p.iommu.psc.invalidate_all();
                 reads_before_final = unsigned(reads());
                 p.master.access(0x0100, 0x40201000, false, v);
                 reads_before_final = unsigned(reads()) - reads_before_final;
             }});
    sc_core::sc_start();
    CHECK(walked == std::vector<bool>{true, false, false, true, false});
    CHECK(reads_before_final == 4); // nothing cached: all four levels read
    CHECK(inv1 == sc_time(100, SC_NS));
    CHECK(inv2 == sc_time(200, SC_NS));
    const auto& s = p.iommu.iotlb.stats();
    CHECK(s.invalidations[size_t(inval_kind::range)] == 1);
    CHECK(s.invalidations[size_t(inval_kind::domain)] == 1);
    CHECK(s.invalidations[size_t(inval_kind::global)] == 1);
    CHECK(p.iommu.engine.inval_engine().stats().waited == 1);
}

TEST_CASE("to_xlate_request takes requester ID, PASID and address type from the pci_extension", "[iommu_common]") {
    tlm::tlm_generic_payload gp;
    unsigned char buf[64] = {};
    gp.set_command(tlm::TLM_WRITE_COMMAND);
    gp.set_address(0x1234);
    gp.set_data_ptr(buf);
    gp.set_data_length(64);
    auto plain = to_xlate_request(gp);
    CHECK(plain.requester_id == 0);
    CHECK_FALSE(plain.pasid);
    CHECK(plain.access == perm_write);
    CHECK(plain.size == 64);

    tlmx::pci_extension ext;
    ext.requester_id = 0x0310;
    ext.pasid = 42;
    ext.at = tlmx::address_type::translation_request;
    gp.set_extension(&ext);
    gp.set_command(tlm::TLM_READ_COMMAND);
    auto r = to_xlate_request(gp);
    gp.clear_extension(&ext);
    CHECK(r.requester_id == 0x0310);
    CHECK(r.pasid == 42u);
    CHECK(r.at == address_type::translation_request);
    CHECK(r.access == perm_read);
    CHECK(r.address == 0x1234);
}

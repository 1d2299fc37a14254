// The IOTLB window experiment of pcie-bench (Neugebauer et al., SIGCOMM 2018; reference anchors §4.1):
// a PCIe device reads 64 bytes at random 64 B-aligned offsets of a DMA buffer of W bytes behind the
// IOMMU, for W = 4 KiB ... 64 MiB. Per window it reports
//   * the median latency of single reads (one in flight), as the device sees it: issue -> completion;
//   * the bandwidth of a closed loop with many reads in flight (pcie-bench's BW test);
//   * the IOTLB hit rate over both.
// pcie-bench warms the host's caches first; here every page of the window is read once before measuring
// (the IOTLB and paging-structure caches then hold what a long run would leave in them).
//
// The system: a booted SystemC platform (host::tlm_machine; by default a small inline description with
// one root port and a dma_engine endpoint) with the platform's IOMMU below its host bridges: a VT-d unit
// ("intel" platforms) or an AMD IOMMU ("amd"). The bench programs it as a driver would, through MMIO and
// tables in memory written with the spec encoders, and invalidates everything before each window
// (bench_iommu.h).
//
// The requester: the endpoint model masters each read through pci_function::issue_dma (so the fabric's
// hops, the root complex, the IOMMU and the memory channel all add their time), between
//   * a device model: a request may issue every `device.issue_ns` (the DMA engine's issue rate), at most
//     `device.tags` reads may be outstanding (PCIe tags), and `device.ns` is the device's own share of
//     the observed latency (request handling and completion delivery inside the NFP, which pcie-bench's
//     numbers include);
//   * a PCIe link (pcie_link.h): MRd TLPs upstream, CplD TLPs downstream, each direction a serial pipe.
// Rate limits in the bandwidth loop are therefore: the device's issue rate and tags, link serialization,
// the IOMMU's page-walk slots (walk_slots: a miss holds one for its whole walk), and the memory channel
// (params.memory bandwidth) that DMA data and walk reads share.
//
// Everything is loosely timed on one time axis: requests are issued in time order, each resolved at once
// by b_transport with an absolute annotated delay; no process runs and sc_start is not called again.
// SystemC elaborates once per process: run_iotlb_window() may be called once.
#pragma once
#include "sim/bench/pcie_link.h"
#include "sim/core/types.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace iommusim::bench {

struct device_params {
    double ns = 283;          // device-side share of each read's latency (calibrated: 533 ns inside the IOTLB)
    double issue_ns = 15.2;   // one read request per issue_ns at most (33.6 Gb/s of 64 B reads)
    unsigned tags = 64;       // reads outstanding at once
    unsigned read_bytes = 64; // bytes per read, 4..4096, a multiple of 4

    void validate() const; // input_error at "/device.<name>"
};

struct iotlb_window_config {
    std::string platform;                                // preset name or file; empty: the inline platform
    std::vector<std::pair<std::string, std::string>> sets; // --set name=value, applied in order
    bool iommu = true;                                   // false: no IOMMU (the no-IOMMU baseline)
    std::vector<bool> large_pages{false};                // one sweep per entry: 4 KiB pages, large pages
    std::vector<u64> windows;                            // empty: 4 KiB ... 64 MiB, powers of two
    unsigned samples = 1000;                             // latency samples per window
    unsigned bw_requests = 8000;                         // reads in the bandwidth loop per window
    u64 seed = 1;
    // Called after each window (done, total), e.g. for a progress line.
    std::function<void(size_t, size_t)> progress;
};

struct window_point {
    u64 window_bytes = 0;
    u64 page_size = 0;               // the mapping's page size (0 without IOMMU)
    double median_latency_ns = 0;
    double p10_latency_ns = 0, p90_latency_ns = 0, mean_latency_ns = 0;
    double bandwidth_gbps = 0;       // closed loop, payload bits per ns
    double iotlb_hit_rate = 0;       // IOTLB hits / translated pieces, latency and bandwidth phases (1 without IOMMU)
    u64 page_walks = 0;
};

struct iotlb_window_result {
    std::string platform;            // "inline" or the preset/file
    bool iommu = true;
    std::string iommu_name;          // "VT-d", "AMD-Vi"
    unsigned iotlb_entries = 0, iotlb_large_entries = 0, walk_slots = 0;
    std::vector<window_point> points;
};

// Splits "name=value" (input_error for a missing '=' or an empty name).
std::pair<std::string, std::string> parse_set(const std::string& text);

// Throws input_error for a bad --set (unknown name, bad value) or platform; std::runtime_error if a
// read of the experiment fails (the setup is broken: nothing a user set can cause it).
iotlb_window_result run_iotlb_window(const iotlb_window_config& cfg);

// The default sweep: 4 KiB ... 64 MiB.
std::vector<u64> default_windows();

} // namespace iommusim::bench

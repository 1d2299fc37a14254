// Builds the models of a platform from its description (used by platform's constructor, which makes
// every model a child of the platform module). Linear in the number of functions: one pass over the
// tree, per-bus slot counts for the multifunction bit, no searches.
//
// Configuration errors (duplicate devfn, children under a non-bridge, parameters no hardware could have,
// overlapping root bus numbers) are reported as input_error with the description's source and `where`.
#pragma once
#include "platforms/platform.h"

namespace iommusim::platforms {

class platform_builder {
public:
    platform_builder(platform& target, const platform_params& params);
    void build(const platform_desc& desc);

    // Which model a function becomes: "pci_bridge" (type 1, including captured type 1 headers),
    // "dma_engine" (kind dma_engine), "intel_pch_lpc" (a type 0 function with an RCBA register) or
    // "pci_endpoint".
    static const char* model_kind(const pci::function_params& p);

private:
    void plan_root_complexes(const platform_desc& desc);
    void build_bus(const std::vector<function_desc>& funcs, pci::pci_bus& bus, size_t root, pci::pci_function* parent);
    std::unique_ptr<pci::pci_function> make_model(const function_desc& f, bool multifunction);
    std::string module_name(const function_desc& f) const;

    platform& m_platform;
    const platform_params& m_params;
    std::string m_source;
    size_t m_count = 0;
};

} // namespace iommusim::platforms

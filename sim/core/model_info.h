// Self-description of models and option sets, for `iommusim describe`: every parameter is declared once,
// with its default and a description, next to the code that uses it.
#pragma once
#include <string>
#include <vector>

namespace iommusim {

struct param_info {
    std::string name;        // as written in JSON
    std::string type;        // "u32", "bool", "string", "ns", ...
    std::string default_value;
    std::string description;
};

struct model_info {
    std::string name;        // e.g. "pci_bridge", "kernel"
    std::string summary;
    std::vector<param_info> params;
};

// Registry of everything `describe` can print. Each layer exposes a function returning its model_info
// list and the CLI adds them explicitly (static self-registration would be dropped by the linker when
// the object file sits unreferenced in a static library).
class model_registry {
public:
    static model_registry& instance();
    void add(model_info info);
    const model_info* find(const std::string& name) const;
    const std::vector<model_info>& all() const { return m_models; }

private:
    std::vector<model_info> m_models;
};

} // namespace iommusim

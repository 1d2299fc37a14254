#include "sim/core/model_info.h"

#include <algorithm>

namespace iommusim {

model_registry& model_registry::instance() {
    static model_registry registry;
    return registry;
}

void model_registry::add(model_info info) {
    auto pos = std::lower_bound(m_models.begin(), m_models.end(), info.name,
                                [](const model_info& m, const std::string& n) { return m.name < n; });
    m_models.insert(pos, std::move(info));
}

const model_info* model_registry::find(const std::string& name) const {
    for (const auto& m : m_models)
        if (m.name == name) return &m;
    return nullptr;
}

} // namespace iommusim

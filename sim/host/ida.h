// Linux's IDA as iommu_group_alloc uses it: ida_alloc() hands out the lowest free non-negative id,
// ida_free() returns one for reuse.
#pragma once
#include <vector>

namespace iommusim::host {

class ida {
public:
    int alloc() {
        while (m_hint < m_used.size() && m_used[m_hint]) ++m_hint;
        if (m_hint == m_used.size()) m_used.push_back(false);
        m_used[m_hint] = true;
        return int(m_hint++);
    }
    void free(int id) {
        if (id < 0 || unsigned(id) >= m_used.size()) return;
        m_used[unsigned(id)] = false;
        if (unsigned(id) < m_hint) m_hint = unsigned(id);
    }
    bool in_use(int id) const { return id >= 0 && unsigned(id) < m_used.size() && m_used[unsigned(id)]; }

private:
    std::vector<bool> m_used;
    unsigned m_hint = 0;  // every id below it is in use
};

} // namespace iommusim::host

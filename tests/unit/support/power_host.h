// A POWER host for the VFIO core: the fake kernel's groups (vfio_fixture.h), each given a fake PE
// (fake_tce.h), the sPAPR backend registered instead of type1, EEH on.
#pragma once
#include "fake_tce.h"
#include "vfio_fixture.h"

#include <map>
#include <memory>

namespace iommusim::test {

struct power_host : fake_vfio_host {
    std::map<int, std::unique_ptr<fake_table_group>> pes;
    bool eeh = true;
    using fake_vfio_host::fake_vfio_host;
    bool tce_iommu() const override { return true; }
    host::iommu_table_group* table_group(int g) override {
        auto it = pes.find(g);
        return it == pes.end() ? nullptr : it->second.get();
    }
    bool eeh_enabled() const override { return eeh; }
};

inline fake_tce_table& as_fake(const std::shared_ptr<host::iommu_table>& t) {
    return dynamic_cast<fake_tce_table&>(*t);
}

} // namespace iommusim::test

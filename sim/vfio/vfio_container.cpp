#include "sim/vfio/vfio_container.h"

#include "sim/vfio/vfio_group.h"

#include <linux/vfio.h>

#include <algorithm>
#include <cerrno>

namespace iommusim::vfio {

vfio_container::vfio_container(vfio_host& host, vfio_mm& mm, const vfio_options& options, mm_iommu_regions* prereg)
    : m_host(host), m_mm(mm), m_options(options), m_prereg(prereg) {}

vfio_container::~vfio_container() = default;

long vfio_container::ioctl(unsigned long request, unsigned long arg) {
    switch (request) {
    case VFIO_GET_API_VERSION: return VFIO_API_VERSION;
    case VFIO_CHECK_EXTENSION: return check_extension(arg);
    case VFIO_SET_IOMMU: return set_iommu(arg);
    default:
        // Passed to the backend; without one the container answers -EINVAL, not -ENOTTY.
        if (!m_backend) return -EINVAL;
        return m_backend->ioctl(request, arg);
    }
}

// vfio_container_ioctl_check_extension: without a backend every registered backend is asked (type1 on x86,
// sPAPR TCE on POWER; noiommu is not registered); with one, only that backend with its instance.
long vfio_container::check_extension(unsigned long ext) const {
    if (m_backend) return m_backend->check_extension(ext);
    if (m_host.tce_iommu()) return vfio_iommu_spapr_tce::static_check_extension(m_host, ext);
    return vfio_iommu_type1::static_check_extension(ext);
}

// vfio_ioctl_set_iommu.
long vfio_container::set_iommu(unsigned long type) {
    // Privilege comes from groups: no group, no IOMMU; and there is no way to change it once set.
    if (m_groups.empty() || m_backend) return -EINVAL;
    std::unique_ptr<vfio_iommu_driver> backend;
    if (m_host.tce_iommu()) {
        // tce_iommu_open: SPAPR_TCE is v1, SPAPR_TCE_v2 is v2; nothing else (EEH is an extension, not a type).
        if (type != VFIO_SPAPR_TCE_IOMMU && type != VFIO_SPAPR_TCE_v2_IOMMU) return -ENODEV;
        if (!m_prereg) return -ENODEV;
        backend = std::make_unique<vfio_iommu_spapr_tce>(m_host, m_mm, *m_prereg, type == VFIO_SPAPR_TCE_v2_IOMMU);
        return attach_all(std::move(backend));
    }
    if (vfio_iommu_type1::static_check_extension(type) <= 0) return -ENODEV;
    // vfio_iommu_type1_open: TYPE1 is v1; TYPE1v2 and the old NESTING type are v2.
    // NESTING opens as v2 and then needs iommu_enable_nesting at attach, which no domain of the generic
    // host IOMMU API offers: that attach fails as an IOMMU without nesting support does (-ENODEV).
    if (type == VFIO_TYPE1_NESTING_IOMMU) return -ENODEV;
    if (type != VFIO_TYPE1_IOMMU && type != VFIO_TYPE1v2_IOMMU) return -ENODEV;
    backend = std::make_unique<vfio_iommu_type1>(m_host, m_mm, type == VFIO_TYPE1v2_IOMMU, m_options.type1);
    return attach_all(std::move(backend));
}

// __vfio_container_attach_groups: all or nothing.
long vfio_container::attach_all(std::unique_ptr<vfio_iommu_driver> backend) {
    std::vector<int> attached;
    for (vfio_group* g : m_groups) {
        if (int rc = backend->attach_group(g->id())) {
            for (int a : attached) backend->detach_group(a);
            return rc;
        }
        attached.push_back(g->id());
    }
    m_backend = std::move(backend);
    return 0;
}

int vfio_container::attach_group(vfio_group& group) {
    if (m_backend)
        if (int rc = m_backend->attach_group(group.id())) return rc;
    m_groups.push_back(&group);
    return 0;
}

void vfio_container::detach_group(vfio_group& group) {
    if (m_backend) m_backend->detach_group(group.id());
    m_groups.erase(std::remove(m_groups.begin(), m_groups.end(), &group), m_groups.end());
    if (m_groups.empty()) m_backend.reset();  // back to the "no IOMMU" state
}

} // namespace iommusim::vfio

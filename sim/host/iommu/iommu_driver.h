// What an IOMMU driver provides to the IOMMU core (Linux's struct iommu_ops plus the interrupt
// remapping side of irq_remap_ops), independent of the hardware shape behind it: page tables (VT-d,
// AMD-Vi) or windows of TCEs (POWER).
#pragma once
#include "sim/host/iommu/iommu_domain.h"

#include <memory>
#include <optional>

namespace iommusim::host {

struct pci_dev;

// Vectors allocated for one device with interrupt remapping (or compatibility format without it).
struct remapped_msi {
    int index = -1;            // first interrupt-remapping table entry (-1: compatibility format)
    unsigned count = 0;        // entries, a power of two for multi-vector MSI
    int unit = -1;             // the driver's remapping unit holding the entries
    std::vector<msi_msg> msgs; // one message per vector, what the device is programmed with
};

class iommu_driver {
public:
    virtual ~iommu_driver() = default;

    virtual const char* name() const = 0;
    // probe_device: 0 when this driver's hardware translates for dev, -ENODEV otherwise.
    virtual int probe_device(pci_dev& dev) = 0;
    virtual void release_device(pci_dev& dev) { (void)dev; }
    // iommu_capable() for a device this driver probed.
    virtual bool capable(const pci_dev& dev, iommu_cap cap) const = 0;
    // domain_alloc: nullptr when the type is not supported (e.g. identity without pass-through).
    virtual std::shared_ptr<iommu_domain> domain_alloc(iommu_domain_type type) = 0;
    // get_resv_regions: regions the device's DMA must not use (or must use identity mapped).
    virtual std::vector<iommu_resv_region> get_resv_regions(const pci_dev& dev) const = 0;
    // def_domain_type: a type the driver insists on for dev (Linux: identity for some GFX/Azalia).
    virtual std::optional<iommu_domain_type> def_domain_type(const pci_dev& dev) const {
        (void)dev;
        return std::nullopt;
    }

    // Interrupt remapping (IOMMU_CAP_INTR_REMAP).
    virtual bool irq_remapping_enabled() const { return false; }
    // Allocate `count` vectors (power of two) for dev targeting `dest` (APIC ID) with `vector` as the
    // first vector; fills out (remappable-format messages). -ENODEV when remapping is off.
    virtual int msi_alloc(pci_dev& dev, unsigned count, u8 vector, u32 dest, remapped_msi& out) {
        (void)dev; (void)count; (void)vector; (void)dest; (void)out;
        return -ENODEV;
    }
    virtual void msi_free(const remapped_msi& msi) { (void)msi; }
};

} // namespace iommusim::host

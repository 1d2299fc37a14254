// Driver-side helper for the dma_engine: programs and kicks an operation through MMIO writes to its
// BAR0, as a device driver would. It knows nothing of the simulated kernel: give it the MMIO accessors
// (e.g. host::pci_host_ops::mmio_read / mmio_write bound in lambdas) and the address software assigned
// to BAR0. Header-only.
#pragma once
#include "models/pci/dma_engine.h"

#include <functional>

namespace iommusim::pci {

class dma_engine_driver {
public:
    using read_fn = std::function<u64(u64 addr, unsigned len)>;
    using write_fn = std::function<void(u64 addr, unsigned len, u64 value)>;

    dma_engine_driver(read_fn read, write_fn write, u64 bar0)
        : m_read(std::move(read)), m_write(std::move(write)), m_bar0(bar0) {}

    bool present() const { return u32(m_read(m_bar0 + dma_engine::REG_ID, 4)) == dma_engine::ID_VALUE; }

    struct operation {
        u32 op = dma_engine::OP_MEM_TO_BUF;
        u64 src = 0, dst = 0;
        u32 len = 0;
        u32 pattern = 0;
        bool translated = false;
        std::optional<u32> pasid;
        u32 irq = dma_engine::IRQ_NONE; // completion interrupt kind
        unsigned vector = 0;
    };

    // Clears STATUS, programs the registers, rings the doorbell and returns STATUS.
    u32 run(const operation& o) {
        reg_write(dma_engine::REG_STATUS, 4, 0xffffffffu);
        reg_write(dma_engine::REG_SRC, 8, o.src);
        reg_write(dma_engine::REG_DST, 8, o.dst);
        reg_write(dma_engine::REG_LEN, 4, o.len);
        reg_write(dma_engine::REG_PATTERN, 4, o.pattern);
        reg_write(dma_engine::REG_PASID, 4, o.pasid.value_or(0));
        u32 ctrl = (o.op & dma_engine::CTRL_OP) | (o.irq & 3) << dma_engine::CTRL_IRQ_SHIFT |
                   (o.vector & 0xff) << dma_engine::CTRL_VECTOR_SHIFT;
        if (o.translated) ctrl |= dma_engine::CTRL_TRANSLATED;
        if (o.pasid) ctrl |= dma_engine::CTRL_PASID;
        reg_write(dma_engine::REG_CTRL, 4, ctrl);
        reg_write(dma_engine::REG_DOORBELL, 4, 1);
        return status();
    }
    u32 status() { return u32(reg_read(dma_engine::REG_STATUS, 4)); }
    static u32 error_code(u32 status) { return (status >> 8) & 0xff; }

    void write_buffer(u64 offset, const unsigned char* data, size_t len) {
        for (size_t i = 0; i < len; ++i) reg_write(dma_engine::BUFFER_OFFSET + offset + i, 1, data[i]);
    }
    u64 read_buffer(u64 offset, unsigned len) { return reg_read(dma_engine::BUFFER_OFFSET + offset, len); }

    void assert_intx() { reg_write(dma_engine::REG_IRQ, 4, 1); }
    void deassert_intx() { reg_write(dma_engine::REG_IRQ, 4, 2); }
    void send_msi(unsigned vector) { reg_write(dma_engine::REG_IRQ, 4, 3 | (vector & 0xff) << 8); }
    void send_msix(unsigned vector) { reg_write(dma_engine::REG_IRQ, 4, 3 | 4 | (vector & 0xff) << 8); }
    // MSI-X table entry in BAR0 (PCI 3.0 §6.8.2.6-9).
    void program_msix(unsigned vector, u64 addr, u32 data, bool masked) {
        const u64 e = dma_engine::MSIX_TABLE + 16 * u64(vector);
        reg_write(e, 8, addr);
        reg_write(e + 8, 4, data);
        reg_write(e + 12, 4, masked ? 1 : 0);
    }

    u64 reg_read(u64 off, unsigned len) { return m_read(m_bar0 + off, len); }
    void reg_write(u64 off, unsigned len, u64 v) { m_write(m_bar0 + off, len, v); }

private:
    read_fn m_read;
    write_fn m_write;
    u64 m_bar0;
};

} // namespace iommusim::pci

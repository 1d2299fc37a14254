// A programmable DMA engine endpoint for testbenches and scenarios: BAR0 holds a small register file, an
// on-device buffer and the MSI-X table/PBA. Software writes SRC, DST, LEN and CTRL, then DOORBELL; the
// engine runs the transfer at once (loosely timed; last_duration() holds the requests' summed delay) as
// upstream memory requests through issue_dma with its requester ID, in pieces that never cross a 4 KiB
// boundary (PCIe §2.2.7) and stay within Max_Payload_Size (writes) / Max_Read_Request_Size (reads).
// Completion is reported in STATUS and, if CTRL asks for it, by INTx, MSI or MSI-X.
//
// BAR0 (64 KiB) — offsets, little-endian:
//   0x000 ID        RO  0x454d4144 ("DAME" little-endian bytes D A M E)
//   0x008 SRC       RW  64-bit: memory address, or buffer offset for OP_BUF_TO_MEM
//   0x010 DST       RW  64-bit: memory address, or buffer offset for OP_MEM_TO_BUF / OP_COMPARE
//   0x018 LEN       RW  bytes, 1..max (buffer operations: within the 16 KiB buffer; fill: at most 1 MiB)
//   0x01c CTRL      RW  [1:0] OP (0 memory->buffer, 1 buffer->memory, 2 fill memory with PATTERN,
//                       3 compare memory at SRC with the buffer at DST); [2] translated (AT = 2);
//                       [3] PASID valid; [5:4] completion interrupt (0 none, 1 INTx, 2 MSI, 3 MSI-X);
//                       [15:8] vector for MSI / MSI-X
//   0x020 PATTERN   RW  32-bit fill pattern (repeated, little-endian)
//   0x024 PASID     RW  [19:0]
//   0x028 DOORBELL  WO  any write starts the programmed operation
//   0x02c STATUS    RW1C [0] DONE, [1] ERROR, [2] MISCOMPARE, [3] IRQ_FAILED (interrupt not deliverable);
//                       [15:8] ERROR_CODE RO (see error_code), cleared with ERROR
//   0x030 BYTES     RO  bytes transferred by the last operation
//   0x038 ERR_ADDR  RO  64-bit: address of the failing request
//   0x040 IRQ       WO  [1:0] 1 assert INTx, 2 deassert INTx, 3 send MSI; [2] MSI-X instead of MSI;
//                       [15:8] vector
//   0x4000-0x7fff   on-device buffer (RW)
//   0x8000          MSI-X table (16 bytes per entry), 0x9000 PBA
#pragma once
#include "models/pci/pci_function.h"

#include <functional>
#include <vector>

namespace iommusim::pci {

struct dma_engine_limits {
    unsigned max_payload = 256;      // Max_Payload_Size for writes (PCIe §7.5.3.4)
    unsigned max_read_request = 512; // Max_Read_Request_Size
    double per_byte_ns = 0;          // device-side cost per byte moved
};

class dma_engine : public pci_function {
public:
    // BAR0 layout (see above).
    static constexpr u64 REG_ID = 0x000, REG_SRC = 0x008, REG_DST = 0x010, REG_LEN = 0x018, REG_CTRL = 0x01c,
                         REG_PATTERN = 0x020, REG_PASID = 0x024, REG_DOORBELL = 0x028, REG_STATUS = 0x02c,
                         REG_BYTES = 0x030, REG_ERR_ADDR = 0x038, REG_IRQ = 0x040;
    static constexpr u64 BUFFER_OFFSET = 0x4000, BUFFER_SIZE = 0x4000, MSIX_TABLE = 0x8000, MSIX_PBA = 0x9000;
    static constexpr u64 BAR0_SIZE = 0x10000, MAX_FILL = u64(1) << 20;
    static constexpr u32 ID_VALUE = 0x454d4144;
    enum op : u32 { OP_MEM_TO_BUF = 0, OP_BUF_TO_MEM = 1, OP_FILL = 2, OP_COMPARE = 3 };
    static constexpr u32 CTRL_OP = 0x3, CTRL_TRANSLATED = 0x4, CTRL_PASID = 0x8, CTRL_IRQ_SHIFT = 4,
                         CTRL_IRQ_MASK = 0x30, CTRL_VECTOR_SHIFT = 8;
    enum irq_kind : u32 { IRQ_NONE = 0, IRQ_INTX = 1, IRQ_MSI = 2, IRQ_MSIX = 3 };
    static constexpr u32 STATUS_DONE = 0x1, STATUS_ERROR = 0x2, STATUS_MISCOMPARE = 0x4, STATUS_IRQ_FAILED = 0x8;
    enum error_code : u32 {
        ERR_NONE = 0,
        ERR_LENGTH = 1,       // LEN zero or too large for the operation
        ERR_BUFFER = 2,       // buffer offset + LEN outside the buffer
        ERR_ADDRESS = 3,      // address + LEN wraps the 64-bit space
        ERR_UNSUPPORTED = 4,  // a request completed with Unsupported Request / address error
        ERR_ABORT = 5,        // a request completed with Completer Abort (ACS, IOMMU fault, ...)
        ERR_NOT_MASTER = 6,   // COMMAND.MASTER clear: nothing was sent
    };

    using limits = dma_engine_limits;

    dma_engine(sc_core::sc_module_name name, u8 devfn, config_space cfg, const pci_timing& timing = {},
               const limits& lim = {});

    // INTx as the interrupt line (PCI 3.0 §6.8 / §2.2.6): asserted && !COMMAND.INTX_DISABLE. The callback
    // fires on every change of the line.
    bool intx_line() const;
    void on_intx(std::function<void(bool)> cb) { m_on_intx = std::move(cb); }

    // What the IRQ register does, as sideband calls for a harness that must not touch the function's
    // COMMAND register (a VFIO user owns it): set or clear the INTx condition, and signal MSI / MSI-X
    // `vector` from the capability or table software programmed. signal() is false when the message
    // could not be sent (not enabled, vector out of range, the write failed: STATUS.IRQ_FAILED); a masked
    // vector sets its Pending bit and counts as signalled (PCI 3.0 §6.8.1.7, §6.8.2.10).
    void set_intx_level(bool asserted) { set_intx(asserted); }
    bool signal(irq_kind kind, unsigned vector) { return raise(kind, vector); }

    u32 status() const { return m_status; }
    const unsigned char* buffer() const { return m_buffer.data(); }
    // Annotated time of the requests of the last operation (fabric + memory); the register write that
    // rang the doorbell itself completes in mmio_access_ns.
    sc_core::sc_time last_duration() const { return m_last_duration; }

protected:
    bool bar_read(unsigned bar, u64 offset, unsigned char* data, unsigned len) override;
    bool bar_write(unsigned bar, u64 offset, const unsigned char* data, unsigned len) override;
    void config_written(u16 reg, unsigned len) override;

private:
    u64 reg_read(u64 off, unsigned len) const;
    void reg_write(u64 off, unsigned len, u64 v);
    void run();
    bool transfer(bool write, u64 addr, unsigned char* data, u64 len);
    void fail(error_code code, u64 addr);
    bool raise(irq_kind kind, unsigned vector);
    void send_pending_msi();
    void send_pending_msix();
    void set_intx(bool asserted);
    bool send_message(u64 addr, u32 data);
    void update_intx_line();

    limits m_limits;
    u64 m_src = 0, m_dst = 0;
    u32 m_len = 0, m_ctrl = 0, m_pattern = 0, m_pasid = 0, m_status = 0, m_bytes = 0;
    u64 m_err_addr = 0;
    bool m_intx = false, m_line = false;
    std::function<void(bool)> m_on_intx;
    std::vector<unsigned char> m_buffer, m_msix_table;
    std::vector<u64> m_pba;
    sc_core::sc_time m_last_duration = sc_core::SC_ZERO_TIME;
};

} // namespace iommusim::pci

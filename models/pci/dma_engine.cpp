#include "models/pci/dma_engine.h"

#include "models/pci/cfg/pci_regs.h"
#include "sim/tlm/payload_data.h"

#include <algorithm>
#include <cstring>

namespace iommusim::pci {

dma_engine::dma_engine(sc_core::sc_module_name name, u8 devfn, config_space cfg, const pci_timing& timing,
                       const limits& lim)
    : pci_function(name, devfn, std::move(cfg), timing), m_limits(lim), m_buffer(BUFFER_SIZE),
      m_msix_table(MSIX_PBA - MSIX_TABLE), m_pba((MSIX_PBA - MSIX_TABLE) / 16 / 64 + 1) {
    if (m_limits.max_payload == 0) m_limits.max_payload = 128;
    if (m_limits.max_read_request == 0) m_limits.max_read_request = 128;
    // PCI 3.0 §6.8.2.9: every entry's Mask bit is 1 after reset.
    for (size_t e = 0; e + 16 <= m_msix_table.size(); e += 16) m_msix_table[e + 12] = 1;
}

bool dma_engine::bar_read(unsigned bar, u64 off, unsigned char* data, unsigned len) {
    if (bar != 0 || off + len > BAR0_SIZE) return false;
    if (off >= BUFFER_OFFSET && off + len <= BUFFER_OFFSET + BUFFER_SIZE) {
        std::memcpy(data, &m_buffer[off - BUFFER_OFFSET], len);
    } else if (off >= MSIX_TABLE && off + len <= MSIX_PBA) {
        std::memcpy(data, &m_msix_table[off - MSIX_TABLE], len);
    } else if (off >= MSIX_PBA && off + len <= MSIX_PBA + 8 * m_pba.size() && len <= 8 && off % len == 0) {
        tlmx::put_le(data, len, m_pba[(off - MSIX_PBA) / 8] >> (8 * (off % 8)));
    } else if (off < BUFFER_OFFSET && len <= 8 && off % len == 0) {
        tlmx::put_le(data, len, reg_read(off, len));
    } else {
        std::memset(data, 0, len);
    }
    return true;
}

bool dma_engine::bar_write(unsigned bar, u64 off, const unsigned char* data, unsigned len) {
    if (bar != 0 || off + len > BAR0_SIZE) return false;
    if (off >= BUFFER_OFFSET && off + len <= BUFFER_OFFSET + BUFFER_SIZE)
        std::memcpy(&m_buffer[off - BUFFER_OFFSET], data, len);
    else if (off >= MSIX_TABLE && off + len <= MSIX_PBA) {
        std::memcpy(&m_msix_table[off - MSIX_TABLE], data, len); // PBA is RO (PCI 3.0 §6.8.2.10)
        send_pending_msix();  // a vector unmasked with its Pending bit set
    } else if (off < BUFFER_OFFSET && len <= 8 && off % len == 0)
        reg_write(off, len, tlmx::get_le(data, len));
    return true; // other writes are ignored
}

u64 dma_engine::reg_read(u64 off, unsigned len) const {
    // Registers are 32-bit; SRC, DST and ERR_ADDR also take 64-bit accesses at their base.
    auto r32 = [&](u64 o) -> u32 {
        switch (o) {
        case REG_ID: return ID_VALUE;
        case REG_SRC: return u32(m_src);
        case REG_SRC + 4: return u32(m_src >> 32);
        case REG_DST: return u32(m_dst);
        case REG_DST + 4: return u32(m_dst >> 32);
        case REG_LEN: return m_len;
        case REG_CTRL: return m_ctrl;
        case REG_PATTERN: return m_pattern;
        case REG_PASID: return m_pasid;
        case REG_STATUS: return m_status;
        case REG_BYTES: return m_bytes;
        case REG_ERR_ADDR: return u32(m_err_addr);
        case REG_ERR_ADDR + 4: return u32(m_err_addr >> 32);
        default: return 0;
        }
    };
    const u64 base = off & ~u64(3);
    u64 v = r32(base);
    if (len == 8) v |= u64(r32(base + 4)) << 32;
    return (v >> (8 * (off & 3))) & (len == 8 ? ~u64(0) : (u64(1) << (8 * len)) - 1);
}

void dma_engine::reg_write(u64 off, unsigned len, u64 v) {
    auto merge64 = [&](u64& reg, u64 base) {
        const unsigned shift = unsigned(8 * (off - base));
        const u64 mask = (len == 8 ? ~u64(0) : (u64(1) << (8 * len)) - 1) << shift;
        reg = (reg & ~mask) | ((v << shift) & mask);
    };
    auto merge32 = [&](u32& reg, u64 base) {
        u64 r = reg;
        merge64(r, base);
        reg = u32(r);
    };
    if (off >= REG_SRC && off < REG_SRC + 8) return merge64(m_src, REG_SRC);
    if (off >= REG_DST && off < REG_DST + 8) return merge64(m_dst, REG_DST);
    if (len > 4) return; // the other registers are 32-bit
    if (off >= REG_LEN && off < REG_LEN + 4) return merge32(m_len, REG_LEN);
    if (off >= REG_CTRL && off < REG_CTRL + 4) return merge32(m_ctrl, REG_CTRL);
    if (off >= REG_PATTERN && off < REG_PATTERN + 4) return merge32(m_pattern, REG_PATTERN);
    if (off >= REG_PASID && off < REG_PASID + 4) {
        merge32(m_pasid, REG_PASID);
        m_pasid &= 0xfffff;
        return;
    }
    if (off == REG_DOORBELL) return run();
    if (off == REG_STATUS) {
        const u32 w1c = u32(v) & (STATUS_DONE | STATUS_ERROR | STATUS_MISCOMPARE | STATUS_IRQ_FAILED);
        m_status &= ~w1c;
        if (w1c & STATUS_ERROR) m_status &= ~0xff00u;
        return;
    }
    if (off == REG_IRQ) {
        const unsigned vector = (v >> 8) & 0xff;
        switch (v & 3) {
        case 1: set_intx(true); break;
        case 2: set_intx(false); break;
        case 3: raise((v & 4) ? IRQ_MSIX : IRQ_MSI, vector); break;
        default: break;
        }
    }
}

void dma_engine::fail(error_code code, u64 addr) {
    m_status = (m_status & ~0xff00u) | STATUS_ERROR | u32(code) << 8;
    m_err_addr = addr;
}

// One upstream request of at most one 4 KiB page and one max payload / read request (PCIe §2.2.7: a
// request must not cross a 4 KiB boundary).
bool dma_engine::transfer(bool write, u64 addr, unsigned char* data, u64 len) {
    const u64 max = write ? m_limits.max_payload : m_limits.max_read_request;
    while (len) {
        const u64 n = std::min({len, max, 0x1000 - (addr & 0xfff)});
        tlm::tlm_generic_payload gp;
        tlmx::init_payload(gp, write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND, addr, data, unsigned(n));
        tlmx::pci_extension ext;
        if (m_ctrl & CTRL_TRANSLATED) ext.at = tlmx::address_type::translated;
        if (m_ctrl & CTRL_PASID) ext.pasid = m_pasid;
        tlmx::scoped_extension scope(gp, &ext);
        issue_dma(gp, m_last_duration);
        switch (gp.get_response_status()) {
        case tlm::TLM_OK_RESPONSE: break;
        case tlm::TLM_ADDRESS_ERROR_RESPONSE: fail(ERR_UNSUPPORTED, addr); return false;
        default:
            const bool master = config().get16(PCI_COMMAND) & PCI_COMMAND_MASTER;
            fail(master ? ERR_ABORT : ERR_NOT_MASTER, addr);
            return false;
        }
        m_last_duration += sc_core::sc_time(m_limits.per_byte_ns * double(n), sc_core::SC_NS);
        m_bytes += u32(n);
        addr += n, data += n, len -= n;
    }
    return true;
}

void dma_engine::run() {
    m_status &= ~(STATUS_DONE | STATUS_ERROR | STATUS_MISCOMPARE | 0xff00u);
    m_bytes = 0;
    m_err_addr = 0;
    m_last_duration = sc_core::SC_ZERO_TIME;
    const u32 op = m_ctrl & CTRL_OP;
    const u64 len = m_len;
    const bool to_buffer = op == OP_MEM_TO_BUF || op == OP_COMPARE;
    const u64 mem = op == OP_BUF_TO_MEM || op == OP_FILL ? m_dst : m_src;
    const u64 buf = op == OP_BUF_TO_MEM ? m_src : m_dst;
    bool ok = true;
    if (len == 0 || (op == OP_FILL ? len > MAX_FILL : len > BUFFER_SIZE)) {
        fail(ERR_LENGTH, 0), ok = false;
    } else if (op != OP_FILL && (buf > BUFFER_SIZE || len > BUFFER_SIZE - buf)) {
        fail(ERR_BUFFER, buf), ok = false;
    } else if (mem + len < mem) {
        fail(ERR_ADDRESS, mem), ok = false;
    } else if (op == OP_FILL) {
        std::vector<unsigned char> pattern(std::min<u64>(len, 0x1000));
        for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = u8(m_pattern >> (8 * (i % 4)));
        for (u64 done = 0; ok && done < len;) {
            const u64 n = std::min<u64>(pattern.size(), len - done);
            ok = transfer(true, mem + done, pattern.data(), n); // pattern restarts every 4 KiB: 4 | 4096
            done += n;
        }
    } else if (to_buffer && op == OP_MEM_TO_BUF) {
        ok = transfer(false, mem, &m_buffer[buf], len);
    } else if (op == OP_BUF_TO_MEM) {
        ok = transfer(true, mem, &m_buffer[buf], len);
    } else { // compare
        std::vector<unsigned char> tmp(len);
        ok = transfer(false, mem, tmp.data(), len);
        if (ok && std::memcmp(tmp.data(), &m_buffer[buf], len) != 0) m_status |= STATUS_MISCOMPARE;
    }
    m_status |= STATUS_DONE;
    (void)ok;
    const auto irq = irq_kind((m_ctrl & CTRL_IRQ_MASK) >> CTRL_IRQ_SHIFT);
    if (irq != IRQ_NONE) raise(irq, (m_ctrl >> CTRL_VECTOR_SHIFT) & 0xff);
}

bool dma_engine::send_message(u64 addr, u32 data) {
    unsigned char b[4];
    tlmx::put_le(b, 4, data);
    tlm::tlm_generic_payload gp;
    tlmx::init_payload(gp, tlm::TLM_WRITE_COMMAND, addr, b, 4);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    issue_dma(gp, delay); // PCI 3.0 §6.8.3.1: an MSI is a DWORD memory write, needing Bus Master Enable
    return gp.is_response_ok();
}

bool dma_engine::raise(irq_kind kind, unsigned vector) {
    bool sent = false;
    if (kind == IRQ_INTX) {
        set_intx(true);
        sent = config().get8(PCI_INTERRUPT_PIN) != 0;
    } else if (kind == IRQ_MSI) {
        // PCI 3.0 §6.8.1: enabled, vector below the enabled count, not masked; the vector number is
        // ORed into the low bits of the Message Data.
        if (const auto cap = config().find_capability(PCI_CAP_ID_MSI)) {
            const u16 flags = config().get16(*cap + PCI_MSI_FLAGS);
            const bool is64 = flags & PCI_MSI_FLAGS_64BIT;
            const unsigned enabled = 1u << ((flags & PCI_MSI_FLAGS_QSIZE) >> 4);
            u64 addr = config().get32(*cap + PCI_MSI_ADDRESS_LO);
            if (is64) addr |= u64(config().get32(*cap + PCI_MSI_ADDRESS_HI)) << 32;
            const u16 data = config().get16(*cap + (is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32));
            bool masked = false;
            if (flags & PCI_MSI_FLAGS_MASKBIT)
                masked = (config().get32(*cap + (is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32)) >> vector) & 1;
            if ((flags & PCI_MSI_FLAGS_ENABLE) && vector < enabled) {
                if (masked) {  // §6.8.1.7: the Pending bit instead of the message
                    const u16 pend = u16(*cap + (is64 ? PCI_MSI_PENDING_64 : PCI_MSI_PENDING_32));
                    config().set32(pend, config().get32(pend) | (1u << vector));
                    sent = true;
                } else {
                    sent = send_message(addr, u32(data & ~(enabled - 1)) | vector);
                }
            }
        }
    } else if (kind == IRQ_MSIX) {
        // PCI 3.0 §6.8.2: table entry {address lo, hi, data, vector control}; a masked vector (or the
        // function mask) sets its Pending Bit instead.
        if (const auto cap = config().find_capability(PCI_CAP_ID_MSIX)) {
            const u16 flags = config().get16(*cap + PCI_MSIX_FLAGS);
            const unsigned entries = (flags & 0x7ff) + 1;
            if ((flags & PCI_MSIX_FLAGS_ENABLE) && vector < entries && vector < m_msix_table.size() / 16) {
                const unsigned char* e = &m_msix_table[16 * vector];
                const bool masked = (flags & PCI_MSIX_FLAGS_MASKALL) || (tlmx::get_le(e + 12, 4) & 1);
                if (masked) {
                    m_pba[vector / 64] |= u64(1) << (vector % 64);
                    sent = true;
                } else {
                    m_pba[vector / 64] &= ~(u64(1) << (vector % 64));
                    sent = send_message(tlmx::get_le(e, 8), u32(tlmx::get_le(e + 8, 4)));
                }
            }
        }
    }
    if (!sent) m_status |= STATUS_IRQ_FAILED;
    return sent;
}

// PCI 3.0 §6.8.1.7: a vector unmasked while its Pending bit is set sends its message, and the bit clears.
void dma_engine::send_pending_msi() {
    const auto cap = config().find_capability(PCI_CAP_ID_MSI);
    if (!cap) return;
    const u16 flags = config().get16(*cap + PCI_MSI_FLAGS);
    if (!(flags & PCI_MSI_FLAGS_MASKBIT) || !(flags & PCI_MSI_FLAGS_ENABLE)) return;
    const bool is64 = flags & PCI_MSI_FLAGS_64BIT;
    const u16 pend = u16(*cap + (is64 ? PCI_MSI_PENDING_64 : PCI_MSI_PENDING_32));
    const u32 ready = config().get32(pend) & ~config().get32(*cap + (is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32));
    if (!ready) return;
    config().set32(pend, config().get32(pend) & ~ready);
    for (unsigned v = 0; v < 32; ++v)
        if ((ready >> v) & 1) raise(IRQ_MSI, v);
}

// PCI 3.0 §6.8.2.10: the same for MSI-X, when a vector's mask or the Function Mask clears.
void dma_engine::send_pending_msix() {
    const auto cap = config().find_capability(PCI_CAP_ID_MSIX);
    if (!cap) return;
    const u16 flags = config().get16(*cap + PCI_MSIX_FLAGS);
    if (!(flags & PCI_MSIX_FLAGS_ENABLE) || (flags & PCI_MSIX_FLAGS_MASKALL)) return;
    const unsigned entries = std::min<unsigned>((flags & 0x7ff) + 1, unsigned(m_msix_table.size() / 16));
    for (unsigned v = 0; v < entries; ++v) {
        const bool pending = (m_pba[v / 64] >> (v % 64)) & 1;
        if (pending && !(tlmx::get_le(&m_msix_table[16 * v + 12], 4) & 1)) raise(IRQ_MSIX, v);  // clears the bit
    }
}

void dma_engine::set_intx(bool asserted) {
    m_intx = asserted;
    // PCI 3.0 §6.2.3: Interrupt Status reflects the function's interrupt whatever INTX_DISABLE says.
    u16 st = config().get16(PCI_STATUS);
    config().set16(PCI_STATUS, asserted ? u16(st | PCI_STATUS_INTERRUPT) : u16(st & ~PCI_STATUS_INTERRUPT));
    update_intx_line();
}

bool dma_engine::intx_line() const {
    return m_intx && config().get8(PCI_INTERRUPT_PIN) != 0 && !(config().get16(PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE);
}

void dma_engine::update_intx_line() {
    const bool line = intx_line();
    if (line == m_line) return;
    m_line = line;
    if (m_on_intx) m_on_intx(line);
}

void dma_engine::config_written(u16 reg, unsigned len) {
    if (reg <= PCI_COMMAND + 1 && reg + len > PCI_COMMAND) update_intx_line(); // INTX_DISABLE, §6.2.2
    if (reg >= 0x40) {  // a capability: MSI mask bits or the MSI-X Function Mask may have cleared
        send_pending_msi();
        send_pending_msix();
    }
}

} // namespace iommusim::pci

#include "platforms/desc/lspci_parse.h"

#include "sim/core/input_error.h"

#include <cctype>
#include <cstdio>

namespace iommusim::platforms::lspci {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Reads exactly n hex digits at s[pos]; nullopt if any is missing.
std::optional<unsigned> hex_at(const std::string& s, size_t pos, size_t n) {
    if (pos + n > s.size()) return std::nullopt;
    unsigned v = 0;
    for (size_t i = 0; i < n; ++i) {
        int d = hex_value(s[pos + i]);
        if (d < 0) return std::nullopt;
        v = v << 4 | unsigned(d);
    }
    return v;
}

std::string excerpt(const std::string& s) {
    std::string out;
    for (char c : s.substr(0, 50)) out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
    return "\"" + out + (s.size() > 50 ? "...\"" : "\"");
}

class parser {
public:
    parser(const std::string& source) : m_source(source) {}

    parse_result run(const std::string& text) {
        size_t pos = 0;
        while (pos <= text.size()) {
            size_t nl = text.find('\n', pos);
            std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
            ++m_line;
            if (!line.empty() && line.back() == '\r') line.pop_back();
            handle(line);
            if (nl == std::string::npos) break;
            pos = nl + 1;
        }
        finish_device();
        if (m_out.records.empty()) fail(m_line, "no PCI devices found; expected the output of lspci -nn -vvv or lspci -xxxx");
        return std::move(m_out);
    }

private:
    [[noreturn]] void fail(unsigned line, const std::string& msg) const {
        throw input_error(m_source, "line " + std::to_string(line), msg);
    }

    void handle(const std::string& line) {
        size_t first = line.find_first_not_of(" \t");
        if (first == std::string::npos) return; // blank: separates devices, carries nothing
        if (first > 0) {
            if (!m_current) fail(m_line, "indented line before any device line: " + excerpt(line));
            if (!m_current->bytes.empty()) fail(m_line, "decoded line after the hex dump of " + bdf_string(*m_current));
            m_current->decoded.emplace_back(m_line, line.substr(first));
            return;
        }
        if (is_hex_row(line)) return hex_row(line);
        if (line.compare(0, 6, "lspci:") == 0 || line.compare(0, 7, "pcilib:") == 0) {
            m_out.ignored.push_back(line.substr(0, 200));
            return;
        }
        header(line);
    }

    // "00: 86 80 ..." or "100: 01 00 ...": hex digits, a colon, then a space (a device line has no space
    // right after its first colon).
    static bool is_hex_row(const std::string& line) {
        size_t i = 0;
        while (i < line.size() && i < 8 && hex_value(line[i]) >= 0) ++i;
        return i > 0 && i + 1 < line.size() && line[i] == ':' && line[i + 1] == ' ';
    }

    void hex_row(const std::string& line) {
        if (!m_current) fail(m_line, "hex row before any device line");
        auto& bytes = m_current->bytes;
        size_t colon = line.find(':');
        unsigned off = 0;
        for (size_t i = 0; i < colon; ++i) off = off << 4 | unsigned(hex_value(line[i]));
        if (colon > 3) fail(m_line, "hex row offset " + excerpt(line.substr(0, colon)) + " is out of range");
        if (off != bytes.size())
            fail(m_line, "hex row at offset " + line.substr(0, colon) + " out of sequence (expected " +
                 hex_str(unsigned(bytes.size())) + ")");
        if (off >= 4096) fail(m_line, "hex dump longer than 4096 bytes");
        size_t expected_width = off < 0x100 ? 2 : 3;
        if (colon != expected_width)
            fail(m_line, "hex row offset must be printed with " + std::to_string(expected_width) + " digits as lspci does");
        size_t p = colon + 1;
        for (int i = 0; i < 16; ++i) {
            if (p + 3 > line.size() || line[p] != ' ') fail(m_line, "hex row must hold 16 bytes separated by spaces");
            auto b = hex_at(line, p + 1, 2);
            if (!b) fail(m_line, "non-hex byte " + excerpt(line.substr(p + 1, 2)) + " in hex row");
            bytes.push_back(u8(*b));
            p += 3;
        }
        if (line.find_first_not_of(" \t", p) != std::string::npos) fail(m_line, "hex row has more than 16 bytes");
    }

    static std::string hex_str(unsigned v) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%02x", v);
        return buf;
    }

    // "[dddd:]bb:dd.f Class name [cccc]: Description [vvvv:dddd] (rev rr) (prog-if pp [Name])"
    void header(const std::string& line) {
        finish_device();
        record r;
        r.line = m_line;
        size_t p = 0;
        auto garbled = [&](const std::string& why) {
            fail(m_line, "garbled device line (" + why + "): " + excerpt(line) + "; expected e.g. "
                 "\"0000:00:1c.0 PCI bridge [0604]: Intel Corporation ... [8086:a110] (rev f1)\"");
        };
        // Domain: 4 hex digits then ':' (lspci -D); then bus 2, ':', slot 2, '.', function 1.
        if (line.size() > 12 && line[4] == ':' && line[7] == ':' && line[10] == '.') {
            auto dom = hex_at(line, 0, 4);
            if (!dom) garbled("bad domain");
            r.segment = u16(*dom), r.has_domain = true, p = 5;
        } else if (line.size() > 5 && hex_value(line[0]) >= 0 && line.find(':') > 4 && line.find(':') < 9) {
            garbled("domain does not fit 16 bits (Intel VMD domains such as 10000 are not supported)");
        }
        auto bus = hex_at(line, p, 2), slot = hex_at(line, p + 3, 2), fn = hex_at(line, p + 6, 1);
        if (!bus || !slot || !fn || line.size() < p + 8 || line[p + 2] != ':' || line[p + 5] != '.' || line[p + 7] != ' ')
            garbled("bad bus:slot.function");
        if (*slot > 31) garbled("slot above 1f");
        if (*fn > 7) garbled("function above 7");
        r.bus = u8(*bus), r.devfn = u8(*slot << 3 | *fn);
        std::string rest = line.substr(p + 8);
        size_t colon = rest.find(": ");
        if (colon == std::string::npos || colon == 0) garbled("no class name");
        r.class_name = rest.substr(0, colon);
        r.description = rest.substr(colon + 2);
        // -nn class id: trailing " [cccc]" of the class name
        if (r.class_name.size() >= 7 && r.class_name.back() == ']') {
            size_t open = r.class_name.rfind('[');
            if (open != std::string::npos && r.class_name.size() - open == 6) {
                auto id = hex_at(r.class_name, open + 1, 4);
                if (!id) garbled("bad class id");
                r.class_id = u16(*id);
                r.class_name = r.class_name.substr(0, open > 0 ? open - 1 : 0);
            }
        }
        parse_ids(r);
        m_current = std::move(r);
    }

    // Finds "[vvvv:dddd]", "(rev xx)", "(prog-if xx" in the description and cuts them off it.
    void parse_ids(record& r) {
        std::string& d = r.description;
        for (size_t open = d.find('['); open != std::string::npos; open = d.find('[', open + 1)) {
            if (open + 11 > d.size() || d[open + 5] != ':' || d[open + 10] != ']') continue;
            auto v = hex_at(d, open + 1, 4), dev = hex_at(d, open + 6, 4);
            if (!v || !dev) continue;
            r.vendor = u16(*v), r.device = u16(*dev);
            std::string tail = d.substr(open + 11);
            d = d.substr(0, open > 0 ? open - 1 : 0);
            if (size_t rev = tail.find("(rev "); rev != std::string::npos) {
                auto x = hex_at(tail, rev + 5, 2);
                if (!x) fail(m_line, "bad revision in " + excerpt(tail));
                r.revision = u8(*x);
            }
            if (size_t pi = tail.find("(prog-if "); pi != std::string::npos) {
                auto x = hex_at(tail, pi + 9, 2);
                if (!x) fail(m_line, "bad prog-if in " + excerpt(tail));
                r.prog_if = u8(*x);
            }
            return;
        }
        // Without -nn the revision still appears: "... (rev 01)"
        if (size_t rev = d.find("(rev "); rev != std::string::npos)
            if (auto x = hex_at(d, rev + 5, 2)) r.revision = u8(*x);
    }

    void finish_device() {
        if (!m_current) return;
        const auto& b = m_current->bytes;
        if (!b.empty() && b.size() != 64 && b.size() != 256 && b.size() != 4096)
            fail(m_line, "hex dump of " + bdf_string(*m_current) + " (line " + std::to_string(m_current->line) +
                 ") is truncated: " + std::to_string(b.size()) + " bytes, expected 64 (-x), 256 (-xxx) or 4096 (-xxxx)");
        m_out.records.push_back(std::move(*m_current));
        m_current.reset();
    }

    std::string m_source;
    unsigned m_line = 0;
    std::optional<record> m_current;
    parse_result m_out;
};

} // namespace

std::string bdf_string(const record& r) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%u", r.segment, r.bus, r.devfn >> 3, r.devfn & 7u);
    return buf;
}

parse_result parse(const std::string& text, const std::string& source) { return parser(source).run(text); }

} // namespace iommusim::platforms::lspci

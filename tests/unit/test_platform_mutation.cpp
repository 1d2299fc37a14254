// Deterministic robustness test: random byte, line and token mutations of every preset and oracle
// fixture must end in a platform_desc or an input_error — never another exception, a crash or a hang.
#include "platforms/desc/lspci_import.h"
#include "platforms/desc/platform_loader.h"
#include "sim/core/input_error.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

using namespace iommusim;
using namespace iommusim::platforms;

namespace {

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<std::string> split_lines(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

std::string join_lines(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& l : v) s += l + "\n";
    return s;
}

const char* k_tokens[] = {"0", "255", "256", "-1", "\"0x\"", "\"1c.9\"", "\"zz\"", "null", "true", "[]", "{}", "\"16Q\"",
                          "ff", "0000:00:1f.7", "secondary=", "[ffff:ffff]", "(rev", "Bus: primary=00, secondary=00, subordinate=ff",
                          "\tCapabilities: [40] Express (v2) Root Port (Slot+), MSI 00", "100:", "\"root_port\"", "\"captured\""};

std::string mutate(const std::string& text, std::mt19937& rng) {
    std::string s = text;
    auto pick = [&](size_t n) { return n ? size_t(rng() % n) : 0; };
    int edits = 1 + int(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
        switch (rng() % 7) {
        case 0: s[pick(s.size())] = char(rng() % 256); break;                       // byte flip
        case 1: s.erase(pick(s.size()), 1 + pick(8)); break;                          // delete bytes
        case 2: s.insert(pick(s.size()), k_tokens[pick(std::size(k_tokens))]); break; // insert token
        case 3: {                                                                     // drop a line
            auto lines = split_lines(s);
            if (!lines.empty()) lines.erase(lines.begin() + long(pick(lines.size())));
            s = join_lines(lines);
            break;
        }
        case 4: {                                                                     // duplicate a line
            auto lines = split_lines(s);
            if (!lines.empty()) {
                size_t i = pick(lines.size());
                lines.insert(lines.begin() + long(pick(lines.size())), lines[i]);
            }
            s = join_lines(lines);
            break;
        }
        case 5: {                                                                     // swap a digit
            size_t i = pick(s.size());
            if (std::isxdigit(static_cast<unsigned char>(s[i]))) s[i] = "0123456789abcdef"[pick(16)];
            break;
        }
        default: s.resize(pick(s.size() + 1)); break;                                 // truncate
        }
    }
    return s;
}

template <typename F>
void fuzz(const std::string& name, const std::string& text, unsigned rounds, std::mt19937& rng, F load) {
    for (unsigned i = 0; i < rounds; ++i) {
        std::string m = mutate(text, rng);
        try {
            load(m);
        } catch (const input_error&) {
        } catch (const std::exception& e) {
            FAIL(name << " round " << i << ": unexpected " << typeid(e).name() << ": " << e.what() << "\n--- input ---\n"
                      << m.substr(0, 2000));
        }
    }
}

} // namespace

TEST_CASE("mutated presets yield a platform or an input_error") {
    std::mt19937 rng(20240611);
    for (const auto& n : preset_names()) {
        std::string text = slurp(preset_path(n));
        fuzz(n, text, 400, rng, [&](const std::string& m) { load_platform_text(m, n); });
    }
}

TEST_CASE("mutated lspci fixtures yield a platform or an input_error") {
    std::mt19937 rng(7);
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(IOMMUSIM_FIXTURE_DIR "/oracle"))
        if (e.path().extension() == ".xxxx" || e.path().extension() == ".vvv") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    REQUIRE(!files.empty());
    for (const auto& f : files) {
        std::string text = slurp(f);
        fuzz(f.filename().string(), text, 120, rng, [&](const std::string& m) { import_lspci_text(m, f.string()); });
    }
}

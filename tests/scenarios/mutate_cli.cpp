// Mutation tests through the real `iommusim` executable: valid inputs (presets, scenarios, oracle lspci
// dumps) are mutated at random with a fixed seed, and every outcome must be a result (exit 0/1) or a clean
// error (exit 2 with a message naming the file) — never a crash, a sanitizer report or a hang.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct run_result {
    int exit_code = -1;       // -1 when killed by a signal
    int signal = 0;
    bool timed_out = false;
    std::string err;
};

run_result run_cli(const std::vector<std::string>& args, int timeout_s = 60) {
    const std::string err_path = (fs::temp_directory_path() / ("iommusim-mut-" + std::to_string(getpid()) + ".err")).string();
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const int devnull = open("/dev/null", O_WRONLY);
        const int errfd = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(devnull, 1);
        dup2(errfd, 2);
        std::vector<char*> argv;
        std::string exe = IOMMUSIM_EXE;
        argv.push_back(exe.data());
        std::vector<std::string> copy = args;
        for (auto& a : copy) argv.push_back(a.data());
        argv.push_back(nullptr);
        execv(exe.c_str(), argv.data());
        _exit(127);
    }
    run_result r;
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    for (;;) {
        const pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (std::chrono::steady_clock::now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            r.timed_out = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
    std::ifstream in(err_path);
    std::stringstream ss;
    ss << in.rdbuf();
    r.err = ss.str();
    fs::remove(err_path);
    return r;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Text-level mutations: flip, delete, duplicate or replace bytes, lines and numbers.
std::string mutate_text(std::string s, std::mt19937& rng) {
    if (s.empty()) return s;
    auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
    switch (pick(7)) {
    case 0: s[pick(s.size())] = char(pick(256)); break;                                  // random byte
    case 1: { size_t a = pick(s.size()); s.erase(a, pick(64) + 1); break; }               // delete a run
    case 2: s = s.substr(0, pick(s.size())); break;                                       // truncate
    case 3: { size_t a = pick(s.size()), n = pick(200) + 1; s.insert(pick(s.size()), s.substr(a, n)); break; } // duplicate
    case 4: {                                                                             // swap two lines
        std::vector<std::string> lines;
        std::stringstream ss(s);
        for (std::string l; std::getline(ss, l);) lines.push_back(l);
        if (lines.size() > 2) std::swap(lines[pick(lines.size())], lines[pick(lines.size())]);
        s.clear();
        for (auto& l : lines) s += l + "\n";
        break;
    }
    case 5: {                                                                             // hex digit change
        for (int tries = 0; tries < 50; ++tries) {
            size_t a = pick(s.size());
            if (std::isxdigit(static_cast<unsigned char>(s[a]))) { s[a] = "0123456789abcdef"[pick(16)]; break; }
        }
        break;
    }
    default: {                                                                            // a number made extreme
        static const char* extremes[] = {"-1", "99999999999999999999", "0", "256", "4096", "1e308", "\"x\"", "null"};
        for (int tries = 0; tries < 50; ++tries) {
            size_t a = pick(s.size());
            if (std::isdigit(static_cast<unsigned char>(s[a]))) {
                size_t b = a;
                while (b < s.size() && std::isalnum(static_cast<unsigned char>(s[b]))) ++b;
                s.replace(a, b - a, extremes[pick(8)]);
                break;
            }
        }
    }
    }
    return s;
}

// JSON-aware mutation: replace a random value somewhere in the tree by a value of another type.
nlohmann::json mutate_json(nlohmann::json j, std::mt19937& rng) {
    auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
    std::vector<nlohmann::json*> nodes;
    std::vector<nlohmann::json*> stack{&j};
    while (!stack.empty()) {
        auto* n = stack.back();
        stack.pop_back();
        nodes.push_back(n);
        if (n->is_structured())
            for (auto& c : *n) stack.push_back(&c);
    }
    static const nlohmann::json replacements[] = {nullptr, -1, 0, 4294967296LL, "", "0x", "zz:zz.z", true,
                                                  nlohmann::json::array(), nlohmann::json::object(), 3.5,
                                                  "0xffffffffffff", "1c.9", "switch_downstream"};
    auto* target = nodes[pick(nodes.size())];
    if (target->is_object() && !target->empty() && pick(3) == 0) {
        auto it = target->begin();
        std::advance(it, long(pick(target->size())));
        target->erase(it.key());
    } else if (target->is_array() && !target->empty() && pick(3) == 0) {
        target->push_back((*target)[pick(target->size())]);  // duplicate an element (addresses, buses)
    } else {
        *target = replacements[pick(std::size(replacements))];
    }
    return j;
}

void check_outcome(const run_result& r, const std::string& file, const std::string& what) {
    INFO(what << "\nstderr: " << r.err.substr(0, 2000));
    REQUIRE_FALSE(r.timed_out);
    REQUIRE(r.signal == 0);
    REQUIRE((r.exit_code == 0 || r.exit_code == 1 || r.exit_code == 2));
    REQUIRE(r.err.find("AddressSanitizer") == std::string::npos);
    REQUIRE(r.err.find("runtime error") == std::string::npos);
    if (r.exit_code == 2) REQUIRE(r.err.find(fs::path(file).filename().string()) != std::string::npos);
}

void mutate_and_run(const fs::path& source, bool as_json, const std::vector<std::string>& cmd_prefix,
                    const std::string& suffix, int count, unsigned seed) {
    std::mt19937 rng(seed);
    const std::string original = read_file(source);
    const fs::path dir = fs::temp_directory_path() / ("iommusim-mut-" + std::to_string(getpid()));
    fs::create_directories(dir);
    for (int i = 0; i < count; ++i) {
        std::string text;
        if (as_json && i % 2 == 0) text = mutate_json(nlohmann::json::parse(original), rng).dump(1);
        else text = mutate_text(original, rng);
        const fs::path f = dir / (source.stem().string() + "-m" + std::to_string(i) + suffix);
        std::ofstream(f, std::ios::binary) << text;
        auto args = cmd_prefix;
        args.push_back(f.string());
        check_outcome(run_cli(args), f.string(), "mutant " + f.string());
        fs::remove(f);
    }
    fs::remove_all(dir);
}

const fs::path src = IOMMUSIM_SOURCE_DIR;

} // namespace

TEST_CASE("mutated preset platforms give a result or a clean error") {
    unsigned seed = 1;
    for (const auto& e : fs::directory_iterator(src / "platforms/presets"))
        if (e.path().extension() == ".json") mutate_and_run(e.path(), true, {"-q", "groups"}, ".json", 40, seed++);
}

TEST_CASE("mutated lspci -xxxx dumps give a result or a clean error") {
    unsigned seed = 100;
    for (const char* name : {"switch", "pcie_pci_bridge", "rciep-amd"})
        mutate_and_run(src / "tests/fixtures/oracle" / (std::string(name) + ".xxxx"), false, {"-q", "groups", "--lspci"},
                       ".lspci", 40, seed++);
}

TEST_CASE("mutated lspci -vvv dumps give a result or a clean error") {
    unsigned seed = 200;
    for (const char* name : {"nested_switch", "pxb", "mf_endpoint"})
        mutate_and_run(src / "tests/fixtures/oracle" / (std::string(name) + ".vvv"), false, {"-q", "groups", "--lspci"},
                       ".lspci", 40, seed++);
}

TEST_CASE("mutated scenarios give a result or a clean error") {
    unsigned seed = 300;
    for (const auto& e : fs::recursive_directory_iterator(src / "scenarios"))
        if (e.path().extension() == ".json") mutate_and_run(e.path(), true, {"-q", "run"}, ".json", 15, seed++);
}

#include "sim/scenario/junit.h"

#include "sim/core/input_error.h"

#include <fmt/format.h>

#include <fstream>

namespace iommusim::scenario {

namespace {
std::string xml_escape(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        switch (c) {
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '&': out += "&amp;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        default:
            // XML 1.0 forbids most control characters even when escaped.
            if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') out += fmt::format("\\x{:02x}", c);
            else out += char(c);
        }
    }
    return out;
}
} // namespace

std::string to_junit_xml(const std::vector<junit_suite>& suites) {
    size_t tests = 0, failures = 0, errors = 0;
    for (const auto& s : suites)
        for (const auto& c : s.cases) {
            ++tests;
            failures += c.failed;
            errors += c.errored;
        }
    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out += fmt::format("<testsuites name=\"iommusim\" tests=\"{}\" failures=\"{}\" errors=\"{}\">\n", tests,
                       failures, errors);
    for (const auto& s : suites) {
        size_t f = 0, e = 0;
        double t = 0;
        for (const auto& c : s.cases) {
            f += c.failed;
            e += c.errored;
            t += c.seconds;
        }
        out += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.6f}\">\n",
                           xml_escape(s.name), s.cases.size(), f, e, t);
        for (const auto& c : s.cases) {
            out += fmt::format("    <testcase name=\"{}\" classname=\"{}\" time=\"{:.6f}\"", xml_escape(c.name),
                               xml_escape(c.classname), c.seconds);
            if (!c.failed && !c.errored && c.output.empty()) {
                out += "/>\n";
                continue;
            }
            out += ">\n";
            if (c.failed)
                out += fmt::format("      <failure message=\"{}\">{}</failure>\n", xml_escape(c.message.substr(0, 200)),
                                   xml_escape(c.message));
            if (c.errored)
                out += fmt::format("      <error message=\"{}\">{}</error>\n", xml_escape(c.message.substr(0, 200)),
                                   xml_escape(c.message));
            if (!c.output.empty()) out += fmt::format("      <system-out>{}</system-out>\n", xml_escape(c.output));
            out += "    </testcase>\n";
        }
        out += "  </testsuite>\n";
    }
    return out + "</testsuites>\n";
}

void write_junit_file(const std::string& path, const std::vector<junit_suite>& suites) {
    std::ofstream f(path);
    if (!f) throw input_error(path, "", "cannot write JUnit XML file");
    f << to_junit_xml(suites);
}

} // namespace iommusim::scenario

// JUnit XML (the Jenkins/GitLab dialect: testsuites > testsuite > testcase with failure/error), so CI
// systems show each scenario step as a test.
#pragma once
#include <string>
#include <vector>

namespace iommusim::scenario {

struct junit_case {
    std::string name, classname;
    double seconds = 0;
    bool failed = false, errored = false;
    std::string message;       // failure or error message
    std::string output;        // system-out
};

struct junit_suite {
    std::string name;
    std::vector<junit_case> cases;
};

std::string to_junit_xml(const std::vector<junit_suite>& suites);
void write_junit_file(const std::string& path, const std::vector<junit_suite>& suites);

} // namespace iommusim::scenario

#include "sim/scenario/runner.h"

#include "sim/core/input_error.h"
#include "sim/scenario/analysis.h"
#include "sim/scenario/calibration_run.h"
#include "sim/scenario/machine_session.h"
#include "sim/scenario/scenario.h"
#include "sim/scenario/step_checks.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <sys/wait.h>
#include <unistd.h>

namespace iommusim::scenario {

namespace {
nlohmann::json to_json(const scenario_outcome& o) {
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& s : o.steps)
        steps.push_back({{"name", s.name}, {"where", s.where}, {"passed", s.passed}, {"messages", s.messages}});
    return {{"file", o.file}, {"name", o.name}, {"result", int(o.result)}, {"error", o.error},
            {"seconds", o.seconds}, {"steps", steps}};
}

scenario_outcome from_json(const nlohmann::json& j) {
    scenario_outcome o;
    o.file = j.at("file");
    o.name = j.at("name");
    o.result = outcome(j.at("result").get<int>());
    o.error = j.at("error");
    o.seconds = j.at("seconds");
    for (const auto& s : j.at("steps"))
        o.steps.push_back({s.at("name"), s.at("where"), s.at("passed"), s.at("messages")});
    return o;
}
} // namespace

scenario_outcome run_scenario_here(const std::string& path) {
    scenario_outcome o;
    o.file = path;
    o.name = path;
    const auto t0 = std::chrono::steady_clock::now();
    try {
        const scenario_desc sc = load_scenario_file(path);
        o.name = sc.name;
        // Group-only scenarios boot without the IOMMU driver; machine steps need the whole machine; a
        // calibration scenario's one step builds its own.
        std::unique_ptr<machine_session> session;
        group_result groups_only;
        if (!sc.steps.empty() && sc.steps.front().op == step_op::iotlb_window) {
            const step& s = sc.steps.front();
            step_result sr = run_calibration(s);
            std::string name = step_label(s);
            if (!s.name.empty()) name += ": " + s.name;
            o.steps.push_back({name, s.where, sr.passed, sr.messages});
            if (!sr.passed) o.result = outcome::failed;
        } else if (needs_machine(sc)) {
            session = std::make_unique<machine_session>(sc);
        } else {
            groups_only = analyze_groups(sc.platform, sc.host);
        }
        const group_result& r = session ? session->groups() : groups_only;
        for (const auto& s : sc.steps) {
            if (s.op == step_op::iotlb_window) continue; // run above
            step_result sr = s.op == step_op::machine ? session->run(s) : check_step(s, r);
            std::string name = step_label(s);
            if (!s.name.empty()) name += ": " + s.name;
            o.steps.push_back({name, s.where, sr.passed, sr.messages});
            if (!sr.passed) o.result = outcome::failed;
        }
    } catch (const input_error& e) {
        o.result = outcome::error;
        o.error = e.with_file(path).what();
    } catch (const std::exception& e) {
        o.result = outcome::error;
        o.error = fmt::format("{}: internal error: {}", path, e.what());
    }
    o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return o;
}

scenario_outcome run_scenario_isolated(const std::string& path) {
    int fds[2];
    if (pipe(fds) != 0) return run_scenario_here(path);
    const pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return run_scenario_here(path);
    }
    if (pid == 0) {
        close(fds[0]);
        const std::string text = to_json(run_scenario_here(path)).dump();
        size_t done = 0;
        while (done < text.size()) {
            const ssize_t n = write(fds[1], text.data() + done, text.size() - done);
            if (n <= 0) break;
            done += size_t(n);
        }
        close(fds[1]);
        _exit(0); // skip SystemC's and the logger's static destructors in the child
    }
    close(fds[1]);
    std::string text;
    char buf[65536];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, size_t(n));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    try {
        if (!text.empty()) return from_json(nlohmann::json::parse(text));
    } catch (const std::exception&) {
    }
    scenario_outcome o;
    o.file = o.name = path;
    o.result = outcome::error;
    o.error = WIFSIGNALED(status) ? fmt::format("{}: the simulation died with signal {}", path, WTERMSIG(status))
                                  : fmt::format("{}: the simulation exited with status {} and no result", path,
                                                WEXITSTATUS(status));
    return o;
}

junit_suite to_junit(const scenario_outcome& o) {
    junit_suite s;
    s.name = o.name;
    if (o.result == outcome::error) {
        s.cases.push_back({"load and boot", o.file, o.seconds, false, true, o.error, ""});
        return s;
    }
    for (const auto& st : o.steps) {
        std::string msg;
        for (const auto& m : st.messages) msg += m + "\n";
        s.cases.push_back({st.name + " (" + st.where + ")", o.file, 0.0, !st.passed, false,
                           st.passed ? "" : msg, st.passed ? msg : ""});
    }
    if (!s.cases.empty()) s.cases.front().seconds = o.seconds;
    return s;
}

} // namespace iommusim::scenario

#include "sim/core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace iommusim {
spdlog::logger& log() {
    static std::shared_ptr<spdlog::logger> logger = [] {
        auto l = spdlog::stderr_color_st("iommusim");
        l->set_pattern("[%l] %v");
        l->set_level(spdlog::level::warn);
        return l;
    }();
    return *logger;
}
} // namespace iommusim

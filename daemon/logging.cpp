#include "daemon/logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <array>

namespace postern::daemon {

namespace {

constexpr std::array<const char*, 4> kNames{"ike", "net", "cfg", "dp"};
std::array<std::shared_ptr<spdlog::logger>, 4> g_loggers;

void make(const std::array<std::string, 4>& levels) {
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    for (std::size_t i = 0; i < kNames.size(); ++i) {
        spdlog::drop(kNames[i]);
        auto l = std::make_shared<spdlog::logger>(kNames[i], sink);
        l->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v");
        l->set_level(spdlog::level::from_str(levels[i]));
        l->flush_on(spdlog::level::trace);
        spdlog::register_logger(l);
        g_loggers[i] = std::move(l);
    }
}

}  // namespace

void setup_logging(const Config& c) {
    auto pick = [&](const std::string& s) { return s.empty() ? c.log_level : s; };
    make({pick(c.log.ike), pick(c.log.net), pick(c.log.cfg), pick(c.log.dp)});
}

void setup_logging(const std::string& level) {
    make({level, level, level, level});
}

spdlog::logger& logger(Subsystem s) {
    auto i = static_cast<std::size_t>(s);
    if (!g_loggers[i]) setup_logging();
    return *g_loggers[i];
}

}  // namespace postern::daemon

// spdlog loggers by subsystem, all to stderr (journald picks stderr up under systemd):
//   ike  the IKE engine's events      net  sockets, datagrams, signals
//   cfg  configuration                dp   the data plane
// Each has its own level ([log] ike = "debug"); server.log_level is the default.
#pragma once

#include <memory>

#include <spdlog/spdlog.h>

#include "daemon/config.hpp"

namespace postern::daemon {

enum class Subsystem { Ike, Net, Cfg, Dp };

// Creates (or re-creates) the four loggers with the config's levels.
void setup_logging(const Config& c);
// Before a config is loaded: every subsystem at `level`.
void setup_logging(const std::string& level = "info");

spdlog::logger& logger(Subsystem s);

}  // namespace postern::daemon

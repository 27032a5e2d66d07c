// Everything `postern check-config`, `posternd --check` and posternd's start-up check before
// anything runs: the config file, the files it names (through build_engine_config) and the
// pools. One path, so the checker and the daemon can never disagree about a config.
#pragma once

#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "daemon/address_pools.hpp"
#include "daemon/config.hpp"
#include "ike/engine_config.hpp"

namespace postern::daemon {

struct LoadedConfig {
    Config config;
    ike::EngineConfig engine;
    MemoryPools pools;
    std::vector<std::string> warnings;  // worth a log line, not an error
};

tl::expected<LoadedConfig, ConfigError> load_and_check(const std::string& path);

}  // namespace postern::daemon

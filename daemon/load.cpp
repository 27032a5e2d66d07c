#include "daemon/load.hpp"

#include "daemon/engine_setup.hpp"

namespace postern::daemon {

tl::expected<LoadedConfig, ConfigError> load_and_check(const std::string& path) {
    auto cfg = load_config(path);
    if (!cfg) return tl::unexpected(cfg.error());
    std::vector<std::string> warnings;
    auto engine = build_engine_config(*cfg, &warnings);
    if (!engine) return tl::unexpected(engine.error());
    auto pools = MemoryPools::create(*cfg);
    if (!pools) return tl::unexpected(pools.error());
    return LoadedConfig{std::move(*cfg), std::move(*engine), std::move(*pools),
                        std::move(warnings)};
}

}  // namespace postern::daemon

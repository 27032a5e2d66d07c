// posternd: the Postern IKEv2 daemon.
//
// Loads postern.toml, builds the IKE engine's configuration (reading certificates, keys and
// PSK files), binds UDP 500 and 4500 on every listen address and serves until SIGINT/SIGTERM.
// CHILD_SAs go to a data plane that only logs them: traffic is not forwarded yet (issues 4, 7).
//
// Exit status: 0 after a clean stop, 1 when a socket cannot be bound, 2 for configuration
// errors.

#include <CLI/CLI.hpp>

#include <cstdio>

#include "daemon/address_pools.hpp"
#include "daemon/config.hpp"
#include "daemon/dataplane_log.hpp"
#include "daemon/engine_setup.hpp"
#include "daemon/io_server.hpp"
#include "daemon/logging.hpp"
#include "daemon/summary.hpp"

using namespace postern::daemon;

int main(int argc, char** argv) {
    CLI::App app{"posternd - Postern IKEv2/IPsec VPN server"};
    std::string config_path = "/etc/postern/postern.toml";
    bool check_only = false;
    app.add_option("-c,--config", config_path, "configuration file")->capture_default_str();
    app.add_flag("--check", check_only,
                 "validate the configuration (and the files it names), print what would be "
                 "served and exit");
    app.set_version_flag("--version", "posternd 0.1.0");
    CLI11_PARSE(app, argc, argv);

    auto cfg = load_config(config_path);
    if (!cfg) {
        std::fprintf(stderr, "posternd: %s\n", cfg.error().to_string().c_str());
        return 2;
    }
    std::vector<std::string> warnings;
    auto engine = build_engine_config(*cfg, &warnings);
    if (!engine) {
        std::fprintf(stderr, "posternd: %s\n", engine.error().to_string().c_str());
        return 2;
    }
    auto pools = MemoryPools::create(*cfg);
    if (!pools) {
        std::fprintf(stderr, "posternd: %s\n", pools.error().to_string().c_str());
        return 2;
    }
    if (check_only) {
        for (const auto& w : warnings)
            std::fprintf(stderr, "posternd: warning: %s\n", w.c_str());
        std::printf("%s", describe(*cfg).c_str());
        std::printf("%s: OK\n", config_path.c_str());
        return 0;
    }

    setup_logging(*cfg);
    for (const auto& w : warnings)
        logger(Subsystem::Cfg).warn("{}", w);
    for (const auto& line : describe_lines(*cfg))
        logger(Subsystem::Cfg).info("{}", line);

    RecordingDataPlane dataplane;
    Server server(*cfg, std::move(*engine), std::move(*pools), dataplane);
    if (auto ok = server.open(); !ok) {
        std::fprintf(stderr, "posternd: %s\n", ok.error().c_str());
        return 1;
    }
    logger(Subsystem::Net)
        .info(
            "posternd 0.1.0 serving {} connection{}; data plane: {} - SAs are negotiated but "
            "traffic is NOT forwarded yet (issues 4, 7)",
            cfg->connections.size(), cfg->connections.size() == 1 ? "" : "s", dataplane.name());
    server.start_initiators();
    server.run();
    return 0;
}

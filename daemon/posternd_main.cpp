// posternd: the Postern IKEv2 daemon.
//
// Loads postern.toml, builds the IKE engine's configuration (reading certificates, keys and
// PSK files), binds UDP 500 and 4500 on every listen address and serves until SIGINT/SIGTERM.
// CHILD_SAs go to the userspace ESP data plane (a TUN device "postern%d", ESP-in-UDP on the
// NAT-T socket; daemon/tun_setup.hpp) with server.dataplane = "userspace" or "auto"; "auto"
// falls back to a data plane that only logs them when the TUN device cannot be created (no
// CAP_NET_ADMIN). "kernel" (XFRM) is refused: not implemented yet (issue 7).
//
// Exit status: 0 after a clean stop, 1 when a socket cannot be bound, 2 for configuration
// errors.

#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <optional>

#include "daemon/address_pools.hpp"
#include "daemon/config.hpp"
#include "daemon/dataplane_log.hpp"
#include "daemon/io_server.hpp"
#include "daemon/load.hpp"
#include "daemon/logging.hpp"
#include "daemon/summary.hpp"
#include "daemon/tun_setup.hpp"
#include "esp/engine/userspace_dataplane.hpp"

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

    auto loaded = load_and_check(config_path);
    if (!loaded) {
        std::fprintf(stderr, "posternd: %s\n", loaded.error().to_string().c_str());
        return 2;
    }
    const Config* cfg = &loaded->config;
    const auto& warnings = loaded->warnings;
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

    if (cfg->dataplane == DataPlaneKind::Kernel) {
        std::fprintf(stderr,
                     "posternd: server.dataplane = \"kernel\": the kernel (XFRM) data plane is not "
                     "implemented yet (issue 7); use \"userspace\" or \"auto\"\n");
        return 2;
    }
    auto& dplog = logger(Subsystem::Dp);
    if (cfg->dataplane == DataPlaneKind::Auto)
        dplog.info(
            "server.dataplane = \"auto\": using the userspace data plane (the kernel (XFRM) data "
            "plane is not implemented yet, issue 7)");
    // The userspace data plane: the TUN device, the writer on its queue, the ESP sender (bound
    // to the server below) and the engine. Declared before the server, which refers to them.
    std::optional<postern::esp::TunDevice> tun;
    if (auto dev = create_tun(*cfg)) {
        tun = std::move(*dev);
    } else if (cfg->dataplane == DataPlaneKind::Userspace) {
        std::fprintf(stderr, "posternd: %s\n", dev.error().c_str());
        return 1;
    } else {
        dplog.warn("{}: falling back to the log-only data plane, traffic is NOT forwarded",
                   dev.error());
    }
    ServerEspSender sender;
    std::unique_ptr<postern::esp::TunQueueWriter> tun_writer;
    std::unique_ptr<postern::esp::UserspaceDataPlane> userspace;
    RecordingDataPlane recording;
    std::unique_ptr<LoggedDataPlane> logged;
    if (tun) {
        tun_writer = std::make_unique<postern::esp::TunQueueWriter>(tun->queue(0));
        userspace = std::make_unique<postern::esp::UserspaceDataPlane>(sender, *tun_writer);
        userspace->set_event_callback([](const postern::esp::SaLifetimeEvent& e) {
            logger(Subsystem::Dp)
                .info("{} ESP SA {:08x} (reqid {}): lifetime event 0x{:02x} (not acted on yet)",
                      e.inbound ? "inbound" : "outbound", e.spi.value(), e.reqid, e.events);
        });
        logged = std::make_unique<LoggedDataPlane>(*userspace);
    }
    postern::DataPlane& dataplane = logged ? static_cast<postern::DataPlane&>(*logged) : recording;

    Server server(*cfg, std::move(loaded->engine), std::move(loaded->pools), dataplane);
    if (auto ok = server.open(); !ok) {
        std::fprintf(stderr, "posternd: %s\n", ok.error().c_str());
        return 1;
    }
    sender.attach(&server);
    if (userspace) {
        server.attach_userspace(*userspace, tun->queue(0));
        logger(Subsystem::Net)
            .info("posternd 0.1.0 serving {} connection{}; data plane: userspace ESP on {}",
                  cfg->connections.size(), cfg->connections.size() == 1 ? "" : "s", tun->name());
    } else {
        logger(Subsystem::Net)
            .info(
                "posternd 0.1.0 serving {} connection{}; data plane: {} - SAs are negotiated but "
                "traffic is NOT forwarded",
                cfg->connections.size(), cfg->connections.size() == 1 ? "" : "s", dataplane.name());
    }
    server.start_initiators();
    server.run();
    return 0;
}

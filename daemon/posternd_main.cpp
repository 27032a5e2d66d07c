// posternd: the Postern IKEv2 daemon.
//
// Loads postern.toml, builds the IKE engine's configuration (reading certificates, keys and
// PSK files), binds UDP 500 and 4500 on every listen address and serves until SIGINT/SIGTERM.
// CHILD_SAs go to one data plane (server.dataplane):
//   "kernel"     Linux XFRM (esp/xfrm, daemon/kernel_dataplane.hpp); posternd refuses to start
//                (status 1) on a kernel that cannot install an ESP SA, saying why.
//   "userspace"  a multi-queue TUN device "postern%d" and one worker thread per core carrying
//                ESP-in-UDP and plain ESP (daemon/tun_setup.hpp, esp/engine/worker.hpp).
//   "auto"       the kernel when the probe installs an ESP SA, else userspace (one log line
//                says why); without a TUN device either, a data plane that only logs them.
//
// Exit status: 0 after a clean stop, 1 when a socket cannot be bound or the chosen data plane
// cannot be set up, 2 for configuration errors.

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <vector>

#include "daemon/address_pools.hpp"
#include "daemon/config.hpp"
#include "daemon/dataplane_log.hpp"
#include "daemon/io_server.hpp"
#include "daemon/kernel_dataplane.hpp"
#include "daemon/load.hpp"
#include "daemon/logging.hpp"
#include "daemon/summary.hpp"
#include "daemon/tun_setup.hpp"
#include "daemon/plugin_set.hpp"
#include "ike/crypto/ke_pool.hpp"
#include "esp/engine/steering.hpp"
#include "esp/engine/userspace_dataplane.hpp"
#include "esp/engine/worker.hpp"

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
        if (auto ok = check_plugins(*cfg, loaded->engine); !ok) {
            std::fprintf(stderr, "posternd: %s\n", ok.error().to_string().c_str());
            return 2;
        }
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

    auto& dplog = logger(Subsystem::Dp);
    // The kernel data plane when asked for, or with "auto" when the kernel can carry ESP.
    std::unique_ptr<postern::esp::xfrm::XfrmDataPlane> kernel;
    if (cfg->dataplane != DataPlaneKind::Userspace) {
        auto dp = choose_kernel_dataplane();
        if (dp) {
            kernel = std::move(*dp);
        } else if (cfg->dataplane == DataPlaneKind::Kernel) {
            std::fprintf(stderr, "posternd: server.dataplane = \"kernel\": %s\n",
                         dp.error().c_str());
            return 1;
        } else {
            dplog.info("server.dataplane = \"auto\": using the userspace data plane: {}",
                       dp.error());
        }
    }
    // The userspace data plane: one worker thread per core (POSTERN_WORKERS overrides), each
    // with its own TUN queue, UDP 4500 socket in the NAT-T port's reuseport group (steered by
    // SPI in the kernel) and raw ESP sockets (esp/engine/worker.hpp). Declared before the
    // server, which refers to them.
    const unsigned workers = postern::esp::default_worker_count();
    const bool offloads = postern::esp::default_offloads();
    std::optional<postern::esp::TunDevice> tun;
    if (kernel) {
        // no TUN device: the kernel carries the traffic
    } else if (auto dev = create_tun(*cfg, workers)) {
        tun = std::move(*dev);
    } else if (cfg->dataplane == DataPlaneKind::Userspace) {
        std::fprintf(stderr, "posternd: %s\n", dev.error().c_str());
        return 1;
    } else {
        dplog.warn("{}: falling back to the log-only data plane, traffic is NOT forwarded",
                   dev.error());
    }
    // Without kernel steering of UDP 4500 (SO_ATTACH_REUSEPORT_CBPF, Linux 4.5) the IKE thread
    // decapsulates ESP-in-UDP itself and the workers only send on its sockets.
    bool steered = true;
    if (kernel) {
        // no workers to steer to
    } else if (auto ok = postern::esp::probe_udp_steering(); !ok) {
        steered = false;
        if (tun)
            dplog.warn(
                "the kernel cannot steer UDP {} by SPI ({}): ESP-in-UDP is received on the IKE "
                "thread, plain ESP and the TUN side on the workers",
                cfg->natt_port, ok.error());
    }
    std::unique_ptr<postern::esp::UserspaceDataPlane> userspace;
    RecordingDataPlane recording;
    std::unique_ptr<LoggedDataPlane> logged;
    if (tun) {
        postern::esp::UserspaceDataPlaneOptions options;
        options.workers = workers;
        options.udp_on_ike_thread = !steered;
        userspace = std::make_unique<postern::esp::UserspaceDataPlane>(options);
        logged = std::make_unique<LoggedDataPlane>(*userspace);
    } else if (kernel) {
        logged = std::make_unique<LoggedDataPlane>(*kernel);
    }
    postern::DataPlane& dataplane = logged ? static_cast<postern::DataPlane&>(*logged) : recording;

    // Plugins (daemon/plugin_set.hpp): user stores, EAP methods, the certificate verifier, PSK
    // sources, authorizers, event sinks and, with sqlite-users, address leases in SQLite;
    // without a pool provider virtual IPs come from memory.
    PluginSet::Options plugin_options;
    plugin_options.log = [](postern::plugin::LogLevel level, const std::string& text) {
        auto& l = logger(Subsystem::Ike);
        switch (level) {
            case postern::plugin::LogLevel::debug: l.debug("{}", text); break;
            case postern::plugin::LogLevel::info: l.info("{}", text); break;
            case postern::plugin::LogLevel::warning: l.warn("{}", text); break;
            case postern::plugin::LogLevel::error: l.error("{}", text); break;
        }
    };
    auto plugins = PluginSet::load(*cfg, plugin_options);
    if (!plugins) {
        std::fprintf(stderr, "posternd: %s\n", plugins.error().to_string().c_str());
        return 2;
    }
    PluginSet* plugin_set = plugins->get();
    if (auto ok = plugin_set->apply(loaded->engine, *cfg); !ok) {
        std::fprintf(stderr, "posternd: %s\n", ok.error().to_string().c_str());
        return 2;
    }
    std::shared_ptr<postern::ike::AddressPools> pools = plugin_set->address_pools();
    if (!pools) pools = std::make_shared<MemoryPools>(std::move(loaded->pools));

    // Key shares for the handshakes, made ahead on a thread of their own (ike/crypto/ke_pool.hpp).
    // Declared before the server: the server's engine draws from it until it is gone.
    postern::ike::crypto::KeySharePool key_shares;
    postern::ike::crypto::KeySharePool::install(&key_shares);
    struct Uninstall {
        ~Uninstall() { postern::ike::crypto::KeySharePool::install(nullptr); }
    } uninstall_key_shares;

    Server server(*cfg, std::move(loaded->engine), pools, dataplane);
    server.set_event_sink([plugin_set](const postern::ike::Event& e) { plugin_set->dispatch(e); },
                          [plugin_set] { plugin_set->flush_events(); });
    server.set_natt_reuseport(userspace && steered);
    // --- control socket: before the UDP sockets, so a second posternd says who is in the way ---
    if (auto ok = server.open_control(
            postern::daemon::control::socket_path(*cfg),
            [plugin_set](postern::ike::EngineConfig& e, const Config& c) {
                return plugin_set->apply(e, c);
            },
            [plugin_set](const Config& c) { return plugin_set->reload(c); });
        !ok) {
        std::fprintf(stderr, "posternd: %s\n", ok.error().c_str());
        return 1;
    }
    if (auto ok = server.open(); !ok) {
        std::fprintf(stderr, "posternd: %s\n", ok.error().c_str());
        return 1;
    }
    std::vector<std::unique_ptr<postern::esp::DataPlaneWorker>> dp_workers;
    std::optional<KernelDataPlaneLink> kernel_link;
    if (kernel) {
        kernel_link.emplace(server, *kernel);
        if (auto ok = kernel_link->start(*cfg); !ok) {
            std::fprintf(stderr, "posternd: kernel data plane: %s\n", ok.error().c_str());
            kernel_link->shutdown();
            return 1;
        }
        logger(Subsystem::Net)
            .info(
                "posternd 0.1.0 serving {} connection{}; data plane: kernel (XFRM): SAs, policies "
                "and routes (table {}) installed over netlink, ESP-in-UDP decapsulated by the "
                "kernel on the NAT-T socket{}",
                cfg->connections.size(), cfg->connections.size() == 1 ? "" : "s", 4500,
                cfg->dataplane == DataPlaneKind::Auto ? " (server.dataplane = \"auto\")" : "");
    } else if (userspace) {
        userspace->set_event_callback(
            [&server](const postern::esp::SaLifetimeEvent& e) { server.on_lifetime_event(e); });
        server.attach_userspace(*userspace, tun->queue(0));
        for (unsigned w = 0; w < workers; ++w) {
            postern::esp::WorkerConfig wc;
            wc.index = w;
            wc.tun = tun->queue(w);
            wc.natt = server.natt_bindings();
            wc.udp_steering = steered;
            wc.offloads = offloads;
            wc.on_ike = [&server](const postern::esp::IkeDatagram& d) { server.on_worker_ike(d); };
            wc.on_error = [](const std::string& e) { logger(Subsystem::Dp).warn("{}", e); };
            auto worker = postern::esp::DataPlaneWorker::create(*userspace, std::move(wc));
            if (!worker) {
                std::fprintf(stderr, "posternd: %s\n", worker.error().c_str());
                return 1;
            }
            for (const auto& warning : (*worker)->warnings())
                dplog.warn("data-plane worker {}: {}", w, warning);
            dp_workers.push_back(std::move(*worker));
        }
        // Once, for all workers (they open the same kinds of sockets on the same kernel).
        if (!offloads) {
            dplog.info("offloads: off (POSTERN_OFFLOADS=0)");
        } else {
            const auto& o = dp_workers.front()->offloads();
            std::string udp = std::string(o.udp_gso ? " gso" : "") + (o.udp_gro ? " gro" : "");
            dplog.info("offloads: tun {}{}, udp{}", tun->vnet_hdr() ? tun->offloads_text() : "none",
                       o.tun_coalesce ? " (TCP coalescing on writes)" : "",
                       udp.empty() ? " none" : udp);
        }
        for (auto& w : dp_workers)
            w->start();
        logger(Subsystem::Net)
            .info(
                "posternd 0.1.0 serving {} connection{}; data plane: userspace ESP on {}, {} "
                "worker{} ({}ESP-in-UDP steered by SPI; plain ESP on raw sockets)",
                cfg->connections.size(), cfg->connections.size() == 1 ? "" : "s", tun->name(),
                workers, workers == 1 ? "" : "s", steered ? "" : "not ");
    } else {
        logger(Subsystem::Net)
            .info(
                "posternd 0.1.0 serving {} connection{}; data plane: {} - SAs are negotiated but "
                "traffic is NOT forwarded",
                cfg->connections.size(), cfg->connections.size() == 1 ? "" : "s", dataplane.name());
    }
    server.start_initiators();
    server.run();
    if (kernel_link) kernel_link->shutdown();
    // The workers stop before the counters are read, so the exit line is final.
    for (auto& w : dp_workers)
        w->stop();
    server.log_dataplane_stats();
    return 0;
}

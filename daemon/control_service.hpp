// What posternd does for each control request (daemon/control_protocol.hpp), without the
// socket: the ControlServer (daemon/control_server.hpp) feeds it lines on the IKE thread, the
// tests feed it lines directly against a real ike::Engine.
//
//   status    version, uptime, IKE SAs by state, engine counters, data plane
//   sa.list   every IKE SA (or one user's) with its CHILD_SAs and their counters
//   sa.kill   Delete for the IKE SAs given by id, or for every IKE SA of a user
//   reload    re-reads the config file; unaffected SAs stay (ike::Engine::reload)
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "daemon/config.hpp"
#include "daemon/control_protocol.hpp"
#include "daemon/ike_shards.hpp"
#include "ike/engine.hpp"
#include "postern/dataplane.hpp"

namespace postern::daemon::control {

// Who is on the other end of a connection (SO_PEERCRED), for permission checks and the log.
struct Peer {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    std::string to_string() const;  // "uid 0 gid 0 pid 1234"
};

// What the requests act on; posternd's Server (daemon/io_server.hpp) fills it in with its own.
struct ControlTarget {
    // posternd's IKE shards; or, in tests, one engine and what applies its answers
    // (datagrams, data-plane changes, events).
    IkeAccess* ike = nullptr;
    ike::Engine* engine = nullptr;
    std::function<void(ike::Actions&)> apply;
    DataPlane* dataplane = nullptr;
    // The I/O loop's own counters for `status` (optional).
    std::function<nlohmann::json()> server_stats;
    // What start-up adds to the EngineConfig built from the file (the plugins' components),
    // done again to the one a reload builds (optional); an error refuses the reload.
    using Prepare = std::function<tl::expected<void, ConfigError>(ike::EngineConfig&, const Config&)>;
    Prepare prepare_engine;
    // Gives the plugins the reloaded file's settings; returns lines to log (optional).
    using ReloadPlugins = std::function<std::vector<std::string>(const Config&)>;
    ReloadPlugins reload_plugins;
    // The engine's clock (default ike::Clock::now); tests with a fake clock set it.
    std::function<ike::TimePoint()> now;
};

struct ReloadReport {
    std::string file;
    std::size_t kept = 0;                     // IKE SAs that carry on
    std::size_t deleted = 0;                  // IKE SAs whose connection is gone
    std::vector<std::string> added, removed;  // connection names
    // What differs in the file but stays as it is until a restart, one line each.
    std::vector<std::string> needs_restart;
    std::vector<std::string> warnings;
    nlohmann::json to_json() const;
};

class ControlService {
  public:
    // `running` is the configuration posternd started with (its file is what reload reads).
    ControlService(ControlTarget target, Config running);

    // One request line (without '\n') in, one reply line ('\n' included) out.
    std::string handle_line(std::string_view line, const Peer& peer);
    nlohmann::json handle(const Request& r, const Peer& peer);

    // Re-reads and checks running().file as start-up does (daemon/load.hpp). On an error
    // nothing changes. On success the engine gets the new configuration.
    tl::expected<ReloadReport, ConfigError> reload();

    // One IKE SA as sa.list shows it, with the data plane's counters.
    nlohmann::json sa_json(const ike::IkeSaInfo& sa, ike::TimePoint now) const;
    nlohmann::json status_json(ike::TimePoint now) const;

    const Config& running() const { return running_; }

  private:
    nlohmann::json kill(const Request& r, const Peer& peer);
    ike::TimePoint now() const;

    ControlTarget t_;
    std::unique_ptr<IkeAccess> own_;  // t_.engine as an IkeAccess
    IkeAccess* ike_ = nullptr;
    Config running_;
    std::chrono::system_clock::time_point started_wall_;
    ike::TimePoint started_;
};

// The [server] keys and pools of `next` that cannot change while posternd runs are set back
// to `running`'s, one line each in the returned list. Pools keep their running prefixes (the
// address pools and the TUN routes were made from them); their DNS servers may change.
std::vector<std::string> keep_restart_only(const Config& running, Config& next);

}  // namespace postern::daemon::control

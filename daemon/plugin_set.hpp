// The plugins posternd runs with (include/postern/plugin/plugin.hpp): loaded from shared
// objects by name, in `[plugins] load` order, each given its own settings and a Host, each
// registering its components; then handed to the engine (user stores, EAP methods, the
// certificate verifier, PSK sources, authorizers), the server (the address pools) and the
// event loop (event sinks).
//
//   search path   [plugins] path, then $POSTERN_PLUGIN_DIR, then next to the binary:
//                 <dir of posternd>/../plugins (the build tree) and
//                 <dir of posternd>/../lib/postern/plugins (an installed prefix)
//   file          postern-<name>.so, exporting postern_plugin_entry
//   default load  x509, psk, eap-mschapv2, eap-tls, and sqlite-users when the user database is
//                 in use (server.user_db set, or a connection logs users in with EAP)
//
// Shared objects stay loaded until the process ends (their code may still be on the stack of
// a component being destroyed). Every refusal (file not found, no entry point, another API
// version, a plugin's own error) names the plugin and, where it comes from the configuration,
// the file, line and key.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "daemon/config.hpp"
#include "ike/engine.hpp"
#include "postern/plugin/plugin.hpp"

namespace postern::daemon {

// What posternd loads when [plugins] load is not written.
std::vector<std::string> default_plugins(const Config& c);
// The database file the users plugin opens (server.user_db, else the system default) when
// the database is in use; "" when it is not.
std::string effective_user_db(const Config& c);
// Folders searched for postern-<name>.so, in order.
std::vector<std::string> plugin_search_path(const Config& c);

// `posternd --check` and `postern check-config`: the plugins loaded in check mode and applied
// to `engine`, so a missing plugin, a bad plugin setting or a connection that needs what no
// plugin provides is reported like any other configuration error.
tl::expected<void, ConfigError> check_plugins(const Config& c, ike::EngineConfig& engine);

class PluginSet {
  public:
    struct Options {
        // `posternd --check`, `postern check-config`: plugins check their settings only
        // (plugin::Host::check_only), no database is opened, no script is run.
        bool check_only = false;
        // Where plugins' log lines go (posternd's logger; tests collect them).
        std::function<void(plugin::LogLevel, const std::string& text)> log;
    };

    static tl::expected<std::unique_ptr<PluginSet>, ConfigError> load(const Config& c,
                                                                      Options options);
    ~PluginSet();

    // The loaded plugins' names, in load order.
    std::vector<std::string> names() const;

    // Gives the engine what the plugins registered. Fails (naming the connection) when a
    // connection needs what nothing provides: an EAP method no plugin offers, a PSK connection
    // without its own key and no PSK source.
    tl::expected<void, ConfigError> apply(ike::EngineConfig& engine, const Config& c) const;
    // The registered address pools, or null.
    std::shared_ptr<plugin::AddressPools> address_pools() const;
    // Every event sink hears connects, disconnects and authentication failures.
    void dispatch(const ike::Event& e);
    // EventSink::flush of every sink (after a batch of dispatch calls).
    void flush_events();
    // `postern reload`: each plugin's new settings (Plugin::reload). Returns what to log:
    // a plugin that kept its old state says why; plugins added to or removed from the load
    // list need a restart.
    std::vector<std::string> reload(const Config& next);

  private:
    struct Loaded;
    struct Components;
    PluginSet();
    std::shared_ptr<const Config> config_;
    std::vector<std::unique_ptr<Loaded>> plugins_;
    std::unique_ptr<Components> components_;
    Options options_;
};

}  // namespace postern::daemon

// Postern's plugin API, version 2: what a shared object loaded by posternd sees and provides.
//
// A plugin is a shared object `postern-<name>.so` that exports one C function,
// `postern_plugin_entry`, returning its descriptor (POSTERN_PLUGIN below writes it). posternd
// loads the plugins `[plugins] load` names, in that order, checks that each was built against
// this API version (a mismatch is refused with both numbers), and calls `create` with the
// plugin's own settings table (`[plugins.<name>]`). The plugin registers its components:
//
//   UserStore          accounts: enabled or not, NT hash, groups, static addresses (users.hpp)
//   PskSource          pre-shared keys by identity (users.hpp)
//   EapMethodFactory   an EAP method on the server side (eap.hpp)
//   CertificateVerifier  whether a peer's certificate chain is trusted (x509.hpp)
//   Authorizer         allow or deny an authenticated peer, and its attributes (authorize.hpp)
//   EventSink          connect, disconnect and authentication failure (events.hpp)
//   AddressPools       virtual IP addresses (pools.hpp)
//
// Stores, PSK sources and authorizers are consulted in load order; every event sink hears every
// event. posternd runs its IKE work on several threads: it calls each plugin's components under
// that plugin's lock, one call at a time, unless the plugin declared them concurrent
// (Registry::set_concurrent). Components must not block for long (a slow store slows every
// handshake). Version 2 added Registry::set_concurrent.
//
// ABI: plugins are C++ and must be built with the same compiler family and standard library
// as posternd (g++ or clang++ with libstdc++ on Debian 12), against the headers of the same
// API version. Objects cross the boundary through the abstract classes here only; a plugin
// object is destroyed by the plugin's own code (virtual destructors).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/plugin/authorize.hpp"
#include "postern/plugin/eap.hpp"
#include "postern/plugin/events.hpp"
#include "postern/plugin/pools.hpp"
#include "postern/plugin/users.hpp"
#include "postern/plugin/x509.hpp"

// Bumped on every incompatible change of anything under include/postern/plugin/.
#define POSTERN_PLUGIN_API_VERSION 3

namespace postern::plugin {

enum class LogLevel { debug, info, warning, error };

// A plugin's `[plugins.<name>]` table from postern.toml.
class Settings {
  public:
    virtual ~Settings() = default;
    // The keys present, for refusing unknown ones.
    virtual std::vector<std::string> keys() const = 0;
    // A value of the right type, nullopt when the key is absent. A value of the wrong type is
    // reported by posternd when the plugin asks (the plugin then fails with error()).
    virtual std::optional<std::string> string(std::string_view key) const = 0;
    virtual std::optional<std::int64_t> integer(std::string_view key) const = 0;
    virtual std::optional<bool> boolean(std::string_view key) const = 0;
    virtual std::optional<std::vector<std::string>> strings(std::string_view key) const = 0;
    // A table of strings ([plugins.psk.secrets] with `identity = "secret"` lines).
    virtual std::optional<std::map<std::string, std::string>> string_table(
        std::string_view key) const = 0;
    // A path, resolved against the configuration file's folder when relative.
    virtual std::optional<std::string> path(std::string_view key) const = 0;
    // "postern.toml:12: plugins.lua.scripts: <message>": what a plugin returns as its error.
    virtual std::string error(std::string_view key, std::string_view message) const = 0;
};

// What posternd offers a plugin.
class Host {
  public:
    virtual ~Host() = default;
    // Into posternd's log, prefixed with the plugin's name.
    virtual void log(LogLevel level, std::string_view text) = 0;
    // The account as the other plugins' user stores know it (in load order; this plugin's
    // own stores are not asked).
    virtual UserInfo lookup_user(std::string_view name) = 0;
    // The SQLite user database: server.user_db, else /var/lib/postern/postern.db when a
    // connection logs users in with EAP, else "".
    virtual std::string user_db() const = 0;
    // The folder of postern.toml, against which relative paths are resolved.
    virtual std::string config_dir() const = 0;
    // [pki] cacerts: PEM files of trusted CAs (absolute paths).
    virtual std::vector<std::string> cacerts() const = 0;
    // The pools of postern.toml ([pools.<name>]).
    virtual const std::vector<PoolDefinition>& pools() const = 0;
    // Wall-clock time, Unix seconds.
    virtual std::int64_t now() const = 0;
    // `posternd --check` or `postern check-config`: check the settings, open or change nothing
    // (no database, no file written; the lua plugin does run its scripts' top level, to report
    // their errors), and register what you would: posternd then checks that connections have
    // what they need.
    virtual bool check_only() const = 0;
};

// Where a plugin registers its components (during create only).
class Registry {
  public:
    virtual ~Registry() = default;
    virtual void add_user_store(std::shared_ptr<UserStore> store) = 0;
    virtual void add_psk_source(std::shared_ptr<PskSource> source) = 0;
    virtual void add_eap_method(std::shared_ptr<EapMethodFactory> method) = 0;
    // One verifier for the whole server; a second registration is an error at start-up.
    virtual void set_certificate_verifier(std::shared_ptr<CertificateVerifier> verifier) = 0;
    virtual void add_authorizer(std::shared_ptr<Authorizer> authorizer) = 0;
    virtual void add_event_sink(std::shared_ptr<EventSink> sink) = 0;
    // One provider of virtual IP addresses; a second registration is an error at start-up.
    virtual void set_address_pools(std::shared_ptr<AddressPools> pools) = 0;
    // Declares every component this plugin registers safe to call from several threads at
    // once (one EAP conversation's method is still called from one thread at a time), and
    // `Plugin::reload` safe to run while they are called: posternd then calls them without
    // the plugin's lock, so the IKE threads do not wait for each other in this plugin. Call
    // it before registering anything (after is an error at start-up).
    virtual void set_concurrent() = 0;
};

// One loaded plugin. Owns whatever its components share; destroyed at exit after them.
class Plugin {
  public:
    virtual ~Plugin() = default;
    // `postern reload`: the plugin's new settings. Return false (with error set) to keep
    // running as before; posternd logs the error and the rest of the reload goes on.
    virtual bool reload(const Settings& settings, std::string& error) {
        (void)settings;
        (void)error;
        return true;
    }
};

}  // namespace postern::plugin

extern "C" {

struct postern_plugin_descriptor {
    std::uint32_t api_version;  // POSTERN_PLUGIN_API_VERSION the plugin was built with
    const char* name;           // "lua": the file is postern-lua.so
    const char* description;    // one line, for logs
    // Reads settings, registers components; null with `error` set refuses to start.
    std::unique_ptr<postern::plugin::Plugin> (*create)(postern::plugin::Host& host,
                                                       const postern::plugin::Settings& settings,
                                                       postern::plugin::Registry& registry,
                                                       std::string& error);
};

// The one symbol every plugin exports.
typedef const postern_plugin_descriptor* (*postern_plugin_entry_fn)(void);
}

// In exactly one .cpp of a plugin:
//   POSTERN_PLUGIN("jsonlog", "connection events as JSON lines", &create);
#define POSTERN_PLUGIN(NAME, DESCRIPTION, CREATE)                                          \
    extern "C" __attribute__((visibility("default"))) const postern_plugin_descriptor*   \
    postern_plugin_entry(void) {                                                           \
        static const postern_plugin_descriptor d{POSTERN_PLUGIN_API_VERSION, NAME,       \
                                                 DESCRIPTION, CREATE};                     \
        return &d;                                                                         \
    }

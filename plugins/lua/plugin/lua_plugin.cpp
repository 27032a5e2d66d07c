// The `lua` plugin: authentication policy written by the administrator in Lua 5.4, without
// recompiling anything (docs/plugins.md):
//
//   [plugins.lua]
//   scripts = ["lua/office_hours.lua", "lua/pools_by_group.lua"]   # asked in this order
//   instructions = 1000000      # per call
//   memory_mb = 32              # per script
//   time_ms = 200               # per call
//   events_file = "/var/log/postern/events.jsonl"   # for postern.emit (optional)
//
// Each script may define authorize, psk, eap_secret, on_connect, on_disconnect and
// on_auth_failure (plugins/lua/plugin/api.hpp). The plugin registers one component of each kind;
// each asks the scripts that define the function, in order. A script error, a timeout or a bad
// return value denies (authorize, eap_secret) or gives no key (psk), and logs file:line and the
// message; posternd goes on serving. `postern reload` loads the scripts again with the new
// settings: a script that no longer loads keeps its previous version running (a new one that
// does not load stays out), and the errors are reported.
#include <set>

#include "plugins/lua/plugin/api.hpp"
#include "plugins/lua/runtime/script.hpp"
#include "postern/plugin/plugin.hpp"

namespace {

using namespace postern;
using lua::Value;
namespace api = lua::plugin_api;

struct Settings {
    std::vector<std::string> scripts;  // absolute paths
    lua::Limits limits;
    std::string events_file;
};

tl::expected<Settings, std::string> read_settings(const plugin::Settings& s) {
    static const std::set<std::string> kKeys{"scripts", "instructions", "memory_mb", "time_ms",
                                             "events_file"};
    for (const auto& key : s.keys())
        if (!kKeys.count(key))
            return tl::unexpected(
                s.error(key, "unknown key (scripts, instructions, memory_mb, time_ms, events_file)"));
    Settings out;
    auto scripts = s.strings("scripts");
    if (!scripts || scripts->empty())
        return tl::unexpected(s.error("scripts", "list at least one script"));
    for (std::size_t i = 0; i < scripts->size(); ++i) {
        auto p = (*scripts)[i];
        if (p.empty()) return tl::unexpected(s.error("scripts", "an empty path"));
        out.scripts.push_back(p);
    }
    const auto instructions = s.integer("instructions").value_or(1'000'000);
    const auto memory = s.integer("memory_mb").value_or(32);
    const auto time = s.integer("time_ms").value_or(200);
    if (instructions < 1000 || instructions > 1'000'000'000)
        return tl::unexpected(s.error("instructions", "expected 1000-1000000000"));
    if (memory < 1 || memory > 1024) return tl::unexpected(s.error("memory_mb", "expected 1-1024"));
    if (time < 1 || time > 10'000) return tl::unexpected(s.error("time_ms", "expected 1-10000"));
    out.limits.instructions = static_cast<std::uint64_t>(instructions);
    out.limits.memory = static_cast<std::size_t>(memory) << 20;
    out.limits.time = std::chrono::milliseconds(time);
    out.events_file = s.path("events_file").value_or("");
    return out;
}

// The loaded scripts and how to call them.
class Scripts {
  public:
    explicit Scripts(plugin::Host& host) : host_(host) {}

    // Loads every script. On `reload`, a script that fails keeps its previous version (when
    // it had one); the errors are returned either way.
    std::vector<std::string> load(const Settings& s, const std::string& config_dir) {
        std::vector<std::string> errors;
        std::vector<std::unique_ptr<lua::Script>> next;
        settings_ = s;
        for (auto path : s.scripts) {
            if (path.front() != '/') path = config_dir + "/" + path;
            auto script = lua::Script::load(
                path, s.limits,
                api::host_functions(host_, [this]() -> const std::string& {
                    return settings_.events_file;
                }),
                [this, path](std::string_view line) {
                    host_.log(plugin::LogLevel::info, path + ": " + std::string(line));
                });
            if (script) {
                next.push_back(std::make_unique<lua::Script>(std::move(*script)));
                continue;
            }
            errors.push_back(script.error().to_string());
            bool kept = false;
            for (auto& old : scripts_)
                if (old && old->path() == path) {
                    errors.back() += " (the previous version keeps running)";
                    next.push_back(std::move(old));
                    kept = true;
                    break;
                }
            if (!kept) errors.back() += " (not loaded)";
        }
        scripts_ = std::move(next);
        return errors;
    }

    // Calls `function` in each script that defines it, until `stop` says so; errors are
    // logged and handed to `on_error`, which says whether to stop.
    template <class Stop, class OnError>
    void each(std::string_view function, const Value& ctx, Stop stop, OnError on_error) {
        for (auto& s : scripts_) {
            if (!s->defines(function)) continue;
            auto v = s->call(function, ctx);
            if (!v) {
                host_.log(plugin::LogLevel::error,
                          std::string(function) + ": " + v.error().to_string());
                if (on_error(v.error().to_string())) return;
                continue;
            }
            if (stop(*v, s->path())) return;
        }
    }

    plugin::Host& host() { return host_; }
    std::size_t size() const { return scripts_.size(); }

  private:
    plugin::Host& host_;
    Settings settings_;
    std::vector<std::unique_ptr<lua::Script>> scripts_;
};

class LuaAuthorizer final : public plugin::Authorizer {
  public:
    explicit LuaAuthorizer(std::shared_ptr<Scripts> s) : s_(std::move(s)) {}
    plugin::AuthorizeResult authorize(const plugin::AuthorizeRequest& r) override {
        auto result = plugin::AuthorizeResult::abstain();
        s_->each(
            "authorize", api::authorize_context(r),
            [&](const Value& v, const std::string& path) {
                auto decided = api::to_authorize_result(v);
                if (!decided) {
                    s_->host().log(plugin::LogLevel::error,
                                   path + ": authorize: bad return value: " + decided.error());
                    result = plugin::AuthorizeResult::deny("script " + path + ": bad return value");
                    return true;
                }
                result = std::move(*decided);
                return result.decision != plugin::AuthorizeResult::Decision::abstain;
            },
            [&](const std::string& error) {
                result = plugin::AuthorizeResult::deny("script error: " + error);
                return true;
            });
        return result;
    }

  private:
    std::shared_ptr<Scripts> s_;
};

class LuaPsk final : public plugin::PskSource {
  public:
    explicit LuaPsk(std::shared_ptr<Scripts> s) : s_(std::move(s)) {}
    std::optional<SecretBytes> psk(const plugin::PskRequest& r) override {
        std::optional<SecretBytes> key;
        s_->each(
            "psk", api::psk_context(r),
            [&](const Value& v, const std::string& path) {
                auto k = api::to_psk(v);
                if (!k) {
                    s_->host().log(plugin::LogLevel::error,
                                   path + ": psk: bad return value: " + k.error());
                    return true;  // no key from a broken script, and no other script's either
                }
                key = std::move(*k);
                return key.has_value();
            },
            [](const std::string&) { return true; });
        return key;
    }

  private:
    std::shared_ptr<Scripts> s_;
};

class LuaUsers final : public plugin::UserStore {
  public:
    explicit LuaUsers(std::shared_ptr<Scripts> s) : s_(std::move(s)) {}
    plugin::UserInfo lookup(std::string_view name) override {
        plugin::UserInfo user = plugin::UserInfo::unknown_user();
        s_->each(
            "eap_secret", api::user_context(name),
            [&](const Value& v, const std::string& path) {
                auto u = api::to_user(v);
                if (!u) {
                    s_->host().log(plugin::LogLevel::error,
                                   path + ": eap_secret: bad return value: " + u.error());
                    user = plugin::UserInfo::disabled_user();  // denies, no other store asked
                    return true;
                }
                user = std::move(*u);
                return user.status != plugin::UserInfo::Status::unknown;
            },
            [&](const std::string&) {
                user = plugin::UserInfo::disabled_user();
                return true;
            });
        return user;
    }

  private:
    std::shared_ptr<Scripts> s_;
};

class LuaEvents final : public plugin::EventSink {
  public:
    explicit LuaEvents(std::shared_ptr<Scripts> s) : s_(std::move(s)) {}
    void on_connect(const plugin::ConnectEvent& e) override {
        notify("on_connect", api::connect_context(e));
    }
    void on_disconnect(const plugin::DisconnectEvent& e) override {
        notify("on_disconnect", api::disconnect_context(e));
    }
    void on_auth_failure(const plugin::AuthFailureEvent& e) override {
        notify("on_auth_failure", api::auth_failure_context(e));
    }

  private:
    void notify(std::string_view function, const Value& ctx) {
        s_->each(function, ctx, [](const Value&, const std::string&) { return false; },
                 [](const std::string&) { return false; });
    }
    std::shared_ptr<Scripts> s_;
};

class LuaPlugin final : public plugin::Plugin {
  public:
    LuaPlugin(std::shared_ptr<Scripts> s, std::string dir) : s_(std::move(s)), dir_(std::move(dir)) {}
    bool reload(const plugin::Settings& settings, std::string& error) override {
        auto s = read_settings(settings);
        if (!s) {
            error = s.error() + " (the previous scripts and settings stay)";
            return false;
        }
        auto errors = s_->load(*s, dir_);
        if (errors.empty()) {
            s_->host().log(plugin::LogLevel::info,
                           "reloaded " + std::to_string(s_->size()) + " script(s)");
            return true;
        }
        for (const auto& e : errors)
            error += (error.empty() ? "" : "; ") + e;
        return false;
    }

  private:
    std::shared_ptr<Scripts> s_;
    std::string dir_;
};

std::unique_ptr<plugin::Plugin> create(plugin::Host& host, const plugin::Settings& settings,
                                       plugin::Registry& registry, std::string& error) {
    auto s = read_settings(settings);
    if (!s) {
        error = s.error();
        return nullptr;
    }
    auto scripts = std::make_shared<Scripts>(host);
    // Loading runs each script's top level: in check mode too, so that a syntax error or a
    // script that does not load is reported by `postern check-config`.
    auto errors = scripts->load(*s, host.config_dir());
    if (!errors.empty()) {
        error = settings.error("scripts", errors.front());
        return nullptr;
    }
    registry.add_authorizer(std::make_shared<LuaAuthorizer>(scripts));
    registry.add_psk_source(std::make_shared<LuaPsk>(scripts));
    registry.add_user_store(std::make_shared<LuaUsers>(scripts));
    registry.add_event_sink(std::make_shared<LuaEvents>(scripts));
    host.log(plugin::LogLevel::info,
             "loaded " + std::to_string(scripts->size()) + " script(s)");
    return std::make_unique<LuaPlugin>(scripts, host.config_dir());
}

}  // namespace

POSTERN_PLUGIN("lua", "authentication policy in Lua 5.4 scripts", &create)

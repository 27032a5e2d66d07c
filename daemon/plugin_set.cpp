#include "daemon/plugin_set.hpp"

#include "daemon/plugin_locks.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include "daemon/tun_setup.hpp"
#include "ike/policy/identity.hpp"

namespace postern::daemon {

namespace fs = std::filesystem;

namespace {

std::string binary_dir() {
    std::error_code ec;
    auto self = fs::read_symlink("/proc/self/exe", ec);
    return ec ? std::string() : self.parent_path().string();
}

// A plugin's [plugins.<name>] table for plugin::Settings.
class SettingsView final : public plugin::Settings {
  public:
    SettingsView(const Config& c, std::string name)
        : c_(c), name_(std::move(name)), where_("plugins." + name_) {
        if (auto it = c.plugins.settings.find(name_); it != c.plugins.settings.end())
            data_ = &it->second;
    }

    std::vector<std::string> keys() const override {
        std::vector<std::string> out;
        if (data_)
            for (const auto& [k, v] : data_->values)
                out.push_back(k);
        return out;
    }
    std::optional<std::string> string(std::string_view key) const override {
        return get<std::string>(key, "a string");
    }
    std::optional<std::int64_t> integer(std::string_view key) const override {
        return get<std::int64_t>(key, "an integer");
    }
    std::optional<bool> boolean(std::string_view key) const override {
        return get<bool>(key, "true or false");
    }
    std::optional<std::vector<std::string>> strings(std::string_view key) const override {
        return get<std::vector<std::string>>(key, "an array of strings");
    }
    std::optional<std::map<std::string, std::string>> string_table(
        std::string_view key) const override {
        return get<std::map<std::string, std::string>>(key, "a table of strings");
    }
    std::optional<std::string> path(std::string_view key) const override {
        auto s = string(key);
        if (s && !s->empty() && s->front() != '/') *s = c_.dir + "/" + *s;
        return s;
    }
    std::string error(std::string_view key, std::string_view message) const override {
        last_error_ = at(key, std::string(message));
        return last_error_->to_string();
    }

    ConfigError at(std::string_view key, std::string message) const {
        const std::string full = key.empty() ? where_ : where_ + "." + std::string(key);
        auto e = error_at(c_, full, std::move(message));
        if (!e.line && data_) e.line = data_->line;
        return e;
    }
    // A value of the wrong type, noticed when the plugin asked for it.
    const std::optional<ConfigError>& type_error() const { return type_error_; }
    // The error a plugin returned, structured again when it came from error().
    ConfigError structured(const std::string& text, ConfigError fallback) const {
        if (last_error_ && last_error_->to_string() == text) return *last_error_;
        return fallback;
    }

  private:
    template <class T>
    std::optional<T> get(std::string_view key, const char* expected) const {
        if (!data_) return std::nullopt;
        auto it = data_->values.find(std::string(key));
        if (it == data_->values.end()) return std::nullopt;
        if (const T* v = std::get_if<T>(&it->second)) return *v;
        if (!type_error_) type_error_ = at(key, std::string("expected ") + expected);
        return std::nullopt;
    }

    const Config& c_;
    std::string name_;
    std::string where_;
    const PluginSettingsData* data_ = nullptr;
    mutable std::optional<ConfigError> type_error_;
    mutable std::optional<ConfigError> last_error_;
};

}  // namespace

// Everything the plugins registered, in load order.
struct PluginSet::Components {
    std::vector<std::shared_ptr<plugin::UserStore>> stores;
    std::vector<std::string> store_owners;  // the plugin that registered each store
    std::vector<std::shared_ptr<plugin::PskSource>> psk_sources;
    std::vector<std::shared_ptr<plugin::EapMethodFactory>> eap_methods;
    std::shared_ptr<plugin::CertificateVerifier> verifier;
    std::string verifier_from;
    std::vector<std::shared_ptr<plugin::Authorizer>> authorizers;
    std::vector<std::shared_ptr<plugin::EventSink>> sinks;
    std::shared_ptr<plugin::AddressPools> pools;
    std::string pools_from;
    std::vector<plugin::PoolDefinition> pool_definitions;

    // The stores in load order; `except` leaves out one plugin's own (a plugin asking the
    // others must not be asked itself: a Lua script would call into itself).
    plugin::UserInfo lookup(std::string_view name, const std::string& except = {}) const {
        for (std::size_t i = 0; i < stores.size(); ++i) {
            if (!except.empty() && store_owners[i] == except) continue;
            plugin::UserInfo u = stores[i]->lookup(name);
            if (u.status != plugin::UserInfo::Status::unknown) return u;
        }
        return plugin::UserInfo::unknown_user();
    }
};

struct PluginSet::Loaded final : plugin::Host, plugin::Registry {
    std::string name;
    std::string file;
    void* handle = nullptr;  // never closed (see plugin_set.hpp)
    const postern_plugin_descriptor* descriptor = nullptr;
    std::unique_ptr<plugin::Plugin> instance;
    PluginSet* set = nullptr;
    std::string error;  // a second verifier or pool provider
    // Taken by every call into the plugin's components (daemon/plugin_locks.hpp).
    PluginLock lock = std::make_shared<std::recursive_mutex>();
    const Config& config() const { return *set->config_; }

    // ---- Host
    void log(plugin::LogLevel level, std::string_view text) override {
        if (set->options_.log) set->options_.log(level, name + ": " + std::string(text));
    }
    plugin::UserInfo lookup_user(std::string_view user) override {
        return set->components_->lookup(user, name);
    }
    std::string user_db() const override { return effective_user_db(config()); }
    std::vector<std::string> cacerts() const override { return config().cacerts; }
    std::string config_dir() const override { return config().dir; }
    const std::vector<plugin::PoolDefinition>& pools() const override {
        return set->components_->pool_definitions;
    }
    std::int64_t now() const override { return static_cast<std::int64_t>(std::time(nullptr)); }
    bool check_only() const override { return set->options_.check_only; }

    // ---- Registry
    // Components are wrapped to be called under the plugin's lock (plugin_locks.hpp), unless
    // the plugin declared them concurrent.
    bool concurrent = false;
    bool registered = false;
    template <class Wrapper, class T>
    std::shared_ptr<T> guard(std::shared_ptr<T> component) {
        registered = true;
        if (concurrent) return component;
        return std::make_shared<Wrapper>(lock, std::move(component));
    }
    void set_concurrent() override {
        if (registered)
            error = "set_concurrent() after registering components (it must come first)";
        concurrent = true;
    }
    void add_user_store(std::shared_ptr<plugin::UserStore> s) override {
        if (!s) return;
        set->components_->stores.push_back(guard<LockedUserStore>(std::move(s)));
        set->components_->store_owners.push_back(name);
    }
    void add_psk_source(std::shared_ptr<plugin::PskSource> s) override {
        if (s) set->components_->psk_sources.push_back(guard<LockedPskSource>(std::move(s)));
    }
    void add_eap_method(std::shared_ptr<plugin::EapMethodFactory> m) override {
        if (m) set->components_->eap_methods.push_back(guard<LockedEapMethodFactory>(std::move(m)));
    }
    void set_certificate_verifier(std::shared_ptr<plugin::CertificateVerifier> v) override {
        auto& c = *set->components_;
        registered = true;
        if (c.verifier) {
            error = "a certificate verifier is registered already (by " + c.verifier_from + ")";
            return;
        }
        c.verifier = std::move(v);
        c.verifier_from = name;
    }
    void add_authorizer(std::shared_ptr<plugin::Authorizer> a) override {
        if (a) set->components_->authorizers.push_back(guard<LockedAuthorizer>(std::move(a)));
    }
    void add_event_sink(std::shared_ptr<plugin::EventSink> s) override {
        if (s) set->components_->sinks.push_back(guard<LockedEventSink>(std::move(s)));
    }
    void set_address_pools(std::shared_ptr<plugin::AddressPools> p) override {
        auto& c = *set->components_;
        if (c.pools) {
            error = "address pools are registered already (by " + c.pools_from + ")";
            return;
        }
        c.pools = p ? guard<LockedAddressPools>(std::move(p)) : nullptr;
        c.pools_from = name;
    }
};

std::string effective_user_db(const Config& c) {
    const bool eap = std::any_of(c.connections.begin(), c.connections.end(),
                                 [](const Connection& k) { return is_eap(k.remote_auth); });
    if (!c.user_db.empty()) return c.user_db;
    return eap ? "/var/lib/postern/postern.db" : "";
}

std::vector<std::string> default_plugins(const Config& c) {
    std::vector<std::string> names{"x509", "psk", "eap-mschapv2", "eap-tls"};
    if (!effective_user_db(c).empty()) names.push_back("sqlite-users");
    return names;
}

std::vector<std::string> plugin_search_path(const Config& c) {
    std::vector<std::string> dirs = c.plugins.path;
    if (const char* env = std::getenv("POSTERN_PLUGIN_DIR"); env && *env) dirs.emplace_back(env);
    if (auto bin = binary_dir(); !bin.empty()) {
        dirs.push_back(bin + "/../plugins");
        dirs.push_back(bin + "/../lib/postern/plugins");
    }
    return dirs;
}

PluginSet::PluginSet() : components_(std::make_unique<Components>()) {}
PluginSet::~PluginSet() {
    // Components before the plugin instances that made them (both before the code: never
    // unloaded).
    components_.reset();
    for (auto& p : plugins_)
        p->instance.reset();
}

tl::expected<std::unique_ptr<PluginSet>, ConfigError> PluginSet::load(const Config& c,
                                                                      Options options) {
    std::unique_ptr<PluginSet> set(new PluginSet());
    set->options_ = std::move(options);
    set->config_ = std::make_shared<const Config>(c);
    for (const auto& p : c.pools) {
        plugin::PoolDefinition d{p.name, p.ipv4, p.ipv6, p.dns, {}};
        for (const auto& cidr : {p.ipv4, p.ipv6})
            if (auto gw = cidr.empty() ? std::nullopt : pool_gateway_address(cidr))
                d.reserved.push_back(gw->to_string());
        set->components_->pool_definitions.push_back(std::move(d));
    }
    const std::vector<std::string> names =
        c.plugins.load_given ? c.plugins.load : default_plugins(c);
    const auto search = plugin_search_path(c);
    for (std::size_t i = 0; i < names.size(); ++i) {
        const std::string& name = names[i];
        // Where a refusal points: the load list's entry, else the [plugins] table or the file.
        auto fail = [&](std::string message) {
            std::string key = c.plugins.load_given ? "plugins.load[" + std::to_string(i) + "]"
                                                   : "plugins";
            auto e = error_at(c, key, "plugin " + name + ": " + std::move(message));
            return tl::unexpected(e);
        };
        for (const auto& other : set->plugins_)
            if (other->name == name) return fail("loaded twice");
        auto loaded = std::make_unique<Loaded>();
        loaded->name = name;
        loaded->set = set.get();
        std::string tried;
        for (const auto& dir : search) {
            const std::string file = dir + "/postern-" + name + ".so";
            tried += (tried.empty() ? "" : ", ") + file;
            if (::access(file.c_str(), F_OK) != 0) continue;
            loaded->file = file;
            break;
        }
        if (loaded->file.empty())
            return fail("no postern-" + name + ".so (looked in " +
                        (tried.empty() ? std::string("nowhere") : tried) +
                        "; [plugins] path adds folders)");
        loaded->handle = ::dlopen(loaded->file.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!loaded->handle) return fail(std::string("cannot load: ") + ::dlerror());
        auto entry = reinterpret_cast<postern_plugin_entry_fn>(
            ::dlsym(loaded->handle, "postern_plugin_entry"));
        if (!entry) return fail(loaded->file + " has no postern_plugin_entry (not a plugin?)");
        loaded->descriptor = entry();
        const auto* d = loaded->descriptor;
        if (!d) return fail(loaded->file + ": postern_plugin_entry returned nothing");
        if (d->api_version != POSTERN_PLUGIN_API_VERSION)
            return fail(loaded->file + " was built for plugin API version " +
                        std::to_string(d->api_version) + ", this posternd has version " +
                        std::to_string(POSTERN_PLUGIN_API_VERSION) + ": rebuild it");
        if (!d->name || name != d->name)
            return fail(loaded->file + " calls itself \"" + (d->name ? d->name : "") + "\"");
        if (!d->create) return fail(loaded->file + ": no create function");
        SettingsView settings(*set->config_, name);
        std::string error;
        Loaded& l = *loaded;
        set->plugins_.push_back(std::move(loaded));
        l.instance = d->create(l, settings, l, error);
        if (settings.type_error()) return tl::unexpected(*settings.type_error());
        if (!l.instance) {
            // A plugin's message may already be "file:line: key: ..." (from Settings::error).
            if (error.empty()) error = "failed to start";
            auto fallback = fail(error).value();
            return tl::unexpected(settings.structured(error, std::move(fallback)));
        }
        if (!l.error.empty()) return fail(l.error);
        if (set->options_.log)
            set->options_.log(plugin::LogLevel::info,
                              "loaded plugin " + name + " (" + l.file + "): " +
                                  (d->description ? d->description : ""));
    }
    return set;
}

tl::expected<void, ConfigError> check_plugins(const Config& c, ike::EngineConfig& engine) {
    auto set = PluginSet::load(c, {true, {}});
    if (!set) return tl::unexpected(set.error());
    return (*set)->apply(engine, c);
}

std::vector<std::string> PluginSet::names() const {
    std::vector<std::string> out;
    for (const auto& p : plugins_)
        out.push_back(p->name);
    return out;
}

tl::expected<void, ConfigError> PluginSet::apply(ike::EngineConfig& e, const Config& c) const {
    const Components& k = *components_;
    if (!k.stores.empty())
        e.eap_users = [set = this](std::string_view name) { return set->components_->lookup(name); };
    e.eap_factories = k.eap_methods;
    if (k.verifier) e.verifier = k.verifier;
    e.psk_sources = k.psk_sources;
    e.authorizers = k.authorizers;
    for (std::size_t i = 0; i < e.connections.size() && i < c.connections.size(); ++i) {
        const ike::ConnectionConfig& conn = e.connections[i];
        const Connection& src = c.connections[i];
        if (conn.remote_auth == ike::AuthClass::Eap)
            for (auto m : conn.eap_methods) {
                const bool provided =
                    std::any_of(k.eap_methods.begin(), k.eap_methods.end(),
                                [&](const auto& f) { return f->type() == static_cast<std::uint8_t>(m); });
                if (!provided) {
                    const std::string plugin = m == ike::EapMethod::tls ? "eap-tls" : "eap-mschapv2";
                    auto err = error_at(c, src.where + ".remote_auth",
                                        "no loaded plugin provides " + plugin +
                                            " (add \"" + plugin + "\" to [plugins] load)");
                    if (!err.line) err.line = src.line;
                    return tl::unexpected(err);
                }
            }
        const bool psk = conn.local_auth == ike::AuthClass::Psk ||
                         conn.remote_auth == ike::AuthClass::Psk;
        if (psk && conn.psk.empty() && k.psk_sources.empty()) {
            auto err = error_at(c, src.where + (src.local_auth == AuthKind::Psk ? ".local_auth" : ".remote_auth"),
                                "psk authentication needs psk or psk_file, or a plugin that "
                                "provides pre-shared keys (psk, sqlite-users, lua)");
            if (!err.line) err.line = src.line;
            return tl::unexpected(err);
        }
    }
    return {};
}

std::shared_ptr<plugin::AddressPools> PluginSet::address_pools() const {
    return components_->pools;
}

void PluginSet::flush_events() {
    for (const auto& s : components_->sinks)
        s->flush();
}

void PluginSet::dispatch(const ike::Event& e) {
    const auto& sinks = components_->sinks;
    if (sinks.empty()) return;
    const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
    const std::string peer = e.peer ? e.peer->to_string() : "";
    switch (e.kind) {
        case ike::EventKind::IkeEstablished: {
            plugin::ConnectEvent c{e.ike_sa, e.connection, e.identity, e.user, e.auth_method,
                                   peer, {}, now};
            for (const auto& v : e.virtual_ips)
                c.virtual_ips.push_back(v.to_string());
            for (const auto& s : sinks)
                s->on_connect(c);
            break;
        }
        case ike::EventKind::IkeDeleted: {
            if (e.user.empty()) return;  // never logged in
            plugin::DisconnectEvent d{e.ike_sa, e.connection, e.user, peer, e.reason, now};
            for (const auto& s : sinks)
                s->on_disconnect(d);
            break;
        }
        case ike::EventKind::AuthFailed: {
            plugin::AuthFailureEvent f{e.connection, e.identity, e.user, peer, e.reason, now};
            for (const auto& s : sinks)
                s->on_auth_failure(f);
            break;
        }
        default:
            break;
    }
}

std::vector<std::string> PluginSet::reload(const Config& next) {
    std::vector<std::string> notes;
    // Plugins read the running configuration through their Host; the old one stays alive for
    // whatever still holds it.
    auto previous = config_;
    config_ = std::make_shared<const Config>(next);
    const std::vector<std::string> wanted =
        next.plugins.load_given ? next.plugins.load : default_plugins(next);
    for (const auto& name : wanted)
        if (std::none_of(plugins_.begin(), plugins_.end(),
                         [&](const auto& p) { return p->name == name; }))
            notes.push_back("plugin " + name + ": added to the load list; loads at the next restart");
    for (auto& p : plugins_) {
        if (std::find(wanted.begin(), wanted.end(), p->name) == wanted.end()) {
            notes.push_back("plugin " + p->name +
                            ": no longer in the load list; keeps running until the next restart");
            continue;
        }
        SettingsView settings(*config_, p->name);
        std::string error;
        // The plugin's own words say what it kept (its previous keys, a script's previous
        // version, ...).
        std::unique_lock hold(*p->lock);  // the IKE threads may be in the plugin
        if (!p->instance->reload(settings, error))
            notes.push_back("plugin " + p->name + ": reload: " + error);
        if (settings.type_error())
            notes.push_back("plugin " + p->name + ": " + settings.type_error()->to_string() +
                            " (ignored: the default applies until the file is fixed)");
    }
    return notes;
}

}  // namespace postern::daemon

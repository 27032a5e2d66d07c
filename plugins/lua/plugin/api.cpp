#include "plugins/lua/plugin/api.hpp"

#include <ctime>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "ike/eap/mschapv2.hpp"

namespace postern::lua::plugin_api {

namespace {

Value strings(const std::vector<std::string>& list) {
    std::vector<Value> v;
    for (const auto& s : list)
        v.emplace_back(s);
    return Value::array(std::move(v));
}

// "192.0.2.7:4500" -> "192.0.2.7", "[2001:db8::1]:500" -> "2001:db8::1".
std::string address_of(const std::string& peer) {
    if (!peer.empty() && peer.front() == '[') return peer.substr(1, peer.find(']') - 1);
    const auto colon = peer.rfind(':');
    return colon == std::string::npos ? peer : peer.substr(0, colon);
}

void add_local_time(std::map<std::string, Value>& m, std::int64_t t) {
    std::tm tm{};
    const std::time_t tt = static_cast<std::time_t>(t);
    localtime_r(&tt, &tm);
    m["hour"] = tm.tm_hour;
    m["minute"] = tm.tm_min;
    m["weekday"] = tm.tm_wday + 1;  // as Lua's os.date: 1 = Sunday
}

Value user_table(std::string_view name, const plugin::UserInfo& u) {
    std::map<std::string, Value> attributes;
    for (const auto& [k, v] : u.attributes)
        attributes[k] = v;
    std::map<std::string, Value> m{
        {"name", std::string(name)},
        {"enabled", u.status == plugin::UserInfo::Status::ok},
        {"groups", strings(u.groups)},
        {"attributes", Value::table(std::move(attributes))},
    };
    if (u.static_ipv4) m["static_ipv4"] = *u.static_ipv4;
    if (u.static_ipv6) m["static_ipv6"] = *u.static_ipv6;
    return Value::table(std::move(m));
}

nlohmann::json to_json(const Value& v, int depth = 0) {
    if (depth > Value::kMaxDepth) return nullptr;
    switch (v.type()) {
        case Value::Type::nil:
            return nullptr;
        case Value::Type::boolean:
            return *v.as_boolean();
        case Value::Type::integer:
            return *v.as_integer();
        case Value::Type::number:
            return *v.as_number();
        case Value::Type::string:
            return std::string(*v.as_string());
        case Value::Type::table: {
            const auto& t = *v.as_table();
            bool array = !t.empty();
            for (std::size_t i = 0; i < t.size() && array; ++i) {
                const auto* k = std::get_if<std::int64_t>(&t[i].key);
                array = k && *k == static_cast<std::int64_t>(i + 1);
            }
            nlohmann::json out = array ? nlohmann::json::array() : nlohmann::json::object();
            for (const auto& f : t) {
                if (array) {
                    out.push_back(to_json(f.value, depth + 1));
                } else {
                    const std::string key = std::holds_alternative<std::string>(f.key)
                                                ? std::get<std::string>(f.key)
                                                : std::to_string(std::get<std::int64_t>(f.key));
                    out[key] = to_json(f.value, depth + 1);
                }
            }
            return out;
        }
    }
    return nullptr;
}

tl::expected<std::optional<std::vector<std::string>>, std::string> string_list(
    const Value* v, const char* what) {
    if (!v || v->is_nil()) return std::nullopt;
    const auto* t = v->as_table();
    if (!t) return tl::unexpected(std::string(what) + " must be a list of strings");
    std::vector<std::string> out;
    for (const auto& f : *t) {
        auto s = f.value.as_string();
        if (!s) return tl::unexpected(std::string(what) + " must be a list of strings");
        out.emplace_back(*s);
    }
    return out;
}

tl::expected<std::optional<std::string>, std::string> optional_string(const Value* v,
                                                                      const char* what) {
    if (!v || v->is_nil()) return std::nullopt;
    auto s = v->as_string();
    if (!s) return tl::unexpected(std::string(what) + " must be a string");
    return std::string(*s);
}

}  // namespace

HostFunctions host_functions(plugin::Host& host, std::function<const std::string&()> events_file) {
    HostFunctions f;
    f["user"] = [&host](std::span<const Value> args) -> tl::expected<Value, std::string> {
        auto name = args.empty() ? std::nullopt : args[0].as_string();
        if (!name) return tl::unexpected(std::string("expects a user name"));
        const plugin::UserInfo u = host.lookup_user(*name);
        if (u.status == plugin::UserInfo::Status::unknown) return Value();
        return user_table(*name, u);
    };
    f["in_group"] = [&host](std::span<const Value> args) -> tl::expected<Value, std::string> {
        auto user = args.size() > 0 ? args[0].as_string() : std::nullopt;
        auto group = args.size() > 1 ? args[1].as_string() : std::nullopt;
        if (!user || !group) return tl::unexpected(std::string("expects a user and a group"));
        const plugin::UserInfo u = host.lookup_user(*user);
        for (const auto& g : u.groups)
            if (g == *group) return Value(true);
        return Value(false);
    };
    f["time"] = [&host](std::span<const Value>) -> tl::expected<Value, std::string> {
        return Value(host.now());
    };
    f["date"] = [&host](std::span<const Value> args) -> tl::expected<Value, std::string> {
        std::int64_t t = host.now();
        if (!args.empty() && !args[0].is_nil()) {
            auto given = args[0].as_integer();
            if (!given) return tl::unexpected(std::string("expects Unix seconds"));
            t = *given;
        }
        std::tm tm{};
        const std::time_t tt = static_cast<std::time_t>(t);
        localtime_r(&tt, &tm);
        return Value::table({{"year", tm.tm_year + 1900},
                             {"month", tm.tm_mon + 1},
                             {"day", tm.tm_mday},
                             {"hour", tm.tm_hour},
                             {"minute", tm.tm_min},
                             {"second", tm.tm_sec},
                             {"weekday", tm.tm_wday + 1},
                             {"yday", tm.tm_yday + 1}});
    };
    f["log"] = [&host](std::span<const Value> args) -> tl::expected<Value, std::string> {
        std::string line;
        for (const auto& a : args)
            line += (line.empty() ? "" : " ") +
                    (a.is_string() ? std::string(*a.as_string()) : a.to_string());
        host.log(plugin::LogLevel::info, line);
        return Value();
    };
    f["emit"] = [&host, events_file](std::span<const Value> args)
        -> tl::expected<Value, std::string> {
        if (args.empty() || !args[0].is_table())
            return tl::unexpected(std::string("expects a table"));
        nlohmann::json j = to_json(args[0]);
        if (!j.is_object()) j = nlohmann::json{{"event", j}};
        j["time"] = host.now();
        const std::string line = j.dump();
        const std::string& file = events_file();
        if (file.empty()) {
            host.log(plugin::LogLevel::info, "event " + line);
            return Value(true);
        }
        std::ofstream out(file, std::ios::app);
        out << line << '\n';
        if (!out) return tl::unexpected("cannot write " + file);
        return Value(true);
    };
    return f;
}

Value authorize_context(const plugin::AuthorizeRequest& r) {
    std::map<std::string, Value> m{
        {"connection", r.connection}, {"identity", r.identity},
        {"user", r.user},             {"auth_method", r.auth_method},
        {"peer", r.peer},             {"peer_address", address_of(r.peer)},
        {"local_identity", r.local_identity},
        {"groups", strings(r.groups)}, {"time", r.time},
    };
    add_local_time(m, r.time);
    return Value::table(std::move(m));
}

Value psk_context(const plugin::PskRequest& r) {
    return Value::table({{"connection", r.connection},
                         {"identity", r.remote_identity},
                         {"local_identity", r.local_identity}});
}

Value user_context(std::string_view user) {
    return Value::table({{"user", std::string(user)}});
}

Value connect_context(const plugin::ConnectEvent& e) {
    return Value::table({{"ike_sa", static_cast<std::int64_t>(e.ike_sa)},
                         {"connection", e.connection},
                         {"identity", e.identity},
                         {"user", e.user},
                         {"auth_method", e.auth_method},
                         {"peer", e.peer},
                         {"peer_address", address_of(e.peer)},
                         {"virtual_ips", strings(e.virtual_ips)},
                         {"time", e.time}});
}

Value disconnect_context(const plugin::DisconnectEvent& e) {
    return Value::table({{"ike_sa", static_cast<std::int64_t>(e.ike_sa)},
                         {"connection", e.connection},
                         {"user", e.user},
                         {"peer", e.peer},
                         {"peer_address", address_of(e.peer)},
                         {"reason", e.reason},
                         {"time", e.time}});
}

Value auth_failure_context(const plugin::AuthFailureEvent& e) {
    return Value::table({{"connection", e.connection},
                         {"identity", e.identity},
                         {"user", e.user},
                         {"peer", e.peer},
                         {"peer_address", address_of(e.peer)},
                         {"reason", e.reason},
                         {"time", e.time}});
}

tl::expected<plugin::AuthorizeResult, std::string> to_authorize_result(const Value& v) {
    using R = plugin::AuthorizeResult;
    if (v.is_nil()) return R::abstain();
    if (auto b = v.as_boolean()) return *b ? R::allow() : R::deny("denied by the script");
    if (auto s = v.as_string()) return R::deny(std::string(*s));
    if (!v.is_table())
        return tl::unexpected("authorize returned " + std::string(type_name(v.type())) +
                              " (expected nil, a boolean, a reason or a table)");
    static const std::set<std::string> kKeys{"allow", "reason", "pool", "ipv4", "ipv6",
                                             "dns",   "routes", "group"};
    for (const auto& f : *v.as_table()) {
        const auto* k = std::get_if<std::string>(&f.key);
        if (!k || !kKeys.count(*k))
            return tl::unexpected("authorize returned a table with the unknown key " +
                                  (k ? "\"" + *k + "\"" : std::string("[number]")));
    }
    bool allow = true;
    if (const Value* a = v.field("allow"); a && !a->is_nil()) {
        auto b = a->as_boolean();
        if (!b) return tl::unexpected(std::string("allow must be a boolean"));
        allow = *b;
    }
    auto reason = optional_string(v.field("reason"), "reason");
    if (!reason) return tl::unexpected(reason.error());
    if (!allow) return R::deny(reason->value_or("denied by the script"));
    R r = R::allow();
    for (auto [key, slot] : {std::pair{"pool", &r.pool}, std::pair{"ipv4", &r.ipv4},
                             std::pair{"ipv6", &r.ipv6}, std::pair{"group", &r.group}}) {
        auto s = optional_string(v.field(key), key);
        if (!s) return tl::unexpected(s.error());
        *slot = std::move(*s);
    }
    auto dns = string_list(v.field("dns"), "dns");
    if (!dns) return tl::unexpected(dns.error());
    r.dns = std::move(*dns);
    auto routes = string_list(v.field("routes"), "routes");
    if (!routes) return tl::unexpected(routes.error());
    r.routes = std::move(*routes);
    return r;
}

tl::expected<std::optional<SecretBytes>, std::string> to_psk(const Value& v) {
    if (v.is_nil()) return std::nullopt;
    auto s = v.as_string();
    if (!s) return tl::unexpected("psk returned " + std::string(type_name(v.type())) +
                                  " (expected the key or nil)");
    if (s->size() < 16) return tl::unexpected(std::string("psk returned a key shorter than 16 characters"));
    return SecretBytes(*s);
}

tl::expected<plugin::UserInfo, std::string> to_user(const Value& v) {
    if (v.is_nil()) return plugin::UserInfo::unknown_user();
    std::optional<std::string> password;
    std::optional<std::string> nt_hex;
    bool enabled = true;
    std::vector<std::string> groups;
    if (auto s = v.as_string()) {
        password = std::string(*s);
    } else if (v.is_table()) {
        static const std::set<std::string> kKeys{"password", "nt_hash", "enabled", "groups"};
        for (const auto& f : *v.as_table()) {
            const auto* k = std::get_if<std::string>(&f.key);
            if (!k || !kKeys.count(*k))
                return tl::unexpected("eap_secret returned a table with the unknown key " +
                                      (k ? "\"" + *k + "\"" : std::string("[number]")));
        }
        auto p = optional_string(v.field("password"), "password");
        auto h = optional_string(v.field("nt_hash"), "nt_hash");
        if (!p) return tl::unexpected(p.error());
        if (!h) return tl::unexpected(h.error());
        password = std::move(*p);
        nt_hex = std::move(*h);
        if (const Value* e = v.field("enabled"); e && !e->is_nil()) {
            auto b = e->as_boolean();
            if (!b) return tl::unexpected(std::string("enabled must be a boolean"));
            enabled = *b;
        }
        auto g = string_list(v.field("groups"), "groups");
        if (!g) return tl::unexpected(g.error());
        if (*g) groups = std::move(**g);
    } else {
        return tl::unexpected("eap_secret returned " + std::string(type_name(v.type())) +
                              " (expected nil, a password or a table)");
    }
    if (!enabled) {
        plugin::UserInfo u = plugin::UserInfo::disabled_user();
        u.groups = std::move(groups);
        return u;
    }
    plugin::UserInfo u;
    if (nt_hex) {
        Bytes hash;
        if (!from_hex(*nt_hex, hash) || hash.size() != ike::eap::kNtHashSize)
            return tl::unexpected(std::string("nt_hash must be 32 hex digits"));
        u = plugin::UserInfo::found(SecretBytes(hash));
    } else if (password) {
        auto hash = ike::eap::nt_password_hash(*password);
        std::fill(password->begin(), password->end(), '\0');
        if (!hash) return tl::unexpected("password: " + hash.error());
        u = plugin::UserInfo::found(*hash);
    } else {
        u = plugin::UserInfo::found(SecretBytes());  // known, no password: certificates only
    }
    u.groups = std::move(groups);
    return u;
}

}  // namespace postern::lua::plugin_api

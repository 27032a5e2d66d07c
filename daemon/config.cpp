#include "daemon/config.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "daemon/config_checks.hpp"

namespace postern::daemon {

std::string ConfigError::to_string() const {
    std::string s = file;
    if (line) s += ":" + std::to_string(line);
    s += ": ";
    if (!key.empty()) s += key + ": ";
    return s + message;
}

std::string to_string(DataPlaneKind k) {
    switch (k) {
        case DataPlaneKind::Auto:
            return "auto";
        case DataPlaneKind::Kernel:
            return "kernel";
        case DataPlaneKind::Userspace:
            return "userspace";
    }
    return "?";
}

std::string to_string(AuthKind k) {
    switch (k) {
        case AuthKind::Psk:
            return "psk";
        case AuthKind::Pubkey:
            return "pubkey";
        case AuthKind::EapMschapv2:
            return "eap-mschapv2";
        case AuthKind::EapTls:
            return "eap-tls";
    }
    return "?";
}

namespace {

AuthKind parse_auth(TableReader& r, std::string_view key, AuthKind dflt) {
    std::string s;
    r.str(key, s);
    if (s.empty()) return dflt;
    if (s == "psk") return AuthKind::Psk;
    if (s == "pubkey") return AuthKind::Pubkey;
    if (s == "eap-mschapv2") return AuthKind::EapMschapv2;
    if (s == "eap-tls") return AuthKind::EapTls;
    r.fail(r.table().get(key), r.key_path(key),
           "unknown auth method \"" + s + "\" (psk, pubkey, eap-mschapv2, eap-tls)");
    return dflt;
}

void read_server(TableReader& r, Config& c) {
    r.strings("listen", c.listen);
    r.port("port", c.ike_port);
    r.port("natt_port", c.natt_port);
    std::string dp;
    r.str("dataplane", dp);
    if (dp == "kernel")
        c.dataplane = DataPlaneKind::Kernel;
    else if (dp == "userspace")
        c.dataplane = DataPlaneKind::Userspace;
    else if (dp == "auto" || dp.empty())
        c.dataplane = DataPlaneKind::Auto;
    else
        r.fail(r.table().get("dataplane"), r.key_path("dataplane"),
               "expected \"auto\", \"kernel\" or \"userspace\", got \"" + dp + "\"");
    r.boolean("allow_legacy_crypto", c.allow_legacy_crypto);
    r.str("log_level", c.log_level);
    static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "off"};
    if (!levels.count(c.log_level))
        r.fail(r.table().get("log_level"), r.key_path("log_level"),
               "expected one of trace, debug, info, warn, error, off");
    r.str("user_db", c.user_db);
    r.str("control_socket", c.control_socket);
    r.finish();
}

void read_pki(TableReader& r, Config& c) {
    r.str("ca_cert", c.ca_cert);
    r.str("server_cert", c.server_cert);
    r.str("server_key", c.server_key);
    r.finish();
}

}  // namespace

tl::expected<Config, ConfigError> parse_config(std::string_view text, const std::string& path) {
    toml::table root;
    try {
        root = toml::parse(text, path);
    } catch (const toml::parse_error& e) {
        return tl::unexpected(
            ConfigError{path, e.source().begin.line, "", std::string(e.description())});
    }
    Config c;
    c.file = path;
    std::optional<ConfigError> err;
    TableReader top(root, "", path, err);

    auto section = [&](std::string_view name, auto&& fn) {
        auto* n = top.get(name);
        if (!n) return;
        auto* t = n->as_table();
        if (!t) {
            top.fail(n, std::string(name), "expected a table ([" + std::string(name) + "])");
            return;
        }
        TableReader r(*t, std::string(name), path, err);
        fn(r);
    };
    section("server", [&](TableReader& r) { read_server(r, c); });
    section("pki", [&](TableReader& r) { read_pki(r, c); });
    section("pools", [&](TableReader& pools) {
        for (auto&& [name, node] : pools.table()) {
            pools.get(name.str());
            auto* t = node.as_table();
            std::string key = "pools." + std::string(name.str());
            if (!t) {
                pools.fail(&node, key, "expected a table");
                return;
            }
            TableReader r(*t, key, path, err);
            Pool p;
            p.name = std::string(name.str());
            r.str("ipv4", p.ipv4);
            r.str("ipv6", p.ipv6);
            r.strings("dns", p.dns);
            if (p.ipv4.empty() && p.ipv6.empty())
                r.fail(&node, key, "a pool needs ipv4 or ipv6 (or both)");
            check_cidr(r, "ipv4", p.ipv4, 4);
            check_cidr(r, "ipv6", p.ipv6, 6);
            for (std::size_t i = 0; i < p.dns.size(); ++i)
                check_address(r, "dns", i, p.dns[i]);
            r.finish();
            c.pools.push_back(std::move(p));
        }
    });

    if (auto* n = top.get("connections")) {
        auto* arr = n->as_array();
        if (!arr || !arr->is_array_of_tables()) {
            top.fail(n, "connections", "expected an array of tables ([[connections]])");
        } else {
            for (std::size_t i = 0; i < arr->size(); ++i) {
                const toml::table& t = *arr->get(i)->as_table();
                std::string key = "connections[" + std::to_string(i) + "]";
                TableReader r(t, key, path, err);
                Connection conn;
                r.str("name", conn.name, true);
                r.str("local_id", conn.local_id);
                r.str("remote_id", conn.remote_id);
                conn.local_auth = parse_auth(r, "local_auth", AuthKind::Pubkey);
                conn.remote_auth = parse_auth(r, "remote_auth", AuthKind::EapMschapv2);
                r.strings("ike_proposals", conn.ike_proposals);
                r.strings("esp_proposals", conn.esp_proposals);
                r.strings("pools", conn.pools);
                r.strings("local_ts", conn.local_ts);
                r.duration("ike_lifetime", conn.ike_lifetime_s);
                r.duration("child_lifetime", conn.child_lifetime_s);
                check_proposals(r, "ike_proposals", conn.ike_proposals, ProposalKind::Ike,
                                c.allow_legacy_crypto);
                check_proposals(r, "esp_proposals", conn.esp_proposals, ProposalKind::Esp,
                                c.allow_legacy_crypto);
                for (std::size_t j = 0; j < conn.local_ts.size(); ++j)
                    check_subnet(r, "local_ts", j, conn.local_ts[j]);
                for (const auto& p : conn.pools) {
                    bool found = false;
                    for (const auto& pool : c.pools)
                        found |= pool.name == p;
                    if (!found)
                        r.fail(r.table().get("pools"), key + ".pools",
                               "no pool named \"" + p + "\" in [pools]");
                }
                r.finish();
                c.connections.push_back(std::move(conn));
            }
        }
    }
    top.finish();
    if (err) return tl::unexpected(*err);
    return c;
}

tl::expected<Config, ConfigError> load_config(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return tl::unexpected(ConfigError{path, 0, "", "cannot open file"});
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_config(ss.str(), path);
}

}  // namespace postern::daemon

#include "daemon/config.hpp"

#include <algorithm>
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
        case AuthKind::Eap:
            return "eap";
    }
    return "?";
}

ConfigError error_at(const Config& c, const std::string& key, std::string message) {
    std::uint32_t line = 0;
    if (auto it = c.lines.find(key); it != c.lines.end()) line = it->second;
    return ConfigError{c.file, line, key, std::move(message)};
}

namespace {

const std::set<std::string> kLevels{"trace", "debug", "info", "warn", "error", "off"};

AuthKind parse_auth(TableReader& r, std::string_view key, AuthKind dflt) {
    std::string s;
    r.str(key, s);
    if (s.empty()) return dflt;
    if (s == "psk") return AuthKind::Psk;
    if (s == "pubkey") return AuthKind::Pubkey;
    if (s == "eap-mschapv2") return AuthKind::EapMschapv2;
    if (s == "eap-tls") return AuthKind::EapTls;
    if (s == "eap") return AuthKind::Eap;
    r.fail(r.table().get(key), r.key_path(key),
           "unknown auth method \"" + s + "\" (psk, pubkey, eap-mschapv2, eap-tls, eap)");
    return dflt;
}

void level(TableReader& r, std::string_view key, std::string& out) {
    r.str(key, out);
    if (!out.empty() && !kLevels.count(out))
        r.fail(r.table().get(key), r.key_path(key),
               "expected one of trace, debug, info, warn, error, off");
}

void read_server(TableReader& r, Config& c) {
    r.strings("listen", c.listen);
    for (std::size_t i = 0; i < c.listen.size(); ++i)
        check_address(r, "listen", i, c.listen[i]);
    r.port("port", c.ike_port);
    r.port("natt_port", c.natt_port);
    if (c.ike_port == c.natt_port)
        r.fail(r.table().get("natt_port"), r.key_path("natt_port"),
               "must differ from server.port (" + std::to_string(c.ike_port) + ")");
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
    level(r, "log_level", c.log_level);
    if (c.log_level.empty()) c.log_level = "info";
    r.str("user_db", c.user_db);
    r.str("control_socket", c.control_socket);
    r.integer("cookie_threshold", c.cookie_threshold, 0, 1000000);
    r.integer("ike_threads", c.ike_threads, 0, 64);
    std::string pref;
    r.str("proposal_preference", pref);
    if (pref == "client") c.prefer_server_proposals = false;
    else if (pref == "server" || pref.empty()) c.prefer_server_proposals = true;
    else r.fail(r.table().get("proposal_preference"), r.key_path("proposal_preference"),
                "expected \"server\" or \"client\", got \"" + pref + "\"");
    r.duration("half_open_timeout", c.half_open_timeout_s);
    r.duration("dpd_delay", c.dpd_delay_s, true);
    r.duration("nat_keepalive", c.nat_keepalive_s, true);
    r.integer("fragment_size", c.fragment_size, 576, 65000);
    r.duration_ms("retransmit_timeout", c.retransmit_timeout_ms);
    r.integer("retransmit_tries", c.retransmit_tries, 1, 20);
    r.integer("init_rate_per_address", c.init_rate_per_address, 0, 1000000);
    r.integer("half_open_per_address", c.half_open_per_address, 0, 1000000);
    r.integer("half_open_limit", c.half_open_limit, 0, 10000000);
    if (c.half_open_limit != 0 && c.half_open_limit < c.cookie_threshold)
        r.fail(r.table().get("half_open_limit"), r.key_path("half_open_limit"),
               "must be 0 (no limit) or at least server.cookie_threshold (" +
                   std::to_string(c.cookie_threshold) +
                   "): above it cookies protect, the limit is the last resort");
    r.integer("max_ike_sas_per_identity", c.max_ike_sas_per_identity, 0, 1000000);
    r.integer("max_peer_certs", c.max_peer_certs, 0, 64);
    r.integer("max_peer_cert_bytes", c.max_peer_cert_bytes, 0, 16 * 1024 * 1024);
    if (auto* n = r.get("eap_tls_max_version"))
        r.fail(n, r.key_path("eap_tls_max_version"),
               "moved to the eap-tls plugin: [plugins.eap-tls] max_version");
    r.finish();
}

// [plugins]: `load`, `path`, and a table per plugin whose values are kept as they are (the
// plugin checks its own keys when it starts).
void read_plugins(TableReader& r, Config& c) {
    auto& p = c.plugins;
    if (r.table().get("load")) p.load_given = true;
    r.strings("load", p.load);
    for (std::size_t i = 0; i < p.load.size(); ++i) {
        const std::string& name = p.load[i];
        const bool ok = !name.empty() && name.find_first_not_of(
                                             "abcdefghijklmnopqrstuvwxyz0123456789-_") ==
                                             std::string::npos;
        const std::string key = r.key_path("load") + "[" + std::to_string(i) + "]";
        if (!ok) {
            r.fail(r.table().get("load"), key,
                   "\"" + name + "\" is not a plugin name (lower-case letters, digits, - and _)");
            return;
        }
        if (std::count(p.load.begin(), p.load.end(), name) > 1) {
            r.fail(r.table().get("load"), key, "\"" + name + "\" is listed twice");
            return;
        }
    }
    r.strings("path", p.path);
    for (auto& d : p.path)
        if (!d.empty() && d.front() != '/') d = c.dir + "/" + d;
    for (auto&& [name, node] : r.table()) {
        const std::string plugin(name.str());
        if (plugin == "load" || plugin == "path") continue;
        r.get(plugin);
        const std::string where = r.key_path(plugin);
        const toml::table* t = node.as_table();
        if (!t) {
            r.fail(&node, where, "expected a table ([plugins." + plugin + "]) or load/path");
            return;
        }
        PluginSettingsData data;
        data.line = t->source().begin.line;
        for (auto&& [k, v] : *t) {
            const std::string key(k.str());
            const std::string full = where + "." + key;
            data.lines[key] = v.source().begin.line;
            c.lines[full] = v.source().begin.line;
            if (auto s = v.value_exact<std::string>()) {
                data.values[key] = *s;
            } else if (auto b = v.value_exact<bool>()) {
                data.values[key] = *b;
            } else if (auto n = v.value_exact<std::int64_t>()) {
                data.values[key] = *n;
            } else if (const auto* arr = v.as_array()) {
                std::vector<std::string> list;
                for (std::size_t i = 0; i < arr->size(); ++i) {
                    auto e = arr->get(i)->value_exact<std::string>();
                    if (!e) {
                        r.fail(arr->get(i), full + "[" + std::to_string(i) + "]",
                               "expected a string, got " + TableReader::type_name(*arr->get(i)));
                        return;
                    }
                    list.push_back(*e);
                }
                data.values[key] = std::move(list);
            } else if (const auto* sub = v.as_table()) {
                std::map<std::string, std::string> strings;
                for (auto&& [sk, sv] : *sub) {
                    auto e = sv.value_exact<std::string>();
                    if (!e) {
                        r.fail(&sv, full + "." + std::string(sk.str()),
                               "expected a string, got " + TableReader::type_name(sv));
                        return;
                    }
                    strings[std::string(sk.str())] = *e;
                    c.lines[full + "." + std::string(sk.str())] = sv.source().begin.line;
                }
                data.values[key] = std::move(strings);
            } else {
                r.fail(&v, full,
                       "expected a string, integer, boolean, array of strings or table of "
                       "strings, got " + TableReader::type_name(v));
                return;
            }
        }
        p.settings[plugin] = std::move(data);
    }
    r.finish();
}

void read_log(TableReader& r, Config& c) {
    level(r, "ike", c.log.ike);
    level(r, "net", c.log.net);
    level(r, "cfg", c.log.cfg);
    level(r, "dp", c.log.dp);
    r.finish();
}

void read_pki(TableReader& r, Config& c) {
    for (const char* old : {"ca_cert", "server_cert", "server_key"})
        if (auto* n = r.get(old))
            r.fail(n, r.key_path(old),
                   "no longer supported: list CA files in pki.cacerts and give each connection "
                   "its own cert and key");
    r.strings("cacerts", c.cacerts);
    for (auto& f : c.cacerts)
        if (!f.empty() && f.front() != '/') f = c.dir + "/" + f;
    r.finish();
}

void read_connection(TableReader& r, Config& c, Connection& conn) {
    r.str("name", conn.name, true);
    for (const auto& other : c.connections)
        if (!conn.name.empty() && other.name == conn.name)
            r.fail(r.table().get("name"), r.key_path("name"),
                   "a connection named \"" + conn.name + "\" already exists (" + other.where + ")");
    r.str("local_id", conn.local_id);
    r.str("remote_id", conn.remote_id);
    check_identity(r, "local_id", conn.local_id);
    check_identity_pattern(r, "remote_id", conn.remote_id);
    conn.local_auth = parse_auth(r, "local_auth", AuthKind::Pubkey);
    conn.remote_auth = parse_auth(r, "remote_auth", AuthKind::Pubkey);
    r.str("psk", conn.psk);
    r.path("psk_file", conn.psk_file, c.dir);
    if (!conn.psk.empty() && !conn.psk_file.empty())
        r.fail(r.table().get("psk_file"), r.key_path("psk_file"),
               "give either psk or psk_file, not both");
    if (auto* n = r.table().get("psk"); n && conn.psk.empty() && n->is_string())
        r.fail(n, r.key_path("psk"), "empty");
    r.path("cert", conn.cert, c.dir);
    r.path("key", conn.key_file, c.dir);
    r.str("eap_id", conn.eap_id);
    r.str("eap_password", conn.eap_password);
    r.boolean("eap_only", conn.eap_only);
    r.strings("eap_methods", conn.eap_methods);
    for (std::size_t j = 0; j < conn.eap_methods.size(); ++j) {
        const std::string& m = conn.eap_methods[j];
        const bool again =
            std::find(conn.eap_methods.begin(), conn.eap_methods.begin() + j, m) !=
            conn.eap_methods.begin() + j;
        if (m != "mschapv2" && m != "tls")
            r.fail(r.table().get("eap_methods"), r.key_path("eap_methods") + "[" + std::to_string(j) + "]",
                   "unknown EAP method \"" + m + "\" (mschapv2, tls)");
        else if (again)
            r.fail(r.table().get("eap_methods"), r.key_path("eap_methods") + "[" + std::to_string(j) + "]",
                   "\"" + m + "\" is listed twice");
    }
    if (r.table().get("eap_methods") && conn.remote_auth != AuthKind::Eap)
        r.fail(r.table().get("eap_methods"), r.key_path("eap_methods"),
               "only with remote_auth = \"eap\" (eap-mschapv2 and eap-tls name their method)");
    if (conn.local_auth == AuthKind::Eap)
        r.fail(r.table().get("local_auth"), r.key_path("local_auth"),
               "\"eap\" offers a choice of methods, so it is for remote_auth; as a client name "
               "the method (eap-mschapv2 or eap-tls)");

    r.strings("ike_proposals", conn.ike_proposals);
    r.strings("esp_proposals", conn.esp_proposals);
    check_proposals(r, "ike_proposals", conn.ike_proposals, ProposalKind::Ike,
                    c.allow_legacy_crypto);
    check_proposals(r, "esp_proposals", conn.esp_proposals, ProposalKind::Esp,
                    c.allow_legacy_crypto);

    r.strings("pools", conn.pools);
    for (const auto& p : conn.pools) {
        bool found = false;
        for (const auto& pool : c.pools)
            found |= pool.name == p;
        if (!found)
            r.fail(r.table().get("pools"), r.key_path("pools"),
                   "no pool named \"" + p + "\" in [pools]");
    }
    r.strings("dns_domains", conn.dns_domains);
    for (std::size_t j = 0; j < conn.dns_domains.size(); ++j)
        if (conn.dns_domains[j].empty() ||
            conn.dns_domains[j].find_first_of(" \t,;") != std::string::npos)
            r.fail(r.table().get("dns_domains"),
                   r.key_path("dns_domains") + "[" + std::to_string(j) + "]",
                   "\"" + conn.dns_domains[j] + "\" is not a domain name");
    for (const char* k : {"split_include", "local_ts", "remote_ts"}) {
        auto& list = std::string_view(k) == "split_include" ? conn.split_include
                     : std::string_view(k) == "local_ts"    ? conn.local_ts
                                                            : conn.remote_ts;
        r.strings(k, list);
        for (std::size_t j = 0; j < list.size(); ++j)
            check_subnet(r, k, j, list[j]);
    }

    r.strings("remote_addrs", conn.remote_addrs);
    for (std::size_t j = 0; j < conn.remote_addrs.size(); ++j)
        check_address(r, "remote_addrs", j, conn.remote_addrs[j]);
    conn.remote_port = c.ike_port;
    r.port("remote_port", conn.remote_port);
    r.boolean("request_virtual_ip", conn.request_virtual_ip);
    r.boolean("start", conn.start);
    if (conn.start && conn.remote_addrs.empty())
        r.fail(r.table().get("start"), r.key_path("start"),
               "start = true needs remote_addrs (where to connect)");
    r.boolean("fragmentation", conn.fragmentation);
    r.boolean("encap", conn.encap);
    r.boolean("mobike", conn.mobike);
    r.boolean("client_to_client", conn.client_to_client);
    if (r.table().get("max_ike_sas_per_identity")) {
        std::uint32_t max = 0;
        r.integer("max_ike_sas_per_identity", max, 0, 1000000);
        conn.max_ike_sas_per_identity = max;
    }
    r.duration("ike_rekey_time", conn.ike_rekey_s, true);
    r.duration("ike_life_time", conn.ike_life_s, true);
    r.duration("reauth_time", conn.reauth_s, true);
    r.duration("child_rekey_time", conn.child_rekey_s, true);
    r.duration("child_life_time", conn.child_life_s, true);
    r.duration("rand_time", conn.rand_s, true);
    r.volume("child_rekey_bytes", conn.child_rekey_bytes);
    r.volume("child_life_bytes", conn.child_life_bytes);
    r.volume("child_rekey_packets", conn.child_rekey_packets);
    r.volume("child_life_packets", conn.child_life_packets);
    r.renamed("ike_lifetime", "ike_rekey_time (and ike_life_time for the hard limit)");
    r.renamed("child_lifetime", "child_rekey_time (and child_life_time for the hard limit)");
    auto check_life = [&](const char* life_key, std::uint32_t life, std::uint32_t rekey) {
        if (life && rekey && life <= rekey)
            r.fail(r.table().get(life_key), r.key_path(life_key),
                   "must be longer than the rekey time (" + std::to_string(rekey) + " s)");
    };
    check_life("ike_life_time", conn.ike_life_s, conn.ike_rekey_s);
    check_life("child_life_time", conn.child_life_s, conn.child_rekey_s);
    r.finish();
}

std::string folder_of(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
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
    c.dir = folder_of(path);
    std::optional<ConfigError> err;
    TableReader top(root, "", path, err, &c.lines);

    auto section = [&](std::string_view name, auto&& fn) {
        auto* n = top.get(name);
        if (!n) return;
        auto* t = n->as_table();
        if (!t) {
            top.fail(n, std::string(name), "expected a table ([" + std::string(name) + "])");
            return;
        }
        TableReader r(*t, std::string(name), path, err, &c.lines);
        fn(r);
    };
    section("server", [&](TableReader& r) { read_server(r, c); });
    section("log", [&](TableReader& r) { read_log(r, c); });
    section("pki", [&](TableReader& r) { read_pki(r, c); });
    section("plugins", [&](TableReader& r) { read_plugins(r, c); });
    section("pools", [&](TableReader& pools) {
        for (auto&& [name, node] : pools.table()) {
            pools.get(name.str());
            auto* t = node.as_table();
            std::string key = "pools." + std::string(name.str());
            if (!t) {
                pools.fail(&node, key, "expected a table");
                return;
            }
            TableReader r(*t, key, path, err, &c.lines);
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
                TableReader r(t, key, path, err, &c.lines);
                Connection conn;
                conn.where = key;
                conn.line = t.source().begin.line;
                c.lines[key] = conn.line;
                read_connection(r, c, conn);
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

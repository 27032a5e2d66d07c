// postern.toml: the daemon's configuration. Loading validates everything it can without
// starting anything (`postern check-config` and `posternd --check` use the same code), and every
// error names the file, the line and the key. Files the configuration points at (certificates,
// keys, PSK files) are read by build_engine_config (daemon/engine_setup.hpp).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <tl/expected.hpp>

namespace postern::daemon {

struct ConfigError {
    std::string file;
    std::uint32_t line = 0;  // 0 when the problem has no position (file missing)
    std::string key;         // dotted path, e.g. "connections[1].ike_proposals[0]"
    std::string message;
    // "file:line: key: message", the form every tool prints.
    std::string to_string() const;
};

enum class DataPlaneKind { Auto, Kernel, Userspace };
// Eap: any of the connection's eap_methods (the client picks by Nak), remote side only.
enum class AuthKind { Psk, Pubkey, EapMschapv2, EapTls, Eap };

// Where a key was written: dotted key path -> line, for errors found after parsing (a
// certificate file that does not load names the line of the `cert` key that pointed at it).
using KeyLines = std::map<std::string, std::uint32_t>;

struct Pool {
    std::string name;
    std::string ipv4;  // CIDR, may be empty
    std::string ipv6;  // CIDR, may be empty
    std::vector<std::string> dns;
};

struct Connection {
    std::string name;
    std::string where;  // "connections[0]": the prefix of this connection's key paths
    std::uint32_t line = 0;
    std::string local_id;  // empty: the certificate's subject (pubkey)
    std::string remote_id = "%any";
    AuthKind local_auth = AuthKind::Pubkey;
    AuthKind remote_auth = AuthKind::Pubkey;
    std::string psk;       // inline secret
    std::string psk_file;  // absolute (resolved against the config file's folder)
    std::string cert;      // PEM: end entity, then intermediates; absolute
    std::string key_file;  // PEM private key (config key `key`); absolute
    // local_auth = eap-mschapv2 / eap-tls (posternd as an EAP client): identity and, for
    // MSCHAPv2, password.
    std::string eap_id;
    std::string eap_password;
    // remote_auth = "eap": the methods offered, in order of preference ("mschapv2", "tls").
    std::vector<std::string> eap_methods;
    // RFC 5998: with remote_auth = eap-*, skip our certificate AUTH when the client sends
    // EAP_ONLY_AUTHENTICATION; with local_auth = eap-*, send it.
    bool eap_only = false;
    std::vector<std::string> ike_proposals;
    std::vector<std::string> esp_proposals;
    std::vector<std::string> pools;
    std::vector<std::string> dns_domains;
    std::vector<std::string> split_include;
    std::vector<std::string> local_ts;
    std::vector<std::string> remote_ts;
    // Initiator side: posternd connects to the first of remote_addrs at start-up when `start`.
    std::vector<std::string> remote_addrs;
    std::uint16_t remote_port = 500;
    bool request_virtual_ip = false;
    bool start = false;
    bool fragmentation = true;
    bool encap = false;             // force ESP-in-UDP (fake NAT-D)
    bool mobike = true;             // MOBIKE (RFC 4555)
    bool client_to_client = false;  // clients of this connection may reach each other
    // IKE SAs one identity may hold on this connection (0 = no limit); unset: the server's.
    std::optional<std::uint32_t> max_ike_sas_per_identity;
    // Rekeying (RFC 7296 §2.8): rekey times longer than every native client's so clients
    // rekey first; life times 0 = 10 % more than the rekey time; rand_time unset (kUnset) =
    // a tenth of each rekey time, at most an hour; reauth_time 0 = never.
    static constexpr std::uint32_t kUnset = 0xffffffff;
    std::uint32_t ike_rekey_s = 26 * 3600;
    std::uint32_t ike_life_s = 0;
    std::uint32_t reauth_s = 0;
    std::uint32_t child_rekey_s = 26 * 3600;
    std::uint32_t child_life_s = 0;
    std::uint32_t rand_s = kUnset;
    std::uint64_t child_rekey_bytes = 0, child_life_bytes = 0;  // 0 = no volume limit
    std::uint64_t child_rekey_packets = 0, child_life_packets = 0;
};

// One plugin's [plugins.<name>] table, as plain values with the lines they were written on
// (what plugin::Settings serves). Values: strings, integers, booleans, arrays of strings and
// tables of strings ([plugins.psk.secrets]); anything else is refused when reading the file.
struct PluginSettingsData {
    using Value = std::variant<std::string, std::int64_t, bool, std::vector<std::string>,
                               std::map<std::string, std::string>>;
    std::map<std::string, Value> values;
    std::map<std::string, std::uint32_t> lines;
    std::uint32_t line = 0;  // of the table itself (0: not written)
};

// [plugins]: which plugins posternd loads, in which order (the order user stores, PSK
// sources and authorizers are asked in), where from, and each one's settings.
struct PluginsConfig {
    std::vector<std::string> load;  // empty: the built-in set (daemon/plugin_set.hpp)
    bool load_given = false;        // `load` was written
    std::vector<std::string> path;  // folders searched first (absolute)
    std::map<std::string, PluginSettingsData> settings;
};

// Per-subsystem log levels ([log]); empty = server.log_level.
struct LogLevels {
    std::string ike, net, cfg, dp;
};

struct Config {
    std::string file;
    std::string dir;  // the config file's folder, for relative paths
    std::vector<std::string> listen;
    std::uint16_t ike_port = 500;
    std::uint16_t natt_port = 4500;
    DataPlaneKind dataplane = DataPlaneKind::Auto;
    bool allow_legacy_crypto = false;
    std::string log_level = "info";
    LogLevels log;
    std::string user_db;
    std::string control_socket;
    // IKE engine tuning ([server]).
    // Threads the IKE SAs are sharded over (daemon/ike_shards.hpp); 0 = one per core.
    std::uint32_t ike_threads = 0;
    std::uint32_t cookie_threshold = 64;
    bool prefer_server_proposals = true;  // proposal_preference = "server" | "client"
    std::uint32_t half_open_timeout_s = 30;
    std::uint32_t dpd_delay_s = 30;      // 0 = off
    std::uint32_t nat_keepalive_s = 20;  // 0 = off
    std::uint32_t fragment_size = 1280 - 40 - 8 - 4;
    std::uint32_t retransmit_timeout_ms = 2000;
    std::uint32_t retransmit_tries = 5;
    // DoS protection ([server]; docs/configuration.md "DoS protection"). 0 = no limit.
    std::uint32_t init_rate_per_address = 10;
    std::uint32_t half_open_per_address = 5;
    std::uint32_t half_open_limit = 1024;
    std::uint32_t max_ike_sas_per_identity = 0;
    std::uint32_t max_peer_certs = 8;
    std::uint32_t max_peer_cert_bytes = 64 * 1024;
    // [pki]
    std::vector<std::string> cacerts;  // absolute
    PluginsConfig plugins;
    std::vector<Pool> pools;
    std::vector<Connection> connections;
    KeyLines lines;  // every key read, full dotted path -> line
};

tl::expected<Config, ConfigError> load_config(const std::string& path);
tl::expected<Config, ConfigError> parse_config(std::string_view text, const std::string& path);

std::string to_string(DataPlaneKind k);
std::string to_string(AuthKind k);
inline bool is_eap(AuthKind k) {
    return k == AuthKind::EapMschapv2 || k == AuthKind::EapTls || k == AuthKind::Eap;
}

// An error about a key that was read from `c` (file and line looked up in c.lines).
ConfigError error_at(const Config& c, const std::string& key, std::string message);

}  // namespace postern::daemon

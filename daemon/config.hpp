// postern.toml: the daemon's configuration. Loading validates everything it can without
// starting anything (`postern check-config` and `posternd --check` use the same code), and every
// error names the file, the line and the key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
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
enum class AuthKind { Psk, Pubkey, EapMschapv2, EapTls };

struct Pool {
    std::string name;
    std::string ipv4;  // CIDR, may be empty
    std::string ipv6;  // CIDR, may be empty
    std::vector<std::string> dns;
};

struct Connection {
    std::string name;
    std::string local_id;
    std::string remote_id = "%any";
    AuthKind local_auth = AuthKind::Pubkey;
    AuthKind remote_auth = AuthKind::EapMschapv2;
    std::vector<std::string> ike_proposals;
    std::vector<std::string> esp_proposals;
    std::vector<std::string> pools;
    std::vector<std::string> local_ts;
    std::uint32_t ike_lifetime_s = 24 * 3600;
    std::uint32_t child_lifetime_s = 8 * 3600;
};

struct Config {
    std::string file;
    std::vector<std::string> listen;
    std::uint16_t ike_port = 500;
    std::uint16_t natt_port = 4500;
    DataPlaneKind dataplane = DataPlaneKind::Auto;
    bool allow_legacy_crypto = false;
    std::string log_level = "info";
    std::string user_db;
    std::string control_socket;
    std::string ca_cert;
    std::string server_cert;
    std::string server_key;
    std::vector<Pool> pools;
    std::vector<Connection> connections;
};

tl::expected<Config, ConfigError> load_config(const std::string& path);
tl::expected<Config, ConfigError> parse_config(std::string_view text, const std::string& path);

std::string to_string(DataPlaneKind k);
std::string to_string(AuthKind k);

}  // namespace postern::daemon

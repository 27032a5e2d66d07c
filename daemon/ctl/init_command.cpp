#include "daemon/ctl/init_command.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "daemon/config.hpp"
#include "daemon/ctl/cli_util.hpp"
#include "daemon/ctl/pki.hpp"
#include "daemon/ctl/user_password.hpp"
#include "db/user_store.hpp"
#include "postern/net.hpp"

namespace postern::ctl {

namespace fs = std::filesystem;
using nlohmann::json;

std::string init_config_text(const std::string& local_id, const std::string& user_db) {
    std::string t =
        R"toml(# postern.toml, written by `postern init`. Relative paths are resolved against this folder.
# docs/configuration.md lists every key; check the file with `postern check-config`.
# Users log in with EAP-MSCHAPv2 (a user name and password from `postern user add`); the
# server proves itself with the certificate in pki/ (`postern pki init` made it).

[server]
listen = ["0.0.0.0", "::"]
port = 500
natt_port = 4500
dataplane = "auto"                # auto | kernel | userspace
allow_legacy_crypto = false
log_level = "info"
user_db = "@USER_DB@"
control_socket = "/run/postern/control.sock"
proposal_preference = "server"
dpd_delay = "30s"
nat_keepalive = "20s"

[log]
ike = "info"
net = "info"
cfg = "info"
dp = "info"

[pki]
cacerts = ["pki/ca.pem"]

[pools.clients]
ipv4 = "10.99.0.0/24"
ipv6 = "fd00:99::/112"
dns = ["10.99.0.1"]

# Road warriors: native iOS/macOS/Windows/Android clients and strongSwan, user name + password.
[[connections]]
name = "roadwarriors"
local_id = "@LOCAL_ID@"
remote_id = "%any"
local_auth = "pubkey"
remote_auth = "eap-mschapv2"
cert = "pki/server.pem"
key = "pki/server.key"
ike_proposals = [
  "aes256gcm16-prfsha256-ecp256",
  "aes256-sha256-ecp256",
  "aes256-sha256-modp2048",
  "aes256gcm16-prfsha256-x25519",
]
esp_proposals = ["aes256gcm16", "aes128gcm16", "chacha20poly1305", "aes256-sha256"]
pools = ["clients"]
local_ts = ["0.0.0.0/0", "::/0"]
fragmentation = true
# Rekeying: later than every native client does it (Apple's longest is 24 h), so that
# clients rekey first; the server rekeys between 25 h and 26 h if one has not.
ike_rekey_time = "26h"
child_rekey_time = "26h"
)toml";
    auto replace = [&t](const std::string& key, const std::string& value) {
        for (auto p = t.find(key); p != std::string::npos; p = t.find(key, p + value.size()))
            t.replace(p, key.size(), value);
    };
    replace("@USER_DB@", user_db);
    replace("@LOCAL_ID@", local_id);
    return t;
}

std::string host_fqdn() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) return {};
    std::string name = host;
    addrinfo hints{};
    hints.ai_flags = AI_CANONNAME;
    addrinfo* res = nullptr;
    if (::getaddrinfo(host, nullptr, &hints, &res) == 0 && res) {
        if (res->ai_canonname && std::string_view(res->ai_canonname).find('.') != std::string::npos)
            name = res->ai_canonname;
        ::freeaddrinfo(res);
    }
    return name;
}

std::string host_first_ipv4() {
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return {};
    std::string out;
    for (ifaddrs* i = list; i && out.empty(); i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
        if (!(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK)) continue;
        const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
        const std::uint32_t a = ntohl(sin->sin_addr.s_addr);
        if ((a >> 24) == 127 || (a >> 16) == 0xa9fe) continue;  // loopback, 169.254/16
        char buf[INET_ADDRSTRLEN];
        if (::inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf)) out = buf;
    }
    ::freeifaddrs(list);
    return out;
}

namespace {

struct InitArgs {
    std::vector<std::string> names, addresses;
    std::string etc = "/etc/postern";
    std::string user = "vpnuser";
};

bool write_text(const fs::path& path, const std::string& text) {
    std::ofstream f(path, std::ios::out | std::ios::trunc);
    f << text;
    f.close();
    return static_cast<bool>(f);
}

void run_init(const InitArgs& a, GlobalOptions& opts) {
    if (auto why = check_name(a.user)) return fail(opts, kUsage, "init: " + *why);
    const fs::path etc = a.etc;
    const fs::path toml = etc / "postern.toml";
    const fs::path pki_dir = etc / "pki";
    std::error_code ec;
    std::vector<std::string> done, kept;  // what this run did, what it found in place

    // Names for the config and the certificate: given, else this host's.
    std::vector<std::string> names = a.names, addresses = a.addresses;
    if (names.empty()) {
        const std::string fqdn = host_fqdn();
        if (fqdn.empty() || !pki::is_dns_name(fqdn))
            return fail(opts, kUsage, "init: cannot tell this host's name; give --name");
        names.push_back(fqdn);
        if (addresses.empty())
            if (auto ip = host_first_ipv4(); !ip.empty()) addresses.push_back(ip);
    }

    // Refuse bad names before anything is written.
    for (const auto& n : names)
        if (!pki::is_dns_name(n))
            return fail(opts, kUsage, "init: --name \"" + n + "\" is not a DNS name");
    for (const auto& addr : addresses)
        if (!IpAddress::parse(addr))
            return fail(opts, kUsage, "init: --address \"" + addr + "\" is not an IP address");

    fs::create_directories(etc, ec);
    if (ec)
        return fail(opts, kFailure, "init: cannot create " + etc.string() + ": " + ec.message());

    // 1. postern.toml
    std::string db_path = opts.db.empty() ? std::string(kDefaultDb) : opts.db;
    if (fs::exists(toml, ec)) {
        kept.push_back(toml.string());
        if (opts.db.empty()) {
            GlobalOptions o = opts;
            o.config = toml.string();
            auto p = resolve_db_path(o);
            if (!p) return fail(opts, kFailure, "init: " + p.error());
            db_path = *p;
        }
    } else {
        if (!write_text(toml, init_config_text(names.front(), db_path)))
            return fail(opts, kFailure, "init: cannot write " + toml.string());
        done.push_back("wrote " + toml.string());
    }

    // 2. pki/: all four files, or none (then made here); a partial set is left to the admin.
    const pki::InitResult paths = pki::init_paths(pki_dir);
    std::vector<std::string> missing;
    for (const auto& p : {paths.ca_cert, paths.ca_key, paths.server_cert, paths.server_key})
        if (!fs::exists(p, ec)) missing.push_back(p.string());
    if (missing.empty()) {
        kept.push_back(pki_dir.string() + "/");
    } else if (missing.size() < 4) {
        std::string m;
        for (const auto& s : missing)
            m += (m.empty() ? "" : ", ") + s;
        return fail(opts, kFailure,
                    "init: " + pki_dir.string() + " is incomplete (missing " + m +
                        "); remove it or run `postern pki init --force --out " + pki_dir.string() +
                        "`");
    } else {
        pki::InitRequest req;
        req.names = names;
        req.addresses = addresses;
        req.out = pki_dir;
        auto r = pki::init(req);
        if (!r) return fail(opts, kFailure, "init: pki: " + r.error());
        std::string san;
        for (const auto& n : names)
            san += (san.empty() ? "" : ", ") + n;
        for (const auto& n : addresses)
            san += (san.empty() ? "" : ", ") + n;
        done.push_back("created a CA and a server certificate for " + san + " in " +
                       pki_dir.string());
    }

    // 3. the database and the first user.
    const fs::path db_dir = fs::path(db_path).parent_path();
    if (!db_dir.empty() && !fs::exists(db_dir, ec)) {
        fs::create_directories(db_dir, ec);
        if (ec)
            return fail(opts, kFailure,
                        "init: cannot create " + db_dir.string() + ": " + ec.message());
        fs::permissions(db_dir, fs::perms::owner_all, ec);
    }
    auto db = db::Database::open(db_path);
    if (!db) return fail(opts, kFailure, "init: open " + db_path + ": " + db.error().message);
    db::UserStore users(*db);
    std::optional<Password> password;
    if (auto u = users.get(a.user); u) {
        kept.push_back("user " + a.user + " in " + db_path);
    } else if (u.error().kind != db::ErrorKind::not_found) {
        return fail(opts, u.error());
    } else {
        password = generate_password();
        auto hash = nt_hash_of(*password);
        if (!hash) return fail(opts, kFailure, "init: " + hash.error());
        if (auto r = users.add(a.user, hash->view()); !r) return fail(opts, r.error());
        done.push_back("added user " + a.user + " to " + db_path);
    }

    const std::string next = "Get a client profile: postern profile " + a.user +
                             " --for ios|macos|windows|android|strongswan";
    if (opts.json) {
        json j{{"changed", !done.empty()},
               {"done", done},
               {"kept", kept},
               {"config", toml.string()},
               {"user", a.user}};
        if (password) j["password"] = password->text();
        return print_json(j);
    }
    if (done.empty()) {
        std::cout << "Nothing to do: " << toml.string() << ", " << pki_dir.string() << "/ and user "
                  << a.user << " exist.\n";
        return;
    }
    for (const auto& d : done)
        std::cout << d << "\n";
    for (const auto& k : kept)
        std::cout << "kept " << k << "\n";
    if (password)
        std::cout << "Password for " << a.user << " (shown once, not stored): " << password->text()
                  << "\n";
    std::cout << next << "\n";
}

}  // namespace

void add_init_command(CLI::App& app, GlobalOptions& opts) {
    auto a = std::make_shared<InitArgs>();
    auto* sub = app.add_subcommand(
        "init",
        "first-use set-up: postern.toml (EAP-MSCHAPv2), a CA and server certificate, "
        "the user database with a first user");
    sub->add_option("--name", a->names, "server DNS name (repeatable; default: this host's FQDN)");
    sub->add_option("--address", a->addresses,
                    "server IP address (repeatable; default with no --name: the first global "
                    "IPv4 address)");
    sub->add_option("--etc", a->etc, "configuration folder")->capture_default_str();
    sub->add_option("--user", a->user, "the first user")->capture_default_str();
    sub->callback([a, &opts] { run_init(*a, opts); });
}

}  // namespace postern::ctl

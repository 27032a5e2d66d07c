// `postern profile USER --for ios|macos|windows|android|strongswan`: a file the user imports on
// the device (docs/clients.md). Reads postern.toml (and the certificates it names), checks the
// user is in the database, and writes the profile to stdout or --out FILE. The generators are
// pure functions of a ProfileInput (profile_model.hpp); this file is the command around them.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include "daemon/config.hpp"
#include "daemon/ctl/cli_util.hpp"
#include "daemon/ctl/commands.hpp"
#include "daemon/ctl/profile_input.hpp"
#include "daemon/ctl/profile_model.hpp"
#include "db/database.hpp"
#include "db/user_store.hpp"

namespace postern::ctl {

namespace {

struct ProfileOptions {
    std::string user;
    std::string target;
    std::string connection;
    std::string server;
    std::string out = "-";
    std::string p12;
};

// Writes `content` to `path` through a temporary file in the same folder and rename(), so a
// reader never sees half a profile; the mode is set explicitly (umask does not matter).
std::optional<std::string> write_file(const std::string& path, const std::string& content,
                                      mode_t mode) {
    const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) return tmp + ": " + std::strerror(errno);
    std::size_t done = 0;
    while (done < content.size()) {
        ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            std::string err = tmp + ": " + std::strerror(errno);
            ::close(fd);
            ::unlink(tmp.c_str());
            return err;
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fchmod(fd, mode) != 0 || ::close(fd) != 0) {
        std::string err = tmp + ": " + std::strerror(errno);
        ::unlink(tmp.c_str());
        return err;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        std::string err = path + ": " + std::strerror(errno);
        ::unlink(tmp.c_str());
        return err;
    }
    return std::nullopt;
}

// Where a file of the profile goes: the main file at --out itself, the others beside it with
// --out's extension replaced by their suffix (alice.sswan -> alice-android.txt).
std::string path_for(const std::string& out, const profile::ProfileFile& f) {
    if (f.suffix.empty()) return out;
    std::filesystem::path p(out);
    std::filesystem::path stem = p.has_extension() ? p.parent_path() / p.stem() : p;
    return stem.string() + f.suffix;
}

// The user must exist: a profile for a name the server will refuse helps nobody. The file is
// opened only when it exists (Database::open would create an empty one).
bool check_user(GlobalOptions& opts, const std::string& user) {
    auto path = resolve_db_path(opts);
    if (!path) {
        fail(opts, kFailure, path.error());
        return false;
    }
    std::error_code ec;
    if (!std::filesystem::exists(*path, ec)) {
        fail(opts, kNotFound,
             "no user \"" + user + "\": the user database " + *path + " does not exist");
        return false;
    }
    auto db = db::Database::open(*path);
    if (!db) {
        fail(opts, kFailure, "open " + *path + ": " + db.error().message);
        return false;
    }
    auto u = db::UserStore(*db).get(user);
    if (!u) {
        if (u.error().kind == db::ErrorKind::not_found)
            fail(opts, kNotFound, "no user \"" + user + "\" in " + *path);
        else
            fail(opts, u.error());
        return false;
    }
    if (!u->enabled) warn("user \"" + user + "\" is disabled: the server refuses it until enabled");
    return true;
}

void run_profile(GlobalOptions& opts, const ProfileOptions& o) {
    auto target = profile::parse_target(o.target);
    if (!target) {
        fail(opts, kUsage,
             "--for " + o.target + ": one of ios, macos, windows, android, strongswan");
        return;
    }
    auto config = daemon::load_config(opts.config);
    if (!config) {
        fail(opts, kFailure, config.error().to_string());
        return;
    }
    profile::InputRequest req{o.user, o.connection, o.server, {}, {}};
    if (!o.p12.empty()) {
        std::ifstream in(o.p12, std::ios::binary);
        if (!in) {
            fail(opts, kFailure, "cannot read " + o.p12 + ": " + std::strerror(errno));
            return;
        }
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        for (char c : bytes)
            req.p12.push_back(static_cast<unsigned char>(c));
        req.p12_name = std::filesystem::path(o.p12).filename().string();
    }
    std::vector<std::string> warnings;
    auto input = profile::profile_input(*config, req, warnings);
    if (!input) {
        fail(opts, input.error().exit_code, input.error().message);
        return;
    }
    if (!check_user(opts, o.user)) return;
    auto result = profile::generate(*target, *input);
    if (!result) {
        fail(opts, result.error().exit_code, result.error().message);
        return;
    }
    warnings.insert(warnings.end(), result->warnings.begin(), result->warnings.end());
    for (const auto& w : warnings)
        warn(w);

    nlohmann::json files = nlohmann::json::array();
    if (o.out == "-") {
        bool first = true;
        for (const auto& f : result->files) {
            if (opts.json) {
                files.push_back({{"kind", f.kind}, {"suffix", f.suffix}, {"content", f.content}});
                continue;
            }
            if (!f.on_stdout) continue;
            if (!first)
                std::cout << "\n----- " << f.kind << " (with --out FILE: FILE" << f.suffix
                          << ") -----\n\n";
            std::cout << f.content;
            first = false;
        }
    } else {
        for (const auto& f : result->files) {
            const std::string path = path_for(o.out, f);
            const mode_t mode = f.secret ? 0600 : 0644;
            if (auto err = write_file(path, f.content, mode)) {
                fail(opts, kFailure, "cannot write " + *err);
                return;
            }
            files.push_back(
                {{"kind", f.kind}, {"path", path}, {"mode", f.secret ? "0600" : "0644"}});
            if (!opts.json) std::cerr << "postern: wrote " << path << "\n";
        }
    }
    if (opts.json)
        print_json({{"target", std::string(profile::to_string(*target))},
                    {"user", input->user},
                    {"connection", input->connection},
                    {"server_address", input->server_address},
                    {"server_identity", input->server_identity},
                    {"files", files},
                    {"warnings", warnings}});
    opts.exit_code = kOk;
}

}  // namespace

void add_profile_command(CLI::App& app, GlobalOptions& opts) {
    auto o = std::make_shared<ProfileOptions>();
    auto* cmd = app.add_subcommand(
        "profile",
        "a VPN profile for USER to import on a device: an Apple .mobileconfig (ios, macos), a "
        "PowerShell script (windows), a strongSwan app .sswan file and the built-in client's "
        "settings (android), a swanctl.conf snippet (strongswan); see docs/clients.md");
    cmd->add_option("user", o->user, "the user (must exist in the user database)")->required();
    cmd->add_option("--for", o->target, "the client: ios, macos, windows, android, strongswan")
        ->required()
        ->check(CLI::IsMember({"ios", "macos", "windows", "android", "strongswan"}));
    cmd->add_option("--connection", o->connection,
                    "the connection in postern.toml (default: the first with remote_auth = "
                    "eap-mschapv2, else eap-tls or pubkey)");
    cmd->add_option("--server", o->server,
                    "the address clients connect to (default: the server identity, local_id or "
                    "the certificate's DNS name); must be a name in the server's certificate");
    cmd->add_option("--out", o->out,
                    "where to write: - for stdout, else FILE (android: FILE.sswan, "
                    "FILE-android.txt and FILE-ca.crt)")
        ->capture_default_str();
    cmd->add_option("--p12", o->p12,
                    "PKCS#12 file with the user's certificate and key (eap-tls and pubkey "
                    "connections)");
    cmd->callback([&opts, o] { run_profile(opts, *o); });
}

}  // namespace postern::ctl

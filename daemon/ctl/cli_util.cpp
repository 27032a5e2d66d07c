#include "daemon/ctl/cli_util.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <system_error>

#include "daemon/config.hpp"

namespace postern::ctl {

namespace fs = std::filesystem;

void add_global_options(CLI::App& app, GlobalOptions& opts) {
    app.fallthrough();
    app.require_subcommand(1);
    app.add_option("-c,--config", opts.config, "configuration file")->capture_default_str();
    app.add_option("--db", opts.db,
                   "user database (default: [server] user_db from the config, else " +
                       std::string(kDefaultDb) + ")");
    app.add_option("--socket", opts.socket,
                   "posternd's control socket (default: [server] control_socket, else " +
                       std::string(kDefaultSocket) + ")");
    app.add_flag("--json", opts.json, "print JSON instead of tables");
}

int run(CLI::App& app, GlobalOptions& opts, std::vector<std::string> args) {
    std::reverse(args.begin(), args.end());  // CLI11 takes the vector last argument first
    try {
        app.parse(args);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e, std::cout, std::cerr);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e, std::cout, std::cerr);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e, std::cout, std::cerr);
    } catch (const CLI::ParseError& e) {
        app.exit(e, std::cout, std::cerr);
        return kUsage;
    } catch (const std::exception& e) {
        std::cerr << "postern: " << e.what() << "\n";
        return kFailure;
    }
    return opts.exit_code;
}

namespace {

// The config when there is one to read: nullopt for a missing default config.
tl::expected<std::optional<daemon::Config>, std::string> load_if_present(
    const GlobalOptions& opts) {
    std::error_code ec;
    if (!fs::exists(opts.config, ec)) {
        if (opts.config == kDefaultConfig) return std::nullopt;
        return tl::unexpected(opts.config + ": no such file");
    }
    auto cfg = daemon::load_config(opts.config);
    if (!cfg) return tl::unexpected(cfg.error().to_string());
    return std::optional<daemon::Config>(std::move(*cfg));
}

std::string relative_to(const daemon::Config& cfg, const std::string& path) {
    if (path.empty() || fs::path(path).is_absolute() || cfg.dir.empty()) return path;
    return (fs::path(cfg.dir) / path).lexically_normal().string();
}

}  // namespace

tl::expected<std::string, std::string> resolve_db_path(const GlobalOptions& opts) {
    if (!opts.db.empty()) return opts.db;
    auto cfg = load_if_present(opts);
    if (!cfg) return tl::unexpected(cfg.error());
    if (*cfg && !(*cfg)->user_db.empty()) return relative_to(**cfg, (*cfg)->user_db);
    return std::string(kDefaultDb);
}

tl::expected<std::string, std::string> resolve_socket_path(const GlobalOptions& opts) {
    if (!opts.socket.empty()) return opts.socket;
    auto cfg = load_if_present(opts);
    if (!cfg) return tl::unexpected(cfg.error());
    if (*cfg && !(*cfg)->control_socket.empty()) return relative_to(**cfg, (*cfg)->control_socket);
    return std::string(kDefaultSocket);
}

std::optional<db::Database> open_database(GlobalOptions& opts) {
    auto path = resolve_db_path(opts);
    if (!path) {
        fail(opts, kFailure, path.error());
        return std::nullopt;
    }
    auto db = db::Database::open(*path);
    if (!db) {
        fail(opts, kFailure, "open " + *path + ": " + db.error().message);
        return std::nullopt;
    }
    return std::move(*db);
}

int exit_code_for(db::ErrorKind kind) {
    switch (kind) {
        case db::ErrorKind::not_found:
            return kNotFound;
        case db::ErrorKind::already_exists:
            return kExists;
        case db::ErrorKind::invalid_argument:
            return kUsage;
        case db::ErrorKind::schema_too_new:
        case db::ErrorKind::sqlite:
            return kFailure;
    }
    return kFailure;
}

void fail(GlobalOptions& opts, int code, std::string_view message) {
    std::cerr << "postern: " << message << "\n";
    opts.exit_code = code;
}

void fail(GlobalOptions& opts, const db::Error& error) {
    fail(opts, exit_code_for(error.kind), error.message);
}

void warn(std::string_view message) {
    std::cerr << "postern: warning: " << message << "\n";
}

std::string iso8601_utc(std::int64_t seconds) {
    const std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> width(header.size(), 0);
    auto cell = [](const std::vector<std::string>& row, std::size_t i) -> std::string {
        if (i >= row.size() || row[i].empty()) return "-";
        return row[i];
    };
    for (std::size_t i = 0; i < header.size(); ++i)
        width[i] = header[i].size();
    for (const auto& row : rows)
        for (std::size_t i = 0; i < header.size(); ++i)
            width[i] = std::max(width[i], cell(row, i).size());
    auto line = [&](const std::vector<std::string>& row, bool is_header) {
        std::string out;
        for (std::size_t i = 0; i < header.size(); ++i) {
            const std::string c = is_header ? header[i] : cell(row, i);
            out += c;
            if (i + 1 < header.size()) out += std::string(width[i] - c.size() + 2, ' ');
        }
        std::cout << out << "\n";
    };
    line(header, true);
    for (const auto& row : rows)
        line(row, false);
}

void print_json(const nlohmann::json& value) {
    std::cout << value.dump(2) << "\n";
}

}  // namespace postern::ctl

// Helpers every `postern` command shares: the global options on the app, where the database and
// the control socket are, opening the database, errors with their exit codes, and output (a
// table for people, JSON with --json).
//
// Everything is written to std::cout / std::cerr (never printf), so tests capture a command's
// output by swapping the streams' buffers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "daemon/ctl/commands.hpp"
#include "db/database.hpp"

namespace postern::ctl {

inline constexpr const char* kDefaultConfig = "/etc/postern/postern.toml";
inline constexpr const char* kDefaultDb = "/var/lib/postern/postern.db";
inline constexpr const char* kDefaultSocket = "/run/postern/control.sock";

// -c/--config, --db, --socket, --json on the top-level app, CLI11 settings shared by main() and
// the tests (subcommands pass unknown options up, so `postern user list --json` works).
// Call it before the add_*_commands functions (CLI11 copies the settings into subcommands).
void add_global_options(CLI::App& app, GlobalOptions& opts);

// Parses `args` (without the program name) and runs the chosen subcommand's callback. Returns
// the exit code: 0 for --help/--version, kUsage for CLI11's parse errors (message on stderr),
// kFailure for an exception escaping a callback, else opts.exit_code.
int run(CLI::App& app, GlobalOptions& opts, std::vector<std::string> args);

// The database file: --db, else [server] user_db from the config (relative to the config's
// folder), else kDefaultDb. A missing config file is fine when it is the default one; a config
// that does not parse, or an explicitly named one that is missing, is an error.
tl::expected<std::string, std::string> resolve_db_path(const GlobalOptions& opts);
// The control socket: --socket, else [server] control_socket, else kDefaultSocket.
tl::expected<std::string, std::string> resolve_socket_path(const GlobalOptions& opts);

// Resolves and opens the database; on failure prints the error, sets opts.exit_code and
// returns nullopt.
std::optional<db::Database> open_database(GlobalOptions& opts);

// not_found -> kNotFound, already_exists -> kExists, invalid_argument -> kUsage, else kFailure.
int exit_code_for(db::ErrorKind kind);

// Prints "postern: <message>" to stderr and sets opts.exit_code = code.
void fail(GlobalOptions& opts, int code, std::string_view message);
// The same for a database error (its message names the operation; the code from its kind).
void fail(GlobalOptions& opts, const db::Error& error);
// "postern: warning: <message>" to stderr; the exit code is unchanged.
void warn(std::string_view message);

// Seconds since the epoch as ISO-8601 UTC: "2026-11-23T14:15:04Z".
std::string iso8601_utc(std::int64_t seconds);

// Columns padded to their widest cell, a header line first; empty cells print as "-".
void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows);
// Pretty-printed JSON on stdout, one document.
void print_json(const nlohmann::json& value);

}  // namespace postern::ctl

// The `postern` admin CLI: each group of subcommands lives in its own file and registers itself
// on the CLI11 app through one of these functions (called by postern_main.cpp).
//
//   user_commands.cpp     user add|del|list|show|passwd|enable|disable|set, group ..., audit
//   pki_commands.cpp      pki init|issue
//   profile_command.cpp   profile USER --for ios|macos|windows|android|strongswan
//   control_commands.cpp  sa list|kill, status, reload (over posternd's control socket)
//
// Conventions for every command: tables for people, `--json` for scripts; errors go to stderr
// as "postern: <what failed>: <why>"; exit codes below.
#pragma once

#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace postern::ctl {

enum ExitCode : int {
    kOk = 0,
    kFailure = 1,   // the operation failed (database error, daemon refused, I/O)
    kUsage = 2,     // bad arguments (CLI11's own errors use this too)
    kNotFound = 3,  // no such user, group, SA
    kExists = 4,    // the user or group already exists
    kNoDaemon = 5,  // posternd's control socket cannot be reached
};

// Options every subcommand sees (set on the top-level app before parsing).
struct GlobalOptions {
    std::string config = "/etc/postern/postern.toml";
    std::string db;  // empty: [server] user_db from the config, else /var/lib/postern/postern.db
    std::string
        socket;  // empty: [server] control_socket from the config, else /run/postern/control.sock
    bool json = false;
    int exit_code = kOk;  // set by the subcommand's callback; main() returns it
};

void add_user_commands(CLI::App& app, GlobalOptions& opts);
void add_pki_commands(CLI::App& app, GlobalOptions& opts);
void add_profile_command(CLI::App& app, GlobalOptions& opts);
void add_control_commands(CLI::App& app, GlobalOptions& opts);

// After `user del` or `user disable`: asks a running posternd to end every IKE SA of `user`.
// Returns nullopt when done or when no daemon is running (nothing to end), else the error.
std::optional<std::string> end_user_sas(const GlobalOptions& opts, const std::string& user);

}  // namespace postern::ctl

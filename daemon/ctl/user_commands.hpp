// Shared by the files behind add_user_commands (commands.hpp): `user ...` in
// user_commands.cpp, `group ...` and `audit` in user_group_commands.cpp.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "daemon/ctl/commands.hpp"
#include "db/audit_log.hpp"

namespace CLI {
class App;
}

namespace postern::ctl {

void add_group_commands(CLI::App& app, GlobalOptions& opts);
void add_audit_command(CLI::App& app, GlobalOptions& opts);

// One audit row for --json: {"id", "time" (ISO-8601 UTC), "event", "identity", "user" (or
// null), "peer", "reason"}.
nlohmann::json audit_to_json(const db::AuditEntry& e);
// Prints audit rows as a table: TIME EVENT IDENTITY USER PEER REASON.
void print_audit_table(const std::vector<db::AuditEntry>& rows);

}  // namespace postern::ctl

// The audit log: who logged in, who failed and why, who left. Rows are appended by posternd
// and read by `postern` (recent events, one user's history); prune() keeps it bounded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/database.hpp"

namespace postern::db {

enum class AuditEvent { login_ok, login_failed, disconnect };

std::string_view to_string(AuditEvent e);
std::optional<AuditEvent> parse_audit_event(std::string_view text);

struct AuditEntry {
    std::int64_t id = 0;  // increasing: the order events were written
    std::int64_t at = 0;  // set by append() from the database clock
    AuditEvent event = AuditEvent::login_ok;
    std::string identity;                 // as the peer presented it (IDi or EAP identity)
    std::optional<std::string> user;      // the account it mapped to, if any
    std::string peer;                     // "198.51.100.7:4500"
    std::string reason;                   // why a login failed; may be empty otherwise
};

class AuditLog {
  public:
    explicit AuditLog(Database& db) : db_(db) {}

    // Writes the entry with at = now; returns it with its id and time.
    Result<AuditEntry> append(AuditEvent event, std::string_view identity,
                              std::optional<std::string_view> user, std::string_view peer,
                              std::string_view reason = {});
    // The newest `limit` entries, newest first.
    Result<std::vector<AuditEntry>> recent(std::size_t limit);
    // The newest `limit` entries of one user (by account), newest first.
    Result<std::vector<AuditEntry>> by_user(std::string_view user, std::size_t limit);
    // Deletes entries written before `before` (seconds since the epoch); returns how many.
    Result<std::int64_t> prune(std::int64_t before);

  private:
    Database& db_;
};

}  // namespace postern::db

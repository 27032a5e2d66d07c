// Versioned schema migrations. Each migration is numbered and applied once, in order, inside
// its own write transaction that also records its number in PRAGMA user_version; a crash
// between two migrations leaves a database at a consistent earlier version that the next open
// continues from. The schema itself is described beside the SQL in migrations.cpp.
#pragma once

#include <span>
#include <string_view>

#include "db/database.hpp"

namespace postern::db {

struct Migration {
    int version;               // 1, 2, 3...: the user_version after it is applied
    std::string_view summary;  // for logs and error messages
    std::string_view sql;
};

// Every migration this code knows, in order.
std::span<const Migration> migrations();
// The schema version this code creates and understands.
int latest_schema_version();

// Brings the database to latest_schema_version(). Refuses (ErrorKind::schema_too_new) a file
// whose user_version is higher: an older postern must not write into a schema it does not know.
Result<void> apply_migrations(Database& db);
// The same over an explicit list (tests use it to simulate upgrades).
Result<void> apply_migrations(Database& db, std::span<const Migration> list);

}  // namespace postern::db

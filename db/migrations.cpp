#include "db/migrations.hpp"

#include <array>
#include <string>

namespace postern::db {

namespace {

// Schema version 1.
//
// Tables are STRICT (SQLite >= 3.37), so a column holds only its declared type; times are
// seconds since the Unix epoch (UTC); addresses are text as inet_ntop writes them (one
// canonical spelling per address, so UNIQUE works, and readable in the sqlite3 shell).
//
// users            one row per account
//   id             INTEGER PRIMARY KEY
//   name           TEXT UNIQUE, the EAP identity (compared exactly, case-sensitive)
//   nt_hash        BLOB of 16 bytes or NULL (no password set: EAP-MSCHAPv2 refuses the user).
//                  MD4 of the UTF-16LE password; the password itself is never stored
//   enabled        0/1; a disabled user cannot log in but keeps its data
//   created_at     INTEGER
//   last_login     INTEGER or NULL (never)
//   static_ipv4/6  TEXT or NULL, unique among users: an address always given to this user
//   attributes     TEXT holding a JSON object (free-form: DNS, routes, pool, notes...)
// groups           id, name UNIQUE, created_at
// group_members    (group_id, user_id), both deleted with their group or user
// psks             identity TEXT PRIMARY KEY, secret BLOB (the PSK itself: an IKE AUTH value
//                  needs it; the 0600 file mode protects it), created_at
// leases           virtual IP leases, one row per (pool, address) ever handed out
//   identity       who has it (active) or had it last (released: a returning identity gets it
//                  back, even after a restart)
//   family         4 or 6
//   active         1 while handed out
//   acquired_at, released_at (NULL while active)
//   release_seq    order of releases, so "the oldest release" is exact within one second
// audit_log        logins and disconnects, newest by id
//   at, event ('login_ok' | 'login_failed' | 'disconnect'), identity (as the peer sent it),
//   user_name (the account it mapped to, or NULL), peer (address:port), reason (why a login
//   failed; empty otherwise). No foreign key to users: the history outlives a deleted user.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE CHECK (length(name) > 0),
    nt_hash     BLOB CHECK (nt_hash IS NULL OR length(nt_hash) = 16),
    enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at  INTEGER NOT NULL,
    last_login  INTEGER,
    static_ipv4 TEXT UNIQUE,
    static_ipv6 TEXT UNIQUE,
    attributes  TEXT NOT NULL DEFAULT '{}'
                CHECK (json_valid(attributes) AND json_type(attributes) = 'object')
) STRICT;

CREATE TABLE groups (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE CHECK (length(name) > 0),
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX group_members_by_user ON group_members (user_id);

CREATE TABLE psks (
    identity   TEXT PRIMARY KEY CHECK (length(identity) > 0),
    secret     BLOB NOT NULL CHECK (length(secret) > 0),
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE leases (
    pool        TEXT NOT NULL,
    address     TEXT NOT NULL,
    family      INTEGER NOT NULL CHECK (family IN (4, 6)),
    identity    TEXT NOT NULL,
    active      INTEGER NOT NULL CHECK (active IN (0, 1)),
    acquired_at INTEGER NOT NULL,
    released_at INTEGER,
    release_seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (pool, address)
) STRICT;
CREATE INDEX leases_by_identity ON leases (pool, identity);
CREATE INDEX leases_by_release ON leases (pool, family, active, release_seq);

CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    event     TEXT NOT NULL CHECK (event IN ('login_ok', 'login_failed', 'disconnect')),
    identity  TEXT NOT NULL,
    user_name TEXT,
    peer      TEXT NOT NULL,
    reason    TEXT NOT NULL
) STRICT;
CREATE INDEX audit_log_by_time ON audit_log (at);
CREATE INDEX audit_log_by_user ON audit_log (user_name, id);
)sql";

// Schema version 2: lease lookups that stay O(log n) with many leases. release() takes
// max(release_seq) of the whole table (an index of its own, not a scan), and acquire()'s "this
// identity's latest released address" reads one index entry even when thousands of SAs share
// an identity (a certificate or PSK identity used by every device of a team).
constexpr const char* kSchemaV2 = R"sql(
CREATE INDEX leases_by_release_seq ON leases (release_seq);
DROP INDEX leases_by_identity;
CREATE INDEX leases_by_identity ON leases (pool, identity, family, active, release_seq);
)sql";

// Schema version 3: fewer pages written per lease, the one database write on the IKE
// handshake path (tests/bench/lease_bench measures it). The table is keyed by (pool, address)
// itself (WITHOUT ROWID: one B-tree instead of a rowid table plus its key's index), and the
// two orders acquire() reads, "this identity's latest release" and "the oldest release",
// index released rows only: a new lease now writes to one B-tree instead of five. release_seq
// orders releases within a (pool, family), the only place acquire() compares it.
constexpr const char* kSchemaV3 = R"sql(
CREATE TABLE leases_v3 (
    pool        TEXT NOT NULL,
    address     TEXT NOT NULL,
    family      INTEGER NOT NULL CHECK (family IN (4, 6)),
    identity    TEXT NOT NULL,
    active      INTEGER NOT NULL CHECK (active IN (0, 1)),
    acquired_at INTEGER NOT NULL,
    released_at INTEGER,
    release_seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (pool, address)
) STRICT, WITHOUT ROWID;
INSERT INTO leases_v3 (pool, address, family, identity, active, acquired_at, released_at,
                       release_seq)
    SELECT pool, address, family, identity, active, acquired_at, released_at, release_seq
    FROM leases;
DROP TABLE leases;
ALTER TABLE leases_v3 RENAME TO leases;
CREATE INDEX leases_released_by_identity ON leases (pool, identity, family, release_seq)
    WHERE active = 0;
CREATE INDEX leases_released ON leases (pool, family, release_seq) WHERE active = 0;
)sql";

constexpr std::array kMigrations{
    Migration{1, "users, groups, PSKs, leases, audit log", kSchemaV1},
    Migration{2, "lease indexes for many leases", kSchemaV2},
    Migration{3, "leases keyed by (pool, address), released rows indexed only", kSchemaV3},
};

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }

int latest_schema_version() { return kMigrations.back().version; }

Result<void> apply_migrations(Database& db) { return apply_migrations(db, migrations()); }

Result<void> apply_migrations(Database& db, std::span<const Migration> list) {
    const int latest = list.empty() ? 0 : list.back().version;
    auto too_new = [&](int current) {
        return fail(ErrorKind::schema_too_new,
                    "database " + db.path() + " has schema version " + std::to_string(current) +
                        ", newer than this postern knows (" + std::to_string(latest) +
                        "): it was upgraded by a newer postern; run that version or restore a "
                        "backup");
    };
    // The common case, a current database, takes no write lock.
    auto current = db.schema_version();
    if (!current) return tl::unexpected(current.error());
    if (*current > latest) return too_new(*current);
    if (*current == latest) return {};

    for (const Migration& m : list) {
        // The version is read again under the write lock: posternd and the CLI may open a new
        // file at the same moment, and only one of them must apply each migration.
        auto tx = db.begin_write("migrate schema");
        if (!tx) return tl::unexpected(tx.error());
        current = db.schema_version();
        if (!current) return tl::unexpected(current.error());
        if (*current > latest) return too_new(*current);
        if (*current >= m.version) continue;  // the transaction rolls back: nothing written
        if (*current != m.version - 1) {
            return fail(ErrorKind::sqlite, "database " + db.path() + ": schema version " +
                                               std::to_string(*current) +
                                               " cannot be migrated to " +
                                               std::to_string(m.version));
        }
        const std::string what = "migrate schema to version " + std::to_string(m.version) +
                                 " (" + std::string(m.summary) + ")";
        if (auto r = db.exec(m.sql, what); !r) return tl::unexpected(r.error());
        // PRAGMA takes no bound parameters; the version is a number from this file.
        if (auto r = db.exec("PRAGMA user_version = " + std::to_string(m.version), what); !r)
            return tl::unexpected(r.error());
        if (auto r = tx->commit(); !r) return tl::unexpected(r.error());
    }
    return {};
}

}  // namespace postern::db

// The SQLite database that holds users, groups, PSKs, address leases and the audit log
// (DESIGN.md, "Users in SQLite"). posternd and the postern CLI open the same file at the same
// time, each with its own Database:
//
//   - WAL journal: readers never block the writer nor the writer the readers;
//   - busy_timeout: a writer that finds the write lock taken waits for it (5 s by default)
//     instead of failing with SQLITE_BUSY;
//   - writers begin with BEGIN IMMEDIATE (Transaction), so they take the write lock before
//     reading; a deferred transaction that reads and then writes can fail with SQLITE_BUSY
//     without the busy handler ever running (SQLite refuses the upgrade to avoid a deadlock);
//   - synchronous=FULL by default: in WAL mode NORMAL already survives a crash or kill -9 of
//     the process (a committed transaction is in the WAL file, which the OS keeps), but the
//     last commits can be lost when the machine loses power. The CLI's writes are rare (a
//     user change), so it pays one fsync per commit. posternd (the sqlite-users plugin) opens
//     with Durability::normal: it writes a lease and an audit row per login, and an fsync each
//     would cap a rush of logins at the disk's flush rate.
//
// A Database and its Statements are used by one thread at a time; another thread or process
// opens its own Database on the same file.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <tl/expected.hpp>

#include "postern/bytes.hpp"

namespace postern::db {

enum class ErrorKind {
    not_found,         // no such user, group, lease...
    already_exists,    // a unique name or address taken
    invalid_argument,  // the caller's value is refused before SQLite sees it
    schema_too_new,    // the file was migrated by a newer postern
    sqlite,            // anything SQLite reports (I/O, corruption, lock timeout)
};

constexpr std::string_view to_string(ErrorKind k) {
    switch (k) {
        case ErrorKind::not_found: return "not found";
        case ErrorKind::already_exists: return "already exists";
        case ErrorKind::invalid_argument: return "invalid argument";
        case ErrorKind::schema_too_new: return "schema too new";
        case ErrorKind::sqlite: return "sqlite";
    }
    return "unknown";
}

struct Error {
    ErrorKind kind = ErrorKind::sqlite;
    int sqlite_code = SQLITE_OK;  // extended result code for ErrorKind::sqlite
    std::string message;          // names the operation: "add user \"alice\": ..."
};

template <typename T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(ErrorKind kind, std::string message) {
    return tl::unexpected(Error{kind, SQLITE_OK, std::move(message)});
}

// Seconds since the Unix epoch; tests pass a fake one.
using WallClock = std::function<std::int64_t()>;
std::int64_t system_now();

enum class Durability { full, normal };

struct Options {
    Durability durability = Durability::full;
    std::chrono::milliseconds busy_timeout{5000};
    WallClock clock = system_now;
};

class Database;

// A statement Database::prepare keeps compiled for the next prepare of the same SQL (see
// Database::prepare).
struct CachedStatement {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;    // a Statement has it now
    bool orphaned = false;  // its Database is gone: the Statement that has it finalizes it
};

// A prepared statement. Binding and stepping follow the wire Reader's model: the first bind
// failure is kept and reported by the next step()/run(), so a chain of binds needs one check.
// Indexes are 1-based for binds (SQLite's convention) and 0-based for columns.
class Statement {
  public:
    Statement(Statement&& o) noexcept;
    Statement& operator=(Statement&& o) noexcept;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement();

    Statement& bind(int index, std::int64_t value);
    Statement& bind(int index, std::string_view text);
    Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
    Statement& bind(int index, ByteView blob);
    Statement& bind(int index, std::nullopt_t);
    template <typename T>
    Statement& bind(int index, const std::optional<T>& value) {
        return value ? bind(index, *value) : bind(index, std::nullopt);
    }
    // Named parameters (":name", "@name", "$name" as written in the SQL).
    template <typename T>
    Statement& bind(const char* name, const T& value) {
        return bind(parameter_index(name), value);
    }

    // One step: true while a row is available, false once the statement is done.
    Result<bool> step();
    // Steps until done (for statements that return no rows).
    Result<void> run();
    // Rewinds for another run and clears the bindings.
    void reset();

    bool is_null(int column) const;
    std::int64_t int64(int column) const;
    std::string text(int column) const;
    std::optional<std::string> optional_text(int column) const;
    std::optional<std::int64_t> optional_int64(int column) const;
    Bytes blob(int column) const;
    // The blob without a copy, valid until the next step/reset (for secrets that go straight
    // into a wiping buffer).
    ByteView blob_view(int column) const;

  private:
    friend class Database;
    Statement(sqlite3* db, sqlite3_stmt* stmt, std::string_view what,
              CachedStatement* cached = nullptr);
    // Finalizes the statement, or rewinds it and hands it back to the cache.
    void release();
    int parameter_index(const char* name);
    void check_bind(int rc, int index);
    Error error(int rc) const;

    sqlite3* db_ = nullptr;
    sqlite3_stmt* stmt_ = nullptr;
    CachedStatement* cached_ = nullptr;  // set: the statement belongs to the Database's cache
    std::string what_;  // the operation, for error messages
    std::optional<Error> bind_error_;
};

// A write transaction (BEGIN IMMEDIATE) or a read snapshot (BEGIN DEFERRED). Rolled back when
// destroyed without commit(), so an early `return tl::unexpected(...)` undoes what was written.
class Transaction {
  public:
    Transaction(Transaction&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
    Transaction& operator=(Transaction&&) = delete;
    Transaction(const Transaction&) = delete;
    ~Transaction();
    Result<void> commit();

  private:
    friend class Database;
    explicit Transaction(Database* db) : db_(db) {}
    Database* db_;
};

class Database {
  public:
    // Opens (creating with mode 0600 when missing) the database file, sets WAL, foreign keys,
    // busy_timeout and synchronous, then applies pending migrations (db/migrations.hpp).
    // Refuses a file whose schema is newer than this code.
    static Result<Database> open(const std::string& path, Options options = {});

    Database(Database&& o) noexcept;
    Database& operator=(Database&& o) noexcept;
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;
    ~Database();

    // `what` names the operation in error messages ("add user"). The compiled statement is
    // kept (up to kStatementCache different SQL texts) and handed out again, rewound, by the
    // next prepare of the same text: posternd runs the same few statements for every login,
    // and compiling them each time cost as much as running them. A text whose statement is in
    // use (two at once) is compiled afresh.
    Result<Statement> prepare(std::string_view sql, std::string_view what);
    static constexpr std::size_t kStatementCache = 64;
    // Runs SQL without results (pragmas, schema); prepared statements for anything with values.
    Result<void> exec(std::string_view sql, std::string_view what);

    Result<Transaction> begin_write(std::string_view what);
    Result<Transaction> begin_read(std::string_view what);

    // PRAGMA user_version: the schema version the migrations recorded.
    Result<int> schema_version();
    std::int64_t now() const { return options_.clock(); }
    // The last row inserted on this connection (sqlite3_last_insert_rowid).
    std::int64_t last_insert_id() const;
    // Rows changed by the last INSERT/UPDATE/DELETE on this connection.
    int changes() const;
    const std::string& path() const { return path_; }
    sqlite3* handle() { return db_; }

  private:
    Database(sqlite3* db, std::string path, Options options)
        : db_(db), path_(std::move(path)), options_(std::move(options)) {}
    Error error(int rc, std::string_view what) const;

    sqlite3* db_ = nullptr;
    std::string path_;
    Options options_;
    std::unordered_map<std::string, CachedStatement*> statements_;  // owned
    void drop_statements();
    friend class Transaction;
    Result<void> run_cached(std::string_view sql, std::string_view what);
};

}  // namespace postern::db

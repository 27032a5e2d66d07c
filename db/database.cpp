#include "db/database.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "db/migrations.hpp"

namespace postern::db {

std::int64_t system_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

namespace {

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
    std::string msg(what);
    msg += ": ";
    // sqlite3_errmsg describes the connection's last error, which is `rc` as long as nothing
    // ran in between; without a connection only the code's generic text is known.
    msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    const int code = db ? sqlite3_extended_errcode(db) : rc;
    // A constraint failure is the caller's mistake (a name or address taken, a value the
    // schema refuses), not a fault of the database.
    ErrorKind kind = ErrorKind::sqlite;
    if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY)
        kind = ErrorKind::already_exists;
    else if (code == SQLITE_CONSTRAINT_FOREIGNKEY)
        kind = ErrorKind::not_found;
    else if ((code & 0xff) == SQLITE_CONSTRAINT)
        kind = ErrorKind::invalid_argument;
    return Error{kind, code, std::move(msg)};
}

// SQLite creates a missing database file with 0644 & ~umask, and gives the -wal and -shm files
// the main file's mode. Creating the file first with 0600 keeps NT hashes and PSKs readable by
// the owner only. An empty file is a valid empty database.
Result<void> create_private(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        ::close(fd);
        return {};
    }
    if (errno == EEXIST) return {};
    return fail(ErrorKind::sqlite, "open database " + path + ": " + std::strerror(errno));
}

}  // namespace

// ---- Statement -------------------------------------------------------------------------------

Statement::Statement(sqlite3* db, sqlite3_stmt* stmt, std::string_view what,
                     CachedStatement* cached)
    : db_(db), stmt_(stmt), cached_(cached), what_(what) {}

Statement::Statement(Statement&& o) noexcept
    : db_(o.db_),
      stmt_(std::exchange(o.stmt_, nullptr)),
      cached_(std::exchange(o.cached_, nullptr)),
      what_(std::move(o.what_)),
      bind_error_(std::move(o.bind_error_)) {}

Statement& Statement::operator=(Statement&& o) noexcept {
    if (this != &o) {
        release();
        db_ = o.db_;
        stmt_ = std::exchange(o.stmt_, nullptr);
        cached_ = std::exchange(o.cached_, nullptr);
        what_ = std::move(o.what_);
        bind_error_ = std::move(o.bind_error_);
    }
    return *this;
}

void Statement::release() {
    if (!cached_) {
        sqlite3_finalize(stmt_);
    } else if (cached_->orphaned) {
        sqlite3_finalize(stmt_);
        delete cached_;
    } else {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
        cached_->in_use = false;
    }
    stmt_ = nullptr;
    cached_ = nullptr;
}

Statement::~Statement() { release(); }

Error Statement::error(int rc) const { return sqlite_error(db_, rc, what_); }

void Statement::check_bind(int rc, int index) {
    if (rc == SQLITE_OK || bind_error_) return;
    Error e = error(rc);
    e.message += " (parameter " + std::to_string(index) + ")";
    bind_error_ = std::move(e);
}

int Statement::parameter_index(const char* name) {
    const int index = sqlite3_bind_parameter_index(stmt_, name);
    if (index == 0 && !bind_error_) {
        bind_error_ = Error{ErrorKind::invalid_argument, SQLITE_RANGE,
                            what_ + ": no SQL parameter named " + name};
    }
    return index;
}

Statement& Statement::bind(int index, std::int64_t value) {
    check_bind(sqlite3_bind_int64(stmt_, index, value), index);
    return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
    // An empty string_view may have a null data pointer, which SQLite would bind as NULL.
    const char* data = text.data() ? text.data() : "";
    check_bind(sqlite3_bind_text64(stmt_, index, data, text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
               index);
    return *this;
}

Statement& Statement::bind(int index, ByteView blob) {
    // A zero-length blob must not bind as NULL (a null data pointer would).
    static const std::uint8_t empty = 0;
    const void* data = blob.empty() ? &empty : blob.data();
    check_bind(sqlite3_bind_blob64(stmt_, index, data, blob.size(), SQLITE_TRANSIENT), index);
    return *this;
}

Statement& Statement::bind(int index, std::nullopt_t) {
    check_bind(sqlite3_bind_null(stmt_, index), index);
    return *this;
}

Result<bool> Statement::step() {
    if (bind_error_) return tl::unexpected(*bind_error_);
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return tl::unexpected(error(rc));
}

Result<void> Statement::run() {
    for (;;) {
        auto r = step();
        if (!r) return tl::unexpected(r.error());
        if (!*r) return {};
    }
}

void Statement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    bind_error_.reset();
}

bool Statement::is_null(int column) const {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::text(int column) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    if (!p) return {};
    return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::optional<std::string> Statement::optional_text(int column) const {
    if (is_null(column)) return std::nullopt;
    return text(column);
}

std::optional<std::int64_t> Statement::optional_int64(int column) const {
    if (is_null(column)) return std::nullopt;
    return int64(column);
}

ByteView Statement::blob_view(int column) const {
    const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, column));
    const int n = sqlite3_column_bytes(stmt_, column);
    if (!p || n <= 0) return {};
    return {p, static_cast<std::size_t>(n)};
}

Bytes Statement::blob(int column) const {
    const ByteView v = blob_view(column);
    return Bytes(v.begin(), v.end());
}

// ---- Transaction -----------------------------------------------------------------------------

Transaction::~Transaction() {
    // Nothing to report from a destructor: a failed ROLLBACK leaves SQLite rolling back itself
    // when the connection closes.
    if (db_) (void)db_->run_cached("ROLLBACK", "rollback");
}

Result<void> Transaction::commit() {
    Database* db = std::exchange(db_, nullptr);
    if (!db) return fail(ErrorKind::invalid_argument, "commit: transaction already ended");
    auto r = db->run_cached("COMMIT", "commit");
    // A failed COMMIT (SQLITE_BUSY, I/O) leaves the transaction open: roll it back so the
    // connection is usable again and nothing half-written stays pending.
    if (!r) (void)db->run_cached("ROLLBACK", "rollback");
    return r;
}

// ---- Database --------------------------------------------------------------------------------

Result<Database> Database::open(const std::string& path, Options options) {
    if (auto r = create_private(path); !r) return tl::unexpected(r.error());
    sqlite3* handle = nullptr;
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(path.c_str(), &handle, flags, nullptr);
    if (rc != SQLITE_OK) {
        Error e = sqlite_error(handle, rc, "open database " + path);
        sqlite3_close_v2(handle);
        return tl::unexpected(std::move(e));
    }
    sqlite3_extended_result_codes(handle, 1);
    Database db(handle, path, std::move(options));

    // The busy timeout first: switching to WAL needs a lock another process may hold.
    sqlite3_busy_timeout(handle, static_cast<int>(db.options_.busy_timeout.count()));
    if (auto r = db.exec("PRAGMA foreign_keys = ON", "open database " + path); !r)
        return tl::unexpected(r.error());
    {
        auto st = db.prepare("PRAGMA journal_mode = WAL", "open database " + path + ": WAL");
        if (!st) return tl::unexpected(st.error());
        auto row = st->step();
        if (!row) return tl::unexpected(row.error());
        const std::string mode = *row ? st->text(0) : "";
        if (mode != "wal") {
            return fail(ErrorKind::sqlite, "open database " + path +
                                               ": cannot use the WAL journal (journal_mode is " +
                                               (mode.empty() ? "unknown" : mode) + ")");
        }
    }
    const char* sync = db.options_.durability == Durability::full ? "PRAGMA synchronous = FULL"
                                                                  : "PRAGMA synchronous = NORMAL";
    if (auto r = db.exec(sync, "open database " + path); !r) return tl::unexpected(r.error());
    if (auto r = apply_migrations(db); !r) return tl::unexpected(r.error());
    return db;
}

Database::Database(Database&& o) noexcept
    : db_(std::exchange(o.db_, nullptr)),
      path_(std::move(o.path_)),
      options_(std::move(o.options_)),
      statements_(std::exchange(o.statements_, {})) {}

Database& Database::operator=(Database&& o) noexcept {
    if (this != &o) {
        drop_statements();
        sqlite3_close_v2(db_);
        db_ = std::exchange(o.db_, nullptr);
        path_ = std::move(o.path_);
        options_ = std::move(o.options_);
        statements_ = std::exchange(o.statements_, {});
    }
    return *this;
}

// Finalizes the cached statements; one a Statement still has is finalized by that Statement.
void Database::drop_statements() {
    for (auto& [sql, c] : statements_) {
        if (c->in_use) {
            c->orphaned = true;
            continue;
        }
        sqlite3_finalize(c->stmt);
        delete c;
    }
    statements_.clear();
}

Database::~Database() {
    drop_statements();
    // close_v2 defers the close until every statement is finalized, so a Statement that
    // outlives its Database is still safe to destroy.
    sqlite3_close_v2(db_);
}

Error Database::error(int rc, std::string_view what) const { return sqlite_error(db_, rc, what); }

Result<Statement> Database::prepare(std::string_view sql, std::string_view what) {
    std::string key(sql);
    auto it = statements_.find(key);
    if (it != statements_.end() && !it->second->in_use) {
        it->second->in_use = true;
        return Statement(db_, it->second->stmt, what, it->second);
    }
    const bool cache = it == statements_.end() && statements_.size() < kStatementCache;
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                      cache ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, nullptr);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return tl::unexpected(error(rc, what));
    }
    if (!cache || !stmt) return Statement(db_, stmt, what);
    auto* c = new CachedStatement{stmt, true, false};
    statements_.emplace(std::move(key), c);
    return Statement(db_, stmt, what, c);
}

Result<void> Database::exec(std::string_view sql, std::string_view what) {
    const std::string text(sql);  // sqlite3_exec wants a terminated string
    char* msg = nullptr;
    const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &msg);
    sqlite3_free(msg);  // the same text as sqlite3_errmsg, which error() reads
    if (rc != SQLITE_OK) return tl::unexpected(error(rc, what));
    return {};
}

// BEGIN, COMMIT and ROLLBACK through prepare(), so they are compiled once too.
Result<void> Database::run_cached(std::string_view sql, std::string_view what) {
    auto st = prepare(sql, what);
    if (!st) return tl::unexpected(st.error());
    return st->run();
}

Result<Transaction> Database::begin_write(std::string_view what) {
    if (auto r = run_cached("BEGIN IMMEDIATE", what); !r) return tl::unexpected(r.error());
    return Transaction(this);
}

Result<Transaction> Database::begin_read(std::string_view what) {
    if (auto r = run_cached("BEGIN DEFERRED", what); !r) return tl::unexpected(r.error());
    return Transaction(this);
}

Result<int> Database::schema_version() {
    auto st = prepare("PRAGMA user_version", "read schema version");
    if (!st) return tl::unexpected(st.error());
    auto row = st->step();
    if (!row) return tl::unexpected(row.error());
    return *row ? static_cast<int>(st->int64(0)) : 0;
}

std::int64_t Database::last_insert_id() const { return sqlite3_last_insert_rowid(db_); }

int Database::changes() const { return sqlite3_changes(db_); }

}  // namespace postern::db

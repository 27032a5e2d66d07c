#include "db/checkpointer.hpp"

#include <pthread.h>

#include <utility>

namespace postern::db {

Result<std::unique_ptr<Checkpointer>> Checkpointer::start(Database& writer, int threshold_pages,
                                                          std::chrono::milliseconds period) {
    sqlite3* own = nullptr;
    const int rc = sqlite3_open_v2(writer.path().c_str(), &own,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string why = own ? sqlite3_errmsg(own) : sqlite3_errstr(rc);
        sqlite3_close_v2(own);
        return fail(ErrorKind::sqlite, "open " + writer.path() + " for checkpoints: " + why);
    }
    // A connection finds the database in WAL mode when it first reads it; until then a
    // checkpoint on it does nothing (and reports -1 frames).
    if (const int r = sqlite3_exec(own, "SELECT count(*) FROM sqlite_schema", nullptr, nullptr,
                                   nullptr);
        r != SQLITE_OK) {
        std::string why = sqlite3_errmsg(own);
        sqlite3_close_v2(own);
        return fail(ErrorKind::sqlite, "open " + writer.path() + " for checkpoints: " + why);
    }
    std::unique_ptr<Checkpointer> c(
        new Checkpointer(writer.handle(), own, threshold_pages > 0 ? threshold_pages : 1, period));
    sqlite3_wal_hook(writer.handle(), &Checkpointer::on_commit, c.get());
    return c;
}

Checkpointer::Checkpointer(sqlite3* writer, sqlite3* own, int threshold_pages,
                           std::chrono::milliseconds period)
    : writer_(writer), own_(own), threshold_(threshold_pages), period_(period) {
    thread_ = std::thread([this] { run(); });
    ::pthread_setname_np(thread_.native_handle(), "postern-wal");
}

Checkpointer::~Checkpointer() {
    // No commit of the writer reaches this object any more; SQLite's default (automatic
    // checkpoints at 1000 pages) is back for whatever the writer still does.
    sqlite3_wal_autocheckpoint(writer_, 1000);
    {
        std::lock_guard lock(m_);
        stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
    sqlite3_close_v2(own_);
}

int Checkpointer::on_commit(void* self, sqlite3* db, const char* schema, int pages) {
    auto* c = static_cast<Checkpointer*>(self);
    if (pages < c->threshold_) return SQLITE_OK;
    if (pages >= kWriterFinishes * c->threshold_) {
        // Commits came back to back and the checkpointer never caught up with the last one:
        // the WAL cannot start over until a checkpoint is complete between two transactions.
        // The writer copies what is left (the checkpointer has done most of it), as SQLite's
        // own hook would have at 1000 pages.
        sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        std::lock_guard lock(c->m_);
        ++c->stats_.writer_checkpoints;
        return SQLITE_OK;
    }
    bool notify = false;
    {
        std::lock_guard lock(c->m_);
        ++c->stats_.wakeups;
        notify = !std::exchange(c->wanted_, true);
    }
    if (notify) c->cv_.notify_one();
    return SQLITE_OK;
}

void Checkpointer::run() {
    std::unique_lock lock(m_);
    for (;;) {
        cv_.wait_for(lock, period_, [this] { return wanted_ || stopping_; });
        wanted_ = false;
        const bool last = stopping_;
        lock.unlock();
        const bool progress = checkpoint();
        lock.lock();
        if (last) return;
        // Stuck behind a reader's snapshot: wait a little before trying again, whatever the
        // commits ask meanwhile.
        if (!progress)
            cv_.wait_for(lock, std::chrono::milliseconds(50), [this] { return stopping_; });
    }
}

bool Checkpointer::checkpoint() {
    int log = 0, copied = 0;
    const int rc =
        sqlite3_wal_checkpoint_v2(own_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    std::lock_guard lock(m_);
    if (rc != SQLITE_OK) {
        // SQLITE_BUSY: the writer was checkpointing itself at that moment (one at a time).
        ++(rc == SQLITE_BUSY ? stats_.busy : stats_.failures);
        return false;
    }
    ++stats_.checkpoints;
    // Progress: the whole WAL is in the database now, or more of it than last time.
    const bool progress = copied == log || copied != stats_.checkpointed_frames;
    stats_.wal_frames = log;
    stats_.checkpointed_frames = copied;
    return progress;
}

Checkpointer::Stats Checkpointer::stats() const {
    std::lock_guard lock(m_);
    return stats_;
}

}  // namespace postern::db

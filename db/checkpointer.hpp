// WAL checkpoints on a thread of their own (issue 9: a rush of logins).
//
// SQLite copies the WAL back into the database file (a checkpoint) from whichever connection
// commits once the WAL holds 1000 pages (wal_autocheckpoint). posternd commits its leases and
// audit rows on its I/O thread, so every few thousand logins one commit there stalled while
// the checkpoint wrote about 4 MiB and, with synchronous=NORMAL, flushed the database file.
// A Checkpointer takes that work over:
//
//   - the writer's own automatic checkpoints end (its WAL hook is replaced, which is how
//     sqlite3_wal_autocheckpoint works too);
//   - a commit that leaves `threshold_pages` or more in the WAL wakes the checkpointer's thread
//     (a flag and a notify: nothing else on the committing thread);
//   - that thread runs PASSIVE checkpoints on a connection of its own, which never wait for
//     and never block the readers and writers of the database; also every `period`, and once
//     more when it stops;
//   - commits that follow each other closely leave the checkpointer no moment between two
//     transactions at which the whole WAL is in the database, and the WAL can only start over
//     at such a moment: once it holds kWriterFinishes times the threshold, the committing
//     connection checkpoints as SQLite's own hook would have, copying what the checkpointer
//     has not yet (little, usually), so the WAL stays bounded under any load.
// One checkpoint that gets no further than the last (a reader holding an old
//     snapshot keeps the WAL from starting over) waits 50 ms before the next.
//
// The writer's next transaction after a complete checkpoint starts the WAL file over, as
// with SQLite's own checkpoints. The Checkpointer must go before the writer's Database, and
// not while another thread uses that Database (the hook is removed from its connection).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "db/database.hpp"

namespace postern::db {

class Checkpointer {
  public:
    static constexpr int kWriterFinishes = 4;

    static Result<std::unique_ptr<Checkpointer>> start(
        Database& writer, int threshold_pages = 1000,
        std::chrono::milliseconds period = std::chrono::seconds(10));
    ~Checkpointer();
    Checkpointer(const Checkpointer&) = delete;
    Checkpointer& operator=(const Checkpointer&) = delete;

    struct Stats {
        std::uint64_t checkpoints = 0;  // PASSIVE checkpoints run
        std::uint64_t busy = 0;         // not run: the writer was checkpointing at that moment
        std::uint64_t failures = 0;     // checkpoints SQLite refused for another reason
        std::uint64_t wakeups = 0;      // commits that asked for one
        std::uint64_t writer_checkpoints = 0;  // run by the committing connection instead
        // The last checkpoint's: frames in the WAL, and how many of them are in the database
        // now (all of them unless a reader still used an older snapshot).
        int wal_frames = 0, checkpointed_frames = 0;
    };
    Stats stats() const;

  private:
    Checkpointer(sqlite3* writer, sqlite3* own, int threshold_pages,
                 std::chrono::milliseconds period);
    static int on_commit(void* self, sqlite3*, const char*, int pages);
    void run();
    bool checkpoint();  // whether it got further than the last one

    sqlite3* writer_;
    sqlite3* own_;  // this thread's connection
    const int threshold_;
    const std::chrono::milliseconds period_;
    mutable std::mutex m_;
    std::condition_variable cv_;
    bool wanted_ = false, stopping_ = false;
    Stats stats_;
    std::thread thread_;
};

}  // namespace postern::db

// lease_bench: the lease store's cost per login and per disconnect, the one database write on
// the IKE handshake path (db/lease_store.hpp through db/persistent_pools.hpp, as posternd's
// sqlite-users plugin uses it: WAL, synchronous=NORMAL).
//
//   lease_bench [--leases N] [--batch B] [--dir D] [--no-checkpoints]
//
// Three phases over N distinct identities in one /8 pool, each timed per operation:
//   fresh      acquire for identities never seen (a new row)
//   release    release every lease (queued, and written in one transaction per sync)
//   returning  acquire again for the same identities (each gets its released address back)
// With --batch B (> 1) the pools commit acquires in batches (batch_commits), synced every B
// operations, as posternd syncs before each batch of answers; with 1, each acquire commits
// itself and releases are synced every 1,024.
// With --no-checkpoints, also the WAL written per operation (pages of 4 KiB plus a 24-octet
// header each). Each phase also prints its longest sync (a batch's commit, which posternd's
// answers wait for). Asserts nothing about speed.
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "db/database.hpp"
#include "db/persistent_pools.hpp"

using namespace postern;
using Clock = std::chrono::steady_clock;

namespace {

std::uintmax_t wal_size(const std::string& path) {
    std::error_code ec;
    auto n = std::filesystem::file_size(path + "-wal", ec);
    return ec ? 0 : n;
}

}  // namespace

int main(int argc, char** argv) {
    long n = 20000;
    std::string dir;
    bool no_checkpoints = false;
    long batch = 1;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--leases" && i + 1 < argc) n = std::atol(argv[++i]);
        else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
        else if (a == "--no-checkpoints") no_checkpoints = true;
        else if (a == "--batch" && i + 1 < argc) batch = std::max(1L, std::atol(argv[++i]));
        else {
            std::fprintf(stderr, "usage: lease_bench [--leases N] [--batch B] [--dir D] [--no-checkpoints]\n");
            return 2;
        }
    }
    if (dir.empty()) {
        char tmpl[] = "/tmp/lease-bench-XXXXXX";
        if (!::mkdtemp(tmpl)) return 1;
        dir = tmpl;
    }
    const std::string path = dir + "/postern.db";
    std::filesystem::remove(path);
    db::Options options;
    options.durability = db::Durability::normal;
    auto db = db::Database::open(path, options);
    if (!db) {
        std::fprintf(stderr, "%s\n", db.error().message.c_str());
        return 1;
    }
    auto pools = db::PersistentPools::create(*db, {db::PoolSpec{"bench", "10.0.0.0/8", {}}}, true,
                                             [](const db::Error& e) {
                                                 std::fprintf(stderr, "%s\n", e.message.c_str());
                                                 std::exit(1);
                                             },
                                             /*batch_commits=*/batch > 1);
    if (!pools) {
        std::fprintf(stderr, "%s\n", pools.error().message.c_str());
        return 1;
    }
    // What the WAL checkpoints (every 1,000 pages, in the committing thread) cost: the
    // difference with and without them.
    if (no_checkpoints) (void)db->exec("PRAGMA wal_autocheckpoint = 0", "checkpoints off");
    std::vector<std::string> ids;
    for (long i = 0; i < n; ++i) ids.push_back("client-" + std::to_string(i) + "@bench.example");
    std::vector<IpAddress> got(n);

    auto phase = [&](const char* name, auto&& op) {
        const auto wal0 = wal_size(path);
        const auto t0 = Clock::now();
        const long every = batch > 1 ? batch : 1024;
        // The longest sync (posternd's I/O thread makes them, every answer of a batch waits
        // for it): where a WAL checkpoint in the committing thread shows.
        Clock::duration longest{};
        auto sync = [&] {
            const auto s0 = Clock::now();
            pools->sync();
            longest = std::max(longest, Clock::now() - s0);
        };
        for (long i = 0; i < n; ++i) {
            op(i);
            if ((i + 1) % every == 0) sync();
        }
        sync();
        const double us =
            std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / double(n);
        std::printf("%-10s %8.1f us/op %10.0f ops/s  longest sync %6.2f ms", name, us, 1e6 / us,
                    std::chrono::duration<double, std::milli>(longest).count());
        if (no_checkpoints)
            std::printf("  WAL +%.1f KiB/op", (double(wal_size(path)) - double(wal0)) / 1024.0 / n);
        std::printf("\n");
    };
    std::printf("lease_bench: %ld leases, %s, SQLite %s, %s\n", n, path.c_str(),
                sqlite3_libversion(),
                batch > 1 ? ("synced every " + std::to_string(batch)).c_str()
                          : "each acquire commits itself");
    phase("fresh", [&](long i) {
        auto a = pools->acquire("bench", ids[i], IpAddress::Family::V4, std::nullopt);
        if (!a) std::exit(1);
        got[i] = *a;
    });
    phase("release", [&](long i) { pools->release("bench", got[i]); });
    phase("returning", [&](long i) {
        auto a = pools->acquire("bench", ids[i], IpAddress::Family::V4, std::nullopt);
        if (!a || *a != got[i]) {
            std::fprintf(stderr, "identity %ld did not get its address back\n", i);
            std::exit(1);
        }
    });
    phase("release", [&](long i) { pools->release("bench", got[i]); });
    std::filesystem::remove_all(dir);
    return 0;
}

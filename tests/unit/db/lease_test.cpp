#include <sqlite3.h>

#include <algorithm>

#include <boost/test/unit_test.hpp>

#include "db/migrations.hpp"

#include "db/lease_store.hpp"
#include "db/persistent_pools.hpp"
#include "temp_db.hpp"

using namespace postern;
using namespace postern::db;

namespace {
IpAddress ip(const char* s) { return *IpAddress::parse(s); }
const std::vector<PoolSpec> kPools{{"staff", "10.0.0.0/29", {ip("10.0.0.1")}},
                                   {"staff", "fd00::/125", {}}};
}  // namespace

BOOST_AUTO_TEST_SUITE(leases)

BOOST_AUTO_TEST_CASE(order_reuse_requested_and_exhaustion) {
    test::TempDb t;
    auto db = t.open();
    auto pools = PersistentPools::create(db, kPools);
    BOOST_TEST_REQUIRE(pools.has_value());
    const auto v4 = IpAddress::Family::V4;
    // .1 is reserved, .0 and .7 are network and broadcast: .2 to .6 remain.
    BOOST_TEST((pools->acquire("staff", "a", v4, std::nullopt) == ip("10.0.0.2")));
    BOOST_TEST((pools->acquire("staff", "a", v4, std::nullopt) == ip("10.0.0.3")));  // 2nd device
    BOOST_TEST((pools->acquire("staff", "b", v4, ip("10.0.0.6")) == ip("10.0.0.6")));
    BOOST_TEST((pools->acquire("staff", "c", v4, ip("10.0.0.6")) == ip("10.0.0.4")));  // taken
    BOOST_TEST((pools->acquire("staff", "d", v4, std::nullopt) == ip("10.0.0.5")));
    BOOST_TEST(!pools->acquire("staff", "e", v4, std::nullopt).has_value());
    BOOST_TEST((pools->acquire("staff", "a", IpAddress::Family::V6, std::nullopt) ==
                ip("fd00::1")));
    BOOST_TEST(!pools->acquire("nopool", "a", v4, std::nullopt).has_value());

    pools->release("staff", ip("10.0.0.4"));  // c
    pools->release("staff", ip("10.0.0.5"));  // d
    // c's address is remembered: d may not request it, e gets the oldest release.
    BOOST_TEST((pools->acquire("staff", "d", v4, ip("10.0.0.4")) == ip("10.0.0.5")));
    BOOST_TEST((pools->acquire("staff", "e", v4, std::nullopt) == ip("10.0.0.4")));
}

BOOST_AUTO_TEST_CASE(sticky_after_reopen_and_release_all) {
    test::TempDb t;
    {
        auto db = t.open();
        auto pools = PersistentPools::create(db, kPools);
        BOOST_TEST((pools->acquire("staff", "x", IpAddress::Family::V4, std::nullopt) ==
                    ip("10.0.0.2")));
        BOOST_TEST((pools->acquire("staff", "alice", IpAddress::Family::V4, std::nullopt) ==
                    ip("10.0.0.3")));
        // No release: posternd "crashes" with alice online.
    }
    auto db = t.open();
    LeaseStore leases(db);
    BOOST_TEST(leases.active()->size() == 2u);
    auto pools = PersistentPools::create(db, kPools);  // releases what the last run held
    BOOST_TEST(leases.active()->empty());
    BOOST_TEST((pools->acquire("staff", "alice", IpAddress::Family::V4, std::nullopt) ==
                ip("10.0.0.3")));
    auto l = leases.find("staff", ip("10.0.0.3"));
    BOOST_TEST_REQUIRE(l->has_value());
    BOOST_TEST((*l)->identity == "alice");
    BOOST_TEST((*l)->active);
    BOOST_TEST(*leases.release("staff", ip("10.0.0.3")));
    BOOST_TEST(!*leases.release("staff", ip("10.0.0.3")));
}

// A database written by schema version 2 (leases in a rowid table) keeps its leases, active
// and released, through the migration to version 3, and they behave as before.
BOOST_AUTO_TEST_CASE(version_2_leases_survive_the_migration) {
    test::TempDb t;
    {
        sqlite3* raw = nullptr;
        BOOST_TEST_REQUIRE(sqlite3_open(t.path.c_str(), &raw) == SQLITE_OK);
        std::string sql;
        for (const auto& m : migrations())
            if (m.version <= 2) sql += m.sql;
        sql += "PRAGMA user_version = 2;"
               "INSERT INTO leases VALUES ('staff', '10.0.0.2', 4, 'alice', 0, 1, 2, 7);"
               "INSERT INTO leases VALUES ('staff', '10.0.0.3', 4, 'bob', 1, 1, NULL, 3);"
               "INSERT INTO leases VALUES ('staff', '10.0.0.4', 4, 'carol', 0, 1, 2, 5);";
        char* msg = nullptr;
        const int rc = sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, &msg);
        BOOST_TEST(rc == SQLITE_OK, (msg ? msg : ""));
        sqlite3_free(msg);
        sqlite3_close(raw);
    }
    auto db = t.open();
    BOOST_TEST(*db.schema_version() == 3);
    LeaseStore leases(db);
    auto active = leases.active();
    BOOST_TEST_REQUIRE(active->size() == 1u);
    BOOST_TEST((*active)[0].identity == "bob");
    auto pools = PersistentPools::create(db, kPools, /*release_stale=*/false);
    BOOST_TEST_REQUIRE(pools.has_value());
    const auto v4 = IpAddress::Family::V4;
    BOOST_TEST((pools->acquire("staff", "alice", v4, std::nullopt) == ip("10.0.0.2")));
    // .5 and .6 were never used; after them the oldest release left is carol's.
    BOOST_TEST((pools->acquire("staff", "dave", v4, std::nullopt) == ip("10.0.0.5")));
    BOOST_TEST((pools->acquire("staff", "erin", v4, std::nullopt) == ip("10.0.0.6")));
    BOOST_TEST((pools->acquire("staff", "frank", v4, std::nullopt) == ip("10.0.0.4")));
    BOOST_TEST(!pools->acquire("staff", "gina", v4, std::nullopt).has_value());
    // A release after the migration orders after the migrated ones.
    pools->release("staff", ip("10.0.0.3"));
    pools->release("staff", ip("10.0.0.2"));
    BOOST_TEST((pools->acquire("staff", "gina", v4, std::nullopt) == ip("10.0.0.3")));
}

namespace {

// The most virtual-machine steps any one statement the connection finished took. A walk over
// the table, or over one pool's range of its key, takes thousands here; an index search a few
// dozen.
int profile(unsigned, void* ctx, void* stmt, void*) {
    long& most = *static_cast<long*>(ctx);
    most = std::max<long>(
        most, sqlite3_stmt_status(static_cast<sqlite3_stmt*>(stmt), SQLITE_STMTSTATUS_VM_STEP, /*reset=*/1));
    return 0;
}

}  // namespace

// With thousands of leases, active and released, neither a login's acquire nor a disconnect's
// release walks the table: every lookup is an index search.
BOOST_AUTO_TEST_CASE(acquire_and_release_never_scan_the_table) {
    test::TempDb t;
    auto db = t.open();
    const std::vector<PoolSpec> big{{"big", "10.64.0.0/16", {}}};
    auto pools = PersistentPools::create(db, big);
    BOOST_TEST_REQUIRE(pools.has_value());
    const auto v4 = IpAddress::Family::V4;
    std::vector<IpAddress> got;
    for (int i = 0; i < 3000; ++i)
        got.push_back(*pools->acquire("big", "user" + std::to_string(i), v4, std::nullopt));
    for (int i = 0; i < 3000; i += 2) pools->release("big", got[i]);

    for (sqlite3_stmt* st = sqlite3_next_stmt(db.handle(), nullptr); st;
         st = sqlite3_next_stmt(db.handle(), st))
        sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, /*reset=*/1);  // the filling's
    long most_steps = 0;
    sqlite3_trace_v2(db.handle(), SQLITE_TRACE_PROFILE, profile, &most_steps);
    for (int i = 0; i < 3000; i += 2) {  // returning identities, then new ones
        BOOST_TEST((pools->acquire("big", "user" + std::to_string(i), v4, std::nullopt) == got[i]));
        pools->release("big", got[i]);
        BOOST_TEST(pools->acquire("big", "new" + std::to_string(i), v4, got[i]).has_value());
    }
    sqlite3_trace_v2(db.handle(), 0, nullptr, nullptr);
    BOOST_TEST(most_steps < 300);
}

// release() queues; sync(), the next acquire(), the bound and the destructor write the queue.
BOOST_AUTO_TEST_CASE(releases_are_queued_until_a_sync_or_an_acquire) {
    test::TempDb t;
    auto db = t.open();
    LeaseStore leases(db);
    const auto v4 = IpAddress::Family::V4;
    auto active = [&](const char* a) { return (*leases.find("staff", ip(a)))->active; };
    {
        auto pools = PersistentPools::create(db, kPools);
        BOOST_TEST_REQUIRE(pools.has_value());
        BOOST_TEST((pools->acquire("staff", "alice", v4, std::nullopt) == ip("10.0.0.2")));
        BOOST_TEST((pools->acquire("staff", "bob", v4, std::nullopt) == ip("10.0.0.3")));
        BOOST_TEST((pools->acquire("staff", "carol", v4, std::nullopt) == ip("10.0.0.4")));
        pools->release("staff", ip("10.0.0.2"));
        pools->release("staff", ip("10.0.0.3"));
        BOOST_TEST(pools->pending_releases() == 2u);
        BOOST_TEST(active("10.0.0.2"));  // not written yet
        // alice's release is written in her next acquire's transaction: she gets .2 back.
        BOOST_TEST((pools->acquire("staff", "alice", v4, std::nullopt) == ip("10.0.0.2")));
        BOOST_TEST(pools->pending_releases() == 0u);
        BOOST_TEST(!active("10.0.0.3"));
        pools->release("staff", ip("10.0.0.4"));
        pools->sync();
        BOOST_TEST(!active("10.0.0.4"));
        pools->release("staff", ip("10.0.0.2"));
        BOOST_TEST(active("10.0.0.2"));
    }
    BOOST_TEST(!active("10.0.0.2"));  // the destructor wrote it
    BOOST_TEST(leases.active()->empty());

    // An acquire that finds its range exhausted still writes the queued releases (of another
    // family here, so they free nothing it could take).
    {
        auto pools = PersistentPools::create(db, kPools);
        for (const char* who : {"a", "b", "c", "d", "e"})
            BOOST_TEST(pools->acquire("staff", who, v4, std::nullopt).has_value());
        const auto v6 = pools->acquire("staff", "a", IpAddress::Family::V6, std::nullopt);
        BOOST_TEST_REQUIRE(v6.has_value());
        pools->release("staff", *v6);
        BOOST_TEST(!pools->acquire("staff", "f", v4, std::nullopt).has_value());
        BOOST_TEST(pools->pending_releases() == 0u);
        BOOST_TEST(!(*leases.find("staff", *v6))->active);
        for (const char* a : {"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"})
            pools->release("staff", ip(a));
    }
    BOOST_TEST(leases.active()->empty());

    // The queue is bounded: the release that fills it writes it.
    auto pools = PersistentPools::create(db, {{"big", "10.64.0.0/16", {}}});
    std::vector<IpAddress> got;
    for (std::size_t i = 0; i < PersistentPools::kMaxPendingReleases; ++i)
        got.push_back(*pools->acquire("big", "u" + std::to_string(i), v4, std::nullopt));
    for (std::size_t i = 0; i + 1 < got.size(); ++i) pools->release("big", got[i]);
    BOOST_TEST(leases.active("big")->size() == got.size());
    pools->release("big", got.back());
    BOOST_TEST(pools->pending_releases() == 0u);
    BOOST_TEST(leases.active("big")->empty());
}

// batch_commits: acquires join one transaction until sync(); only then does another connection
// (the CLI, or the next start after a crash) see them.
BOOST_AUTO_TEST_CASE(batched_acquires_are_committed_by_sync) {
    test::TempDb t;
    auto db = t.open();
    auto other = t.open();  // a second connection to the same file
    LeaseStore seen(other);
    const auto v4 = IpAddress::Family::V4;
    {
        auto pools = PersistentPools::create(db, kPools, true, {}, /*batch_commits=*/true);
        BOOST_TEST_REQUIRE(pools.has_value());
        BOOST_TEST((pools->acquire("staff", "alice", v4, std::nullopt) == ip("10.0.0.2")));
        BOOST_TEST((pools->acquire("staff", "bob", v4, std::nullopt) == ip("10.0.0.3")));
        BOOST_TEST(pools->transaction_open());
        BOOST_TEST(seen.active()->empty());  // not committed yet
        pools->sync();
        BOOST_TEST(!pools->transaction_open());
        BOOST_TEST(seen.active()->size() == 2u);

        // A release is queued, then written in the next batch before its acquire chooses.
        pools->release("staff", ip("10.0.0.2"));
        BOOST_TEST((pools->acquire("staff", "carol", v4, std::nullopt) == ip("10.0.0.4")));
        BOOST_TEST((pools->acquire("staff", "alice", v4, std::nullopt) == ip("10.0.0.2")));
        BOOST_TEST(pools->pending_releases() == 0u);
        BOOST_TEST(seen.active()->size() == 2u);  // alice and bob, from the last commit
        pools->sync();
        BOOST_TEST(seen.active()->size() == 3u);
        BOOST_TEST((pools->acquire("staff", "dave", v4, std::nullopt) == ip("10.0.0.5")));
    }
    // The destructor commits what the batch held.
    BOOST_TEST(seen.active()->size() == 4u);
    BOOST_TEST((*seen.find("staff", ip("10.0.0.5")))->identity == "dave");
}

BOOST_AUTO_TEST_SUITE_END()

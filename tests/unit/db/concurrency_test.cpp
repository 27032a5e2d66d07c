// posternd and the CLI on one file: two connections writing at once, and a writer killed with
// SIGKILL in the middle of its work.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include <boost/test/unit_test.hpp>

#include "db/lease_store.hpp"
#include "db/persistent_pools.hpp"
#include "db/user_store.hpp"
#include "temp_db.hpp"

using namespace postern;
using namespace postern::db;

namespace {

std::string integrity(Database& db) {
    auto st = db.prepare("PRAGMA integrity_check", "integrity");
    if (!st || !*st->step()) return "failed to run";
    return st->text(0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(concurrency)

BOOST_AUTO_TEST_CASE(two_connections_write_concurrently_without_busy) {
    test::TempDb t;
    { auto db = t.open(); }  // schema once, so both threads only write rows
    constexpr int kEach = 200;
    std::vector<std::string> errors[2];
    auto writer = [&](int who) {
        auto db = Database::open(t.path);  // the system clock: the fake one is not shared
        if (!db) {
            errors[who].push_back(db.error().message);
            return;
        }
        UserStore users(*db);
        LeaseStore leases(*db);
        auto pool = ike::policy::AddressPool::create("10.8.0.0/16");
        for (int i = 0; i < kEach; ++i) {
            const std::string name = "u" + std::to_string(who) + "-" + std::to_string(i);
            if (auto r = users.add(name); !r) errors[who].push_back(r.error().message);
            if (auto r = users.record_login(name); !r) errors[who].push_back(r.error().message);
            auto a = leases.acquire("p", name, range_of(*pool));
            if (!a || !*a) errors[who].push_back(a ? "exhausted" : a.error().message);
        }
    };
    std::thread a(writer, 0), b(writer, 1);
    a.join();
    b.join();
    for (auto& e : errors) {
        BOOST_TEST(e.empty(), (e.empty() ? "" : e.front()));
    }
    auto db = t.open();
    BOOST_TEST(UserStore(db).list()->size() == 2u * kEach);
    auto active = LeaseStore(db).active();
    BOOST_TEST(active->size() == 2u * kEach);  // all distinct: (pool, address) is the key
}

BOOST_AUTO_TEST_CASE(sigkill_loses_no_committed_user_or_lease) {
    test::TempDb t;
    { auto db = t.open(); }
    int fds[2];
    BOOST_TEST_REQUIRE(::pipe(fds) == 0);
    const pid_t child = ::fork();
    BOOST_TEST_REQUIRE(child >= 0);
    if (child == 0) {
        // The child writes until killed, reporting each committed index over the pipe.
        ::close(fds[0]);
        auto db = Database::open(t.path);
        if (!db) ::_exit(2);
        UserStore users(*db);
        LeaseStore leases(*db);
        auto pool = ike::policy::AddressPool::create("10.9.0.0/16");
        for (std::uint32_t i = 0;; ++i) {
            const std::string name = "k" + std::to_string(i);
            if (!users.add(name)) ::_exit(3);
            if (!leases.acquire("p", name, range_of(*pool))) ::_exit(4);
            if (::write(fds[1], &i, sizeof i) != sizeof i) ::_exit(5);
        }
    }
    ::close(fds[1]);
    std::uint32_t last = 0, v = 0;
    int got = 0;
    while (got < 150 && ::read(fds[0], &v, sizeof v) == sizeof v) {
        last = v;
        ++got;
    }
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    // Drain what the child reported before it died: those were committed too.
    while (::read(fds[0], &v, sizeof v) == sizeof v) last = v;
    ::close(fds[0]);
    BOOST_TEST_REQUIRE(got == 150, "the child stopped early, status " << status);
    BOOST_TEST(WIFSIGNALED(status));

    auto db = t.open();
    BOOST_TEST(integrity(db) == "ok");
    UserStore users(db);
    LeaseStore leases(db);
    for (std::uint32_t i = 0; i <= last; ++i) {
        const std::string name = "k" + std::to_string(i);
        BOOST_TEST_REQUIRE(users.get(name).has_value(), name);
    }
    BOOST_TEST(leases.active()->size() >= last + 1);
}

BOOST_AUTO_TEST_SUITE_END()

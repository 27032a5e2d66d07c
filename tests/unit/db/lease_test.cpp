#include <boost/test/unit_test.hpp>

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

BOOST_AUTO_TEST_SUITE_END()

// What posternd's TUN device gets (daemon/tun_setup.hpp): addresses and routes from the pools
// and connections, and the pools never handing out the gateway's address.

#include <boost/test/unit_test.hpp>

#include "daemon/address_pools.hpp"
#include "daemon/config.hpp"
#include "daemon/tun_setup.hpp"

using namespace postern;
using namespace postern::daemon;

BOOST_AUTO_TEST_SUITE(tun_setup)

BOOST_AUTO_TEST_CASE(gateway_address_is_the_pools_last_usable_one) {
    BOOST_TEST(pool_gateway_address("10.99.0.0/24")->to_string() == "10.99.0.254");
    BOOST_TEST(pool_gateway_address("10.10.0.0/16")->to_string() == "10.10.255.254");
    BOOST_TEST(pool_gateway_address("10.10.0.0/31")->to_string() == "10.10.0.1");
    BOOST_TEST(pool_gateway_address("fd00:99::/112")->to_string() == "fd00:99::ffff");
    BOOST_TEST(!pool_gateway_address("10.10.0.7/32"));
    BOOST_TEST(!pool_gateway_address("fd00::1/128"));
    BOOST_TEST(!pool_gateway_address("not a prefix"));
}

BOOST_AUTO_TEST_CASE(plan_from_pools_and_remote_ts) {
    auto c = parse_config(R"([pools.clients]
ipv4 = "10.99.0.0/24"
ipv6 = "fd00:99::/112"

[pools.staff]
ipv4 = "10.98.0.0/24"

[[connections]]
name = "a"
local_auth = "psk"
remote_auth = "psk"
local_id = "vpn.postern.test"
psk = "0123456789abcdef0123456789abcdef"
pools = ["clients"]
local_ts = ["10.97.0.0/24"]
remote_ts = ["192.168.50.0/24", "0.0.0.0/0"]
)",
                          "t.toml");
    BOOST_TEST_REQUIRE(c.has_value(), (c ? "" : c.error().to_string()));
    auto plan = plan_tun(*c);
    std::vector<std::string> addrs, routes;
    for (const auto& a : plan.addresses)
        addrs.push_back(a.to_string());
    for (const auto& r : plan.routes)
        routes.push_back(r.to_string());
    // "staff" is in no connection's pools, but an authorizer may hand it out: routed too.
    BOOST_TEST(addrs == (std::vector<std::string>{"10.99.0.254/32", "fd00:99::ffff/128",
                                                  "10.98.0.254/32"}),
               boost::test_tools::per_element());
    BOOST_TEST(routes == (std::vector<std::string>{"10.99.0.0/24", "fd00:99::/112",
                                                   "10.98.0.0/24", "192.168.50.0/24"}),
               boost::test_tools::per_element());

    // The pool never hands the gateway's address to a client.
    auto pools = MemoryPools::create(*c);
    BOOST_TEST_REQUIRE(pools.has_value());
    for (int i = 0; i < 253; ++i) {
        auto a = pools->acquire("clients", "id" + std::to_string(i), IpAddress::Family::V4, {});
        BOOST_TEST_REQUIRE(a.has_value());
        BOOST_TEST(a->to_string() != "10.99.0.254");
    }
    BOOST_TEST(!pools->acquire("clients", "one-more", IpAddress::Family::V4, {}));
}

BOOST_AUTO_TEST_CASE(forwarding_per_family_only_when_a_connection_needs_it) {
    struct Case {
        const char* connection;  // lines added to a PSK connection using pool "clients"
        bool v4, v6;
    };
    const Case cases[] = {
        {"", false, false},                              // clients talk to the gateway only
        {"local_ts = [\"10.97.0.0/24\"]\n", true, false},  // an IPv4 LAN exported
        {"local_ts = [\"fd00:97::/64\"]\n", false, true},
        {"local_ts = [\"10.97.0.0/24\", \"fd00:97::/64\"]\n", true, true},
        {"client_to_client = true\n", true, true},        // the pool has both families
    };
    for (const auto& k : cases) {
        auto c = parse_config(std::string(R"([pools.clients]
ipv4 = "10.99.0.0/24"
ipv6 = "fd00:99::/112"

[[connections]]
name = "a"
local_auth = "psk"
remote_auth = "psk"
local_id = "vpn.postern.test"
psk = "0123456789abcdef0123456789abcdef"
pools = ["clients"]
)") + k.connection,
                              "t.toml");
        BOOST_TEST_REQUIRE(c.has_value(), (c ? "" : c.error().to_string()));
        BOOST_TEST(needs_forwarding(*c, IpAddress::Family::V4) == k.v4, k.connection);
        BOOST_TEST(needs_forwarding(*c, IpAddress::Family::V6) == k.v6, k.connection);
    }
}

BOOST_AUTO_TEST_SUITE_END()

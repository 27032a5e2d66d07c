// Virtual IP pools: allocation order, stickiness, requests, IPv6 without per-address arrays.
#include <boost/test/unit_test.hpp>

#include <set>
#include <string>
#include <vector>

#include "ike/policy/address_pool.hpp"

using namespace postern;
using postern::ike::policy::AddressPool;

namespace {

IpAddress ip(const char* text) {
    return *IpAddress::parse(text);
}

std::string str(const std::optional<IpAddress>& a) {
    return a ? a->to_string() : "none";
}

AddressPool pool(const char* cidr, std::vector<IpAddress> reserve = {}) {
    auto p = AddressPool::create(cidr, reserve);
    if (!p) throw std::invalid_argument(p.error());
    return std::move(*p);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(address_pool)

BOOST_AUTO_TEST_CASE(exhaustion_of_a_slash_30) {
    auto p = pool("10.0.0.0/30");  // .1 and .2: no network (.0) or broadcast (.3)
    BOOST_TEST(p.size() == 2u);
    BOOST_TEST(str(p.acquire("alice")) == "10.0.0.1");
    BOOST_TEST(str(p.acquire("bob")) == "10.0.0.2");
    BOOST_TEST(str(p.acquire("carol")) == "none");
    BOOST_TEST(p.in_use() == 2u);
    BOOST_TEST(*p.holder(ip("10.0.0.2")) == "bob");
    // Network and broadcast addresses are never handed out, even on request.
    BOOST_TEST(!p.contains(ip("10.0.0.0")));
    BOOST_TEST(!p.contains(ip("10.0.0.3")));
    BOOST_TEST(p.release(ip("10.0.0.1")));
    // Alice's address is remembered for her, but the pool needs it for Carol.
    BOOST_TEST(str(p.acquire("carol", ip("10.0.0.3"))) == "10.0.0.1");
    BOOST_TEST(str(p.acquire("alice")) == "none");
}

BOOST_AUTO_TEST_CASE(reserved_gateway_address) {
    auto p = pool("10.10.0.0/29", {ip("10.10.0.1")});
    BOOST_TEST(p.size() == 5u);  // .2 - .6
    BOOST_TEST(str(p.acquire("a")) == "10.10.0.2");
    BOOST_TEST(str(p.acquire("b", ip("10.10.0.1"))) == "10.10.0.3");  // request for the gateway
    BOOST_TEST(!p.contains(ip("10.10.0.1")));
    auto bad = AddressPool::create("10.10.0.0/29", std::vector<IpAddress>{ip("10.20.0.1")});
    BOOST_REQUIRE(!bad);
    BOOST_TEST(bad.error() ==
               "address pool 10.10.0.0/29: reserved address 10.20.0.1 is not in the pool");
    BOOST_TEST(AddressPool::create("10.10.0.1/29").error() ==
               "address pool '10.10.0.1/29': host bits set (the network is 10.10.0.0/29)");
}

BOOST_AUTO_TEST_CASE(stickiness) {
    auto p = pool("10.0.0.0/24");
    const auto a = p.acquire("alice");
    const auto b = p.acquire("bob");
    BOOST_TEST(str(a) == "10.0.0.1");
    BOOST_TEST(str(b) == "10.0.0.2");
    BOOST_TEST(p.release(*a));
    BOOST_TEST(p.release(*b));
    BOOST_TEST(p.in_use() == 0u);
    // Others get never-used addresses while there are some; the returning ones get theirs.
    BOOST_TEST(str(p.acquire("carol")) == "10.0.0.3");
    BOOST_TEST(str(p.acquire("bob")) == "10.0.0.2");
    BOOST_TEST(str(p.acquire("alice")) == "10.0.0.1");
    // A second device with alice's credentials never shares her address.
    BOOST_TEST(str(p.acquire("alice")) == "10.0.0.4");
    BOOST_TEST(p.in_use() == 4u);
}

BOOST_AUTO_TEST_CASE(oldest_release_reused_first) {
    auto p = pool("192.168.5.0/29");  // .1 - .6
    std::vector<IpAddress> held;
    for (const char* who : {"u1", "u2", "u3", "u4", "u5", "u6"})
        held.push_back(*p.acquire(who));
    BOOST_TEST(str(p.acquire("u7")) == "none");
    p.release(held[3]);                                 // u4 first
    p.release(held[1]);                                 // then u2
    BOOST_TEST(str(p.acquire("u7")) == "192.168.5.4");  // u4 released longest ago
    BOOST_TEST(str(p.acquire("u2")) == "192.168.5.2");  // still remembered for u2
    BOOST_TEST(str(p.acquire("u4")) == "none");         // u4's address went to u7
}

BOOST_AUTO_TEST_CASE(requests_honoured_or_ignored) {
    auto p = pool("10.0.0.0/24");
    // In range and free: honoured (a client re-requesting its old address).
    BOOST_TEST(str(p.acquire("alice", ip("10.0.0.77"))) == "10.0.0.77");
    // In use: the next never-used one instead.
    BOOST_TEST(str(p.acquire("bob", ip("10.0.0.77"))) == "10.0.0.1");
    // Out of range, other family, network, broadcast: ignored.
    BOOST_TEST(str(p.acquire("carol", ip("10.0.1.5"))) == "10.0.0.2");
    BOOST_TEST(str(p.acquire("dave", ip("fd00::5"))) == "10.0.0.3");
    BOOST_TEST(str(p.acquire("erin", ip("10.0.0.255"))) == "10.0.0.4");
    // 0.0.0.0 is what clients put in CP when they have no preference; out of range anyway.
    BOOST_TEST(str(p.acquire("frank", ip("0.0.0.0"))) == "10.0.0.5");
    // Remembered for someone else: not given away on request while never-used ones remain.
    p.release(ip("10.0.0.77"));
    BOOST_TEST(str(p.acquire("mallory", ip("10.0.0.77"))) == "10.0.0.6");
    // The counter skips the address taken ahead of it by request.
    for (int i = 7; i < 77; ++i)
        p.acquire("x" + std::to_string(i));
    BOOST_TEST(str(p.acquire("y")) == "10.0.0.78");
    // Its owner gets it back, asking or not.
    BOOST_TEST(str(p.acquire("alice", ip("10.0.0.77"))) == "10.0.0.77");
}

BOOST_AUTO_TEST_CASE(release_unknown_is_harmless) {
    auto p = pool("10.0.0.0/30");
    BOOST_TEST(!p.release(ip("10.0.0.1")));  // never handed out
    BOOST_TEST(!p.release(ip("172.16.0.1")));
    BOOST_TEST(!p.release(ip("fd00::1")));
    const auto a = p.acquire("alice");
    BOOST_TEST(p.release(*a));
    BOOST_TEST(!p.release(*a));  // twice
    BOOST_TEST(p.in_use() == 0u);
    BOOST_TEST(str(p.acquire("alice")) == "10.0.0.1");
    BOOST_TEST(p.in_use() == 1u);
}

BOOST_AUTO_TEST_CASE(small_ipv4_prefixes) {
    auto p31 = pool("10.0.0.4/31");  // RFC 3021: both addresses usable
    BOOST_TEST(p31.size() == 2u);
    BOOST_TEST(str(p31.acquire("a")) == "10.0.0.4");
    BOOST_TEST(str(p31.acquire("b")) == "10.0.0.5");
    auto p32 = pool("10.0.0.9/32");
    BOOST_TEST(p32.size() == 1u);
    BOOST_TEST(str(p32.acquire("a")) == "10.0.0.9");
    BOOST_TEST(str(p32.acquire("b")) == "none");
}

BOOST_AUTO_TEST_CASE(ipv6_slash_112) {
    auto p = pool("fd00:10::/112");
    BOOST_TEST(p.size() == 65535u);  // the all-zero Subnet-Router anycast address excluded
    BOOST_TEST(str(p.acquire("alice")) == "fd00:10::1");
    BOOST_TEST(str(p.acquire("bob", ip("fd00:10::ffff"))) == "fd00:10::ffff");
    BOOST_TEST(str(p.acquire("carol", ip("fd00:10::1:0"))) == "fd00:10::2");  // out of range
    BOOST_TEST(!p.contains(ip("fd00:10::")));
    BOOST_TEST(p.contains(ip("fd00:10::abcd")));
    std::set<IpAddress> seen;
    for (int i = 0; i < 65535 - 3; ++i) {
        auto a = p.acquire("u" + std::to_string(i));
        BOOST_REQUIRE(a);
        seen.insert(*a);
    }
    BOOST_TEST(seen.size() == 65535u - 3);
    BOOST_TEST(str(p.acquire("late")) == "none");
    BOOST_TEST(p.in_use() == 65535u);
}

BOOST_AUTO_TEST_CASE(ipv6_slash_64_and_wider) {
    // 2^64 - 1 addresses: held as a map of assignments, never as an array.
    auto p = pool("2001:db8:0:7::/64");
    BOOST_TEST(p.size() == 18446744073709551615u);
    BOOST_TEST(str(p.acquire("alice")) == "2001:db8:0:7::1");
    BOOST_TEST(str(p.acquire("bob", ip("2001:db8:0:7:ffff:ffff:ffff:ffff"))) ==
               "2001:db8:0:7:ffff:ffff:ffff:ffff");
    BOOST_TEST(str(p.acquire("carol", ip("2001:db8:0:8::1"))) == "2001:db8:0:7::2");
    BOOST_TEST(p.release(ip("2001:db8:0:7::1")));
    BOOST_TEST(str(p.acquire("dave")) == "2001:db8:0:7::3");
    BOOST_TEST(str(p.acquire("alice")) == "2001:db8:0:7::1");

    // /48: allocation within the first 2^64 offsets.
    auto w = pool("2001:db8:1::/48");
    BOOST_TEST(str(w.acquire("a")) == "2001:db8:1::1");
    BOOST_TEST(w.contains(ip("2001:db8:1::ffff:ffff:ffff:ffff")));
    BOOST_TEST(!w.contains(ip("2001:db8:1:1::1")));  // beyond the first 2^64
    BOOST_TEST(!w.contains(ip("2001:db8:2::1")));
    BOOST_TEST(w.size() == 18446744073709551615u);
}

BOOST_AUTO_TEST_SUITE_END()

#include <boost/test/unit_test.hpp>

#include "postern/net.hpp"

using postern::Endpoint;
using postern::IpAddress;

BOOST_AUTO_TEST_SUITE(net)

BOOST_AUTO_TEST_CASE(parse_print_and_order) {
    auto a = IpAddress::parse("10.1.2.3");
    BOOST_REQUIRE(a);
    BOOST_TEST(a->is_v4());
    BOOST_TEST(a->v4_value() == 0x0a010203u);
    BOOST_TEST(a->to_string() == "10.1.2.3");
    auto b = IpAddress::parse("fd00::1");
    BOOST_REQUIRE(b);
    BOOST_TEST(b->is_v6());
    BOOST_TEST(b->size() == 16u);
    BOOST_TEST(b->to_string() == "fd00::1");
    BOOST_TEST((*a < *b));  // IPv4 sorts before IPv6
    BOOST_TEST(!IpAddress::parse("1.2.3"));
    BOOST_TEST(!IpAddress::parse("fd00::1::2"));
    BOOST_TEST((IpAddress::v4(0x0a010203) == *a));
    BOOST_TEST(IpAddress::parse("0.0.0.0")->is_unspecified());
    BOOST_TEST(!a->is_unspecified());
}

BOOST_AUTO_TEST_CASE(from_bytes_and_endpoints) {
    const std::uint8_t v4[] = {192, 0, 2, 1};
    auto a = IpAddress::from_bytes(v4);
    BOOST_REQUIRE(a);
    BOOST_TEST(a->to_string() == "192.0.2.1");
    const std::uint8_t bad[] = {1, 2, 3};
    BOOST_TEST(!IpAddress::from_bytes(bad));
    const Endpoint e4{*a, 4500};
    const Endpoint e6{*IpAddress::parse("2001:db8::2"), 500};
    const Endpoint e500{*a, 500};
    BOOST_TEST(e4.to_string() == "192.0.2.1:4500");
    BOOST_TEST(e6.to_string() == "[2001:db8::2]:500");
    BOOST_TEST((e500 != e4));
}

BOOST_AUTO_TEST_SUITE_END()

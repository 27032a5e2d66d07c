// Ranges to XFRM prefixes and port blocks, and selector lists to policies.
#include <boost/test/unit_test.hpp>

#include "esp/xfrm/selectors.hpp"

using namespace postern;
using namespace postern::esp::xfrm;

namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

std::vector<std::string> prefixes(const char* a, const char* b) {
    std::vector<std::string> out;
    for (const auto& p : range_to_prefixes(ip(a), ip(b))) out.push_back(p.to_string());
    return out;
}

using V = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_SUITE(selectors)

BOOST_AUTO_TEST_CASE(ranges_become_the_fewest_aligned_prefixes) {
    BOOST_TEST(prefixes("10.0.0.0", "10.0.0.255") == V{"10.0.0.0/24"});
    BOOST_TEST(prefixes("10.0.0.7", "10.0.0.7") == V{"10.0.0.7/32"});
    BOOST_TEST(prefixes("10.0.0.1", "10.0.0.6") ==
               (V{"10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"}));
    BOOST_TEST(prefixes("0.0.0.0", "255.255.255.255") == V{"0.0.0.0/0"});
    BOOST_TEST(prefixes("255.255.255.254", "255.255.255.255") == V{"255.255.255.254/31"});
    BOOST_TEST(prefixes("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") == V{"::/0"});
    BOOST_TEST(prefixes("fd00::", "fd00::ffff") == V{"fd00::/112"});
    BOOST_TEST(prefixes("fd00::1", "fd00::2") == (V{"fd00::1/128", "fd00::2/128"}));
    BOOST_TEST(prefixes("10.0.0.9", "10.0.0.1").empty());   // reversed
    BOOST_TEST(prefixes("10.0.0.1", "fd00::1").empty());    // mixed families
}

BOOST_AUTO_TEST_CASE(every_address_of_a_range_is_covered_once) {
    // 10.0.0.3 - 10.0.1.17: walk the pieces and compare with the range address by address.
    const auto pieces = range_to_prefixes(ip("10.0.0.3"), ip("10.0.1.17"));
    for (std::uint32_t a = 0x0a000000; a < 0x0a000300; ++a) {
        int n = 0;
        for (const auto& p : pieces) n += p.contains(IpAddress::v4(a));
        const bool inside = a >= 0x0a000003 && a <= 0x0a000111;
        BOOST_TEST(n == (inside ? 1 : 0), "address " << IpAddress::v4(a).to_string());
    }
}

BOOST_AUTO_TEST_CASE(port_ranges_become_port_mask_blocks) {
    BOOST_TEST(port_blocks(0, 65535).size() == 1u);
    BOOST_TEST(port_blocks(0, 65535)[0].mask == 0);
    const auto one = port_blocks(443, 443);
    BOOST_TEST(one.size() == 1u);
    BOOST_TEST(one[0].port == 443);
    BOOST_TEST(one[0].mask == 0xffff);
    const auto four = port_blocks(1000, 1003);
    BOOST_TEST(four.size() == 1u);
    BOOST_TEST(four[0].mask == 0xfffc);
    // Exact cover, checked port by port.
    const auto b = port_blocks(1, 1030);
    for (unsigned port = 0; port < 2048; ++port) {
        int n = 0;
        for (const auto& blk : b) n += (port & blk.mask) == blk.port;
        BOOST_TEST(n == (port >= 1 && port <= 1030 ? 1 : 0), "port " << port);
    }
    BOOST_TEST(port_blocks(10, 9).empty());  // OPAQUE
}

BOOST_AUTO_TEST_CASE(selector_lists_cross_by_family_and_protocol) {
    Selector any4{ip("0.0.0.0"), ip("255.255.255.255")};
    Selector lan{ip("10.97.0.0"), ip("10.97.0.255")};
    Selector vip{ip("10.99.0.1"), ip("10.99.0.1")};
    Selector vip6{ip("fd00:99::1"), ip("fd00:99::1")};
    Selector any6{ip("::"), ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")};
    auto l = make_selectors({lan, any6}, {vip, vip6});
    BOOST_TEST(l.error.empty());
    BOOST_REQUIRE(l.selectors.size() == 2u);  // v4 x v4, v6 x v6; never v4 x v6
    BOOST_TEST(to_string(l.selectors[0]) == "10.97.0.0/24 -> 10.99.0.1/32");
    BOOST_TEST(to_string(l.selectors[1]) == "::/0 -> fd00:99::1/128");

    Selector tcp80{ip("10.1.0.0"), ip("10.1.0.255"), 6, 80, 80};
    Selector udp{vip.start, vip.end, 17};
    BOOST_TEST(make_selectors({tcp80}, {udp}).selectors.empty());  // tcp vs udp: nothing
    auto t = make_selectors({tcp80}, {any4});
    BOOST_REQUIRE(t.selectors.size() == 1u);
    BOOST_TEST(to_string(t.selectors[0]) == "10.1.0.0/24:80 -> 0.0.0.0/0 proto 6");

    Selector odd{ip("10.0.0.1"), ip("10.0.0.6")};
    BOOST_TEST(make_selectors({odd}, {odd}).selectors.size() == 16u);  // 4 x 4 pieces
    auto capped = make_selectors({odd}, {odd}, 10);
    BOOST_TEST(capped.selectors.empty());
    BOOST_TEST(capped.error.find("more than 10 XFRM policies") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

#include <boost/test/unit_test.hpp>

#include "ike/crypto/secret.hpp"

using namespace postern;
using namespace postern::ike::crypto;

BOOST_AUTO_TEST_SUITE(secret)

BOOST_AUTO_TEST_CASE(constant_time_compare) {
    Bytes a = from_hex("00112233"), b = from_hex("00112233"), c = from_hex("00112234");
    BOOST_TEST(equal_ct(a, b));
    BOOST_TEST(!equal_ct(a, c));
    BOOST_TEST(!equal_ct(a, ByteView(a).first(3)));
    BOOST_TEST(equal_ct(ByteView{}, ByteView{}));
}

BOOST_AUTO_TEST_CASE(move_leaves_source_empty_and_slice_copies) {
    Secret s(from_hex("0102030405"));
    Secret t = s.slice(1, 3);
    BOOST_TEST(to_hex(t.view()) == "020304");
    Secret u(std::move(s));
    BOOST_TEST(s.empty());
    BOOST_TEST(u.size() == 5u);
    u.resize(2);
    BOOST_TEST(to_hex(u.view()) == "0102");
    u.resize(40);
    BOOST_TEST(u.size() == 40u);
    BOOST_TEST(u.view()[39] == 0);
}

BOOST_AUTO_TEST_SUITE_END()

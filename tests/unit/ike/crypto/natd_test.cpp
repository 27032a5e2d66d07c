// NAT detection hashes against the strongSwan captures: charon's IKE_SA_INIT request carries
// NAT_DETECTION_DESTINATION_IP = SHA-1(SPIi | 0 | sun's address | 500).

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>

#include "ike/crypto/natd.hpp"
#include "ike/wire/message.hpp"

using namespace postern;
using namespace postern::ike;

BOOST_AUTO_TEST_SUITE(natd)

BOOST_AUTO_TEST_CASE(matches_strongswan_destination_hash) {
    std::ifstream in(std::string(POSTERN_TEST_DATA_DIR) +
                     "/strongswan/psk-gcm/00-IKE_SA_INIT-req-moon.hex");
    std::stringstream ss;
    ss << in.rdbuf();
    Bytes dgram = from_hex(ss.str());
    auto m = wire::parse_message(dgram);
    BOOST_REQUIRE(m);
    const auto* dst = wire::find_notify(m->payloads, NotifyType::NAT_DETECTION_DESTINATION_IP);
    BOOST_REQUIRE(dst);
    const Endpoint sun{*IpAddress::parse("192.0.2.2"), 500};
    BOOST_TEST(to_hex(crypto::nat_detection_hash(m->header.initiator_spi.value(), 0, sun)) ==
               to_hex(dst->data));
    // Any change to address, port or SPIs changes the hash.
    const Endpoint other{*IpAddress::parse("192.0.2.3"), 500};
    BOOST_TEST(to_hex(crypto::nat_detection_hash(m->header.initiator_spi.value(), 0, other)) !=
               to_hex(dst->data));
    const Endpoint port{*IpAddress::parse("192.0.2.2"), 4500};
    BOOST_TEST(to_hex(crypto::nat_detection_hash(m->header.initiator_spi.value(), 0, port)) !=
               to_hex(dst->data));
    BOOST_TEST(crypto::nat_detection_hash(1, 2, sun).size() == 20u);
}

BOOST_AUTO_TEST_SUITE_END()

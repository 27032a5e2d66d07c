#include <boost/test/unit_test.hpp>

#include "ike/wire/constants.hpp"

using namespace postern::ike;

BOOST_AUTO_TEST_SUITE(constants)

BOOST_AUTO_TEST_CASE(names_follow_the_iana_registry) {
    BOOST_TEST(to_string(ExchangeType::IKE_SA_INIT) == "IKE_SA_INIT");
    BOOST_TEST(static_cast<int>(ExchangeType::IKE_AUTH) == 35);
    BOOST_TEST(to_string(PayloadType::SKF) == "SKF");
    BOOST_TEST(static_cast<int>(PayloadType::SKF) == 53);
    BOOST_TEST(to_string(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED) ==
               "IKEV2_FRAGMENTATION_SUPPORTED");
    BOOST_TEST(static_cast<int>(NotifyType::SIGNATURE_HASH_ALGORITHMS) == 16431);
    BOOST_TEST(to_string(EncrId::ENCR_3DES) == "ENCR_3DES");
    BOOST_TEST(to_string(EncrId::ENCR_NULL) == "ENCR_NULL");
    BOOST_TEST(static_cast<int>(EncrId::ENCR_AES_GCM_16) == 20);
    BOOST_TEST(to_string(PrfId::PRF_HMAC_SHA2_512) == "PRF_HMAC_SHA2_512");
    BOOST_TEST(to_string(IntegId::AUTH_HMAC_SHA2_256_128) == "AUTH_HMAC_SHA2_256_128");
    BOOST_TEST(static_cast<int>(KeId::CURVE448) == 32);
    BOOST_TEST(to_string(CfgAttribute::MS_INTERNAL_IP4_SERVER) == "MS_INTERNAL_IP4_SERVER");
}

BOOST_AUTO_TEST_CASE(unknown_values_print_type_and_number) {
    BOOST_TEST(to_string(static_cast<PayloadType>(200)) == "PayloadType(200)");
    BOOST_TEST(name(static_cast<NotifyType>(9999)).empty());
    BOOST_TEST(to_string(static_cast<KeId>(99)) == "KeId(99)");
}

BOOST_AUTO_TEST_CASE(error_notifies_are_below_16384) {
    BOOST_TEST(is_error(NotifyType::INVALID_SYNTAX));
    BOOST_TEST(!is_error(NotifyType::COOKIE));
}

BOOST_AUTO_TEST_SUITE_END()

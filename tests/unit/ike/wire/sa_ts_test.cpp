// SA (RFC 7296 §3.3) and TS (§3.13) payloads: golden bytes, round trip and structure errors.
#include <boost/test/unit_test.hpp>

#include "test_util.hpp"

using namespace wire_test;

namespace {

// Proposal 1: IKE, AES_CBC-256, PRF_HMAC_SHA2_256, AUTH_HMAC_SHA2_256_128, CURVE25519.
// Proposal 2: ESP with SPI 11223344, AES_GCM_16-128, NO_ESN.
const char* kSaHex =
    "02 00 002c 01 01 00 04"
    "  03 00 000c 01 00 000c 800e0100"
    "  03 00 0008 02 00 0005"
    "  03 00 0008 03 00 000c"
    "  00 00 0008 04 00 001f"
    "00 00 0020 02 03 04 02 11223344"
    "  03 00 000c 01 00 0014 800e0080"
    "  00 00 0008 05 00 0000";

SaPayload expected_sa() {
    return SaPayload{{
        Proposal{
            1,
            ProtocolId::IKE,
            {},
            {Transform::encr(EncrId::ENCR_AES_CBC, 256), Transform::prf(PrfId::PRF_HMAC_SHA2_256),
             Transform::integ(IntegId::AUTH_HMAC_SHA2_256_128), Transform::ke(KeId::CURVE25519)}},
        Proposal{2,
                 ProtocolId::ESP,
                 hex("11223344"),
                 {Transform::encr(EncrId::ENCR_AES_GCM_16, 128), Transform::esn(EsnId::NO_ESN)}},
    }};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sa)

BOOST_AUTO_TEST_CASE(golden_two_proposals) {
    check_golden(PayloadType::SA, kSaHex, expected_sa());
    BOOST_TEST(*expected_sa().proposals[0].transforms[0].key_length() == 256);
    BOOST_TEST(!expected_sa().proposals[0].transforms[1].key_length().has_value());
}

BOOST_AUTO_TEST_CASE(tlv_attribute_and_unknown_transform_kept) {
    // Unknown transform type 200 with an unknown TLV attribute 0x0010 of 3 octets.
    SaPayload sa{{Proposal{1,
                           ProtocolId::IKE,
                           {},
                           {Transform{static_cast<TransformType>(200),
                                      7,
                                      {TransformAttribute{0x10, false, 0, hex("aabbcc")}}}}}}};
    check_golden(PayloadType::SA, "00 00 0017 01 01 00 01  00 00 000f c8 00 0007 0010 0003 aabbcc",
                 sa);
}

BOOST_AUTO_TEST_CASE(bad_proposal_numbering) {
    auto e = expect_error(PayloadType::SA,
                          "02 00 0010 01 01 00 01 00 00 0008 01 00 000c"
                          "00 00 0010 03 01 00 01 00 00 0008 01 00 000c");
    BOOST_TEST(e.notify == NotifyType::INVALID_SYNTAX);
    BOOST_TEST(e.reason == "SA proposal 2: proposal number 3 after 1");
    BOOST_TEST(e.offset == 4u + 16 + 4);
    BOOST_TEST(
        expect_error(PayloadType::SA, "00 00 0010 00 01 00 01 00 00 0008 01 00 000c").reason ==
        "SA proposal 1: proposal number 0 (must be >= 1)");
}

BOOST_AUTO_TEST_CASE(transform_count_mismatch) {
    BOOST_TEST(expect_error(PayloadType::SA,
                            "00 00 0018 01 01 00 03 03 00 0008 01 00 000c 00 00 0008 02 00 0005")
                   .reason == "SA proposal 1: 2 transforms present, header says 3");
}

BOOST_AUTO_TEST_CASE(attribute_format) {
    // KEY_LENGTH sent as TLV (AF=0) is malformed (§3.3.5).
    BOOST_TEST(
        expect_error(PayloadType::SA, "00 00 0016 01 01 00 01 00 00 000e 01 00 000c 000e 0002 0100")
            .reason ==
        "SA proposal 1 transform 1: KEY_LENGTH attribute in TLV format (must be TV)");
    // A TLV attribute running past its transform.
    BOOST_TEST(
        expect_error(PayloadType::SA, "00 00 0014 01 01 00 01 00 00 000c 01 00 000c 0010 0009")
            .reason ==
        "SA proposal 1 transform 1: TLV attribute 16 length 9 > 0 bytes left in transform");
    BOOST_TEST(
        expect_error(PayloadType::SA, "00 00 0012 01 01 00 01 00 00 000a 01 00 000c 800e").reason ==
        "SA proposal 1 transform 1: attribute header truncated (2 < 4 bytes left)");
}

BOOST_AUTO_TEST_CASE(lengths_and_last_substructure) {
    BOOST_TEST(
        expect_error(PayloadType::SA, "00 00 0010 01 01 00 01 00 00 0006 01 00 000c").reason ==
        "SA proposal 1 transform 1: transform length 6 < 8");
    BOOST_TEST(
        expect_error(PayloadType::SA, "00 00 0010 01 01 00 01 00 00 0009 01 00 000c").reason ==
        "SA proposal 1 transform 1: transform length 9 > 8 bytes left in proposal");
    BOOST_TEST(
        expect_error(PayloadType::SA, "00 00 0011 01 01 00 01 00 00 0008 01 00 000c").reason ==
        "SA proposal 1: proposal length 17 > 16 bytes left in SA");
    BOOST_TEST(expect_error(PayloadType::SA, "00 00 0007 01 01 00 01").reason ==
               "SA proposal 1: proposal length 7 < 8 (header + SPI size 0)");
    BOOST_TEST(
        expect_error(PayloadType::SA, "02 00 0010 01 01 00 01 00 00 0008 01 00 000c").reason ==
        "SA: last proposal has last substructure 2 (more follow)");
    BOOST_TEST(
        expect_error(PayloadType::SA, "00 00 0010 01 01 00 01 00 00 0008 01 00 000c 00 00 0008")
            .reason == "SA: 4 bytes after the last proposal");
    BOOST_TEST(
        expect_error(PayloadType::SA, "01 00 0010 01 01 00 01 00 00 0008 01 00 000c").reason ==
        "SA proposal 1: last substructure 1 not 0 or 2");
    BOOST_TEST(
        expect_error(PayloadType::SA, "00 00 0010 01 01 00 01 03 00 0008 01 00 000c").reason ==
        "SA proposal 1: last transform has last substructure 3 (more follow)");
    BOOST_TEST(expect_error(PayloadType::SA, "").reason == "SA: no proposals");
}

BOOST_AUTO_TEST_CASE(spi_size_per_protocol) {
    BOOST_TEST(
        expect_error(PayloadType::SA, "00 00 0014 01 01 04 01 11223344 00 00 0008 01 00 000c")
            .reason == "SA proposal 1: SPI size 4 invalid for IKE");
    BOOST_TEST(
        expect_error(PayloadType::SA, "00 00 0010 01 03 00 01 00 00 0008 01 00 000c").reason ==
        "SA proposal 1: SPI size 0 invalid for ESP");
    // IKE SA rekeying (CREATE_CHILD_SA) carries an 8-octet SPI.
    check_golden(
        PayloadType::SA, "00 00 0018 01 01 08 01 0102030405060708 00 00 0008 04 00 001f",
        SaPayload{{Proposal{
            1, ProtocolId::IKE, hex("0102030405060708"), {Transform::ke(KeId::CURVE25519)}}}});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ts)

BOOST_AUTO_TEST_CASE(golden_ipv4_and_ipv6) {
    // 2 selectors: 10.0.0.0-10.255.255.255 any protocol all ports; UDP port 500 on 2001:db8::/64.
    TsPayload ts{{
        TrafficSelector{
            TsType::TS_IPV4_ADDR_RANGE, 0, 0, 65535, hex("0a000000"), hex("0affffff"), {}},
        TrafficSelector{TsType::TS_IPV6_ADDR_RANGE,
                        17,
                        500,
                        500,
                        hex("20010db8000000000000000000000000"),
                        hex("20010db80000000000000000ffffffff"),
                        {}},
    }};
    const std::string body =
        "02 000000"
        "07 00 0010 0000 ffff 0a000000 0affffff"
        "08 11 0028 01f4 01f4 20010db8000000000000000000000000 20010db80000000000000000ffffffff";
    check_golden(PayloadType::TSi, body, ts);
    check_golden(PayloadType::TSr, body, ts);
}

BOOST_AUTO_TEST_CASE(other_selector_types_kept_raw) {
    check_golden(PayloadType::TSi, "01 000000 09 00 0008 01020304",
                 TsPayload{{TrafficSelector{
                     TsType::TS_FC_ADDR_RANGE, 0, 0, 65535, {}, {}, hex("01020304")}}});
}

BOOST_AUTO_TEST_CASE(selector_length_mismatch) {
    auto e = expect_error(PayloadType::TSi, "01 000000 07 00 0011 0000 ffff 0a000000 0affffff 00");
    BOOST_TEST(e.reason == "TS selector 1: selector length 17 != 16 for TS_IPV4_ADDR_RANGE");
    BOOST_TEST(e.offset == 4u + 4 + 2);
    BOOST_TEST(
        expect_error(PayloadType::TSi, "01 000000 08 00 0010 0000 ffff 0a000000 0affffff").reason ==
        "TS selector 1: selector length 16 != 40 for TS_IPV6_ADDR_RANGE");
    BOOST_TEST(
        expect_error(PayloadType::TSi, "01 000000 07 00 0010 0000 ffff 0a000000 0aff").reason ==
        "TS selector 1: selector length 16 > 14 bytes left");
}

BOOST_AUTO_TEST_CASE(selector_count_mismatch) {
    BOOST_TEST(
        expect_error(PayloadType::TSi, "02 000000 07 00 0010 0000 ffff 0a000000 0affffff").reason ==
        "TS: 1 selectors present, header says 2");
    BOOST_TEST(expect_error(PayloadType::TSi,
                            "01 000000 07 00 0010 0000 ffff 0a000000 0affffff 07 00 0010")
                   .reason == "TS: 4 bytes after 1 selectors");
    BOOST_TEST(expect_error(PayloadType::TSr, "00 000000").reason == "TS: number of TSs is 0");
}

BOOST_AUTO_TEST_SUITE_END()

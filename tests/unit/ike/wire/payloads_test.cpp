// Golden bytes and round trip for every payload type, built by hand from the layouts of
// RFC 7296 §3 and RFC 7383 §2.5, plus each payload's own validity checks.
#include <boost/test/unit_test.hpp>

#include "test_util.hpp"

using namespace wire_test;

BOOST_AUTO_TEST_SUITE(payloads)

BOOST_AUTO_TEST_CASE(ke) {
    // CURVE25519 (31), reserved, 32-octet public value.
    check_golden(PayloadType::KE, "001f 0000" + std::string(64, 'a'),
                 KePayload{KeId::CURVE25519, repeat(0xaa, 32)});
}

BOOST_AUTO_TEST_CASE(id_initiator_and_responder) {
    // ID_FQDN (2), 3 reserved octets, "vpn.example".
    IdPayload id{IdType::ID_FQDN,
                 Bytes(as_bytes("vpn.example").begin(), as_bytes("vpn.example").end())};
    check_golden(PayloadType::IDi, "02 000000 76706e2e6578616d706c65", id);
    check_golden(PayloadType::IDr, "02 000000 76706e2e6578616d706c65", id);
    check_golden(PayloadType::IDi, "01 000000 c0000201",
                 IdPayload{IdType::ID_IPV4_ADDR, hex("c0000201")});
}

BOOST_AUTO_TEST_CASE(cert_and_certreq) {
    check_golden(PayloadType::CERT, "04 308201020304",
                 CertPayload{CertEncoding::X509_SIGNATURE, hex("308201020304")});
    // CERTREQ with one 20-octet SHA-1 hash of a CA public key; and an empty one.
    check_golden(PayloadType::CERTREQ, "04" + std::string(40, 'c'),
                 CertReqPayload{CertEncoding::X509_SIGNATURE, repeat(0xcc, 20)});
    check_golden(PayloadType::CERTREQ, "04", CertReqPayload{CertEncoding::X509_SIGNATURE, {}});
}

BOOST_AUTO_TEST_CASE(auth) {
    check_golden(PayloadType::AUTH, "02 000000" + std::string(64, '5'),
                 AuthPayload{AuthMethod::SHARED_KEY_MIC, repeat(0x55, 32)});
}

BOOST_AUTO_TEST_CASE(nonce_and_its_length_limits) {
    check_golden(PayloadType::NONCE, std::string(32, '7'), NoncePayload{repeat(0x77, 16)});
    check_golden(PayloadType::NONCE, std::string(512, '7'), NoncePayload{repeat(0x77, 256)});
    BOOST_TEST(expect_error(PayloadType::NONCE, std::string(30, '7')).reason ==
               "Nonce: length 15 not in 16..256");
    BOOST_TEST(expect_error(PayloadType::NONCE, std::string(514, '7')).reason ==
               "Nonce: length 257 not in 16..256");
}

BOOST_AUTO_TEST_CASE(notify) {
    // NAT_DETECTION_SOURCE_IP: protocol 0, SPI size 0, type 16388, 20-octet hash.
    check_golden(
        PayloadType::N, "00 00 4004" + std::string(40, 'e'),
        NotifyPayload{ProtocolId::NONE, NotifyType::NAT_DETECTION_SOURCE_IP, {}, repeat(0xee, 20)});
    // REKEY_SA for an ESP SA: protocol ESP, SPI size 4, type 16393, SPI, no data.
    check_golden(PayloadType::N, "03 04 4009 aabbccdd",
                 NotifyPayload{ProtocolId::ESP, NotifyType::REKEY_SA, hex("aabbccdd"), {}});
    // Unknown notify types are kept.
    check_golden(PayloadType::N, "00 00 9c40 0102",
                 NotifyPayload{ProtocolId::NONE, static_cast<NotifyType>(40000), {}, hex("0102")});
    BOOST_TEST(expect_error(PayloadType::N, "03 08 4009 aabbccdd").reason ==
               "N(REKEY_SA): SPI size 8 > 4 bytes left");
}

BOOST_AUTO_TEST_CASE(delete_payload) {
    check_golden(PayloadType::D, "03 04 0002 11111111 22222222",
                 DeletePayload{ProtocolId::ESP, 4, {hex("11111111"), hex("22222222")}});
    check_golden(PayloadType::D, "01 00 0000", DeletePayload{ProtocolId::IKE, 0, {}});
    BOOST_TEST(expect_error(PayloadType::D, "03 04 0003 11111111 22222222").reason ==
               "D(ESP): 3 SPIs of 4 bytes need 12, body has 8");
    BOOST_TEST(expect_error(PayloadType::D, "01 08 0001 1111111111111111").reason ==
               "D(IKE): SPI size 8 and 1 SPIs (both must be 0)");
    BOOST_TEST(expect_error(PayloadType::D, "03 08 0000").reason == "D(ESP): SPI size 8 != 4");
}

BOOST_AUTO_TEST_CASE(vendor_id) {
    check_golden(PayloadType::V, "882fe56d6fd20dbc2251613b2ebe5beb",
                 VendorIdPayload{hex("882fe56d6fd20dbc2251613b2ebe5beb")});
}

BOOST_AUTO_TEST_CASE(encrypted_sk) {
    // Next Payload of the SK header = first inner payload (IDi); body is IV||ct||ICV, raw.
    check_golden(
        PayloadType::SK, "00112233445566778899aabbccddeeff 0102030405",
        EncryptedPayload{PayloadType::IDi, hex("00112233445566778899aabbccddeeff0102030405")},
        PayloadType::IDi);
}

BOOST_AUTO_TEST_CASE(encrypted_fragment_skf) {
    check_golden(PayloadType::SKF, "0001 0003 a0a1a2a3",
                 EncryptedFragmentPayload{PayloadType::IDi, 1, 3, hex("a0a1a2a3")},
                 PayloadType::IDi);
    check_golden(PayloadType::SKF, "0003 0003 b0b1",
                 EncryptedFragmentPayload{PayloadType::NONE, 3, 3, hex("b0b1")});
    // RFC 7383 §2.5: numbering starts at 1 and cannot exceed the total.
    auto zero = expect_error(PayloadType::SKF, "0000 0003 a0a1");
    BOOST_TEST(zero.notify == NotifyType::INVALID_SYNTAX);
    BOOST_TEST(zero.reason == "SKF: fragment number 0 not in 1..3");
    BOOST_TEST(zero.offset == 4u);
    BOOST_TEST(expect_error(PayloadType::SKF, "0004 0003 a0a1").reason ==
               "SKF: fragment number 4 not in 1..3");
    BOOST_TEST(expect_error(PayloadType::SKF, "0001").reason ==
               "SKF: SKF total fragments: need 2 bytes at offset 6, have 0");
}

BOOST_AUTO_TEST_CASE(configuration) {
    // CFG_REQUEST for an address, a DNS server and an IPv6 address (empty values).
    check_golden(PayloadType::CP, "01 000000 0001 0000 0003 0000 0008 0000",
                 CpPayload{CfgType::CFG_REQUEST,
                           {{CfgAttribute::INTERNAL_IP4_ADDRESS, {}},
                            {CfgAttribute::INTERNAL_IP4_DNS, {}},
                            {CfgAttribute::INTERNAL_IP6_ADDRESS, {}}}});
    // CFG_REPLY: 10.0.0.1, DNS 10.0.0.53, APPLICATION_VERSION "x".
    check_golden(PayloadType::CP, "02 000000 0001 0004 0a000001 0003 0004 0a000035 0007 0001 78",
                 CpPayload{CfgType::CFG_REPLY,
                           {{CfgAttribute::INTERNAL_IP4_ADDRESS, hex("0a000001")},
                            {CfgAttribute::INTERNAL_IP4_DNS, hex("0a000035")},
                            {CfgAttribute::APPLICATION_VERSION, hex("78")}}});
    BOOST_TEST(expect_error(PayloadType::CP, "02 000000 0001 0003 0a0000").reason ==
               "CP attribute 1 (INTERNAL_IP4_ADDRESS): length 3 not 0 or 4");
    BOOST_TEST(expect_error(PayloadType::CP, "02 000000 0001 0004 0a00").reason ==
               "CP attribute 1 (INTERNAL_IP4_ADDRESS): length 4 > 2 bytes left");
    BOOST_TEST(expect_error(PayloadType::CP, "01 000000 000e 0003 000100").reason ==
               "CP attribute 1 (SUPPORTED_ATTRIBUTES): length 3 not a multiple of 2");
    BOOST_TEST(expect_error(PayloadType::CP, "01 000000 0001 00").reason ==
               "CP attribute 1: header truncated (3 < 4 bytes left)");
}

BOOST_AUTO_TEST_CASE(eap) {
    // EAP-Request/Identity, identifier 5, length 5.
    check_golden(PayloadType::EAP, "01 05 0005 01",
                 EapPayload{EapCode::REQUEST, 5, kEapIdentity, {}});
    // EAP-Response/Identity "user@vpn", length 13.
    check_golden(PayloadType::EAP, "02 05 000d 01 75736572407670 6e",
                 EapPayload{EapCode::RESPONSE, 5, kEapIdentity, hex("757365724076706e")});
    check_golden(PayloadType::EAP, "03 06 0004", EapPayload{EapCode::SUCCESS, 6, {}, {}});
    BOOST_TEST(expect_error(PayloadType::EAP, "02 05 000e 01 75736572").reason ==
               "EAP: length 14 != payload body 9");
    BOOST_TEST(expect_error(PayloadType::EAP, "01 05 0004").reason ==
               "EAP REQUEST: length 4 has no Type");
    BOOST_TEST(expect_error(PayloadType::EAP, "04 05 0005 00").reason ==
               "EAP FAILURE: length 5 != 4");
}

BOOST_AUTO_TEST_CASE(payload_builders) {
    Payload n = make_notify(NotifyType::COOKIE, hex("0102"));
    BOOST_TEST(n.type == PayloadType::N);
    BOOST_TEST(n.get<NotifyPayload>()->type == NotifyType::COOKIE);
    BOOST_TEST(to_hex(serialize_payload_chain(std::span(&n, 1))) == "0000000a000040060102");
}

BOOST_AUTO_TEST_SUITE_END()

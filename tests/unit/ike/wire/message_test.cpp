// IKE header (RFC 7296 §3.1), generic payload header chain (§3.2) and whole messages.
#include <boost/test/unit_test.hpp>

#include <cctype>
#include <filesystem>

#include "test_util.hpp"

using namespace wire_test;

namespace {

Header init_header() {
    Header h;
    h.initiator_spi = IkeSpi(0x0102030405060708);
    h.exchange = ExchangeType::IKE_SA_INIT;
    h.initiator = true;
    return h;
}

// The contents of tests/data/ike/wire/ike_sa_init_request.hex, built from structs.
Message init_request() {
    auto seq = [](std::uint8_t first, std::size_t n) {
        Bytes b(n);
        for (std::size_t i = 0; i < n; ++i)
            b[i] = static_cast<std::uint8_t>(first + i);
        return b;
    };
    SaPayload sa{{
        Proposal{
            1,
            ProtocolId::IKE,
            {},
            {Transform::encr(EncrId::ENCR_AES_CBC, 256), Transform::prf(PrfId::PRF_HMAC_SHA2_256),
             Transform::integ(IntegId::AUTH_HMAC_SHA2_256_128), Transform::ke(KeId::CURVE25519)}},
        Proposal{2,
                 ProtocolId::IKE,
                 {},
                 {Transform::encr(EncrId::ENCR_AES_GCM_16, 256),
                  Transform::prf(PrfId::PRF_HMAC_SHA2_384), Transform::ke(KeId::ECP_256)}},
        Proposal{3,
                 ProtocolId::IKE,
                 {},
                 {Transform::encr(EncrId::ENCR_CHACHA20_POLY1305),
                  Transform::prf(PrfId::PRF_HMAC_SHA2_256), Transform::ke(KeId::CURVE25519),
                  Transform::ke(KeId::MODP_2048)}},
    }};
    Message m{init_header(), {}};
    m.payloads.push_back({PayloadType::SA, false, sa});
    m.payloads.push_back(
        {PayloadType::KE, false,
         KePayload{KeId::CURVE25519,
                   hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")}});
    m.payloads.push_back({PayloadType::NONCE, false, NoncePayload{seq(0, 32)}});
    m.payloads.push_back(make_notify(NotifyType::NAT_DETECTION_SOURCE_IP, seq(0xa1, 20)));
    m.payloads.push_back(make_notify(NotifyType::NAT_DETECTION_DESTINATION_IP, seq(0xc1, 20)));
    m.payloads.push_back(make_notify(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED));
    m.payloads.push_back(
        make_notify(NotifyType::SIGNATURE_HASH_ALGORITHMS, hex("0002 0003 0004 0005")));
    return m;
}

// An IKE_AUTH request: HDR, SK { IDi ... } with a 40-octet opaque encrypted body.
Message auth_request(PayloadType last = PayloadType::SK) {
    Header h = init_header();
    h.responder_spi = IkeSpi(0x1112131415161718);
    h.exchange = ExchangeType::IKE_AUTH;
    h.message_id = MessageId(1);
    Message m{h, {}};
    if (last == PayloadType::SK) {
        m.payloads.push_back(
            {PayloadType::SK, false, EncryptedPayload{PayloadType::IDi, repeat(0xe0, 40)}});
    } else {
        m.payloads.push_back({PayloadType::SKF, false,
                              EncryptedFragmentPayload{PayloadType::IDi, 1, 2, repeat(0xe0, 40)}});
    }
    return m;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(header)

BOOST_AUTO_TEST_CASE(golden_and_flags) {
    Header h = init_header();
    h.responder_spi = IkeSpi(0xa1a2a3a4a5a6a7a8);
    h.exchange = ExchangeType::INFORMATIONAL;
    h.initiator = false;
    h.response = true;
    h.message_id = MessageId(0x01020304);
    Bytes out;
    Writer w(out);
    serialize_header(w, h, PayloadType::NONE, 28);
    BOOST_TEST(to_hex(out) ==
               "0102030405060708a1a2a3a4a5a6a7a8"
               "00"
               "20"
               "25"
               "20"
               "01020304"
               "0000001c");
    auto parsed = parse_header(out);
    BOOST_TEST_REQUIRE(parsed.has_value());
    h.length = 28;
    BOOST_TEST((*parsed == h));
}

BOOST_AUTO_TEST_CASE(major_version_3) {
    Bytes d = serialize(Message{init_header(), {}});
    d[17] = 0x30;
    auto m = parse_message(d);
    BOOST_TEST_REQUIRE(!m.has_value());
    BOOST_TEST(m.error().notify == NotifyType::INVALID_MAJOR_VERSION);
    BOOST_TEST(m.error().reason == "IKE header major version 3 != 2");
    // The minor version is ignored on receipt and kept.
    d[17] = 0x21;
    BOOST_TEST_REQUIRE(parse_message(d).has_value());
    BOOST_TEST(parse_message(d)->header.minor_version == 1);
    BOOST_TEST((serialize(*parse_message(d)) == d));
}

BOOST_AUTO_TEST_CASE(length_field) {
    Bytes d = serialize(Message{init_header(), {}});
    BOOST_TEST(d.size() == 28u);
    Bytes longer = d;
    longer.push_back(0);
    BOOST_TEST(parse_message(longer).error().reason ==
               "IKE header length 28 != datagram length 29");
    d[27] = 27;
    BOOST_TEST(parse_message(d).error().reason == "IKE header length 27 < 28");
    BOOST_TEST(parse_message(ByteView(d).first(27)).error().reason ==
               "IKE header truncated: datagram of 27 bytes < 28");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(chain)

BOOST_AUTO_TEST_CASE(critical_unknown_payload_is_rejected_with_its_type) {
    // V then an unknown payload type 200 with the C bit.
    Bytes data = hex("c8 00 0008 01020304  00 80 0006 aabb");
    auto r = parse_payload_chain(PayloadType::V, data, 28);
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().notify == NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD);
    BOOST_TEST(r.error().unsupported_payload == 200);
    BOOST_TEST(r.error().offset == 28u + 8);
    BOOST_TEST(r.error().reason ==
               "payload 2 (PayloadType(200)): unsupported payload marked critical");
    // A known type with the C bit is fine (the bit is ignored, §3.2) and kept.
    Bytes known = hex("00 80 0008 01020304");
    auto k = parse_payload_chain(PayloadType::V, known, 0);
    BOOST_TEST_REQUIRE(k.has_value());
    BOOST_TEST(k->front().critical);
    BOOST_TEST((serialize_payload_chain(*k) == known));
}

BOOST_AUTO_TEST_CASE(non_critical_unknown_payload_is_kept_byte_exact) {
    Message m = init_request();
    Bytes d = serialize(m);
    // Insert an unknown payload (type 200, not critical) between KE and Nonce.
    m.payloads.insert(m.payloads.begin() + 2, Payload{static_cast<PayloadType>(200), false,
                                                      UnknownPayload{hex("deadbeef")}});
    Bytes with_unknown = serialize(m);
    BOOST_TEST(with_unknown.size() == d.size() + 8);
    auto parsed = parse_message(with_unknown);
    BOOST_TEST_REQUIRE(parsed.has_value());
    BOOST_TEST(parsed->payloads.size() == 8u);
    BOOST_TEST(parsed->payloads[2].get<UnknownPayload>()->body == hex("deadbeef"));
    BOOST_TEST((serialize(*parsed) == with_unknown));
    // GSPM (49) is registered but not parsed here: it is "unknown" to this codec too.
    BOOST_TEST(!is_supported(PayloadType::GSPM));
}

BOOST_AUTO_TEST_CASE(bad_payload_lengths) {
    auto r = parse_payload_chain(PayloadType::V, hex("00 00 0003 01020304"), 28);
    BOOST_TEST(r.error().reason == "payload 1 (V): payload length 3 < 4");
    BOOST_TEST(r.error().offset == 30u);
    r = parse_payload_chain(PayloadType::V, hex("2b 00 0005 01 00 00 0009 0102"), 28);
    BOOST_TEST(r.error().reason == "payload 2 (V): payload length 9 > 6 bytes left");
    BOOST_TEST(r.error().offset == 28u + 5 + 2);
    r = parse_payload_chain(PayloadType::V, hex("00 00 0005 01 ffff"), 0);
    BOOST_TEST(r.error().reason == "2 bytes after the last payload (V)");
    r = parse_payload_chain(PayloadType::NONE, hex("00"), 0);
    BOOST_TEST(r.error().reason == "1 bytes after the last payload (none)");
    BOOST_TEST(parse_payload_chain(PayloadType::NONE, {}, 0)->empty());
}

BOOST_AUTO_TEST_CASE(sk_must_be_last) {
    auto r = parse_payload_chain(PayloadType::SK, hex("23 00 0006 aabb 00 00 0004"), 28);
    BOOST_TEST(r.error().reason == "payload 1 (SK): must be the last payload, 4 bytes follow");
    r = parse_payload_chain(PayloadType::SKF, hex("23 00 000a 0001 0002 aabb 00 00 0004"), 28);
    BOOST_TEST(r.error().reason == "payload 1 (SKF): must be the last payload, 4 bytes follow");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(message)

BOOST_AUTO_TEST_CASE(ike_sa_init_request_round_trips) {
    Bytes golden = fixture("ike_sa_init_request.hex");
    BOOST_TEST(golden.size() == 308u);
    Message built = init_request();
    BOOST_TEST(to_hex(serialize(built)) == to_hex(golden));
    auto parsed = parse_message(golden);
    BOOST_TEST_REQUIRE(parsed.has_value(), (parsed ? "" : parsed.error().reason));
    built.header.next_payload = PayloadType::SA;
    built.header.length = 308;
    BOOST_TEST((parsed->header == built.header));
    BOOST_TEST((parsed->payloads == built.payloads));
    BOOST_TEST((serialize(*parsed) == golden));
    BOOST_TEST(find_notify(parsed->payloads, NotifyType::IKEV2_FRAGMENTATION_SUPPORTED));
    BOOST_TEST(!find_notify(parsed->payloads, NotifyType::COOKIE));
    BOOST_TEST(find_payload(parsed->payloads, PayloadType::KE)->get<KePayload>()->data.size() ==
               32u);
    BOOST_TEST(count_payloads(parsed->payloads, PayloadType::N) == 4u);
    BOOST_TEST(!parsed->encrypted());
}

BOOST_AUTO_TEST_CASE(sk_associated_data_and_body) {
    Message m = auth_request();
    Bytes d = serialize(m);
    BOOST_TEST(d.size() == 28u + 4 + 40);
    auto parsed = parse_message(d);
    BOOST_TEST_REQUIRE(parsed.has_value());
    BOOST_TEST(parsed->encrypted() == &parsed->payloads.back());
    auto spans = protected_spans(*parsed, d);
    BOOST_TEST_REQUIRE(spans.has_value());
    BOOST_TEST(spans->associated_data.data() == d.data());
    BOOST_TEST(spans->associated_data.size() == 32u);  // header + SK generic header
    BOOST_TEST(spans->body.data() == d.data() + 32);
    BOOST_TEST(spans->body.size() == 40u);
    BOOST_TEST(spans->inner_first == PayloadType::IDi);
    // Sending side: the prefix has the final lengths; appending the body gives the message.
    Bytes prefix = build_sk_prefix(m.header, {}, PayloadType::IDi, 40);
    BOOST_TEST(to_hex(prefix) == to_hex(ByteView(d).first(32)));
    prefix.insert(prefix.end(), spans->body.begin(), spans->body.end());
    BOOST_TEST((prefix == d));
    BOOST_TEST(!protected_spans(init_request(), serialize(init_request())).has_value());
}

BOOST_AUTO_TEST_CASE(skf_associated_data_covers_fragment_fields) {
    Message m = auth_request(PayloadType::SKF);
    Bytes d = serialize(m);
    auto parsed = parse_message(d);
    BOOST_TEST_REQUIRE(parsed.has_value());
    auto spans = protected_spans(*parsed, d);
    BOOST_TEST_REQUIRE(spans.has_value());
    // RFC 7383 §2.5: header + SKF generic header + Fragment Number + Total Fragments.
    BOOST_TEST(spans->associated_data.size() == 28u + 4 + 4);
    BOOST_TEST(to_hex(spans->associated_data.last(4)) == "00010002");
    BOOST_TEST(spans->body.size() == 40u);
    Bytes prefix = build_skf_prefix(m.header, {}, PayloadType::IDi, 1, 2, 40);
    BOOST_TEST(to_hex(prefix) == to_hex(spans->associated_data));
    prefix.insert(prefix.end(), spans->body.begin(), spans->body.end());
    BOOST_TEST((prefix == d));
}

BOOST_AUTO_TEST_CASE(sk_prefix_with_outer_payloads) {
    // Unencrypted payloads before SK are linked to it and counted in the lengths.
    Message m = auth_request();
    m.payloads.insert(m.payloads.begin(),
                      Payload{PayloadType::V, false, VendorIdPayload{hex("0102")}});
    Bytes d = serialize(m);
    std::span<const Payload> outer(m.payloads.data(), 1);
    Bytes prefix = build_sk_prefix(m.header, outer, PayloadType::IDi, 40);
    BOOST_TEST(to_hex(prefix) == to_hex(ByteView(d).first(d.size() - 40)));
    auto spans = protected_spans(*parse_message(d), d);
    BOOST_TEST(spans->associated_data.size() == 28u + 6 + 4);
}

BOOST_AUTO_TEST_CASE(decrypted_inner_chain_parses_with_offsets) {
    // What ike/crypto hands back after decrypting: a payload chain starting with inner_first.
    std::vector<Payload> inner{
        {PayloadType::IDi, false, IdPayload{IdType::ID_FQDN, hex("6d6f6f6e")}},
        {PayloadType::AUTH, false, AuthPayload{AuthMethod::SHARED_KEY_MIC, repeat(1, 32)}},
    };
    Bytes plain = serialize_payload_chain(inner);
    auto parsed = parse_payload_chain(first_type(inner), plain, 1000);
    BOOST_TEST_REQUIRE(parsed.has_value());
    BOOST_TEST((*parsed == inner));
    plain[2] = 0xff;
    BOOST_TEST(parse_payload_chain(PayloadType::IDi, plain, 1000).error().offset == 1002u);
}

// Real strongSwan 6 traffic (tests/data/strongswan/*/NN-*.hex, one datagram per file):
// every message parses and re-serializes byte-exactly.
BOOST_AUTO_TEST_CASE(strongswan_captures_round_trip) {
    namespace fs = std::filesystem;
    fs::path root = fs::path(POSTERN_TEST_DATA_DIR) / "strongswan";
    if (!fs::exists(root)) return;
    int n = 0;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
        std::string name = entry.path().filename().string();
        // IKE messages are "NN-EXCHANGE-...hex"; ESP packets and the rest are skipped.
        if (entry.path().extension() != ".hex" || name.size() < 3 || !std::isdigit(name[0]) ||
            !std::isdigit(name[1]) || name[2] != '-') {
            continue;
        }
        BOOST_TEST_CONTEXT(entry.path().string()) {
            Bytes d = load_hex_file(entry.path().string());
            auto m = parse_message(d);
            BOOST_TEST_REQUIRE(m.has_value(), (m ? "" : m.error().reason));
            BOOST_TEST(to_hex(serialize(*m)) == to_hex(d));
            if (m->encrypted()) BOOST_TEST(protected_spans(*m, d).has_value());
            ++n;
        }
    }
    BOOST_TEST(n > 0);
}

BOOST_AUTO_TEST_SUITE_END()

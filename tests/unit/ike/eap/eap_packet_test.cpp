// RFC 3748 codec and the EAP-MSCHAPv2 framing: round trips, exact reasons, every prefix.
#include <boost/test/unit_test.hpp>

#include "ike/eap/eap_packet.hpp"
#include "ike/eap/mschapv2_packet.hpp"

using namespace postern;
using namespace postern::ike;
using namespace postern::ike::eap;

namespace {

Bytes hex(std::string_view s) {
    Bytes b;
    BOOST_REQUIRE(from_hex(s, b));
    return b;
}

std::string reason(ByteView b) {
    auto p = parse_eap_packet(b);
    BOOST_REQUIRE(!p);
    return p.error().reason;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(eap_packet)

BOOST_AUTO_TEST_CASE(round_trips) {
    for (const EapPacket& p :
         {eap_request(7, EapType::IDENTITY),
          eap_response(7, EapType::IDENTITY, Bytes{'b', 'o', 'b'}),
          eap_response(9, EapType::NAK, Bytes{26, 13}), eap_request(1, EapType::TLS, Bytes{0x20}),
          eap_request(2, EapType::NOTIFICATION, Bytes{'h', 'i'}),
          eap_request(3, static_cast<EapType>(99), Bytes{1, 2, 3}), eap_success(255),
          eap_failure(0)}) {
        Bytes wire = build_eap_packet(p);
        auto back = parse_eap_packet(wire);
        BOOST_REQUIRE_MESSAGE(back, back.error().reason);
        BOOST_TEST((*back == p));
        BOOST_TEST(build_eap_packet(*back) == wire);
    }
    BOOST_TEST(to_hex(build_eap_packet(eap_request(0x2a, EapType::IDENTITY))) == "012a000501");
    BOOST_TEST(to_hex(build_eap_packet(eap_success(0x2a))) == "032a0004");
    BOOST_TEST(to_string(EapType::MSCHAPV2) == "MSCHAPv2");
    BOOST_TEST(to_string(static_cast<EapType>(99)) == "Type(99)");
}

BOOST_AUTO_TEST_CASE(every_prefix_is_rejected) {
    const Bytes full = build_eap_packet(eap_response(5, EapType::IDENTITY, Bytes{'a', 'l', 'i'}));
    BOOST_REQUIRE(parse_eap_packet(full));
    for (std::size_t n = 0; n < full.size(); ++n) {
        auto p = parse_eap_packet(ByteView(full).first(n));
        BOOST_TEST_CONTEXT("prefix " << n) {
            BOOST_REQUIRE(!p);
            if (n < 4)
                BOOST_TEST(p.error().reason.find("need") != std::string::npos);
            else
                BOOST_TEST(p.error().reason ==
                           "EAP RESPONSE: Length 8 != buffer " + std::to_string(n));
        }
    }
    // One octet too many is rejected as well (no padding inside an IKE EAP payload).
    Bytes longer = full;
    longer.push_back(0);
    BOOST_TEST(reason(longer) == "EAP RESPONSE: Length 8 != buffer 9");
}

BOOST_AUTO_TEST_CASE(malformed_headers) {
    BOOST_TEST(reason(hex("05010004")) == "EAP: unknown Code 5");
    BOOST_TEST(reason(hex("00010004")) == "EAP: unknown Code 0");
    BOOST_TEST(reason(hex("01010003")) == "EAP REQUEST: Length 3 < 4");
    BOOST_TEST(reason(hex("01010004")) == "EAP REQUEST: no Type (Length 4)");
    BOOST_TEST(reason(hex("0201000500")) == "EAP RESPONSE: Type 0 is not a method");
    BOOST_TEST(reason(hex("0301000500")) == "EAP SUCCESS: Length 5 != 4");
    BOOST_TEST(reason(hex("0401000500")) == "EAP FAILURE: Length 5 != 4");
    BOOST_TEST(reason(hex("0101000603 1a")) == "EAP REQUEST: Nak in a Request");
    BOOST_TEST(reason(hex("0201000503")) == "EAP RESPONSE: Nak without desired types");
    BOOST_TEST(reason(hex("0101000bfe 000000 000000")).find("Expanded") != std::string::npos);
    BOOST_TEST(parse_eap_packet(hex("0101000cfe 000000 00000001")).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(mschapv2_framing)

namespace {
MsChapResponse sample_response() {
    MsChapResponse r;
    for (std::size_t i = 0; i < r.peer_challenge.size(); ++i)
        r.peer_challenge[i] = static_cast<std::uint8_t>(i);
    for (std::size_t i = 0; i < r.nt_response.size(); ++i)
        r.nt_response[i] = static_cast<std::uint8_t>(0x80 + i);
    r.name = "CORP\\alice";
    return r;
}
}  // namespace

BOOST_AUTO_TEST_CASE(challenge_layout) {
    Challenge c{};
    c.fill(0xab);
    Bytes m = build_challenge_request(0x10, 0x10, c, "srv");
    // EAP header, Type 26, OpCode 1, MS-CHAPv2-ID, MS-Length = EAP Length - 5, Value-Size 16.
    BOOST_TEST(to_hex(ByteView(m).first(10)) ==
               "0110001d"
               "1a"
               "01"
               "10"
               "0018"
               "10");
    auto p = parse_eap_packet(m);
    BOOST_REQUIRE(p);
    auto ms = parse_mschapv2(EapCode::REQUEST, p->type_data);
    BOOST_REQUIRE(ms);
    BOOST_TEST((ms->opcode == MsChapOpCode::CHALLENGE));
    BOOST_TEST(*ms->ms_id == 0x10);
    auto ch = parse_challenge_data(ms->data);
    BOOST_REQUIRE(ch);
    BOOST_TEST((ch->challenge == c));
    BOOST_TEST(ch->name == "srv");
}

BOOST_AUTO_TEST_CASE(response_round_trip_and_every_truncation) {
    const MsChapResponse r = sample_response();
    Bytes m = build_response(3, 4, r);
    auto p = parse_eap_packet(m);
    BOOST_REQUIRE(p);
    auto ms = parse_mschapv2(EapCode::RESPONSE, p->type_data);
    BOOST_REQUIRE(ms);
    BOOST_TEST(*ms->ms_id == 4);
    BOOST_TEST(ms->data.size() == 50 + r.name.size());
    auto back = parse_response_data(ms->data);
    BOOST_REQUIRE(back);
    BOOST_TEST((back->peer_challenge == r.peer_challenge));
    BOOST_TEST((back->nt_response == r.nt_response));
    BOOST_TEST(back->name == r.name);
    // Every truncation of the value (the Name may be empty, so 50 octets is the minimum).
    for (std::size_t n = 0; n < 50; ++n) {
        auto t = parse_response_data(ByteView(ms->data).first(n));
        BOOST_TEST_CONTEXT("value prefix " << n) {
            BOOST_REQUIRE(!t);
            BOOST_TEST(t.error().reason.find("MSCHAPv2 Response: ") == 0u);
        }
    }
    BOOST_TEST(parse_response_data(ByteView(ms->data).first(50)).has_value());
    // Every truncation of the Type-Data: header too short, or MS-Length disagrees.
    for (std::size_t n = 0; n < p->type_data.size(); ++n) {
        auto t = parse_mschapv2(EapCode::RESPONSE, ByteView(p->type_data).first(n));
        BOOST_TEST_CONTEXT("type-data prefix " << n) {
            BOOST_TEST(!t);
        }
    }
    Bytes bad = ms->data;
    bad[0] = 48;
    BOOST_TEST(parse_response_data(bad).error().reason == "MSCHAPv2 Response: Value-Size 48 != 49");
}

BOOST_AUTO_TEST_CASE(header_checks) {
    auto r = [](EapCode code, std::string_view h) {
        Bytes b;
        BOOST_REQUIRE(from_hex(h, b));
        auto p = parse_mschapv2(code, b);
        return p ? std::string("ok") : p.error().reason;
    };
    BOOST_TEST(r(EapCode::REQUEST, "") ==
               "MSCHAPv2: MSCHAPv2 OpCode: need 1 bytes at offset 0, have 0");
    BOOST_TEST(r(EapCode::REQUEST, "02010004") == "MSCHAPv2 REQUEST: unexpected OpCode Response");
    BOOST_TEST(r(EapCode::RESPONSE, "01010004") ==
               "MSCHAPv2 RESPONSE: unexpected OpCode Challenge");
    BOOST_TEST(r(EapCode::RESPONSE, "07010004") ==
               "MSCHAPv2 RESPONSE: unexpected OpCode Change-Password");
    BOOST_TEST(r(EapCode::REQUEST, "030100050000") == "MSCHAPv2 Success: MS-Length 5 != 6");
    BOOST_TEST(r(EapCode::REQUEST, "0301") ==
               "MSCHAPv2 Success: MS-Length: need 2 bytes at offset 2, have 0");
    BOOST_TEST(r(EapCode::RESPONSE, "03") == "ok");
    BOOST_TEST(r(EapCode::RESPONSE, "04") == "ok");
    BOOST_TEST(r(EapCode::RESPONSE, "03010004") == "MSCHAPv2 Success Response: 4 octets != 1");
    BOOST_TEST(to_hex(build_opcode_response(9, MsChapOpCode::SUCCESS)) == "020900061a03");
}

BOOST_AUTO_TEST_CASE(success_text) {
    auto parse = [](std::string_view s) {
        return parse_success_text(
            ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
    };
    // strongSwan's Success Request ends with a NUL octet.
    using namespace std::string_view_literals;
    auto t = parse("S=407A5589115FD0D6209F510FE9C04566932CDA56 M=Welcome2strongSwan\0"sv);
    BOOST_REQUIRE(t);
    BOOST_TEST(t->authenticator_response == "S=407A5589115FD0D6209F510FE9C04566932CDA56");
    BOOST_TEST(t->message == "Welcome2strongSwan");
    BOOST_TEST(parse("S=407a5589115fd0d6209f510fe9c04566932cda56").has_value());
    BOOST_TEST(!parse("S=407A5589115FD0D6209F510FE9C04566932CDA5"));
    BOOST_TEST(!parse("S=407A5589115FD0D6209F510FE9C04566932CDAXX M=x"));
    BOOST_TEST(!parse("S=407A5589115FD0D6209F510FE9C04566932CDA56 X"));
    BOOST_TEST(!parse("M=hello S=407A5589115FD0D6209F510FE9C04566932CDA56"));
}

BOOST_AUTO_TEST_CASE(failure_text) {
    auto parse = [](std::string_view s) {
        return parse_failure_text(
            ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
    };
    auto t = parse("E=691 R=1 C=00112233445566778899AABBCCDDEEFF V=3 M=bad password here");
    BOOST_REQUIRE_MESSAGE(t, t.error().reason);
    BOOST_TEST(t->error == 691u);
    BOOST_TEST(t->retry);
    BOOST_REQUIRE(t->challenge);
    BOOST_TEST(to_hex(*t->challenge) == "00112233445566778899aabbccddeeff");
    BOOST_TEST(t->message == "bad password here");
    BOOST_TEST(parse("E=647").has_value());
    BOOST_TEST(parse("R=0").error().reason == "MSCHAPv2 Failure: no E= field");
    BOOST_TEST(!parse("E=abc"));
    BOOST_TEST(!parse("E=691 R=2"));
    BOOST_TEST(!parse("E=691 C=0011"));
    BOOST_TEST(!parse("E=691 Q=1"));
}

BOOST_AUTO_TEST_SUITE_END()

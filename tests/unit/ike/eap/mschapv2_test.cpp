// RFC 2759 §9.2 and RFC 3079 §3.5.3 known answers; the MSK layout strongSwan uses.
#include <boost/test/unit_test.hpp>

#include "ike/eap/mschapv2.hpp"

using namespace postern;
using namespace postern::ike::eap;

namespace {

Bytes hex(std::string_view s) {
    Bytes b;
    BOOST_REQUIRE(from_hex(s, b));
    return b;
}
template <std::size_t N>
std::array<std::uint8_t, N> arr(std::string_view s) {
    Bytes b = hex(s);
    BOOST_REQUIRE_EQUAL(b.size(), N);
    std::array<std::uint8_t, N> a{};
    std::copy(b.begin(), b.end(), a.begin());
    return a;
}

// RFC 2759 §9.2 (also RFC 3079 §3.5.3): UserName "User", Password "clientPass".
const Challenge kAuthChallenge = arr<16>("5B5D7C7D7B3F2F3E3C2C602132262628");
const Challenge kPeerChallenge = arr<16>("21402324255E262A28295F2B3A337C7E");
const std::string kNtHash = "44ebba8d5312b8d611474411f56989ae";
const std::string kNtResponse = "82309ecd8d708b5ea08faa3981cd83544233114a3d85d6df";

}  // namespace

BOOST_AUTO_TEST_SUITE(mschapv2)

BOOST_AUTO_TEST_CASE(rfc2759_section_9_2) {
    auto h = nt_password_hash("clientPass");
    BOOST_REQUIRE_MESSAGE(h, h.error());
    BOOST_TEST(to_hex(h->view()) == kNtHash);
    auto hh = hash_nt_password_hash(h->view());
    BOOST_REQUIRE(hh);
    BOOST_TEST(to_hex(hh->view()) == "41c00c584bd2d91c4017a2a12fa59f3f");
    auto ch = challenge_hash(kPeerChallenge, kAuthChallenge, "User");
    BOOST_TEST(to_hex(ch) == "d02e4386bce91226");
    auto cr = challenge_response(ch, h->view());
    BOOST_REQUIRE(cr);
    BOOST_TEST(to_hex(*cr) == kNtResponse);
    auto nt = generate_nt_response(kAuthChallenge, kPeerChallenge, "User", h->view());
    BOOST_REQUIRE(nt);
    BOOST_TEST(to_hex(*nt) == kNtResponse);
    auto ar =
        generate_authenticator_response(h->view(), *nt, kPeerChallenge, kAuthChallenge, "User");
    BOOST_REQUIRE(ar);
    BOOST_TEST(*ar == "S=407A5589115FD0D6209F510FE9C04566932CDA56");
}

BOOST_AUTO_TEST_CASE(check_authenticator_response_cases) {
    auto d = arr<20>("407A5589115FD0D6209F510FE9C04566932CDA56");
    BOOST_TEST(check_authenticator_response("S=407A5589115FD0D6209F510FE9C04566932CDA56", d));
    BOOST_TEST(check_authenticator_response("S=407a5589115fd0d6209f510fe9c04566932cda56", d));
    BOOST_TEST(!check_authenticator_response("S=407A5589115FD0D6209F510FE9C04566932CDA57", d));
    BOOST_TEST(!check_authenticator_response("S=407A5589115FD0D6209F510FE9C04566932CDA5", d));
    BOOST_TEST(!check_authenticator_response("X=407A5589115FD0D6209F510FE9C04566932CDA56", d));
    BOOST_TEST(!check_authenticator_response("S=407A5589115FD0D6209F510FE9C04566932CDAZ6", d));
    BOOST_TEST(!check_authenticator_response("", d));
}

BOOST_AUTO_TEST_CASE(rfc3079_section_3_5_3) {
    auto hh = hash_nt_password_hash(hex(kNtHash));
    BOOST_REQUIRE(hh);
    const NtResponse nt = arr<24>(kNtResponse);
    auto master = get_master_key(hh->view(), nt);
    BOOST_TEST(to_hex(master.view()) == "fdece3717a8c838cb388e527ae3cdd31");
    // The RFC's SendStartKey128 is the server's send key (Magic3) = the client's receive key.
    auto server_send = get_asymmetric_start_key(master.view(), 16, true, true);
    BOOST_TEST(to_hex(server_send.view()) == "8b7cdc149b993a1ba118cb153f56dccb");
    BOOST_TEST(to_hex(get_asymmetric_start_key(master.view(), 16, false, false).view()) ==
               "8b7cdc149b993a1ba118cb153f56dccb");
    // Magic2: client send = server receive.
    auto server_recv = get_asymmetric_start_key(master.view(), 16, false, true);
    BOOST_TEST(to_hex(server_recv.view()) == "d5f0e9521e3ea9589645e86051c82226");
    BOOST_TEST(to_hex(get_asymmetric_start_key(master.view(), 16, true, false).view()) ==
               to_hex(server_recv.view()));
    // 40- and 56-bit variants use the first 8 octets before the MPPE salt is applied.
    BOOST_TEST(to_hex(get_asymmetric_start_key(master.view(), 8, true, true).view()) ==
               "8b7cdc149b993a1b");
}

BOOST_AUTO_TEST_CASE(msk_is_receive_send_and_32_zeros) {
    auto k = msk(hex(kNtHash), arr<24>(kNtResponse));
    BOOST_REQUIRE(k);
    BOOST_TEST(k->size() == kMskSize);
    BOOST_TEST(to_hex(k->view()) ==
               "d5f0e9521e3ea9589645e86051c82226"
               "8b7cdc149b993a1ba118cb153f56dccb" +
                   std::string(64, '0'));
}

BOOST_AUTO_TEST_CASE(passwords_as_utf8) {
    // NtPasswordHash("") is MD4 of nothing.
    BOOST_TEST(to_hex(nt_password_hash("")->view()) == "31d6cfe0d16ae931b73c59d7e0c089c0");
    // "é" (U+00E9) and "😀" (U+1F600, a surrogate pair) in UTF-16LE.
    BOOST_TEST(to_hex(utf8_to_utf16le("a\xc3\xa9")->view()) == "6100e900");
    BOOST_TEST(to_hex(utf8_to_utf16le("\xf0\x9f\x98\x80")->view()) == "3dd800de");
    BOOST_TEST(to_hex(utf8_to_utf16le("\xe2\x82\xac")->view()) == "ac20");
    // Invalid UTF-8: lone continuation, overlong, surrogate, truncated, beyond U+10FFFF.
    for (std::string_view bad :
         {"\x80", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80", "\xff"}) {
        auto r = nt_password_hash(bad);
        BOOST_TEST(!r);
    }
    BOOST_TEST(nt_password_hash(std::string(256, 'x')).has_value());
    auto too_long = nt_password_hash(std::string(257, 'x'));
    BOOST_REQUIRE(!too_long);
    BOOST_TEST(too_long.error().find("257") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(domain_is_stripped) {
    BOOST_TEST(strip_domain("CORP\\alice") == "alice");
    BOOST_TEST(strip_domain("alice@example.com") == "alice@example.com");
    BOOST_TEST(strip_domain("a\\b\\c") == "c");
    BOOST_TEST(strip_domain("CORP\\") == "");
}

BOOST_AUTO_TEST_CASE(challenge_response_rejects_wrong_sizes) {
    BOOST_TEST(!challenge_response(Bytes(7, 0), Bytes(16, 0)));
    BOOST_TEST(!challenge_response(Bytes(8, 0), Bytes(15, 0)));
}

BOOST_AUTO_TEST_SUITE_END()

#include <boost/test/unit_test.hpp>

#include "ike/crypto/ossl.hpp"
#include "ike/crypto/prf.hpp"

using namespace postern;
using namespace postern::ike;
using namespace postern::ike::crypto;

namespace {
Prf make_prf(PrfId id) {
    return *Prf::create(id);
}
std::string hex(const Secret& s) {
    return to_hex(s.view());
}
}  // namespace

BOOST_AUTO_TEST_SUITE(prf_suite)

// RFC 4231 §4.2 and §4.3 (test cases 1 and 2).
BOOST_AUTO_TEST_CASE(rfc4231_hmac_sha2) {
    const Bytes key1(20, 0x0b);
    const auto data1 = as_bytes("Hi There");
    BOOST_TEST(hex(make_prf(PrfId::PRF_HMAC_SHA2_256).compute(key1, {data1})) ==
               "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    BOOST_TEST(hex(make_prf(PrfId::PRF_HMAC_SHA2_384).compute(key1, {data1})) ==
               "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
               "faea9ea9076ede7f4af152e8b2fa9cb6");
    BOOST_TEST(hex(make_prf(PrfId::PRF_HMAC_SHA2_512).compute(key1, {data1})) ==
               "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
               "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854");

    const auto key2 = as_bytes("Jefe");
    const auto data2 = as_bytes("what do ya want for nothing?");
    BOOST_TEST(hex(make_prf(PrfId::PRF_HMAC_SHA2_256).compute(key2, {data2})) ==
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    BOOST_TEST(hex(make_prf(PrfId::PRF_HMAC_SHA2_384).compute(key2, {data2})) ==
               "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
               "8e2240ca5e69e2c78b3239ecfab21649");
    BOOST_TEST(hex(make_prf(PrfId::PRF_HMAC_SHA2_512).compute(key2, {data2})) ==
               "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
               "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
    // Split input gives the same MAC as the concatenation.
    BOOST_TEST(
        hex(make_prf(PrfId::PRF_HMAC_SHA2_256).compute(key2, {data2.first(5), data2.subspan(5)})) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

BOOST_AUTO_TEST_CASE(empty_key_is_the_zero_key) {
    auto p = make_prf(PrfId::PRF_HMAC_SHA2_256);
    const Bytes zero(1, 0);
    BOOST_TEST(hex(p.compute(ByteView{}, {as_bytes("x")})) ==
               hex(p.compute(zero, {as_bytes("x")})));
}

// ossl::Hmac (prf+'s one key for every iteration) starts each computation from the keyed state:
// the same answer every time, equal to the one-shot HMAC (RFC 4231 §4.3, test case 2).
BOOST_AUTO_TEST_CASE(keyed_hmac_restarts_from_its_key) {
    ossl::Hmac mac("SHA256", as_bytes("Jefe"));
    for (int i = 0; i < 3; ++i) {
        Bytes out(32);
        mac.compute({as_bytes("what do ya want "), as_bytes("for nothing?")}, out);
        BOOST_TEST(to_hex(out) ==
                   "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
    // Another message after those: nothing of them is left in the state.
    Bytes one(32), other(32);
    mac.compute({as_bytes("Hi There")}, one);
    ossl::hmac("SHA256", as_bytes("Jefe"), {as_bytes("Hi There")}, other);
    BOOST_TEST(to_hex(one) == to_hex(other));
    // The empty key is the one-octet zero key (RFC 2104 §2), as in hmac().
    ossl::Hmac empty("SHA256", {});
    Bytes e1(32), e2(32);
    empty.compute({as_bytes("x")}, e1);
    ossl::hmac("SHA256", ByteView(), {as_bytes("x")}, e2);
    BOOST_TEST(to_hex(e1) == to_hex(e2));
}

// T1..T3 computed independently while writing this test with
//   openssl mac -digest SHA256 -macopt hexkey:000102...0f -in <T(n-1) | S | n> HMAC
BOOST_AUTO_TEST_CASE(prf_plus_known_answer) {
    const Bytes key = from_hex("000102030405060708090a0b0c0d0e0f");
    const auto seed = as_bytes("IKEv2 prf+ test seed");
    const std::string t1 = "58c42548d8d3e66782f87ef0c4b7317e4adba7e843c9f14cd557f39efb5e66c2";
    const std::string t2 = "e68e5166584105e1f8de1b7b0dcabe89da8f6b217e54cb7e82998c61684eb329";
    const std::string t3 = "67d6db00857f57f70e0f83d6579a3d5deddcf00b15ed67baadf2cf0b7659ac98";
    auto p = make_prf(PrfId::PRF_HMAC_SHA2_256);
    auto out = p.plus(key, {seed}, 96);
    BOOST_REQUIRE(out);
    BOOST_TEST(hex(*out) == t1 + t2 + t3);
    // Truncation takes a prefix; a split seed is the same seed.
    auto part = p.plus(key, {seed.first(4), seed.subspan(4)}, 40);
    BOOST_REQUIRE(part);
    BOOST_TEST(hex(*part) == (t1 + t2).substr(0, 80));
    BOOST_TEST(p.plus(key, {seed}, 0)->size() == 0u);
}

BOOST_AUTO_TEST_CASE(prf_plus_255_iteration_limit) {
    for (PrfId id : {PrfId::PRF_HMAC_SHA1, PrfId::PRF_HMAC_SHA2_256, PrfId::PRF_HMAC_SHA2_384,
                     PrfId::PRF_HMAC_SHA2_512}) {
        auto p = make_prf(id);
        const Bytes key(p.key_size(), 0x42);
        auto max = p.plus(key, {as_bytes("seed")}, 255 * p.output_size());
        BOOST_REQUIRE(max);
        BOOST_TEST(max->size() == 255 * p.output_size());
        auto over = p.plus(key, {as_bytes("seed")}, 255 * p.output_size() + 1);
        BOOST_REQUIRE(!over);
        BOOST_TEST(over.error().find("255") != std::string::npos, over.error());
    }
}

BOOST_AUTO_TEST_CASE(unknown_prf) {
    BOOST_TEST(!Prf::create(PrfId::PRF_AES128_XCBC));
}

BOOST_AUTO_TEST_SUITE_END()

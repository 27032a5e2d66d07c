#include <boost/test/unit_test.hpp>

#include "ike/crypto/aead.hpp"
#include "ike/crypto/sk.hpp"
#include "print.hpp"

using namespace postern;
using namespace postern::ike;
using namespace postern::ike::crypto;

namespace {

struct Combo {
    EncrId encr;
    std::uint16_t bits;
    IntegId integ;
};

const Combo kCombos[] = {
    {EncrId::ENCR_AES_CBC, 128, IntegId::AUTH_HMAC_SHA2_256_128},
    {EncrId::ENCR_AES_CBC, 192, IntegId::AUTH_HMAC_SHA2_384_192},
    {EncrId::ENCR_AES_CBC, 256, IntegId::AUTH_HMAC_SHA2_512_256},
    {EncrId::ENCR_AES_CBC, 256, IntegId::AUTH_HMAC_SHA2_256_128},
    {EncrId::ENCR_AES_CBC, 128, IntegId::AUTH_HMAC_SHA1_96},
    {EncrId::ENCR_3DES, 0, IntegId::AUTH_HMAC_SHA1_96},
    {EncrId::ENCR_3DES, 0, IntegId::AUTH_HMAC_SHA2_256_128},
    {EncrId::ENCR_AES_GCM_16, 128, IntegId::AUTH_NONE},
    {EncrId::ENCR_AES_GCM_16, 192, IntegId::AUTH_NONE},
    {EncrId::ENCR_AES_GCM_16, 256, IntegId::AUTH_NONE},
    {EncrId::ENCR_CHACHA20_POLY1305, 0, IntegId::AUTH_NONE},
};

Secret filled(std::size_t n, std::uint8_t seed) {
    Secret s(n);
    for (std::size_t i = 0; i < n; ++i)
        s.data()[i] = static_cast<std::uint8_t>(seed + i);
    return s;
}

SkCipher make(const Combo& c) {
    const EncrInfo* e = find_encr(c.encr, c.bits);
    const IntegInfo* i = find_integ(c.integ);
    auto sk = SkCipher::create(c.encr, c.bits, c.integ, filled(e->keymat_size(), 0x10),
                               filled(i ? i->key_size : 0, 0x80));
    BOOST_REQUIRE_MESSAGE(sk, sk.error());
    return std::move(*sk);
}

void counting_iv(MutableByteView iv) {
    for (std::size_t i = 0; i < iv.size(); ++i)
        iv[i] = static_cast<std::uint8_t>(0xa0 + i);
}

// A stand-in IKE header + SK generic header; the content does not matter to the cipher.
const Bytes kAad = from_hex(
    "0011223344556677 8899aabbccddeeff 2e202008 00000001 000000ff"
    "21000020");

}  // namespace

BOOST_AUTO_TEST_SUITE(sk)

BOOST_AUTO_TEST_CASE(round_trip_every_combination) {
    for (const auto& c : kCombos) {
        BOOST_TEST_CONTEXT(c.encr << "/" << c.bits << "/" << c.integ) {
            SkCipher sk = make(c);
            for (std::size_t len : {0u, 1u, 7u, 15u, 16u, 17u, 100u, 1000u}) {
                Bytes plain(len);
                for (std::size_t i = 0; i < len; ++i)
                    plain[i] = static_cast<std::uint8_t>(i * 7);
                auto body = sk.seal(kAad, plain, counting_iv);
                BOOST_REQUIRE_MESSAGE(body, body.error());
                BOOST_TEST(body->size() == sk.body_length(len));
                BOOST_TEST(sk.max_plaintext(body->size()) >= len);
                BOOST_TEST((body->size() - sk.iv_size() - sk.icv_size()) % sk.block_size() == 0u);
                auto opened = sk.open(kAad, *body);
                BOOST_REQUIRE_MESSAGE(opened, opened.error());
                BOOST_TEST(to_hex(*opened) == to_hex(plain));
            }
            // The default IV source gives different bodies for the same plaintext.
            BOOST_TEST(to_hex(*sk.seal(kAad, Bytes(20, 1))) !=
                       to_hex(*sk.seal(kAad, Bytes(20, 1))));
        }
    }
}

BOOST_AUTO_TEST_CASE(tampering_is_rejected_with_a_reason) {
    for (const auto& c : kCombos) {
        BOOST_TEST_CONTEXT(c.encr << "/" << c.bits << "/" << c.integ) {
            SkCipher sk = make(c);
            const Bytes plain(40, 0x5a);
            const Bytes body = *sk.seal(kAad, plain, counting_iv);

            // Every single-bit flip in the body or the aad fails the ICV.
            for (std::size_t i = 0; i < body.size(); ++i) {
                Bytes t = body;
                t[i] ^= 0x01;
                auto r = sk.open(kAad, t);
                BOOST_REQUIRE(!r);
                BOOST_TEST(r.error().find("ICV") != std::string::npos, r.error());
            }
            for (std::size_t i = 0; i < kAad.size(); ++i) {
                Bytes a = kAad;
                a[i] ^= 0x80;
                BOOST_TEST(!sk.open(a, body));
            }
            // Too short for IV + ICV.
            auto short_body = sk.open(kAad, ByteView(body).first(sk.iv_size() + sk.icv_size() - 1));
            BOOST_REQUIRE(!short_body);
            BOOST_TEST(short_body.error().find("shorter than IV") != std::string::npos);
            // Truncated by one octet: not a block multiple (CBC) or ICV failure (AEAD).
            auto trunc = sk.open(kAad, ByteView(body).first(body.size() - 1));
            BOOST_REQUIRE(!trunc);
            if (!sk.encr().aead)
                BOOST_TEST(trunc.error().find("block size") != std::string::npos, trunc.error());
        }
    }
}

BOOST_AUTO_TEST_CASE(bad_pad_length_is_rejected) {
    // seal() cannot produce a bad Pad Length, so the encrypted content is built directly
    // with the AEAD helper and wrapped as IV | ciphertext | tag.
    Combo c{EncrId::ENCR_AES_GCM_16, 128, IntegId::AUTH_NONE};
    SkCipher sk = make(c);
    const Secret keymat = filled(20, 0x10);
    Bytes iv = from_hex("a0a1a2a3a4a5a6a7");
    Bytes nonce(keymat.view().begin() + 16, keymat.view().end());
    nonce.insert(nonce.end(), iv.begin(), iv.end());
    Bytes content = from_hex("01020304 09");  // Pad Length 9 > 4 octets before it
    auto sealed = aead_seal(EncrId::ENCR_AES_GCM_16, keymat.view().first(16), nonce, kAad, content);
    BOOST_REQUIRE(sealed);
    Bytes body = iv;
    body.insert(body.end(), sealed->begin(), sealed->end());
    auto r = sk.open(kAad, body);
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().find("Pad Length 9") != std::string::npos, r.error());
    content.back() = 4;  // exactly consumes everything: empty payloads
    sealed = aead_seal(EncrId::ENCR_AES_GCM_16, keymat.view().first(16), nonce, kAad, content);
    body = iv;
    body.insert(body.end(), sealed->begin(), sealed->end());
    auto ok = sk.open(kAad, body);
    BOOST_REQUIRE_MESSAGE(ok, ok.error());
    BOOST_TEST(ok->empty());
}

BOOST_AUTO_TEST_CASE(cbc_known_layout) {
    // AES-CBC-128 + HMAC-SHA2-256-128: body = IV | AES-CBC(payload | 0-pad | padlen) | ICV.
    Combo c{EncrId::ENCR_AES_CBC, 128, IntegId::AUTH_HMAC_SHA2_256_128};
    SkCipher sk = make(c);
    auto body = sk.seal(kAad, Bytes(5, 0x33), counting_iv);
    BOOST_REQUIRE(body);
    BOOST_TEST(body->size() == 16u + 16u + 16u);
    BOOST_TEST(to_hex(ByteView(*body).first(16)) == "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
}

BOOST_AUTO_TEST_CASE(create_checks_key_lengths) {
    BOOST_TEST(
        !SkCipher::create(EncrId::ENCR_AES_GCM_16, 128, IntegId::AUTH_NONE, filled(16, 0), {}));
    BOOST_TEST(!SkCipher::create(EncrId::ENCR_AES_GCM_16, 128, IntegId::AUTH_HMAC_SHA2_256_128,
                                 filled(20, 0), filled(32, 0)));
    BOOST_TEST(!SkCipher::create(EncrId::ENCR_AES_CBC, 128, IntegId::AUTH_HMAC_SHA2_256_128,
                                 filled(16, 0), filled(31, 0)));
    BOOST_TEST(!SkCipher::create(EncrId::ENCR_AES_CBC, 128, IntegId::AUTH_NONE, filled(16, 0), {}));
    BOOST_TEST(!SkCipher::create(EncrId::ENCR_AES_CTR, 128, IntegId::AUTH_NONE, filled(16, 0), {}));
}

// RFC 8439 §2.8.2 AEAD_CHACHA20_POLY1305 test vector, through our AEAD helper.
BOOST_AUTO_TEST_CASE(rfc8439_chacha20_poly1305) {
    const Bytes key = from_hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    const Bytes nonce = from_hex("070000004041424344454647");
    const Bytes aad = from_hex("50515253c0c1c2c3c4c5c6c7");
    const std::string_view text =
        "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
        "future, sunscreen would be it.";
    const std::string expect =
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69"
        "da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad67594"
        "5585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
        "1ae10b594f09e26a7e902ecbd0600691";
    auto sealed = aead_seal(EncrId::ENCR_CHACHA20_POLY1305, key, nonce, aad, as_bytes(text));
    BOOST_REQUIRE(sealed);
    BOOST_TEST(to_hex(*sealed) == expect);
    auto opened = aead_open(EncrId::ENCR_CHACHA20_POLY1305, key, nonce, aad, *sealed);
    BOOST_REQUIRE(opened);
    BOOST_TEST(std::string(opened->begin(), opened->end()) == text);
    (*sealed)[0] ^= 1;
    BOOST_TEST(!aead_open(EncrId::ENCR_CHACHA20_POLY1305, key, nonce, aad, *sealed));
}

BOOST_AUTO_TEST_SUITE_END()

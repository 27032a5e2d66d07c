#include <boost/test/unit_test.hpp>

#include <map>

#include "ike/crypto/auth.hpp"
#include "ike/crypto/prf.hpp"
#include "print.hpp"

using namespace postern;
using namespace postern::ike;
using namespace postern::ike::crypto;

namespace {

Bytes octets() {
    auto o = signed_octets(PrfId::PRF_HMAC_SHA2_256, from_hex("aabbccdd"), from_hex("0102"),
                           Secret(Bytes(32, 9)), from_hex("02000000 7365727665722e6578616d706c65"));
    BOOST_REQUIRE(o);
    return *o;
}

const PrivateKey& key(KeyType t) {
    static std::map<KeyType, PrivateKey> cache;
    auto it = cache.find(t);
    if (it == cache.end()) it = cache.emplace(t, *PrivateKey::generate(t)).first;
    return it->second;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(auth)

BOOST_AUTO_TEST_CASE(signed_octets_layout) {
    Secret sk_p(Bytes(32, 9));
    const Bytes id = from_hex("020000007365727665722e6578616d706c65");
    auto o = octets();
    auto mac = Prf::create(PrfId::PRF_HMAC_SHA2_256)->compute(sk_p.view(), {id});
    BOOST_TEST(to_hex(o) == "aabbccdd0102" + to_hex(mac.view()));
}

BOOST_AUTO_TEST_CASE(psk_round_trip) {
    const auto psk = as_bytes("correct horse battery staple");
    auto mic = psk_auth(PrfId::PRF_HMAC_SHA2_256, psk, octets());
    BOOST_REQUIRE(mic);
    // prf(prf(secret, "Key Pad for IKEv2"), octets), computed step by step.
    auto prf = *Prf::create(PrfId::PRF_HMAC_SHA2_256);
    auto inner = prf.compute(psk, {as_bytes("Key Pad for IKEv2")});
    BOOST_TEST(to_hex(mic->view()) == to_hex(prf.compute(inner.view(), {octets()}).view()));

    BOOST_TEST(verify_psk_auth(PrfId::PRF_HMAC_SHA2_256, psk, octets(), mic->view()).has_value());
    auto wrong =
        verify_psk_auth(PrfId::PRF_HMAC_SHA2_256, as_bytes("wrong"), octets(), mic->view());
    BOOST_REQUIRE(!wrong);
    BOOST_TEST(wrong.error().find("MIC mismatch") != std::string::npos);
    Bytes tampered = octets();
    tampered[0] ^= 1;
    BOOST_TEST(!verify_psk_auth(PrfId::PRF_HMAC_SHA2_256, psk, tampered, mic->view()));
    BOOST_TEST(!verify_psk_auth(PrfId::PRF_HMAC_SHA2_256, psk, octets(), mic->view().first(31)));
}

struct SigCase {
    AuthMethod method;
    SignatureScheme scheme;
    KeyType key;
};

const SigCase kSigCases[] = {
    {AuthMethod::RSA_SIG, SignatureScheme::rsa_pkcs1_sha1, KeyType::rsa},
    {AuthMethod::ECDSA_SHA256_P256, SignatureScheme::ecdsa_sha256, KeyType::ec_p256},
    {AuthMethod::ECDSA_SHA384_P384, SignatureScheme::ecdsa_sha384, KeyType::ec_p384},
    {AuthMethod::ECDSA_SHA512_P521, SignatureScheme::ecdsa_sha512, KeyType::ec_p521},
    {AuthMethod::DIGITAL_SIGNATURE, SignatureScheme::rsa_pkcs1_sha256, KeyType::rsa},
    {AuthMethod::DIGITAL_SIGNATURE, SignatureScheme::rsa_pkcs1_sha384, KeyType::rsa},
    {AuthMethod::DIGITAL_SIGNATURE, SignatureScheme::rsa_pkcs1_sha512, KeyType::rsa},
    {AuthMethod::DIGITAL_SIGNATURE, SignatureScheme::rsa_pss_sha256, KeyType::rsa},
    {AuthMethod::DIGITAL_SIGNATURE, SignatureScheme::rsa_pss_sha384, KeyType::rsa},
    {AuthMethod::DIGITAL_SIGNATURE, SignatureScheme::rsa_pss_sha512, KeyType::rsa},
    {AuthMethod::DIGITAL_SIGNATURE, SignatureScheme::ecdsa_sha256, KeyType::ec_p256},
    {AuthMethod::DIGITAL_SIGNATURE, SignatureScheme::ecdsa_sha384, KeyType::ec_p384},
    {AuthMethod::DIGITAL_SIGNATURE, SignatureScheme::ecdsa_sha512, KeyType::ec_p521},
    {AuthMethod::DIGITAL_SIGNATURE, SignatureScheme::ecdsa_sha256, KeyType::ec_p384},
    {AuthMethod::DIGITAL_SIGNATURE, SignatureScheme::ed25519, KeyType::ed25519},
    {AuthMethod::DIGITAL_SIGNATURE, SignatureScheme::ed448, KeyType::ed448},
};

BOOST_AUTO_TEST_CASE(signature_round_trips_and_rejections) {
    for (const auto& c : kSigCases) {
        BOOST_TEST_CONTEXT(c.method << " " << to_string(c.scheme) << " " << to_string(c.key)) {
            const PrivateKey& priv = key(c.key);
            const PublicKey pub = priv.public_key();
            auto data = sign_auth(c.method, c.scheme, priv, octets());
            BOOST_REQUIRE_MESSAGE(data, data.error());
            auto ok = verify_auth(c.method, pub, octets(), *data);
            BOOST_REQUIRE_MESSAGE(ok, ok.error());
            BOOST_TEST(to_string(*ok) == to_string(c.scheme));

            Bytes tampered_msg = octets();
            tampered_msg.back() ^= 1;
            auto bad = verify_auth(c.method, pub, tampered_msg, *data);
            BOOST_REQUIRE(!bad);
            BOOST_TEST(bad.error().find("does not verify") != std::string::npos, bad.error());

            Bytes tampered_sig = *data;
            tampered_sig[tampered_sig.size() / 2 + 1] ^= 0x10;
            BOOST_TEST(!verify_auth(c.method, pub, octets(), tampered_sig));

            // A different key of the same type.
            auto other = PrivateKey::generate(c.key);
            BOOST_REQUIRE(other);
            BOOST_TEST(!verify_auth(c.method, other->public_key(), octets(), *data));
        }
    }
}

BOOST_AUTO_TEST_CASE(algorithm_identifier_must_match_key) {
    // An ECDSA signature presented with an EC key but an RSA AlgorithmIdentifier.
    const PrivateKey& ec = key(KeyType::ec_p256);
    auto sig = sign(SignatureScheme::ecdsa_sha256, ec, octets());
    BOOST_REQUIRE(sig);
    auto lying = digital_signature_auth_data(SignatureScheme::rsa_pkcs1_sha256, *sig);
    BOOST_REQUIRE(lying);
    auto r = verify_auth(AuthMethod::DIGITAL_SIGNATURE, ec.public_key(), octets(), *lying);
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().find("does not match") != std::string::npos, r.error());

    // An RSA key with an Ed25519 AlgorithmIdentifier.
    auto rsa_data = sign_auth(AuthMethod::DIGITAL_SIGNATURE, SignatureScheme::rsa_pkcs1_sha256,
                              key(KeyType::rsa), octets());
    BOOST_REQUIRE(rsa_data);
    auto ed = verify_auth(AuthMethod::DIGITAL_SIGNATURE, key(KeyType::ed25519).public_key(),
                          octets(), *rsa_data);
    BOOST_REQUIRE(!ed);
    BOOST_TEST(ed.error().find("does not match") != std::string::npos, ed.error());

    // Unknown AlgorithmIdentifier, bad length octet, empty data.
    Bytes unknown = *rsa_data;
    unknown[5] ^= 0x01;
    auto u = verify_auth(AuthMethod::DIGITAL_SIGNATURE, key(KeyType::rsa).public_key(), octets(),
                         unknown);
    BOOST_REQUIRE(!u);
    BOOST_TEST(u.error().find("unsupported") != std::string::npos, u.error());
    BOOST_TEST(!verify_auth(AuthMethod::DIGITAL_SIGNATURE, key(KeyType::rsa).public_key(), octets(),
                            from_hex("ff3000")));
    BOOST_TEST(!verify_auth(AuthMethod::DIGITAL_SIGNATURE, key(KeyType::rsa).public_key(), octets(),
                            Bytes{}));

    // RFC 4754 methods fix the curve.
    auto p384 = sign_auth(AuthMethod::ECDSA_SHA256_P256, SignatureScheme::ecdsa_sha256,
                          key(KeyType::ec_p384), octets());
    BOOST_TEST(!p384);
    auto m9 = sign_auth(AuthMethod::ECDSA_SHA256_P256, SignatureScheme::ecdsa_sha256,
                        key(KeyType::ec_p256), octets());
    BOOST_REQUIRE(m9);
    BOOST_TEST(m9->size() == 64u);
    BOOST_TEST(!verify_auth(AuthMethod::ECDSA_SHA384_P384, key(KeyType::ec_p256).public_key(),
                            octets(), *m9));
    // Method 1 with a PSS scheme is refused.
    BOOST_TEST(!sign_auth(AuthMethod::RSA_SIG, SignatureScheme::rsa_pss_sha256, key(KeyType::rsa),
                          octets()));
}

BOOST_AUTO_TEST_CASE(hash_algorithm_notify) {
    const auto ours = supported_hash_algorithms();
    const Bytes data = encode_hash_algorithms(ours);
    BOOST_TEST(to_hex(data) == "0002000300040005");
    auto back = decode_hash_algorithms(data);
    BOOST_REQUIRE(back);
    BOOST_TEST((*back == ours));
    BOOST_TEST(!decode_hash_algorithms(from_hex("000200")));
    auto unknown = decode_hash_algorithms(from_hex("0009"));
    BOOST_REQUIRE(unknown);
    BOOST_TEST(static_cast<int>(unknown->front()) == 9);
    BOOST_TEST(hash_of(SignatureScheme::ed25519) == HashAlgorithm::IDENTITY);
    BOOST_TEST(hash_of(SignatureScheme::rsa_pss_sha384) == HashAlgorithm::SHA2_384);
}

BOOST_AUTO_TEST_SUITE_END()

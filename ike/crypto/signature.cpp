#include "ike/crypto/signature.hpp"

#include <algorithm>
#include <array>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

namespace postern::ike::crypto {

namespace {

// RFC 7427 Appendix A encodings. Hash AlgorithmIdentifiers inside the PSS parameters carry an
// explicit NULL, as OpenSSL and strongSwan emit them.
constexpr std::array<std::uint8_t, 15> kSha256Rsa = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                                     0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};
constexpr std::array<std::uint8_t, 15> kSha384Rsa = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                                     0xf7, 0x0d, 0x01, 0x01, 0x0c, 0x05, 0x00};
constexpr std::array<std::uint8_t, 15> kSha512Rsa = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                                     0xf7, 0x0d, 0x01, 0x01, 0x0d, 0x05, 0x00};
constexpr std::array<std::uint8_t, 12> kEcdsaSha256 = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                                       0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
constexpr std::array<std::uint8_t, 12> kEcdsaSha384 = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                                       0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
constexpr std::array<std::uint8_t, 12> kEcdsaSha512 = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                                       0x48, 0xce, 0x3d, 0x04, 0x03, 0x04};
constexpr std::array<std::uint8_t, 7> kEd25519 = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70};
constexpr std::array<std::uint8_t, 7> kEd448 = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x71};

// RSASSA-PSS { hashAlgorithm shaN, maskGenAlgorithm mgf1(shaN), saltLength N/8 }.
// Bytes that differ between the three: the hash OID's last octet (twice) and the salt length.
constexpr std::array<std::uint8_t, 67> pss_algid(std::uint8_t hash_oid_last, std::uint8_t salt) {
    return {0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
            0x01, 0x01, 0x0a, 0x30, 0x34, 0xa0, 0x0f, 0x30, 0x0d, 0x06,
            0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, hash_oid_last,
            0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86,
            0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30, 0x0d, 0x06,
            0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, hash_oid_last,
            0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, salt};
}
constexpr auto kPssSha256 = pss_algid(0x01, 32);
constexpr auto kPssSha384 = pss_algid(0x02, 48);
constexpr auto kPssSha512 = pss_algid(0x03, 64);

constexpr std::array kAllSchemes = {
    SignatureScheme::rsa_pkcs1_sha1,   SignatureScheme::rsa_pkcs1_sha256,
    SignatureScheme::rsa_pkcs1_sha384, SignatureScheme::rsa_pkcs1_sha512,
    SignatureScheme::rsa_pss_sha256,   SignatureScheme::rsa_pss_sha384,
    SignatureScheme::rsa_pss_sha512,   SignatureScheme::ecdsa_sha256,
    SignatureScheme::ecdsa_sha384,     SignatureScheme::ecdsa_sha512,
    SignatureScheme::ed25519,          SignatureScheme::ed448,
};

// OpenSSL digest name, or nullptr for EdDSA (which hashes internally).
const char* digest_of(SignatureScheme s) {
    switch (hash_of(s)) {
        case HashAlgorithm::SHA1:
            return "SHA1";
        case HashAlgorithm::SHA2_256:
            return "SHA256";
        case HashAlgorithm::SHA2_384:
            return "SHA384";
        case HashAlgorithm::SHA2_512:
            return "SHA512";
        default:
            return nullptr;
    }
}

bool is_pss(SignatureScheme s) {
    return s == SignatureScheme::rsa_pss_sha256 || s == SignatureScheme::rsa_pss_sha384 ||
           s == SignatureScheme::rsa_pss_sha512;
}

KeyType type_of(EVP_PKEY* key) {
    switch (EVP_PKEY_get_base_id(key)) {
        case EVP_PKEY_RSA:
            return KeyType::rsa;
        case EVP_PKEY_RSA_PSS:
            return KeyType::rsa_pss;
        case EVP_PKEY_ED25519:
            return KeyType::ed25519;
        case EVP_PKEY_ED448:
            return KeyType::ed448;
        case EVP_PKEY_EC: {
            char group[64] = {};
            std::size_t len = 0;
            if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                               &len) != 1)
                return KeyType::other;
            const std::string_view g(group, len);
            if (g == "prime256v1" || g == "P-256") return KeyType::ec_p256;
            if (g == "secp384r1" || g == "P-384") return KeyType::ec_p384;
            if (g == "secp521r1" || g == "P-521") return KeyType::ec_p521;
            return KeyType::other;
        }
        default:
            return KeyType::other;
    }
}

// A digest-sign/verify context set up for the scheme (padding, PSS salt and MGF1 hash).
tl::expected<ossl::MdCtx, std::string> make_ctx(SignatureScheme s, EVP_PKEY* key, bool signing) {
    ossl::MdCtx md(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;  // owned by md
    const char* digest = digest_of(s);
    const int ok =
        signing ? EVP_DigestSignInit_ex(md.get(), &pctx, digest, nullptr, nullptr, key, nullptr)
                : EVP_DigestVerifyInit_ex(md.get(), &pctx, digest, nullptr, nullptr, key, nullptr);
    if (!md || ok != 1) return tl::make_unexpected(ossl::error("signature context"));
    if (is_pss(s)) {
        // RFC 7427 / RFC 8247: MGF1 with the message hash, salt length equal to the hash.
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, digest, nullptr) != 1)
            return tl::make_unexpected(ossl::error("RSA-PSS parameters"));
    } else if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA &&
               EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
        return tl::make_unexpected(ossl::error("RSA padding"));
    }
    return md;
}

tl::expected<ossl::Pkey, std::string> decode_key(ByteView der, bool is_private) {
    const unsigned char* p = der.data();
    EVP_PKEY* key = is_private ? d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size()))
                               : d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
    if (!key) return tl::make_unexpected(ossl::error(is_private ? "private key" : "public key"));
    ossl::Pkey owned(key);
    if (p != der.data() + der.size())
        return tl::make_unexpected(std::string("trailing data after the ") +
                                   (is_private ? "private" : "public") + " key");
    return owned;
}

struct BioFree {
    void operator()(BIO* b) const { BIO_free(b); }
};

}  // namespace

std::string_view to_string(SignatureScheme s) {
    switch (s) {
        case SignatureScheme::rsa_pkcs1_sha1:
            return "RSA-PKCS1-SHA1";
        case SignatureScheme::rsa_pkcs1_sha256:
            return "RSA-PKCS1-SHA256";
        case SignatureScheme::rsa_pkcs1_sha384:
            return "RSA-PKCS1-SHA384";
        case SignatureScheme::rsa_pkcs1_sha512:
            return "RSA-PKCS1-SHA512";
        case SignatureScheme::rsa_pss_sha256:
            return "RSA-PSS-SHA256";
        case SignatureScheme::rsa_pss_sha384:
            return "RSA-PSS-SHA384";
        case SignatureScheme::rsa_pss_sha512:
            return "RSA-PSS-SHA512";
        case SignatureScheme::ecdsa_sha256:
            return "ECDSA-SHA256";
        case SignatureScheme::ecdsa_sha384:
            return "ECDSA-SHA384";
        case SignatureScheme::ecdsa_sha512:
            return "ECDSA-SHA512";
        case SignatureScheme::ed25519:
            return "Ed25519";
        case SignatureScheme::ed448:
            return "Ed448";
    }
    return "?";
}

std::string_view to_string(KeyType t) {
    switch (t) {
        case KeyType::rsa:
            return "RSA";
        case KeyType::rsa_pss:
            return "RSA-PSS";
        case KeyType::ec_p256:
            return "ECDSA P-256";
        case KeyType::ec_p384:
            return "ECDSA P-384";
        case KeyType::ec_p521:
            return "ECDSA P-521";
        case KeyType::ed25519:
            return "Ed25519";
        case KeyType::ed448:
            return "Ed448";
        case KeyType::other:
            return "unsupported";
    }
    return "?";
}

HashAlgorithm hash_of(SignatureScheme s) {
    switch (s) {
        case SignatureScheme::rsa_pkcs1_sha1:
            return HashAlgorithm::SHA1;
        case SignatureScheme::rsa_pkcs1_sha256:
        case SignatureScheme::rsa_pss_sha256:
        case SignatureScheme::ecdsa_sha256:
            return HashAlgorithm::SHA2_256;
        case SignatureScheme::rsa_pkcs1_sha384:
        case SignatureScheme::rsa_pss_sha384:
        case SignatureScheme::ecdsa_sha384:
            return HashAlgorithm::SHA2_384;
        case SignatureScheme::rsa_pkcs1_sha512:
        case SignatureScheme::rsa_pss_sha512:
        case SignatureScheme::ecdsa_sha512:
            return HashAlgorithm::SHA2_512;
        case SignatureScheme::ed25519:
        case SignatureScheme::ed448:
            return HashAlgorithm::IDENTITY;
    }
    return HashAlgorithm::IDENTITY;
}

std::optional<ByteView> algorithm_identifier(SignatureScheme s) {
    switch (s) {
        case SignatureScheme::rsa_pkcs1_sha1:
            return std::nullopt;
        case SignatureScheme::rsa_pkcs1_sha256:
            return ByteView(kSha256Rsa);
        case SignatureScheme::rsa_pkcs1_sha384:
            return ByteView(kSha384Rsa);
        case SignatureScheme::rsa_pkcs1_sha512:
            return ByteView(kSha512Rsa);
        case SignatureScheme::rsa_pss_sha256:
            return ByteView(kPssSha256);
        case SignatureScheme::rsa_pss_sha384:
            return ByteView(kPssSha384);
        case SignatureScheme::rsa_pss_sha512:
            return ByteView(kPssSha512);
        case SignatureScheme::ecdsa_sha256:
            return ByteView(kEcdsaSha256);
        case SignatureScheme::ecdsa_sha384:
            return ByteView(kEcdsaSha384);
        case SignatureScheme::ecdsa_sha512:
            return ByteView(kEcdsaSha512);
        case SignatureScheme::ed25519:
            return ByteView(kEd25519);
        case SignatureScheme::ed448:
            return ByteView(kEd448);
    }
    return std::nullopt;
}

std::optional<SignatureScheme> scheme_from_algorithm_identifier(ByteView der) {
    for (auto s : kAllSchemes) {
        auto id = algorithm_identifier(s);
        if (id && std::equal(id->begin(), id->end(), der.begin(), der.end())) return s;
    }
    return std::nullopt;
}

bool scheme_fits_key(SignatureScheme s, KeyType t) {
    switch (s) {
        case SignatureScheme::rsa_pkcs1_sha1:
        case SignatureScheme::rsa_pkcs1_sha256:
        case SignatureScheme::rsa_pkcs1_sha384:
        case SignatureScheme::rsa_pkcs1_sha512:
            return t == KeyType::rsa;
        case SignatureScheme::rsa_pss_sha256:
        case SignatureScheme::rsa_pss_sha384:
        case SignatureScheme::rsa_pss_sha512:
            return t == KeyType::rsa || t == KeyType::rsa_pss;
        case SignatureScheme::ecdsa_sha256:
        case SignatureScheme::ecdsa_sha384:
        case SignatureScheme::ecdsa_sha512:
            return t == KeyType::ec_p256 || t == KeyType::ec_p384 || t == KeyType::ec_p521;
        case SignatureScheme::ed25519:
            return t == KeyType::ed25519;
        case SignatureScheme::ed448:
            return t == KeyType::ed448;
    }
    return false;
}

tl::expected<PublicKey, std::string> PublicKey::from_der(ByteView spki) {
    auto key = decode_key(spki, false);
    if (!key) return tl::make_unexpected(key.error());
    return PublicKey(std::move(*key));
}

tl::expected<PublicKey, std::string> PublicKey::from_pem(std::string_view pem) {
    std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    EVP_PKEY* key = bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr;
    if (!key) return tl::make_unexpected(ossl::error("PEM public key"));
    return PublicKey(ossl::Pkey(key));
}

KeyType PublicKey::type() const {
    return type_of(key_.get());
}

tl::expected<PrivateKey, std::string> PrivateKey::from_der(ByteView der) {
    auto key = decode_key(der, true);
    if (!key) return tl::make_unexpected(key.error());
    return PrivateKey(std::move(*key));
}

tl::expected<PrivateKey, std::string> PrivateKey::from_pem(std::string_view pem) {
    std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
    if (!key) return tl::make_unexpected(ossl::error("PEM private key"));
    return PrivateKey(ossl::Pkey(key));
}

tl::expected<PrivateKey, std::string> PrivateKey::generate(KeyType type, unsigned rsa_bits) {
    EVP_PKEY* key = nullptr;
    switch (type) {
        case KeyType::rsa:
            key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{rsa_bits});
            break;
        case KeyType::ec_p256:
            key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "prime256v1");
            break;
        case KeyType::ec_p384:
            key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "secp384r1");
            break;
        case KeyType::ec_p521:
            key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "secp521r1");
            break;
        case KeyType::ed25519:
            key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
            break;
        case KeyType::ed448:
            key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448");
            break;
        default:
            return tl::make_unexpected("cannot generate a key of type " +
                                       std::string(to_string(type)));
    }
    if (!key) return tl::make_unexpected(ossl::error("key generation"));
    return PrivateKey(ossl::Pkey(key));
}

KeyType PrivateKey::type() const {
    return type_of(key_.get());
}

PublicKey PrivateKey::public_key() const {
    // Round-trip through SubjectPublicKeyInfo so the result holds no private material.
    unsigned char* der = nullptr;
    const int len = i2d_PUBKEY(key_.get(), &der);
    if (len <= 0) ossl::fatal("i2d_PUBKEY");
    auto pub = PublicKey::from_der(ByteView(der, static_cast<std::size_t>(len)));
    OPENSSL_free(der);
    if (!pub) ossl::fatal("public key round trip");
    return std::move(*pub);
}

tl::expected<Bytes, std::string> sign(SignatureScheme s, const PrivateKey& key, ByteView message) {
    if (!scheme_fits_key(s, key.type())) {
        return tl::make_unexpected(std::string(to_string(s)) + " cannot be made with a " +
                                   std::string(to_string(key.type())) + " key");
    }
    auto md = make_ctx(s, key.get(), true);
    if (!md) return tl::make_unexpected(md.error());
    std::size_t len = 0;
    if (EVP_DigestSign(md->get(), nullptr, &len, message.data(), message.size()) != 1)
        return tl::make_unexpected(ossl::error("signing"));
    Bytes sig(len);
    if (EVP_DigestSign(md->get(), sig.data(), &len, message.data(), message.size()) != 1)
        return tl::make_unexpected(ossl::error("signing"));
    sig.resize(len);
    return sig;
}

tl::expected<void, std::string> verify(SignatureScheme s, const PublicKey& key, ByteView message,
                                       ByteView signature) {
    if (!scheme_fits_key(s, key.type())) {
        return tl::make_unexpected(std::string(to_string(s)) + " signature cannot come from a " +
                                   std::string(to_string(key.type())) + " key");
    }
    auto md = make_ctx(s, key.get(), false);
    if (!md) return tl::make_unexpected(md.error());
    const int ok = EVP_DigestVerify(md->get(), signature.data(), signature.size(), message.data(),
                                    message.size());
    if (ok != 1) {
        ossl::clear_errors();
        return tl::make_unexpected(std::string(to_string(s)) + " signature does not verify");
    }
    return {};
}

tl::expected<Bytes, std::string> ecdsa_der_to_raw(ByteView der, std::size_t n) {
    const unsigned char* p = der.data();
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
    if (!sig) return tl::make_unexpected(ossl::error("ECDSA signature is not DER"));
    const BIGNUM* r = ECDSA_SIG_get0_r(sig);
    const BIGNUM* s = ECDSA_SIG_get0_s(sig);
    Bytes out(2 * n);
    const bool ok = BN_bn2binpad(r, out.data(), static_cast<int>(n)) >= 0 &&
                    BN_bn2binpad(s, out.data() + n, static_cast<int>(n)) >= 0;
    ECDSA_SIG_free(sig);
    if (!ok) return tl::make_unexpected("ECDSA signature component longer than the curve order");
    return out;
}

tl::expected<Bytes, std::string> ecdsa_raw_to_der(ByteView raw, std::size_t n) {
    if (raw.size() != 2 * n) {
        return tl::make_unexpected("ECDSA r|s signature must be " + std::to_string(2 * n) +
                                   " octets, got " + std::to_string(raw.size()));
    }
    ECDSA_SIG* sig = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(raw.data(), static_cast<int>(n), nullptr);
    BIGNUM* s = BN_bin2bn(raw.data() + n, static_cast<int>(n), nullptr);
    if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) ossl::fatal("ECDSA_SIG");
    unsigned char* der = nullptr;
    const int len = i2d_ECDSA_SIG(sig, &der);
    ECDSA_SIG_free(sig);
    if (len <= 0) return tl::make_unexpected(ossl::error("ECDSA signature encoding"));
    Bytes out(der, der + len);
    OPENSSL_free(der);
    return out;
}

}  // namespace postern::ike::crypto

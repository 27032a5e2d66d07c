// Public/private keys and the signature schemes usable in IKEv2 AUTH payloads (RFC 7296 §3.8,
// RFC 4754, RFC 7427, RFC 8420).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "ike/crypto/ossl.hpp"
#include "ike/wire/constants.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::crypto {

enum class SignatureScheme {
    rsa_pkcs1_sha1,  // only for AUTH method 1 (RSA Digital Signature)
    rsa_pkcs1_sha256,
    rsa_pkcs1_sha384,
    rsa_pkcs1_sha512,
    rsa_pss_sha256,  // MGF1 with the same hash, salt length = hash length
    rsa_pss_sha384,
    rsa_pss_sha512,
    ecdsa_sha256,
    ecdsa_sha384,
    ecdsa_sha512,
    ed25519,
    ed448,
};

std::string_view to_string(SignatureScheme s);

// The RFC 7427 §7 hash the scheme signs with (IDENTITY for EdDSA, RFC 8420 §2).
HashAlgorithm hash_of(SignatureScheme s);

// DER AlgorithmIdentifier for RFC 7427 (sha256WithRSAEncryption, RSASSA-PSS with its params,
// ecdsa-with-SHA256, id-Ed25519, ...); nullopt for rsa_pkcs1_sha1, which we only use with
// method 1.
std::optional<ByteView> algorithm_identifier(SignatureScheme s);

// The scheme whose AlgorithmIdentifier is exactly this DER encoding, or nullopt.
std::optional<SignatureScheme> scheme_from_algorithm_identifier(ByteView der);

enum class KeyType { rsa, rsa_pss, ec_p256, ec_p384, ec_p521, ed25519, ed448, other };
std::string_view to_string(KeyType t);

class PublicKey {
  public:
    // SubjectPublicKeyInfo, DER or PEM.
    static tl::expected<PublicKey, std::string> from_der(ByteView spki);
    static tl::expected<PublicKey, std::string> from_pem(std::string_view pem);
    explicit PublicKey(ossl::Pkey key) : key_(std::move(key)) {}

    KeyType type() const;
    EVP_PKEY* get() const { return key_.get(); }

  private:
    ossl::Pkey key_;
};

class PrivateKey {
  public:
    // PKCS#8 / traditional private key, DER or PEM (unencrypted).
    static tl::expected<PrivateKey, std::string> from_der(ByteView der);
    static tl::expected<PrivateKey, std::string> from_pem(std::string_view pem);
    // A fresh key of the given type (tests, `postern pki`). RSA uses 2048 bits unless given.
    static tl::expected<PrivateKey, std::string> generate(KeyType type, unsigned rsa_bits = 2048);
    explicit PrivateKey(ossl::Pkey key) : key_(std::move(key)) {}

    KeyType type() const;
    EVP_PKEY* get() const { return key_.get(); }
    PublicKey public_key() const;

  private:
    ossl::Pkey key_;
};

// Whether a key of this type can make or check signatures of that scheme.
bool scheme_fits_key(SignatureScheme s, KeyType t);

// A signature over message in the scheme's native encoding (ECDSA: DER Ecdsa-Sig-Value).
tl::expected<Bytes, std::string> sign(SignatureScheme s, const PrivateKey& key, ByteView message);

// Checks a signature in the scheme's native encoding; the error says why it was refused.
tl::expected<void, std::string> verify(SignatureScheme s, const PublicKey& key, ByteView message,
                                       ByteView signature);

// ECDSA signature conversions between DER (RFC 7427) and r | s, each left-padded to
// component_size octets (RFC 4754 §7).
tl::expected<Bytes, std::string> ecdsa_der_to_raw(ByteView der, std::size_t component_size);
tl::expected<Bytes, std::string> ecdsa_raw_to_der(ByteView raw, std::size_t component_size);

}  // namespace postern::ike::crypto

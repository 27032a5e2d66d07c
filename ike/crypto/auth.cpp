#include "ike/crypto/auth.hpp"

#include <algorithm>

#include "ike/crypto/prf.hpp"

namespace postern::ike::crypto {

namespace {

// RFC 7296 §2.15: the pad string is the 17 ASCII characters without a terminating NUL.
constexpr std::string_view kKeyPad = "Key Pad for IKEv2";

struct EcdsaMethod {
    AuthMethod method;
    SignatureScheme scheme;
    KeyType key;
    std::size_t component_size;
};

constexpr EcdsaMethod kEcdsaMethods[] = {
    {AuthMethod::ECDSA_SHA256_P256, SignatureScheme::ecdsa_sha256, KeyType::ec_p256, 32},
    {AuthMethod::ECDSA_SHA384_P384, SignatureScheme::ecdsa_sha384, KeyType::ec_p384, 48},
    {AuthMethod::ECDSA_SHA512_P521, SignatureScheme::ecdsa_sha512, KeyType::ec_p521, 66},
};

const EcdsaMethod* ecdsa_method(AuthMethod m) {
    for (const auto& e : kEcdsaMethods)
        if (e.method == m) return &e;
    return nullptr;
}

std::string method_name(AuthMethod m) {
    return "AUTH method " + to_string(m);
}

}  // namespace

tl::expected<Bytes, std::string> signed_octets(PrfId prf_id, ByteView real_message,
                                               ByteView peer_nonce, const Secret& sk_p,
                                               ByteView id_payload) {
    auto prf = Prf::create(prf_id);
    if (!prf) return tl::make_unexpected(prf.error());
    Secret mac_id = prf->compute(sk_p.view(), {id_payload});
    Bytes out;
    out.reserve(real_message.size() + peer_nonce.size() + mac_id.size());
    out.insert(out.end(), real_message.begin(), real_message.end());
    out.insert(out.end(), peer_nonce.begin(), peer_nonce.end());
    out.insert(out.end(), mac_id.view().begin(), mac_id.view().end());
    return out;
}

tl::expected<Secret, std::string> psk_auth(PrfId prf_id, ByteView shared_secret, ByteView octets) {
    auto prf = Prf::create(prf_id);
    if (!prf) return tl::make_unexpected(prf.error());
    Secret padded_key = prf->compute(shared_secret, {as_bytes(kKeyPad)});
    return prf->compute(padded_key.view(), {octets});
}

tl::expected<void, std::string> verify_psk_auth(PrfId prf_id, ByteView shared_secret,
                                                ByteView octets, ByteView auth_data) {
    auto expected_mic = psk_auth(prf_id, shared_secret, octets);
    if (!expected_mic) return tl::make_unexpected(expected_mic.error());
    if (!equal_ct(expected_mic->view(), auth_data))
        return tl::make_unexpected(
            "shared key MIC mismatch: the peer used a different "
            "pre-shared key");
    return {};
}

tl::expected<Bytes, std::string> digital_signature_auth_data(SignatureScheme scheme,
                                                             ByteView signature) {
    auto algid = algorithm_identifier(scheme);
    if (!algid) {
        return tl::make_unexpected(std::string(to_string(scheme)) +
                                   " has no RFC 7427 AlgorithmIdentifier");
    }
    // RFC 7427 §3: one octet holding the length of the DER AlgorithmIdentifier.
    Bytes out;
    out.reserve(1 + algid->size() + signature.size());
    out.push_back(static_cast<std::uint8_t>(algid->size()));
    out.insert(out.end(), algid->begin(), algid->end());
    out.insert(out.end(), signature.begin(), signature.end());
    return out;
}

tl::expected<Bytes, std::string> sign_auth(AuthMethod method, SignatureScheme scheme,
                                           const PrivateKey& key, ByteView octets) {
    switch (method) {
        case AuthMethod::RSA_SIG:
            // RFC 7296 §3.8: RSA PKCS#1 v1.5 over SHA-1, nothing else.
            if (scheme != SignatureScheme::rsa_pkcs1_sha1)
                return tl::make_unexpected(method_name(method) + " signs with RSA-PKCS1-SHA1 only");
            return sign(scheme, key, octets);
        case AuthMethod::ECDSA_SHA256_P256:
        case AuthMethod::ECDSA_SHA384_P384:
        case AuthMethod::ECDSA_SHA512_P521: {
            const EcdsaMethod* e = ecdsa_method(method);
            if (scheme != e->scheme || key.type() != e->key) {
                return tl::make_unexpected(method_name(method) + " needs " +
                                           std::string(to_string(e->scheme)) + " with a " +
                                           std::string(to_string(e->key)) + " key");
            }
            auto der = sign(scheme, key, octets);
            if (!der) return der;
            return ecdsa_der_to_raw(*der, e->component_size);
        }
        case AuthMethod::DIGITAL_SIGNATURE: {
            if (!algorithm_identifier(scheme)) {
                return tl::make_unexpected(std::string(to_string(scheme)) +
                                           " cannot be used with " + method_name(method));
            }
            auto sig = sign(scheme, key, octets);
            if (!sig) return sig;
            return digital_signature_auth_data(scheme, *sig);
        }
        default:
            return tl::make_unexpected(method_name(method) +
                                       " is not a supported signature method");
    }
}

tl::expected<SignatureScheme, std::string> verify_auth(AuthMethod method, const PublicKey& key,
                                                       ByteView octets, ByteView auth_data) {
    switch (method) {
        case AuthMethod::RSA_SIG: {
            if (key.type() != KeyType::rsa) {
                return tl::make_unexpected(method_name(method) +
                                           " needs an RSA key, the peer's is " +
                                           std::string(to_string(key.type())));
            }
            auto ok = verify(SignatureScheme::rsa_pkcs1_sha1, key, octets, auth_data);
            if (!ok) return tl::make_unexpected(ok.error());
            return SignatureScheme::rsa_pkcs1_sha1;
        }
        case AuthMethod::ECDSA_SHA256_P256:
        case AuthMethod::ECDSA_SHA384_P384:
        case AuthMethod::ECDSA_SHA512_P521: {
            const EcdsaMethod* e = ecdsa_method(method);
            // RFC 4754 §3: the method fixes the curve as well as the hash.
            if (key.type() != e->key) {
                return tl::make_unexpected(method_name(method) + " needs a " +
                                           std::string(to_string(e->key)) + " key, the peer's is " +
                                           std::string(to_string(key.type())));
            }
            auto der = ecdsa_raw_to_der(auth_data, e->component_size);
            if (!der) return tl::make_unexpected(der.error());
            auto ok = verify(e->scheme, key, octets, *der);
            if (!ok) return tl::make_unexpected(ok.error());
            return e->scheme;
        }
        case AuthMethod::DIGITAL_SIGNATURE: {
            if (auth_data.empty())
                return tl::make_unexpected("RFC 7427 authentication data is empty");
            const std::size_t len = auth_data[0];
            if (auth_data.size() < 1 + len) {
                return tl::make_unexpected(
                    "RFC 7427 AlgorithmIdentifier length " + std::to_string(len) + " exceeds the " +
                    std::to_string(auth_data.size() - 1) + " octets that follow");
            }
            const ByteView algid = auth_data.subspan(1, len);
            auto scheme = scheme_from_algorithm_identifier(algid);
            if (!scheme) {
                return tl::make_unexpected("unsupported RFC 7427 AlgorithmIdentifier " +
                                           to_hex(algid));
            }
            if (!scheme_fits_key(*scheme, key.type())) {
                return tl::make_unexpected(
                    "AlgorithmIdentifier " + std::string(to_string(*scheme)) +
                    " does not match the peer's " + std::string(to_string(key.type())) + " key");
            }
            auto ok = verify(*scheme, key, octets, auth_data.subspan(1 + len));
            if (!ok) return tl::make_unexpected(ok.error());
            return *scheme;
        }
        default:
            return tl::make_unexpected(method_name(method) +
                                       " is not a supported signature method");
    }
}

std::vector<HashAlgorithm> supported_hash_algorithms() {
    return {HashAlgorithm::SHA2_256, HashAlgorithm::SHA2_384, HashAlgorithm::SHA2_512,
            HashAlgorithm::IDENTITY};
}

Bytes encode_hash_algorithms(std::span<const HashAlgorithm> hashes) {
    Bytes out;
    out.reserve(2 * hashes.size());
    for (auto h : hashes) {
        const auto v = static_cast<std::uint16_t>(h);
        out.push_back(static_cast<std::uint8_t>(v >> 8));
        out.push_back(static_cast<std::uint8_t>(v));
    }
    return out;
}

tl::expected<std::vector<HashAlgorithm>, std::string> decode_hash_algorithms(ByteView data) {
    if (data.size() % 2 != 0) {
        return tl::make_unexpected("SIGNATURE_HASH_ALGORITHMS data of " +
                                   std::to_string(data.size()) +
                                   " octets is not a list of 2-octet identifiers");
    }
    std::vector<HashAlgorithm> out;
    for (std::size_t i = 0; i < data.size(); i += 2)
        out.push_back(static_cast<HashAlgorithm>(data[i] << 8 | data[i + 1]));
    return out;
}

}  // namespace postern::ike::crypto

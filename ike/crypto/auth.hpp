// AUTH payload data (RFC 7296 §2.15): the signed octets, shared-key MIC, and signatures for
// methods 1 (RSA), 9-11 (ECDSA, RFC 4754) and 14 (Digital Signature, RFC 7427). Also the
// SIGNATURE_HASH_ALGORITHMS notify data (RFC 7427 §4).
#pragma once

#include <span>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "ike/crypto/secret.hpp"
#include "ike/crypto/signature.hpp"
#include "ike/wire/constants.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::crypto {

// InitiatorSignedOctets / ResponderSignedOctets =
//   RealMessage | Nonce(peer) | prf(SK_p, RestOfIDPayload)
// where RealMessage is our whole first message (IKE_SA_INIT), Nonce is the peer's nonce data,
// SK_p is SK_pi for the initiator's octets and SK_pr for the responder's, and id_payload is
// IDType | RESERVED | Identification Data (the ID payload after its generic header).
tl::expected<Bytes, std::string> signed_octets(PrfId prf, ByteView real_message,
                                               ByteView peer_nonce, const Secret& sk_p,
                                               ByteView id_payload);

// AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>) (method 2).
tl::expected<Secret, std::string> psk_auth(PrfId prf, ByteView shared_secret, ByteView octets);

// Recomputes the shared-key MIC and compares in constant time.
tl::expected<void, std::string> verify_psk_auth(PrfId prf, ByteView shared_secret, ByteView octets,
                                                ByteView auth_data);

// Authentication Data for a signature method:
//   RSA_SIG (1): PKCS#1 v1.5 with SHA-1 (scheme must be rsa_pkcs1_sha1)
//   ECDSA_SHA256_P256 / _SHA384_P384 / _SHA512_P521 (9-11): r | s (RFC 4754), key on the curve
//     the method names, scheme the matching ecdsa_shaN
//   DIGITAL_SIGNATURE (14): ASN.1 length (1 octet) | AlgorithmIdentifier | signature
tl::expected<Bytes, std::string> sign_auth(AuthMethod method, SignatureScheme scheme,
                                           const PrivateKey& key, ByteView octets);

// Verifies Authentication Data of a signature method against the peer's key. For method 14
// the AlgorithmIdentifier must be one we know and must fit the key type. Returns the scheme
// that was verified (so the caller can check it against local policy).
tl::expected<SignatureScheme, std::string> verify_auth(AuthMethod method, const PublicKey& key,
                                                       ByteView octets, ByteView auth_data);

// RFC 7427 method 14 Authentication Data from a ready signature (also used by tests to wrap
// externally made signatures).
tl::expected<Bytes, std::string> digital_signature_auth_data(SignatureScheme scheme,
                                                             ByteView signature);

// ---- SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4) ------------------------------------------------

// The hashes we accept and can sign with, in order of preference.
std::vector<HashAlgorithm> supported_hash_algorithms();

// Notify data: a list of 2-octet hash algorithm identifiers.
Bytes encode_hash_algorithms(std::span<const HashAlgorithm> hashes);

// Parses the notify data; unknown identifiers are kept (they are simply never chosen).
tl::expected<std::vector<HashAlgorithm>, std::string> decode_hash_algorithms(ByteView data);

}  // namespace postern::ike::crypto

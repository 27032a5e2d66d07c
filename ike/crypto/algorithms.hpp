// Descriptors of the IKEv2/ESP transforms Postern implements (RFC 7296 §3.3.2, RFC 8247) and the
// parser for strongSwan-style proposal strings ("aes256gcm16-prfsha256-x25519") that
// administrators write in postern.toml.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "ike/wire/constants.hpp"

namespace postern::ike::crypto {

// Algorithms RFC 8247 demotes (3DES, HMAC-SHA1, MODP-1024) are still the defaults of older
// Windows clients. They are refused unless the connection explicitly allows them.
struct AlgorithmPolicy {
    bool allow_legacy = false;
};

// An encryption transform with its key length attribute (RFC 7296 §3.3.5). key_bits is 0 for
// transforms that take no Key Length attribute (3DES, ChaCha20-Poly1305).
struct EncrInfo {
    EncrId id;
    std::uint16_t key_bits;
    bool aead;
    std::size_t key_size;    // cipher key octets, without salt
    std::size_t salt_size;   // AEAD salt taken from the end of SK_e / KEYMAT (RFC 5282 §7.1)
    std::size_t iv_size;     // explicit IV carried in the SK payload / ESP packet
    std::size_t block_size;  // alignment of the encrypted content (1 = none)
    std::size_t icv_size;    // AEAD tag octets; 0 for CBC (the INTEG transform supplies the ICV)
    bool legacy;
    std::string_view name;
    // Octets of SK_e / ESP encryption key material: cipher key plus salt.
    std::size_t keymat_size() const { return key_size + salt_size; }
};

struct PrfInfo {
    PrfId id;
    std::size_t key_size;  // preferred key length (RFC 7296 §2.13): the output length for HMAC
    std::size_t output_size;
    std::string_view digest;  // OpenSSL digest name for HMAC
    bool legacy;
    std::string_view name;
};

struct IntegInfo {
    IntegId id;
    std::size_t key_size;
    std::size_t icv_size;  // truncated output length
    std::string_view digest;
    bool legacy;
    std::string_view name;
};

enum class KeFamily { modp, ecp, ecx };

struct KeInfo {
    KeId id;
    KeFamily family;
    std::size_t public_size;  // KE payload data length (RFC 7296 §3.4; RFC 5903 §7; RFC 8031)
    std::size_t shared_size;  // g^ir length (RFC 5903 §9: the x coordinate only)
    bool legacy;
    std::string_view name;
};

// nullptr when the transform (with that key length) is not implemented at all.
const EncrInfo* find_encr(EncrId id, std::uint16_t key_bits);
const PrfInfo* find_prf(PrfId id);
const IntegInfo* find_integ(IntegId id);
const KeInfo* find_ke(KeId id);

// As find_*, but refuse unknown transforms and legacy ones the policy does not allow, with a
// sentence saying why.
tl::expected<const EncrInfo*, std::string> lookup_encr(EncrId id, std::uint16_t key_bits,
                                                       const AlgorithmPolicy& policy);
tl::expected<const PrfInfo*, std::string> lookup_prf(PrfId id, const AlgorithmPolicy& policy);
tl::expected<const IntegInfo*, std::string> lookup_integ(IntegId id, const AlgorithmPolicy& policy);
tl::expected<const KeInfo*, std::string> lookup_ke(KeId id, const AlgorithmPolicy& policy);

// One encryption transform as it appears in an SA proposal.
struct EncrTransform {
    EncrId id;
    std::uint16_t key_bits = 0;  // Key Length attribute, 0 = absent
    bool operator==(const EncrTransform&) const = default;
};

// One proposal, as lists of acceptable transforms per type in the admin's order of preference.
// This is the shape later matched against a received SA payload (RFC 7296 §3.3).
struct Proposal {
    ProtocolId protocol = ProtocolId::IKE;
    std::vector<EncrTransform> encr;
    std::vector<PrfId> prf;      // empty for ESP
    std::vector<IntegId> integ;  // empty when every encr is AEAD
    std::vector<KeId> ke;        // may be empty for ESP (no PFS)
    std::vector<EsnId> esn;      // ESP only; NO_ESN unless the string says "esn"
    bool operator==(const Proposal&) const = default;
};

// Parses "aes256-sha256-modp2048", "aes256gcm16-prfsha256-x25519", ... for protocol IKE or ESP.
// Rules follow strongSwan: for IKE without prf keywords the PRFs are derived from the integrity
// algorithms; AEAD and non-AEAD encryption may not be mixed in one proposal (RFC 7296 §3.3);
// IKE needs a KE method, ESP does not.
tl::expected<Proposal, std::string> parse_proposal(std::string_view text, ProtocolId protocol,
                                                   const AlgorithmPolicy& policy);

// The proposal back in the keyword syntax (for logs and `postern check-config`).
std::string to_string(const Proposal& proposal);

}  // namespace postern::ike::crypto

// Key exchange (transform type 4) for the KE payload: MODP (RFC 3526, RFC 2409), ECP (RFC 5903)
// and Curve25519/Curve448 (RFC 8031, RFC 7748).
#pragma once

#include <string>

#include <tl/expected.hpp>

#include "ike/crypto/algorithms.hpp"
#include "ike/crypto/ossl.hpp"
#include "ike/crypto/secret.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::crypto {

// One side of a key exchange: our private key and its public value in IKE wire encoding.
//   MODP: g^x big-endian, left-padded with zeros to the prime length (RFC 7296 §3.4)
//   ECP:  x | y, each left-padded to the field size, no 0x04 prefix (RFC 5903 §7)
//   X25519 / X448: the raw 32 / 56 octet u-coordinate (RFC 8031 §2)
class KeyExchange {
  public:
    // A fresh random private key. Policy (legacy MODP-1024) is applied at negotiation, not here.
    // From the installed KeySharePool (ike/crypto/ke_pool.hpp) when it has one ready, made
    // ahead on its thread and never handed out twice; else generate_now().
    static tl::expected<KeyExchange, std::string> generate(KeId id);
    // The same, generated on the calling thread.
    static tl::expected<KeyExchange, std::string> generate_now(KeId id);

    // A given private key, for known-answer tests and deterministic scenario tests.
    //   MODP: the exponent, big-endian; ECP: the scalar, big-endian (leading zeros optional);
    //   X25519 / X448: the raw 32 / 56 octet scalar.
    static tl::expected<KeyExchange, std::string> from_private(KeId id, ByteView private_key);

    KeId id() const { return info_->id; }
    const KeInfo& info() const { return *info_; }
    ByteView public_value() const { return public_; }

    // g^ir from the peer's KE payload data, after validating it:
    //   MODP: length equal to the prime's, 1 < y < p-1 (RFC 7296 §3.4, RFC 8247 §2.4)
    //   ECP:  exact length, point on the curve and not the point at infinity (RFC 5903 §7)
    //   X25519 / X448: exact length, result not all zero (RFC 7748 §6, RFC 8031 §2.3)
    // Encoding: MODP padded to the prime length; ECP the x coordinate only (RFC 5903 §9).
    tl::expected<Secret, std::string> shared_secret(ByteView peer_public) const;

  private:
    KeyExchange(const KeInfo& info, ossl::Pkey key, Bytes pub)
        : info_(&info), key_(std::move(key)), public_(std::move(pub)) {}

    const KeInfo* info_;
    ossl::Pkey key_;
    Bytes public_;
};

}  // namespace postern::ike::crypto

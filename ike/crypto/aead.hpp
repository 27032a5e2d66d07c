// AEAD with a 96-bit nonce and a 128-bit tag: AES-GCM (RFC 4106/5282) and ChaCha20-Poly1305
// (RFC 8439, RFC 7634). Shared by SK payload protection and the ESP engine.
#pragma once

#include <cstddef>
#include <string>

#include <tl/expected.hpp>

#include "ike/wire/constants.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::crypto {

inline constexpr std::size_t kAeadNonceSize = 12;
inline constexpr std::size_t kAeadTagSize = 16;

// True for the AEAD transforms these functions implement (AES_GCM_16, CHACHA20_POLY1305).
bool is_supported_aead(EncrId id);

// ciphertext | tag. key is the cipher key only (16/24/32 octets for GCM, 32 for ChaCha20),
// without the salt; nonce is the full 12 octets (salt | IV in IKE and ESP).
tl::expected<Bytes, std::string> aead_seal(EncrId id, ByteView key, ByteView nonce, ByteView aad,
                                           ByteView plaintext);

// The plaintext of ciphertext | tag, or an error when the tag does not verify or an argument
// has the wrong length. No plaintext is returned unless the tag verifies.
tl::expected<Bytes, std::string> aead_open(EncrId id, ByteView key, ByteView nonce, ByteView aad,
                                           ByteView ciphertext_and_tag);

}  // namespace postern::ike::crypto

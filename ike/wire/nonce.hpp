// Nonce payload (RFC 7296 §3.9): nonce data only.
#pragma once

#include <cstddef>

#include "ike/wire/error.hpp"
#include "ike/wire/reader.hpp"
#include "ike/wire/writer.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::wire {

// RFC 7296 §3.9: "The size of the Nonce Data MUST be between 16 and 256 octets, inclusive."
inline constexpr std::size_t kMinNonce = 16;
inline constexpr std::size_t kMaxNonce = 256;

struct NoncePayload {
    Bytes data;

    bool operator==(const NoncePayload&) const = default;
};

Parsed<NoncePayload> parse_nonce(Reader& body);
void serialize_body(Writer& w, const NoncePayload& nonce);

}  // namespace postern::ike::wire

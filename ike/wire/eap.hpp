// EAP payload (RFC 7296 §3.16): the body is one EAP message (RFC 3748 §4):
//   Code | Identifier | Length (2) | [Type | Type-Data]   (Type only in Request/Response)
#pragma once

#include <cstdint>
#include <optional>

#include "ike/wire/constants.hpp"
#include "ike/wire/error.hpp"
#include "ike/wire/reader.hpp"
#include "ike/wire/writer.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::wire {

// A few EAP method types (IANA "EAP Method Types") used in logs and tests.
inline constexpr std::uint8_t kEapIdentity = 1;
inline constexpr std::uint8_t kEapNak = 3;
inline constexpr std::uint8_t kEapMd5 = 4;
inline constexpr std::uint8_t kEapTls = 13;
inline constexpr std::uint8_t kEapMschapv2 = 26;

struct EapPayload {
    EapCode code = EapCode::REQUEST;
    std::uint8_t identifier = 0;
    // Set for Request/Response (RFC 3748 §4.1); unset for Success/Failure and other codes,
    // whose data (if any) follows the 4-octet header directly.
    std::optional<std::uint8_t> type;
    Bytes data;  // Type-Data

    bool operator==(const EapPayload&) const = default;
};

// Checks that the EAP Length equals the payload body size, that Request/Response carry a
// Type octet and Success/Failure carry nothing after the header (RFC 3748 §4.2).
Parsed<EapPayload> parse_eap(Reader& body);
void serialize_body(Writer& w, const EapPayload& eap);

}  // namespace postern::ike::wire

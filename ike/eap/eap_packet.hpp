// EAP packets (RFC 3748 §4): the codec the EAP methods share, sans-I/O.
//
//    0                   1                   2                   3
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |     Code      |  Identifier   |            Length             |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |     Type      |  Type-Data ...          (Request/Response only)
//
// In IKEv2 an EAP message is the whole body of an EAP payload (RFC 7296 §3.16), so Length must
// equal the buffer: octets beyond Length (link-layer padding in RFC 3748 §4.1) cannot occur
// here and are rejected like a short buffer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "ike/wire/constants.hpp"
#include "ike/wire/error.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::eap {

using ike::EapCode;

// IANA "Method Types" this code knows by name; any other value parses as an unnamed type.
enum class EapType : std::uint8_t {
    IDENTITY = 1,
    NOTIFICATION = 2,
    NAK = 3,
    MD5_CHALLENGE = 4,
    TLS = 13,
    MSCHAPV2 = 26,
    EXPANDED = 254,
};

// "Identity", "MSCHAPv2", ... or "Type(99)".
std::string to_string(EapType t);

struct EapPacket {
    EapCode code = EapCode::REQUEST;
    std::uint8_t identifier = 0;
    // Present exactly for Request and Response (RFC 3748 §4.1).
    std::optional<EapType> type;
    Bytes type_data;

    bool operator==(const EapPacket&) const = default;
};

// Largest Type-Data a Request/Response can carry (Length is 16 bits and counts 5 header octets).
inline constexpr std::size_t kMaxTypeData = 0xffff - 5;

// Every malformed input is rejected with a reason ("EAP: length 12 != buffer 10"):
// short header, unknown code, Length below 4 or different from the buffer, Request/Response
// without a Type, Type 0, Success/Failure with data, Nak in a Request or without desired types,
// an Expanded type without its 7 octets of Vendor-Id and Vendor-Type.
wire::Parsed<EapPacket> parse_eap_packet(ByteView message);

// Serialises p. Type-Data longer than kMaxTypeData, a Request/Response without a type or a
// Success/Failure with one or with data are programming errors (aborts).
Bytes build_eap_packet(const EapPacket& p);

inline EapPacket eap_request(std::uint8_t id, EapType type, Bytes data = {}) {
    return {EapCode::REQUEST, id, type, std::move(data)};
}
inline EapPacket eap_response(std::uint8_t id, EapType type, Bytes data = {}) {
    return {EapCode::RESPONSE, id, type, std::move(data)};
}
inline EapPacket eap_success(std::uint8_t id) {
    return {EapCode::SUCCESS, id, std::nullopt, {}};
}
inline EapPacket eap_failure(std::uint8_t id) {
    return {EapCode::FAILURE, id, std::nullopt, {}};
}

}  // namespace postern::ike::eap

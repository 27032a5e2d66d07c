// EAP-MSCHAPv2 framing: the Type-Data of EAP Type 26 as Windows, strongSwan and
// draft-kamath-pppext-eap-mschapv2 §2 lay it out (RFC 2759's CHAP packets minus the PPP Code).
//
//   Request / Challenge (1), Response (2), Success Request (3), Failure Request (4):
//     OpCode | MS-CHAPv2-ID | MS-Length (2) | data
//   MS-Length counts from OpCode to the end, i.e. EAP Length - 5; MS-CHAPv2-ID is echoed by
//   the Response.
//     Challenge data:  Value-Size (16) | Challenge (16) | Name
//     Response data:   Value-Size (49) | Peer-Challenge (16) | Reserved (8, zero)
//                      | NT-Response (24) | Flags (1, zero) | Name
//     Success Request: "S=<40 hex> M=<message>"
//     Failure Request: "E=691 R=0 C=<32 hex> V=3 M=<message>"
//   Success Response (3) and Failure Response (4) are the OpCode alone (one octet).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ike/eap/eap_packet.hpp"
#include "ike/eap/mschapv2.hpp"
#include "ike/wire/error.hpp"

namespace postern::ike::eap {

enum class MsChapOpCode : std::uint8_t {
    CHALLENGE = 1,
    RESPONSE = 2,
    SUCCESS = 3,
    FAILURE = 4,
    CHANGE_PASSWORD = 7,
};
std::string to_string(MsChapOpCode op);

inline constexpr std::uint8_t kResponseValueSize = 49;

// Type-Data split into its header and data. ms_id is unset for Success/Failure Responses.
struct MsChapPacket {
    MsChapOpCode opcode = MsChapOpCode::CHALLENGE;
    std::optional<std::uint8_t> ms_id;
    Bytes data;
};

// `code` says which direction the packet went (Request or Response); that decides the header
// form. Rejected: empty Type-Data, an OpCode unknown for that direction (Change-Password is
// refused), a short header, MS-Length not equal to the Type-Data, Success/Failure Responses
// longer than their OpCode.
wire::Parsed<MsChapPacket> parse_mschapv2(EapCode code, ByteView type_data);

struct MsChapChallenge {
    Challenge challenge{};
    std::string name;
};
struct MsChapResponse {
    Challenge peer_challenge{};
    NtResponse nt_response{};
    std::uint8_t flags = 0;
    std::string name;
};
// Value-Size must be 16 / 49 and the data long enough for it; the Name is the rest.
wire::Parsed<MsChapChallenge> parse_challenge_data(ByteView data);
wire::Parsed<MsChapResponse> parse_response_data(ByteView data);

// Success Request text: the "S=" token (40 hex digits, either case) and the "M=" message (the
// rest of the text, possibly with spaces). Trailing NULs are dropped (strongSwan sends one).
struct MsChapSuccessText {
    std::string authenticator_response;  // "S=..."
    std::string message;
};
wire::Parsed<MsChapSuccessText> parse_success_text(ByteView data);

// Failure Request text: E= (required, decimal), R=, C= (32 hex digits), V=, M=.
struct MsChapFailureText {
    unsigned error = 0;
    bool retry = false;
    std::optional<Challenge> challenge;
    std::string message;
};
wire::Parsed<MsChapFailureText> parse_failure_text(ByteView data);

// The Type-Data of the server's Requests (what a ServerMethod returns).
Bytes challenge_type_data(std::uint8_t ms_id, const Challenge& challenge, std::string_view name);
Bytes success_type_data(std::uint8_t ms_id, std::string_view text);
Bytes failure_type_data(std::uint8_t ms_id, std::string_view text);

// Whole EAP messages.
Bytes build_challenge_request(std::uint8_t eap_id, std::uint8_t ms_id, const Challenge& challenge,
                              std::string_view name);
Bytes build_response(std::uint8_t eap_id, std::uint8_t ms_id, const MsChapResponse& response);
Bytes build_success_request(std::uint8_t eap_id, std::uint8_t ms_id, std::string_view text);
Bytes build_failure_request(std::uint8_t eap_id, std::uint8_t ms_id, std::string_view text);
// Success (3) or Failure (4) Response: the OpCode alone.
Bytes build_opcode_response(std::uint8_t eap_id, MsChapOpCode op);

// Upper-case hex of a challenge for the C= field.
std::string upper_hex(ByteView b);

}  // namespace postern::ike::eap

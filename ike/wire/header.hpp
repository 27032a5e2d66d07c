// The fixed 28-octet IKE header (RFC 7296 §3.1).
//
//   Initiator SPI (8) | Responder SPI (8) | Next Payload (1) | MjVer:4 MnVer:4 (1) |
//   Exchange Type (1) | Flags (1): R=0x20 V=0x10 I=0x08 | Message ID (4) | Length (4)
#pragma once

#include <cstddef>
#include <cstdint>

#include "ike/wire/constants.hpp"
#include "ike/wire/error.hpp"
#include "ike/wire/writer.hpp"
#include "postern/bytes.hpp"
#include "postern/ike_types.hpp"

namespace postern::ike::wire {

inline constexpr std::size_t kHeaderSize = 28;

struct Header {
    IkeSpi initiator_spi;
    IkeSpi responder_spi;
    // As received; serialize(Message) recomputes it from the payloads.
    PayloadType next_payload = PayloadType::NONE;
    std::uint8_t major_version = 2;
    // RFC 7296 §3.1: sent as 0, ignored on receipt; kept so re-serialization is exact.
    std::uint8_t minor_version = 0;
    ExchangeType exchange = ExchangeType::IKE_SA_INIT;
    bool initiator = false;  // I: sent by the original initiator of the IKE SA
    bool version = false;    // V: "can speak a higher major version"; MUST be 0 for IKEv2
    bool response = false;   // R
    MessageId message_id;
    // As received; serialize(Message) recomputes it.
    std::uint32_t length = 0;

    bool operator==(const Header&) const = default;
};

inline constexpr std::uint8_t kFlagResponse = 0x20;
inline constexpr std::uint8_t kFlagVersion = 0x10;
inline constexpr std::uint8_t kFlagInitiator = 0x08;

// Parses the header at the start of `datagram` and checks it against the whole datagram:
// major version 2 (else INVALID_MAJOR_VERSION, RFC 7296 §2.5) and length field == datagram
// size >= 28. Reserved flag bits are ignored on receipt and not kept (§3.1).
Parsed<Header> parse_header(ByteView datagram);

// Writes the 28 octets with the given next-payload and length fields (the ones in `h` are
// ignored). Reserved flag bits are written as zero.
void serialize_header(Writer& w, const Header& h, PayloadType next_payload, std::uint32_t length);

}  // namespace postern::ike::wire

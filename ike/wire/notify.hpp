// Notify payload (RFC 7296 §3.10):
//   Protocol ID | SPI Size | Notify Message Type (2) | SPI | Notification Data
#pragma once

#include "ike/wire/constants.hpp"
#include "ike/wire/error.hpp"
#include "ike/wire/reader.hpp"
#include "ike/wire/writer.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::wire {

struct NotifyPayload {
    // §3.10: "If the SPI field is empty, this field MUST be sent as zero and MUST be ignored on
    // receipt"; kept as received so re-serialization is exact.
    ProtocolId protocol = ProtocolId::NONE;
    NotifyType type = NotifyType::INVALID_SYNTAX;
    Bytes spi;
    Bytes data;

    bool operator==(const NotifyPayload&) const = default;
};

// Checks only that the SPI fits; the meaning of SPI and data per type is the engine's.
Parsed<NotifyPayload> parse_notify(Reader& body);
void serialize_body(Writer& w, const NotifyPayload& n);

}  // namespace postern::ike::wire

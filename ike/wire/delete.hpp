// Delete payload (RFC 7296 §3.11):
//   Protocol ID | SPI Size | Num of SPIs (2) | SPI * Num
#pragma once

#include <vector>

#include "ike/wire/constants.hpp"
#include "ike/wire/error.hpp"
#include "ike/wire/reader.hpp"
#include "ike/wire/writer.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::wire {

struct DeletePayload {
    ProtocolId protocol = ProtocolId::IKE;
    std::uint8_t spi_size = 0;  // kept explicitly: 0 SPIs of size 4 is a valid delete
    std::vector<Bytes> spis;

    bool operator==(const DeletePayload&) const = default;
};

// §3.11: for IKE the SPI size MUST be 0 (and no SPIs follow: the SA is the one the message
// travels on); for AH/ESP it is 4. The body must hold exactly Num * SPI Size octets.
Parsed<DeletePayload> parse_delete(Reader& body);
// Writes spi_size as given; every SPI must have that size (the caller's contract).
void serialize_body(Writer& w, const DeletePayload& d);

}  // namespace postern::ike::wire

// Traffic Selector payloads TSi and TSr (RFC 7296 §3.13):
//   Number of TSs | RESERVED (3) | Traffic Selector+
//   Traffic Selector = TS Type | IP Protocol ID | Selector Length (2) | Start Port (2) |
//                      End Port (2) | Starting Address | Ending Address
// Both payloads share one struct; Payload::type says which one it is.
#pragma once

#include <cstdint>
#include <vector>

#include "ike/wire/constants.hpp"
#include "ike/wire/error.hpp"
#include "ike/wire/reader.hpp"
#include "ike/wire/writer.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::wire {

struct TrafficSelector {
    TsType type = TsType::TS_IPV4_ADDR_RANGE;
    std::uint8_t ip_protocol = 0;  // 0 = any
    std::uint16_t start_port = 0;
    std::uint16_t end_port = 65535;
    Bytes start_address;  // 4 octets (IPv4) or 16 (IPv6)
    Bytes end_address;
    // Other selector types (e.g. TS_FC_ADDR_RANGE): everything after the Selector Length
    // field, kept raw; the port and address fields above are then unused.
    Bytes opaque;

    bool operator==(const TrafficSelector&) const = default;
};

struct TsPayload {
    std::vector<TrafficSelector> selectors;

    bool operator==(const TsPayload&) const = default;
};

// Checks the Number of TSs against the selectors present (at least one), and each Selector
// Length: 16 for IPv4, 40 for IPv6, >= 4 and inside the payload for other types.
Parsed<TsPayload> parse_ts(Reader& body);
void serialize_body(Writer& w, const TsPayload& ts);

}  // namespace postern::ike::wire

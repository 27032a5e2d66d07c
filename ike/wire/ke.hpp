// Key Exchange payload (RFC 7296 §3.4): KE method (2) | RESERVED (2) | key exchange data.
#pragma once

#include "ike/wire/constants.hpp"
#include "ike/wire/error.hpp"
#include "ike/wire/reader.hpp"
#include "ike/wire/writer.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::wire {

struct KePayload {
    KeId group = KeId::NONE;
    Bytes data;

    bool operator==(const KePayload&) const = default;
};

// The data length is checked against the group by the engine (INVALID_SYNTAX there too, §3.4);
// the codec only needs the 4 fixed octets.
Parsed<KePayload> parse_ke(Reader& body);
void serialize_body(Writer& w, const KePayload& ke);

}  // namespace postern::ike::wire

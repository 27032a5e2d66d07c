// Identification payloads IDi and IDr (RFC 7296 §3.5): ID Type | RESERVED (3) | data.
// Both share one struct; Payload::type says which one it is.
#pragma once

#include "ike/wire/constants.hpp"
#include "ike/wire/error.hpp"
#include "ike/wire/reader.hpp"
#include "ike/wire/writer.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::wire {

struct IdPayload {
    IdType type = IdType::ID_FQDN;
    Bytes data;

    bool operator==(const IdPayload&) const = default;
};

// The data is opaque here; its form per ID type (4/16-octet addresses, DER) is checked by
// whoever interprets it. The reserved octets are not kept (sent as zero, §3.5).
Parsed<IdPayload> parse_id(Reader& body);
void serialize_body(Writer& w, const IdPayload& id);

}  // namespace postern::ike::wire

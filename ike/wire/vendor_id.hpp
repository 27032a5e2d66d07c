// Vendor ID payload (RFC 7296 §3.12): opaque vendor-defined data.
#pragma once

#include "ike/wire/error.hpp"
#include "ike/wire/reader.hpp"
#include "ike/wire/writer.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::wire {

struct VendorIdPayload {
    Bytes data;

    bool operator==(const VendorIdPayload&) const = default;
};

Parsed<VendorIdPayload> parse_vendor_id(Reader& body);
void serialize_body(Writer& w, const VendorIdPayload& v);

}  // namespace postern::ike::wire

// Certificate payload (RFC 7296 §3.6): Cert Encoding | certificate data.
#pragma once

#include "ike/wire/constants.hpp"
#include "ike/wire/error.hpp"
#include "ike/wire/reader.hpp"
#include "ike/wire/writer.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::wire {

struct CertPayload {
    CertEncoding encoding = CertEncoding::X509_SIGNATURE;
    Bytes data;  // certificate data

    bool operator==(const CertPayload&) const = default;
};

Parsed<CertPayload> parse_cert(Reader& body);
void serialize_body(Writer& w, const CertPayload& p);

}  // namespace postern::ike::wire

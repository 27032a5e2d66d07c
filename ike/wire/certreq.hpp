// Certificate Request payload (RFC 7296 §3.7): Cert Encoding | certification authority data
// (for X.509, a concatenation of 20-octet SHA-1 hashes of CA public keys; may be empty).
#pragma once

#include "ike/wire/constants.hpp"
#include "ike/wire/error.hpp"
#include "ike/wire/reader.hpp"
#include "ike/wire/writer.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::wire {

struct CertReqPayload {
    CertEncoding encoding = CertEncoding::X509_SIGNATURE;
    Bytes data;  // CA data

    bool operator==(const CertReqPayload&) const = default;
};

Parsed<CertReqPayload> parse_certreq(Reader& body);
void serialize_body(Writer& w, const CertReqPayload& p);

}  // namespace postern::ike::wire

// Authentication payload (RFC 7296 §3.8): Auth Method | RESERVED (3) | authentication data.
#pragma once

#include "ike/wire/constants.hpp"
#include "ike/wire/error.hpp"
#include "ike/wire/reader.hpp"
#include "ike/wire/writer.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::wire {

struct AuthPayload {
    AuthMethod method = AuthMethod::SHARED_KEY_MIC;
    Bytes data;

    bool operator==(const AuthPayload&) const = default;
};

Parsed<AuthPayload> parse_auth(Reader& body);
void serialize_body(Writer& w, const AuthPayload& auth);

}  // namespace postern::ike::wire

// Encrypted and Authenticated payload SK (RFC 7296 §3.14). The generic header's Next Payload
// field names the first payload *inside* the encrypted data; the body is IV || ciphertext
// (with padding and pad length) || ICV, kept raw: ike/crypto decrypts it and hands the inner
// chain to parse_payload_chain().
#pragma once

#include "ike/wire/constants.hpp"
#include "ike/wire/error.hpp"
#include "ike/wire/reader.hpp"
#include "ike/wire/writer.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::wire {

struct EncryptedPayload {
    PayloadType inner_first = PayloadType::NONE;
    Bytes body;  // IV || ciphertext || ICV

    bool operator==(const EncryptedPayload&) const = default;
};

// `inner_first` is the Next Payload field of the SK generic header.
Parsed<EncryptedPayload> parse_sk(Reader& body, PayloadType inner_first);
void serialize_body(Writer& w, const EncryptedPayload& sk);

}  // namespace postern::ike::wire

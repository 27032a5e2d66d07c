#include "ike/wire/sk.hpp"

namespace postern::ike::wire {

Parsed<EncryptedPayload> parse_sk(Reader& r, PayloadType inner_first) {
    auto body = r.rest();
    if (!r.ok()) return reader_error(r, "SK");
    return EncryptedPayload{inner_first, Bytes(body.begin(), body.end())};
}

void serialize_body(Writer& w, const EncryptedPayload& sk) {
    w.bytes(sk.body);
}

}  // namespace postern::ike::wire

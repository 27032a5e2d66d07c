#include "ike/wire/nonce.hpp"

#include <string>

namespace postern::ike::wire {

Parsed<NoncePayload> parse_nonce(Reader& r) {
    std::size_t at = r.offset();
    auto data = r.rest();
    if (!r.ok()) return reader_error(r, "Nonce");
    if (data.size() < kMinNonce || data.size() > kMaxNonce) {
        return syntax_error("Nonce: length " + std::to_string(data.size()) + " not in 16..256", at);
    }
    return NoncePayload{Bytes(data.begin(), data.end())};
}

void serialize_body(Writer& w, const NoncePayload& nonce) {
    w.bytes(nonce.data);
}

}  // namespace postern::ike::wire

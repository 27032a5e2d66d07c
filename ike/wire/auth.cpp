#include "ike/wire/auth.hpp"

namespace postern::ike::wire {

Parsed<AuthPayload> parse_auth(Reader& r) {
    AuthPayload a;
    a.method = static_cast<AuthMethod>(r.u8("AUTH method"));
    r.bytes(3, "AUTH reserved");
    auto data = r.rest();
    if (!r.ok()) return reader_error(r, "AUTH");
    a.data.assign(data.begin(), data.end());
    return a;
}

void serialize_body(Writer& w, const AuthPayload& a) {
    w.u8(static_cast<std::uint8_t>(a.method));
    w.zeros(3);
    w.bytes(a.data);
}

}  // namespace postern::ike::wire

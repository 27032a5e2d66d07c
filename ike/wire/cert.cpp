#include "ike/wire/cert.hpp"

namespace postern::ike::wire {

Parsed<CertPayload> parse_cert(Reader& r) {
    CertPayload p;
    p.encoding = static_cast<CertEncoding>(r.u8("CERT encoding"));
    auto data = r.rest();
    if (!r.ok()) return reader_error(r, "CERT");
    p.data.assign(data.begin(), data.end());
    return p;
}

void serialize_body(Writer& w, const CertPayload& p) {
    w.u8(static_cast<std::uint8_t>(p.encoding));
    w.bytes(p.data);
}

}  // namespace postern::ike::wire

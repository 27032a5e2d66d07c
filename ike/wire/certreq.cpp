#include "ike/wire/certreq.hpp"

namespace postern::ike::wire {

Parsed<CertReqPayload> parse_certreq(Reader& r) {
    CertReqPayload p;
    p.encoding = static_cast<CertEncoding>(r.u8("CERTREQ encoding"));
    auto data = r.rest();
    if (!r.ok()) return reader_error(r, "CERTREQ");
    p.data.assign(data.begin(), data.end());
    return p;
}

void serialize_body(Writer& w, const CertReqPayload& p) {
    w.u8(static_cast<std::uint8_t>(p.encoding));
    w.bytes(p.data);
}

}  // namespace postern::ike::wire

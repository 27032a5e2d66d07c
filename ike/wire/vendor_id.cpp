#include "ike/wire/vendor_id.hpp"

namespace postern::ike::wire {

Parsed<VendorIdPayload> parse_vendor_id(Reader& r) {
    auto data = r.rest();
    if (!r.ok()) return reader_error(r, "V");
    return VendorIdPayload{Bytes(data.begin(), data.end())};
}

void serialize_body(Writer& w, const VendorIdPayload& v) {
    w.bytes(v.data);
}

}  // namespace postern::ike::wire

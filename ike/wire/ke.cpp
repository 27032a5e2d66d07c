#include "ike/wire/ke.hpp"

namespace postern::ike::wire {

Parsed<KePayload> parse_ke(Reader& r) {
    KePayload ke;
    ke.group = static_cast<KeId>(r.u16("KE method"));
    r.u16("KE reserved");
    auto data = r.rest();
    if (!r.ok()) return reader_error(r, "KE");
    ke.data.assign(data.begin(), data.end());
    return ke;
}

void serialize_body(Writer& w, const KePayload& ke) {
    w.u16(static_cast<std::uint16_t>(ke.group));
    w.u16(0);
    w.bytes(ke.data);
}

}  // namespace postern::ike::wire

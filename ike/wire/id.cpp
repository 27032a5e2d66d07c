#include "ike/wire/id.hpp"

namespace postern::ike::wire {

Parsed<IdPayload> parse_id(Reader& r) {
    IdPayload id;
    id.type = static_cast<IdType>(r.u8("ID type"));
    r.bytes(3, "ID reserved");
    auto data = r.rest();
    if (!r.ok()) return reader_error(r, "ID");
    id.data.assign(data.begin(), data.end());
    return id;
}

void serialize_body(Writer& w, const IdPayload& id) {
    w.u8(static_cast<std::uint8_t>(id.type));
    w.zeros(3);
    w.bytes(id.data);
}

}  // namespace postern::ike::wire

#include "ike/wire/eap.hpp"

#include <string>

namespace postern::ike::wire {

using std::to_string;

Parsed<EapPayload> parse_eap(Reader& r) {
    EapPayload e;
    std::size_t at = r.offset();
    std::size_t size = r.remaining();
    e.code = static_cast<EapCode>(r.u8("EAP code"));
    e.identifier = r.u8("EAP identifier");
    std::uint16_t len = r.u16("EAP length");
    if (!r.ok()) return reader_error(r, "EAP");
    if (len != size) {
        return syntax_error("EAP: length " + to_string(len) + " != payload body " + to_string(size),
                            at + 2);
    }
    switch (e.code) {
        case EapCode::REQUEST:
        case EapCode::RESPONSE:
            if (r.empty()) {
                return syntax_error("EAP " + to_string(e.code) + ": length 4 has no Type", at + 2);
            }
            e.type = r.u8("EAP type");
            break;
        case EapCode::SUCCESS:
        case EapCode::FAILURE:
            if (len != 4) {
                return syntax_error(
                    "EAP " + to_string(e.code) + ": length " + to_string(len) + " != 4", at + 2);
            }
            break;
        default:
            break;
    }
    auto data = r.rest();
    if (!r.ok()) return reader_error(r, "EAP");
    e.data.assign(data.begin(), data.end());
    return e;
}

void serialize_body(Writer& w, const EapPayload& e) {
    w.u8(static_cast<std::uint8_t>(e.code));
    w.u8(e.identifier);
    w.u16(static_cast<std::uint16_t>(4 + (e.type ? 1 : 0) + e.data.size()));
    if (e.type) w.u8(*e.type);
    w.bytes(e.data);
}

}  // namespace postern::ike::wire

#include "ike/eap/eap_packet.hpp"

#include <cstdio>
#include <cstdlib>

#include "ike/wire/reader.hpp"
#include "ike/wire/writer.hpp"

namespace postern::ike::eap {

using std::to_string;

std::string to_string(EapType t) {
    switch (t) {
        case EapType::IDENTITY:
            return "Identity";
        case EapType::NOTIFICATION:
            return "Notification";
        case EapType::NAK:
            return "Nak";
        case EapType::MD5_CHALLENGE:
            return "MD5-Challenge";
        case EapType::TLS:
            return "TLS";
        case EapType::MSCHAPV2:
            return "MSCHAPv2";
        case EapType::EXPANDED:
            return "Expanded";
    }
    return "Type(" + to_string(static_cast<unsigned>(t)) + ")";
}

wire::Parsed<EapPacket> parse_eap_packet(ByteView message) {
    wire::Reader r(message);
    EapPacket p;
    const std::uint8_t code = r.u8("EAP Code");
    p.identifier = r.u8("EAP Identifier");
    const std::uint16_t length = r.u16("EAP Length");
    if (!r.ok()) return wire::reader_error(r, "EAP");
    if (code < 1 || code > 4) return wire::syntax_error("EAP: unknown Code " + to_string(code), 0);
    p.code = static_cast<EapCode>(code);
    const std::string what = "EAP " + ike::to_string(p.code);
    if (length < 4) return wire::syntax_error(what + ": Length " + to_string(length) + " < 4", 2);
    if (length != message.size()) {
        return wire::syntax_error(
            what + ": Length " + to_string(length) + " != buffer " + to_string(message.size()), 2);
    }
    if (p.code == EapCode::SUCCESS || p.code == EapCode::FAILURE) {
        // RFC 3748 §4.2: Success and Failure are exactly the 4-octet header.
        if (length != 4) {
            return wire::syntax_error(what + ": Length " + to_string(length) + " != 4", 2);
        }
        return p;
    }
    if (r.empty()) return wire::syntax_error(what + ": no Type (Length 4)", 4);
    const std::uint8_t type = r.u8("EAP Type");
    if (type == 0) return wire::syntax_error(what + ": Type 0 is not a method", 4);
    p.type = static_cast<EapType>(type);
    auto data = r.rest();
    if (!r.ok()) return wire::reader_error(r, what);
    p.type_data.assign(data.begin(), data.end());
    if (*p.type == EapType::NAK) {
        // RFC 3748 §5.3: a Nak is only a Response and lists at least one desired type.
        if (p.code == EapCode::REQUEST) return wire::syntax_error(what + ": Nak in a Request", 4);
        if (p.type_data.empty()) return wire::syntax_error(what + ": Nak without desired types", 5);
    }
    if (*p.type == EapType::EXPANDED && p.type_data.size() < 7) {
        return wire::syntax_error(what +
                                      ": Expanded type needs 7 octets of Vendor-Id and "
                                      "Vendor-Type, have " +
                                      to_string(p.type_data.size()),
                                  5);
    }
    return p;
}

Bytes build_eap_packet(const EapPacket& p) {
    const bool typed = p.code == EapCode::REQUEST || p.code == EapCode::RESPONSE;
    if (typed != p.type.has_value() || p.type_data.size() > kMaxTypeData ||
        (!typed && !p.type_data.empty())) {
        std::fprintf(stderr, "postern eap: build_eap_packet: malformed packet (code %u)\n",
                     static_cast<unsigned>(p.code));
        std::abort();
    }
    Bytes out;
    out.reserve(5 + p.type_data.size());
    wire::Writer w(out);
    w.u8(static_cast<std::uint8_t>(p.code));
    w.u8(p.identifier);
    w.u16(static_cast<std::uint16_t>(4 + (typed ? 1 + p.type_data.size() : 0)));
    if (typed) {
        w.u8(static_cast<std::uint8_t>(*p.type));
        w.bytes(p.type_data);
    }
    return out;
}

}  // namespace postern::ike::eap

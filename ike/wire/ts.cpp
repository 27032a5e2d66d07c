#include "ike/wire/ts.hpp"

#include <string>

namespace postern::ike::wire {
namespace {

using std::to_string;

std::size_t address_size(TsType t) {
    switch (t) {
        case TsType::TS_IPV4_ADDR_RANGE:
            return 4;
        case TsType::TS_IPV6_ADDR_RANGE:
            return 16;
        default:
            return 0;
    }
}

}  // namespace

Parsed<TsPayload> parse_ts(Reader& r) {
    TsPayload ts;
    std::size_t at = r.offset();
    std::uint8_t count = r.u8("TS number of TSs");
    r.bytes(3, "TS reserved");
    if (!r.ok()) return reader_error(r, "TS");
    if (count == 0) return syntax_error("TS: number of TSs is 0", at);
    while (!r.empty()) {
        std::string where = "TS selector " + to_string(ts.selectors.size() + 1);
        std::size_t sat = r.offset();
        if (ts.selectors.size() == count) {
            return syntax_error("TS: " + to_string(r.remaining()) + " bytes after " +
                                    to_string(count) + " selectors",
                                sat);
        }
        if (r.remaining() < 4) {
            return syntax_error(
                where + ": header truncated (" + to_string(r.remaining()) + " < 4 bytes left)",
                sat);
        }
        TrafficSelector s;
        s.type = static_cast<TsType>(r.u8("TS type"));
        s.ip_protocol = r.u8("TS IP protocol");
        std::uint16_t len = r.u16("TS selector length");
        std::size_t addr = address_size(s.type);
        if (addr != 0 && len != 8 + 2 * addr) {
            return syntax_error(where + ": selector length " + to_string(len) +
                                    " != " + to_string(8 + 2 * addr) + " for " + to_string(s.type),
                                sat + 2);
        }
        if (len < 4) {
            return syntax_error(where + ": selector length " + to_string(len) + " < 4", sat + 2);
        }
        if (len - 4u > r.remaining()) {
            return syntax_error(where + ": selector length " + to_string(len) + " > " +
                                    to_string(r.remaining() + 4) + " bytes left",
                                sat + 2);
        }
        if (addr != 0) {
            s.start_port = r.u16("TS start port");
            s.end_port = r.u16("TS end port");
            auto start = r.bytes(addr, "TS starting address");
            auto end = r.bytes(addr, "TS ending address");
            s.start_address.assign(start.begin(), start.end());
            s.end_address.assign(end.begin(), end.end());
        } else {
            auto raw = r.bytes(len - 4u, "TS selector data");
            s.opaque.assign(raw.begin(), raw.end());
        }
        if (!r.ok()) return reader_error(r, where);
        ts.selectors.push_back(std::move(s));
    }
    if (ts.selectors.size() != count) {
        return syntax_error("TS: " + to_string(ts.selectors.size()) +
                                " selectors present, header says " + to_string(count),
                            r.offset());
    }
    return ts;
}

void serialize_body(Writer& w, const TsPayload& ts) {
    w.u8(static_cast<std::uint8_t>(ts.selectors.size()));
    w.zeros(3);
    for (const auto& s : ts.selectors) {
        w.u8(static_cast<std::uint8_t>(s.type));
        w.u8(s.ip_protocol);
        std::size_t start = w.size();
        std::size_t len_at = w.reserve_u16();
        if (address_size(s.type) != 0) {
            w.u16(s.start_port);
            w.u16(s.end_port);
            w.bytes(s.start_address);
            w.bytes(s.end_address);
        } else {
            w.bytes(s.opaque);
        }
        w.patch_u16(len_at, static_cast<std::uint16_t>(w.size() - start + 2));
    }
}

}  // namespace postern::ike::wire

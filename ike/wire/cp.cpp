#include "ike/wire/cp.hpp"

#include <string>

namespace postern::ike::wire {
namespace {

using std::to_string;

// Allowed value length besides 0 (RFC 7296 §3.15.1, RFC 7651 for P-CSCF); 0 = any length.
// SUPPORTED_ATTRIBUTES is handled apart (a list of 2-octet types).
std::size_t fixed_length(CfgAttribute a) {
    switch (a) {
        case CfgAttribute::INTERNAL_IP4_ADDRESS:
        case CfgAttribute::INTERNAL_IP4_NETMASK:
        case CfgAttribute::INTERNAL_IP4_DNS:
        case CfgAttribute::INTERNAL_IP4_NBNS:
        case CfgAttribute::INTERNAL_IP4_DHCP:
        case CfgAttribute::P_CSCF_IP4_ADDRESS:
            return 4;
        case CfgAttribute::INTERNAL_IP4_SUBNET:
            return 8;
        case CfgAttribute::INTERNAL_IP6_DNS:
        case CfgAttribute::INTERNAL_IP6_DHCP:
        case CfgAttribute::P_CSCF_IP6_ADDRESS:
            return 16;
        case CfgAttribute::INTERNAL_IP6_ADDRESS:
        case CfgAttribute::INTERNAL_IP6_SUBNET:
            return 17;
        default:
            return 0;
    }
}

}  // namespace

Parsed<CpPayload> parse_cp(Reader& r) {
    CpPayload cp;
    cp.type = static_cast<CfgType>(r.u8("CP type"));
    r.bytes(3, "CP reserved");
    if (!r.ok()) return reader_error(r, "CP");
    while (!r.empty()) {
        std::string where = "CP attribute " + to_string(cp.attributes.size() + 1);
        std::size_t at = r.offset();
        if (r.remaining() < 4) {
            return syntax_error(
                where + ": header truncated (" + to_string(r.remaining()) + " < 4 bytes left)", at);
        }
        CfgAttributeValue a;
        a.type = static_cast<CfgAttribute>(r.u16("CP attribute type") & 0x7fff);
        std::uint16_t len = r.u16("CP attribute length");
        where += " (" + to_string(a.type) + ")";
        if (len > r.remaining()) {
            return syntax_error(where + ": length " + to_string(len) + " > " +
                                    to_string(r.remaining()) + " bytes left",
                                at + 2);
        }
        std::size_t fixed = fixed_length(a.type);
        if (fixed != 0 && len != 0 && len != fixed) {
            return syntax_error(
                where + ": length " + to_string(len) + " not 0 or " + to_string(fixed), at + 2);
        }
        if (a.type == CfgAttribute::SUPPORTED_ATTRIBUTES && len % 2 != 0) {
            return syntax_error(where + ": length " + to_string(len) + " not a multiple of 2",
                                at + 2);
        }
        auto v = r.bytes(len, "CP attribute value");
        a.value.assign(v.begin(), v.end());
        cp.attributes.push_back(std::move(a));
    }
    if (!r.ok()) return reader_error(r, "CP");
    return cp;
}

void serialize_body(Writer& w, const CpPayload& cp) {
    w.u8(static_cast<std::uint8_t>(cp.type));
    w.zeros(3);
    for (const auto& a : cp.attributes) {
        w.u16(static_cast<std::uint16_t>(a.type) & 0x7fff);
        w.u16(static_cast<std::uint16_t>(a.value.size()));
        w.bytes(a.value);
    }
}

}  // namespace postern::ike::wire

#include "ike/eap/mschapv2_packet.hpp"

#include <algorithm>
#include <charconv>

#include "ike/wire/reader.hpp"
#include "ike/wire/writer.hpp"

namespace postern::ike::eap {

using std::to_string;

std::string to_string(MsChapOpCode op) {
    switch (op) {
        case MsChapOpCode::CHALLENGE:
            return "Challenge";
        case MsChapOpCode::RESPONSE:
            return "Response";
        case MsChapOpCode::SUCCESS:
            return "Success";
        case MsChapOpCode::FAILURE:
            return "Failure";
        case MsChapOpCode::CHANGE_PASSWORD:
            return "Change-Password";
    }
    return "OpCode(" + to_string(static_cast<unsigned>(op)) + ")";
}

namespace {

std::string as_text(ByteView b) {
    std::string s(b.begin(), b.end());
    while (!s.empty() && s.back() == '\0')
        s.pop_back();
    return s;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool decode_hex(std::string_view s, std::span<std::uint8_t> out) {
    if (s.size() != 2 * out.size()) return false;
    for (std::size_t i = 0; i < out.size(); ++i) {
        int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return true;
}

bool parse_unsigned(std::string_view s, unsigned& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

Bytes type_data(MsChapOpCode op, std::uint8_t ms_id, ByteView data) {
    Bytes td;
    wire::Writer w(td);
    w.u8(static_cast<std::uint8_t>(op));
    w.u8(ms_id);
    w.u16(static_cast<std::uint16_t>(4 + data.size()));
    w.bytes(data);
    return td;
}

Bytes build(std::uint8_t eap_id, EapCode code, MsChapOpCode op, std::uint8_t ms_id, ByteView data) {
    return build_eap_packet({code, eap_id, EapType::MSCHAPV2, type_data(op, ms_id, data)});
}

ByteView text_view(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace

wire::Parsed<MsChapPacket> parse_mschapv2(EapCode code, ByteView type_data) {
    wire::Reader r(type_data);
    MsChapPacket p;
    const std::uint8_t op = r.u8("MSCHAPv2 OpCode");
    if (!r.ok()) return wire::reader_error(r, "MSCHAPv2");
    p.opcode = static_cast<MsChapOpCode>(op);
    const bool request = code == EapCode::REQUEST;
    const bool known = request ? (op == 1 || op == 3 || op == 4) : (op == 2 || op == 3 || op == 4);
    if (!known) {
        return wire::syntax_error(
            "MSCHAPv2 " + ike::to_string(code) + ": unexpected OpCode " + to_string(p.opcode), 0);
    }
    if (!request && op != 2) {
        // Success/Failure Responses are one octet (draft-kamath-pppext-eap-mschapv2 §2.3/2.4).
        if (type_data.size() != 1) {
            return wire::syntax_error("MSCHAPv2 " + to_string(p.opcode) + " Response: " +
                                          to_string(type_data.size()) + " octets != 1",
                                      1);
        }
        return p;
    }
    p.ms_id = r.u8("MS-CHAPv2-ID");
    const std::uint16_t ms_length = r.u16("MS-Length");
    if (!r.ok()) return wire::reader_error(r, "MSCHAPv2 " + to_string(p.opcode));
    if (ms_length != type_data.size()) {
        return wire::syntax_error("MSCHAPv2 " + to_string(p.opcode) + ": MS-Length " +
                                      to_string(ms_length) + " != " + to_string(type_data.size()),
                                  2);
    }
    auto rest = r.rest();
    p.data.assign(rest.begin(), rest.end());
    return p;
}

wire::Parsed<MsChapChallenge> parse_challenge_data(ByteView data) {
    wire::Reader r(data);
    MsChapChallenge c;
    const std::uint8_t size = r.u8("Value-Size");
    if (r.ok() && size != kChallengeSize)
        return wire::syntax_error("MSCHAPv2 Challenge: Value-Size " + to_string(size) + " != 16",
                                  0);
    auto ch = r.bytes(kChallengeSize, "Challenge");
    auto name = r.rest();
    if (!r.ok()) return wire::reader_error(r, "MSCHAPv2 Challenge");
    std::copy(ch.begin(), ch.end(), c.challenge.begin());
    c.name.assign(name.begin(), name.end());
    return c;
}

wire::Parsed<MsChapResponse> parse_response_data(ByteView data) {
    wire::Reader r(data);
    MsChapResponse m;
    const std::uint8_t size = r.u8("Value-Size");
    if (r.ok() && size != kResponseValueSize)
        return wire::syntax_error("MSCHAPv2 Response: Value-Size " + to_string(size) + " != 49", 0);
    auto peer = r.bytes(kChallengeSize, "Peer-Challenge");
    r.bytes(8, "Reserved");  // zero when sent, ignored when received (RFC 2759 §4)
    auto nt = r.bytes(kNtResponseSize, "NT-Response");
    m.flags = r.u8("Flags");
    auto name = r.rest();
    if (!r.ok()) return wire::reader_error(r, "MSCHAPv2 Response");
    std::copy(peer.begin(), peer.end(), m.peer_challenge.begin());
    std::copy(nt.begin(), nt.end(), m.nt_response.begin());
    m.name.assign(name.begin(), name.end());
    return m;
}

wire::Parsed<MsChapSuccessText> parse_success_text(ByteView data) {
    const std::string s = as_text(data);
    // "S=<40 hex>" first, then optionally " M=<message>" (RFC 2759 §5).
    if (s.size() < 42 || s.compare(0, 2, "S=") != 0)
        return wire::syntax_error("MSCHAPv2 Success: no S=<40 hex digits> at the start", 0);
    MsChapSuccessText t;
    t.authenticator_response = s.substr(0, 42);
    AuthenticatorDigest d{};
    if (!decode_hex(std::string_view(t.authenticator_response).substr(2), d))
        return wire::syntax_error("MSCHAPv2 Success: S= is not 40 hex digits", 2);
    std::string_view rest = std::string_view(s).substr(42);
    if (!rest.empty()) {
        if (rest.substr(0, 3) != " M=")
            return wire::syntax_error("MSCHAPv2 Success: text after S= is not \" M=...\"", 42);
        t.message = std::string(rest.substr(3));
    }
    return t;
}

wire::Parsed<MsChapFailureText> parse_failure_text(ByteView data) {
    const std::string s = as_text(data);
    MsChapFailureText t;
    bool have_error = false;
    std::size_t pos = 0;
    while (pos < s.size()) {
        if (s[pos] == ' ') {
            ++pos;
            continue;
        }
        if (s.compare(pos, 2, "M=") == 0) {  // the message runs to the end, spaces included
            t.message = s.substr(pos + 2);
            break;
        }
        std::size_t end = s.find(' ', pos);
        if (end == std::string::npos) end = s.size();
        std::string_view tok = std::string_view(s).substr(pos, end - pos);
        std::string_view val = tok.size() >= 2 ? tok.substr(2) : std::string_view{};
        unsigned n = 0;
        if (tok.substr(0, 2) == "E=") {
            if (!parse_unsigned(val, t.error))
                return wire::syntax_error("MSCHAPv2 Failure: bad E= value", pos);
            have_error = true;
        } else if (tok.substr(0, 2) == "R=") {
            if (!parse_unsigned(val, n) || n > 1)
                return wire::syntax_error("MSCHAPv2 Failure: bad R= value", pos);
            t.retry = n == 1;
        } else if (tok.substr(0, 2) == "C=") {
            Challenge c{};
            if (!decode_hex(val, c))
                return wire::syntax_error("MSCHAPv2 Failure: C= is not 32 hex digits", pos);
            t.challenge = c;
        } else if (tok.substr(0, 2) == "V=") {
            if (!parse_unsigned(val, n))
                return wire::syntax_error("MSCHAPv2 Failure: bad V= value", pos);
        } else {
            return wire::syntax_error(
                "MSCHAPv2 Failure: unknown field \"" + std::string(tok.substr(0, 2)) + "\"", pos);
        }
        pos = end;
    }
    if (!have_error) return wire::syntax_error("MSCHAPv2 Failure: no E= field", 0);
    return t;
}

Bytes challenge_type_data(std::uint8_t ms_id, const Challenge& challenge, std::string_view name) {
    Bytes d;
    d.push_back(static_cast<std::uint8_t>(kChallengeSize));
    d.insert(d.end(), challenge.begin(), challenge.end());
    d.insert(d.end(), name.begin(), name.end());
    return type_data(MsChapOpCode::CHALLENGE, ms_id, d);
}

Bytes success_type_data(std::uint8_t ms_id, std::string_view text) {
    return type_data(MsChapOpCode::SUCCESS, ms_id, text_view(text));
}

Bytes failure_type_data(std::uint8_t ms_id, std::string_view text) {
    return type_data(MsChapOpCode::FAILURE, ms_id, text_view(text));
}

Bytes build_challenge_request(std::uint8_t eap_id, std::uint8_t ms_id, const Challenge& challenge,
                              std::string_view name) {
    return build_eap_packet(
        eap_request(eap_id, EapType::MSCHAPV2, challenge_type_data(ms_id, challenge, name)));
}

Bytes build_response(std::uint8_t eap_id, std::uint8_t ms_id, const MsChapResponse& m) {
    Bytes d;
    d.push_back(kResponseValueSize);
    d.insert(d.end(), m.peer_challenge.begin(), m.peer_challenge.end());
    d.insert(d.end(), 8, 0);
    d.insert(d.end(), m.nt_response.begin(), m.nt_response.end());
    d.push_back(m.flags);
    d.insert(d.end(), m.name.begin(), m.name.end());
    return build(eap_id, EapCode::RESPONSE, MsChapOpCode::RESPONSE, ms_id, d);
}

Bytes build_success_request(std::uint8_t eap_id, std::uint8_t ms_id, std::string_view text) {
    return build_eap_packet(eap_request(eap_id, EapType::MSCHAPV2, success_type_data(ms_id, text)));
}

Bytes build_failure_request(std::uint8_t eap_id, std::uint8_t ms_id, std::string_view text) {
    return build_eap_packet(eap_request(eap_id, EapType::MSCHAPV2, failure_type_data(ms_id, text)));
}

Bytes build_opcode_response(std::uint8_t eap_id, MsChapOpCode op) {
    return build_eap_packet(
        eap_response(eap_id, EapType::MSCHAPV2, {static_cast<std::uint8_t>(op)}));
}

std::string upper_hex(ByteView b) {
    static constexpr char kDigits[] = "0123456789ABCDEF";
    std::string s;
    for (auto x : b) {
        s.push_back(kDigits[x >> 4]);
        s.push_back(kDigits[x & 0xf]);
    }
    return s;
}

}  // namespace postern::ike::eap

#include "ike/wire/payload.hpp"

#include <cassert>
#include <string>

namespace postern::ike::wire {
namespace {

using std::to_string;

constexpr std::uint8_t kCriticalBit = 0x80;

Parsed<PayloadBody> parse_body(PayloadType type, PayloadType next, Reader& r) {
    auto wrap = [](auto parsed) -> Parsed<PayloadBody> {
        if (!parsed) return tl::unexpected(parsed.error());
        return PayloadBody(std::move(*parsed));
    };
    switch (type) {
        case PayloadType::SA:
            return wrap(parse_sa(r));
        case PayloadType::KE:
            return wrap(parse_ke(r));
        case PayloadType::IDi:
        case PayloadType::IDr:
            return wrap(parse_id(r));
        case PayloadType::CERT:
            return wrap(parse_cert(r));
        case PayloadType::CERTREQ:
            return wrap(parse_certreq(r));
        case PayloadType::AUTH:
            return wrap(parse_auth(r));
        case PayloadType::NONCE:
            return wrap(parse_nonce(r));
        case PayloadType::N:
            return wrap(parse_notify(r));
        case PayloadType::D:
            return wrap(parse_delete(r));
        case PayloadType::V:
            return wrap(parse_vendor_id(r));
        case PayloadType::TSi:
        case PayloadType::TSr:
            return wrap(parse_ts(r));
        case PayloadType::SK:
            return wrap(parse_sk(r, next));
        case PayloadType::SKF:
            return wrap(parse_skf(r, next));
        case PayloadType::CP:
            return wrap(parse_cp(r));
        case PayloadType::EAP:
            return wrap(parse_eap(r));
        default: {
            auto raw = r.rest();
            return PayloadBody(UnknownPayload{Bytes(raw.begin(), raw.end())});
        }
    }
}

}  // namespace

Payload make_notify(NotifyType type, Bytes data, ProtocolId protocol, Bytes spi) {
    return Payload{PayloadType::N, false,
                   NotifyPayload{protocol, type, std::move(spi), std::move(data)}};
}

bool is_supported(PayloadType type) {
    switch (type) {
        case PayloadType::SA:
        case PayloadType::KE:
        case PayloadType::IDi:
        case PayloadType::IDr:
        case PayloadType::CERT:
        case PayloadType::CERTREQ:
        case PayloadType::AUTH:
        case PayloadType::NONCE:
        case PayloadType::N:
        case PayloadType::D:
        case PayloadType::V:
        case PayloadType::TSi:
        case PayloadType::TSr:
        case PayloadType::SK:
        case PayloadType::CP:
        case PayloadType::EAP:
        case PayloadType::SKF:
            return true;
        default:
            return false;
    }
}

Parsed<std::vector<Payload>> parse_payload_chain(PayloadType first, ByteView data,
                                                 std::size_t base_offset) {
    std::vector<Payload> payloads;
    Reader r(data, base_offset);
    PayloadType type = first;
    while (type != PayloadType::NONE) {
        std::string where =
            "payload " + to_string(payloads.size() + 1) + " (" + to_string(type) + ")";
        std::size_t at = r.offset();
        if (r.remaining() < kGenericHeaderSize) {
            return syntax_error(where + ": generic header truncated (" + to_string(r.remaining()) +
                                    " < 4 bytes left)",
                                at);
        }
        auto next = static_cast<PayloadType>(r.u8("next payload"));
        bool critical = r.u8("payload flags") & kCriticalBit;
        std::uint16_t length = r.u16("payload length");
        if (length < kGenericHeaderSize) {
            return syntax_error(where + ": payload length " + to_string(length) + " < 4", at + 2);
        }
        if (length - kGenericHeaderSize > r.remaining()) {
            return syntax_error(where + ": payload length " + to_string(length) + " > " +
                                    to_string(r.remaining() + kGenericHeaderSize) + " bytes left",
                                at + 2);
        }
        // §2.5: an unknown payload with the critical bit set rejects the whole message.
        if (!is_supported(type) && critical) {
            return tl::unexpected(ParseError{NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD,
                                             static_cast<std::uint8_t>(type),
                                             where + ": unsupported payload marked critical", at});
        }
        Reader body = r.sub(length - kGenericHeaderSize, "payload body");
        auto parsed = parse_body(type, next, body);
        if (!parsed) return tl::unexpected(parsed.error());
        payloads.push_back(Payload{type, critical, std::move(*parsed)});
        if (type == PayloadType::SK || type == PayloadType::SKF) {
            // §3.14 / RFC 7383 §2.5: SK and SKF are last; their Next Payload is the inner one.
            if (!r.empty()) {
                return syntax_error(where + ": must be the last payload, " +
                                        to_string(r.remaining()) + " bytes follow",
                                    r.offset());
            }
            break;
        }
        type = next;
    }
    if (!r.empty()) {
        return syntax_error(
            to_string(r.remaining()) + " bytes after the last payload (" +
                (payloads.empty() ? std::string("none") : to_string(payloads.back().type)) + ")",
            r.offset());
    }
    return payloads;
}

PayloadType first_type(std::span<const Payload> payloads) {
    return payloads.empty() ? PayloadType::NONE : payloads.front().type;
}

void serialize_body(Writer& w, const PayloadBody& body) {
    std::visit(
        [&w](const auto& b) {
            using T = std::decay_t<decltype(b)>;
            if constexpr (std::is_same_v<T, UnknownPayload>) {
                w.bytes(b.body);
            } else {
                serialize_body(w, b);
            }
        },
        body);
}

void serialize_payload(Writer& w, const Payload& p, PayloadType next) {
    std::size_t start = w.size();
    w.u8(static_cast<std::uint8_t>(next));
    w.u8(p.critical ? kCriticalBit : 0);
    std::size_t len_at = w.reserve_u16();
    serialize_body(w, p.body);
    std::size_t length = w.size() - start;
    assert(length <= 0xffff && "payload too large for a 16-bit Payload Length");
    w.patch_u16(len_at, static_cast<std::uint16_t>(length));
}

void serialize_payload_chain(Writer& w, std::span<const Payload> payloads) {
    for (std::size_t i = 0; i < payloads.size(); ++i) {
        PayloadType next = PayloadType::NONE;
        if (i + 1 < payloads.size()) {
            next = payloads[i + 1].type;
        } else if (auto sk = payloads[i].get<EncryptedPayload>()) {
            next = sk->inner_first;
        } else if (auto skf = payloads[i].get<EncryptedFragmentPayload>()) {
            next = skf->inner_first;
        }
        serialize_payload(w, payloads[i], next);
    }
}

Bytes serialize_payload_chain(std::span<const Payload> payloads) {
    Bytes out;
    Writer w(out);
    serialize_payload_chain(w, payloads);
    return out;
}

}  // namespace postern::ike::wire
